//! The story in the operator's terminal: one table row per item ([`table`]), every text made harmless
//! to the terminal first ([`cell`]).

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};

use super::model::{Timeline, COLUMNS};

/// The story as a terminal table: time, event, participant, subject, facts, archive, marks.
pub fn table(timeline: &Timeline) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(COLUMNS);
    for row in &timeline.rows {
        table.add_row(row.cells().map(|text| cell(&text)));
    }
    table
}

/// Text for a terminal table cell: every control character (`char::is_control`: escape sequences,
/// carriage returns, newlines, ...) written as its Rust escape (`\u{1b}`, `\r`), so text from the table
/// (identities and room names are chosen by the customer's users) cannot move the cursor, recolour or
/// retitle the operator's terminal.
pub fn cell(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
