//! The report for the terminal ([`table`]), for machines ([`json_lines`]) and for a spreadsheet or a
//! billing job ([`csv`]); the notes that qualify it ([`notes`]).

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, ContentArrangement, Table};

use super::model::{Line, Usage, COLUMNS};
use crate::operator::timeline::{bytes, cell, seconds};

/// How Twilio's invoice can differ from the estimate: said wherever a cost is shown.
pub const DISCLAIMER: &str = "An estimate, not an invoice: it prices the durations Twilio reported \
    in the callbacks, unrounded, at list prices. Twilio's bill can differ: it rounds usage per its own \
    rules, applies volume and contract discounts, free tiers and taxes, may price audio-only or \
    small rooms and other regions differently, and charges what no callback reports (storage of \
    recordings and compositions at Twilio, PSTN, transcriptions).";

/// The report as a terminal table: one row per group and the total, durations and sizes in units a
/// reader takes in at a glance (the exact figures are in `--json` and `--csv`).
pub fn table(usage: &Usage) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec![
            usage.by.word(),
            "rooms",
            "room time",
            "sessions",
            "participant min",
            "recordings",
            "recorded",
            "compositions",
            "composed",
            "archived",
            "est. cost (USD)",
        ]);
    for line in usage.groups.iter().chain([&usage.total]) {
        table.add_row(row(line));
    }
    for column in 1..11 {
        if let Some(column) = table.column_mut(column) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

fn row(line: &Line) -> Vec<String> {
    let f = &line.figures;
    let open = |n: u64, open: u64| {
        if open > 0 {
            format!("{n} ({open} open)")
        } else {
            n.to_string()
        }
    };
    vec![
        cell(&line.group),
        open(f.rooms, f.rooms_open),
        seconds(f.room_seconds),
        open(f.participant_sessions, f.participants_open),
        format!("{:.1}", f.participant_seconds as f64 / 60.0),
        f.recordings.to_string(),
        format!(
            "{} ({})",
            seconds(f.recording_seconds),
            bytes(f.recording_bytes)
        ),
        f.compositions.to_string(),
        format!(
            "{} ({})",
            seconds(f.composition_seconds),
            bytes(f.composition_bytes)
        ),
        bytes(f.archived_bytes),
        format!("{:.4}", f.estimated_cost_usd),
    ]
}

/// One JSON object per group, then the total (`"group": "total"`), one per line; keys as [`COLUMNS`].
pub fn json_lines(usage: &Usage) -> Result<String, serde_json::Error> {
    let mut out = String::new();
    for line in usage.groups.iter().chain([&usage.total]) {
        out.push_str(&serde_json::to_string(line)?);
        out.push('\n');
    }
    Ok(out)
}

/// A header row ([`COLUMNS`]), one row per group, then the total; RFC 4180 (CRLF line ends, a field
/// quoted when it holds a comma, a quote or a line break). A field a spreadsheet would run as a formula
/// (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`: only a group
/// name could, since every other field is a number.
pub fn csv(usage: &Usage) -> String {
    let mut out = String::new();
    let mut push = |fields: &[String]| {
        let fields: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    };
    push(&COLUMNS.map(str::to_owned));
    for line in usage.groups.iter().chain([&usage.total]) {
        push(&line.cells());
    }
    out
}

/// One CSV field, quoted and defused as [`csv`] says.
pub fn csv_field(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// What qualifies the figures, one sentence each: the rooms read, the prices, the lower bound when a
/// room or a participant is still open, and the estimate's limits.
pub fn notes(usage: &Usage) -> Vec<String> {
    let total = &usage.total.figures;
    let p = &usage.prices;
    let mut notes = vec![format!(
        "prices (USD a minute): participant {}, recording {}, composition {}",
        p.participant_minute, p.recording_minute, p.composition_minute
    )];
    if total.is_lower_bound() {
        notes.push(format!(
            "a lower bound: {} room(s) and {} participant(s) have not ended, so their minutes are not \
             all known yet; run it again once they have",
            total.rooms_open, total.participants_open
        ));
    }
    notes.push(DISCLAIMER.to_owned());
    notes
}
