//! The report as one self-contained HTML page ([`html`]): a heading with the range, the notes, a chart
//! of participant minutes and estimated cost by group (inline SVG, [`chart`]), and every figure as a
//! table. The same rules as the timeline's page: no script, stylesheet, font or image is referenced, a
//! Content-Security-Policy of `default-src 'none'` says so to the browser, and every text from the table
//! passes through [`escape`].

use std::fmt::Write as _;

use super::model::{Line, Usage, COLUMNS};
use super::render::notes;
use crate::operator::timeline::document_head;
use crate::operator::timeline::escape;

/// At most this many groups are drawn (those with the most participant minutes); the table has all.
pub const CHART_GROUPS: usize = 40;

const STYLE: &str = "
body{font:13px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:16px;color:#1d2330;background:#fff}
h1{font-size:20px;margin:0 0 4px}
.facts{color:#4a5468;margin:0 0 6px;max-width:1100px}
.lower{color:#a04d00;font-weight:600}
svg.chart{display:block;margin:10px 0 18px;font-size:11px}
.label{text-anchor:end;fill:#1d2330;font-size:12px}
.value{fill:#1d2330;font-size:11px}
.head{font-weight:600;fill:#1d2330;font-size:12px}
.minutes{fill:#4a8fd8}.cost{fill:#2e9d5b}
.grid{stroke:#e3e6ee;stroke-width:1}
table{border-collapse:collapse;font-size:12px}
th,td{border-bottom:1px solid #e3e6ee;padding:3px 6px;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{background:#f5f7fb;position:sticky;top:0;white-space:normal;vertical-align:bottom;max-width:90px}
tr.total td{font-weight:600;border-top:2px solid #1d2330}
";

/// The whole page. `title` names the range and the filter (`2026-11-01 to 2026-12-01, every account`).
pub fn html(usage: &Usage, title: &str) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let title = escape(&format!("Usage by {}: {title}", usage.by.word()));
    document_head(&mut out, &title, STYLE);
    let _ = writeln!(out, "<h1>{title}</h1>");
    let total = &usage.total.figures;
    let _ = writeln!(
        out,
        "<p class=\"facts\">{} rooms · {:.1} participant minutes · {:.1} recorded minutes · {:.1} composed \
         minutes · estimated USD {:.2}</p>",
        total.rooms,
        total.participant_seconds as f64 / 60.0,
        total.recording_seconds as f64 / 60.0,
        total.composition_seconds as f64 / 60.0,
        total.estimated_cost_usd
    );
    for note in notes(usage) {
        let class = if note.starts_with("a lower bound") {
            "facts lower"
        } else {
            "facts"
        };
        let _ = writeln!(out, "<p class=\"{class}\">{}</p>", escape(&note));
    }
    out.push_str(&chart(usage));
    table(&mut out, usage);
    out.push_str("</body></html>\n");
    out
}

/// The groups drawn: all when there are at most [`CHART_GROUPS`], else the [`CHART_GROUPS`] with the
/// most participant minutes, in the report's order.
fn drawn(usage: &Usage) -> Vec<&Line> {
    let mut lines: Vec<&Line> = usage.groups.iter().collect();
    if lines.len() > CHART_GROUPS {
        let mut by_minutes = lines.clone();
        by_minutes.sort_by(|a, b| {
            b.figures
                .participant_seconds
                .cmp(&a.figures.participant_seconds)
                .then_with(|| a.group.cmp(&b.group))
        });
        let keep: Vec<&str> = by_minutes[..CHART_GROUPS]
            .iter()
            .map(|line| line.group.as_str())
            .collect();
        lines.retain(|line| keep.contains(&line.group.as_str()));
    }
    lines
}

/// Two horizontal bars per group: participant minutes (blue, on their own scale) and estimated cost
/// (green, on its own), each with its value written beside it.
pub fn chart(usage: &Usage) -> String {
    const LABEL: f64 = 300.0;
    const BAR: f64 = 300.0;
    const GAP: f64 = 120.0;
    const ROW: f64 = 30.0;
    const TOP: f64 = 30.0;
    let lines = drawn(usage);
    let max_minutes = lines
        .iter()
        .map(|l| l.figures.participant_seconds as f64 / 60.0)
        .fold(0.0, f64::max);
    let max_cost = lines
        .iter()
        .map(|l| l.figures.estimated_cost_usd)
        .fold(0.0, f64::max);
    let width = LABEL + 2.0 * (BAR + GAP) + 20.0;
    let height = TOP + ROW * lines.len() as f64 + 10.0;
    let mut out = String::with_capacity(256 * (lines.len() + 4));
    let _ = write!(
        out,
        "<svg class=\"chart\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"participant minutes and estimated cost by {}\">",
        usage.by.word()
    );
    let (x_minutes, x_cost) = (LABEL + 10.0, LABEL + 10.0 + BAR + GAP);
    let more = if usage.groups.len() > lines.len() {
        format!(
            " (the {} of {} groups with the most)",
            lines.len(),
            usage.groups.len()
        )
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<text class=\"head\" x=\"{x_minutes}\" y=\"16\">participant minutes{more}</text>\
         <text class=\"head\" x=\"{x_cost}\" y=\"16\">estimated cost (USD)</text>"
    );
    let scale = |value: f64, max: f64| {
        if max > 0.0 {
            (value / max * BAR).max(if value > 0.0 { 1.0 } else { 0.0 })
        } else {
            0.0
        }
    };
    for (n, line) in lines.iter().enumerate() {
        let y = TOP + ROW * n as f64;
        let minutes = line.figures.participant_seconds as f64 / 60.0;
        let cost = line.figures.estimated_cost_usd;
        let group = escape(&line.group);
        let (w_minutes, w_cost) = (scale(minutes, max_minutes), scale(cost, max_cost));
        let _ = write!(
            out,
            "<g class=\"group\" data-group=\"{group}\"><title>{group}: {minutes:.1} participant minutes, \
             USD {cost:.4}</title>\
             <line class=\"grid\" x1=\"{LABEL}\" x2=\"{width}\" y1=\"{y_line}\" y2=\"{y_line}\"/>\
             <text class=\"label\" x=\"{LABEL}\" y=\"{y_text}\">{group}</text>\
             <rect class=\"minutes\" x=\"{x_minutes}\" y=\"{y_bar}\" width=\"{w_minutes:.1}\" height=\"18\"/>\
             <text class=\"value\" x=\"{x_minutes_value:.1}\" y=\"{y_text}\">{minutes:.1}</text>\
             <rect class=\"cost\" x=\"{x_cost}\" y=\"{y_bar}\" width=\"{w_cost:.1}\" height=\"18\"/>\
             <text class=\"value\" x=\"{x_cost_value:.1}\" y=\"{y_text}\">{cost:.2}</text></g>",
            y_line = y + ROW - 2.0,
            y_bar = y + 4.0,
            y_text = y + 17.0,
            x_minutes_value = x_minutes + w_minutes + 4.0,
            x_cost_value = x_cost + w_cost + 4.0,
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Every group's figures and the total, exactly as `--csv` has them.
fn table(out: &mut String, usage: &Usage) {
    out.push_str("<table><thead><tr>");
    for column in COLUMNS {
        let _ = write!(out, "<th>{}</th>", column.replace('_', " "));
    }
    out.push_str("</tr></thead><tbody>\n");
    for (line, class) in usage
        .groups
        .iter()
        .map(|line| (line, ""))
        .chain([(&usage.total, " class=\"total\"")])
    {
        let _ = write!(out, "<tr{class}>");
        for text in line.cells() {
            let _ = write!(out, "<td>{}</td>", escape(&text));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}
