//! The page of a room's story ([`html`]): one self-contained HTML file with the room's facts, a legend,
//! the drawing (`svg`) and every item as a table, and [`escape`], which every text from the table (room
//! names and identities are chosen by the customer's users) passes through on its way into the page.
//!
//! The page makes no network request: no script, stylesheet, font or image is referenced, and a
//! Content-Security-Policy of `default-src 'none'` says so to the browser.

use std::fmt::Write as _;

use super::model::{seconds, MediaKind, Timeline, COLUMNS};
use super::svg::svg;
use crate::twilio::timestamp;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The page's one stylesheet, inline.
const STYLE: &str = "
body{font:13px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:16px;color:#1d2330;background:#fff}
h1{font-size:20px;margin:0 0 4px}
.facts{color:#4a5468;margin:0 0 10px}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:14px;height:8px;border-radius:2px;vertical-align:middle;margin-right:4px}
svg.timeline{display:block;margin:8px 0 18px;font-size:11px}
.lane-label{text-anchor:end;fill:#1d2330;font-size:12px}
.room-label,.flag-label{font-weight:600}
.tick{text-anchor:middle;fill:#6b7385;font-size:10px}
.grid{stroke:#e3e6ee;stroke-width:1}
.lane-bg{fill:#fff}.lane-bg.even{fill:#f5f7fb}
.room-bar{fill:#34495e}
.span{fill:#8fb8e8}.span.open{fill:#c9dcf3;stroke:#8fb8e8;stroke-dasharray:3 2}
.t-added{fill:#2e8b57}.t-removed{fill:#6b7385}.t-enabled{fill:#2e8b57}.t-disabled{fill:#e08a00}
.m-archived{fill:#2e9d5b}.m-done{fill:#7d8799}.m-open{fill:#b7bfcc}.m-failed{fill:#d64545}.m-archfail{fill:#e08a00}
.deleted{fill:#7b4fc9}
.flag-malformed{fill:#d64545}.flag-spilled{fill:#e08a00}.flag-unreadable{fill:#7b1f1f}
table{border-collapse:collapse;font-size:12px}
th,td{border-bottom:1px solid #e3e6ee;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f7fb;position:sticky;top:0}
tr.marked td{background:#fff3e0}
td.mark{color:#b23a3a}
";

/// The legend: a colour of the drawing and what it means.
const LEGEND: [(&str, &str); 9] = [
    ("#8fb8e8", "connected"),
    ("#2e8b57", "track added / enabled"),
    ("#e08a00", "track disabled"),
    ("#6b7385", "track removed"),
    ("#2e9d5b", "media archived"),
    ("#7d8799", "completed, no archive outcome"),
    ("#e08a00", "archive failed"),
    ("#d64545", "failed at Twilio / malformed"),
    ("#7b4fc9", "deleted at Twilio"),
];

/// The whole page: a header with the room's facts, a legend, the drawing, and every item as a table.
pub fn html(timeline: &Timeline) -> String {
    let mut out = String::with_capacity(64 * 1024);
    head(&mut out, timeline);
    facts(&mut out, timeline);
    legend(&mut out);
    out.push_str(&svg(timeline));
    rows(&mut out, timeline);
    out.push_str("</body></html>\n");
    out
}

/// The document's head and the page's heading: the room's name and SID.
fn head(out: &mut String, timeline: &Timeline) {
    let title = escape(&match &timeline.room_name {
        Some(name) => format!("{name} ({})", timeline.room_sid),
        None => timeline.room_sid.clone(),
    });
    document_head(out, &format!("Room {title}"), STYLE);
    let _ = write!(out, "<h1>Room {title}</h1>");
}

/// The head of every page the operator writes, up to and including `<body>`: its policy (nothing to
/// fetch, inline style only: `default-src 'none'`), its `title` (already escaped) and its `style`.
pub(crate) fn document_head(out: &mut String, title: &str, style: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n\
         <html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><style>{style}</style></head><body>\n",
    );
}

/// One line of the room's facts: account, creation, end, duration, and how many participants, media
/// files, archived files and marked callbacks.
fn facts(out: &mut String, timeline: &Timeline) {
    let duration = timeline
        .room_duration
        .or_else(|| {
            Some((timeline.ended? - timeline.created?).whole_seconds())
                .and_then(|s| u64::try_from(s).ok())
        })
        .map(seconds)
        .unwrap_or("?".into());
    let _ = write!(
        out,
        "<p class=\"facts\">account {} · created {} · ended {} · lasted {} · {} participants · {} recordings · \
         {} compositions · {} archived · {} marked callbacks</p>",
        escape(timeline.account_sid.as_deref().unwrap_or("?")),
        timeline.created.map(timestamp::format).unwrap_or("?".into()),
        timeline.ended.map(timestamp::format).unwrap_or("(not ended)".into()),
        duration,
        timeline.lanes.len(),
        timeline.count(MediaKind::Recording),
        timeline.count(MediaKind::Composition),
        timeline.archived(),
        timeline.flags.len(),
    );
}

/// The legend: one swatch per [`LEGEND`] entry, then how to read the drawing.
fn legend(out: &mut String) {
    out.push_str("<p class=\"legend\">");
    for (colour, meaning) in LEGEND {
        let _ = write!(
            out,
            "<span><i class=\"sw\" style=\"background:{colour}\"></i>{meaning}</span>"
        );
    }
    out.push_str("<span>times in UTC; hover for details</span></p>\n");
}

/// Every item as a table row, the marked ones highlighted: the same columns as the terminal table.
fn rows(out: &mut String, timeline: &Timeline) {
    out.push_str("\n<table><thead><tr>");
    for column in COLUMNS {
        let _ = write!(out, "<th>{column}</th>");
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in &timeline.rows {
        out.push_str(if row.marks.is_empty() {
            "<tr>"
        } else {
            "<tr class=\"marked\">"
        });
        let [texts @ .., marks] = row.cells();
        for text in texts {
            let _ = write!(out, "<td>{}</td>", escape(&text));
        }
        let _ = writeln!(out, "<td class=\"mark\">{}</td></tr>", escape(&marks));
    }
    out.push_str("</tbody></table>\n");
}
