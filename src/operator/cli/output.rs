//! What the commands print: a report as one JSON line or as a two-column table, with table data escaped.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

use crate::operator::timeline;

/// A table with the program's frame (thin lines), to add rows to with [`clean`].
pub(super) fn table() -> Table {
    let mut out = Table::new();
    out.load_preset(UTF8_FULL_CONDENSED);
    out
}

/// A row's cells with every control character (an escape sequence in a room name, an identity, a
/// fact) shown escaped, so table data cannot drive the terminal.
pub(super) fn clean(row: Vec<String>) -> Vec<String> {
    row.iter().map(|text| timeline::cell(text)).collect()
}

/// ` of account AC... (--account-sid / TWILIO_ACCOUNT_SID)` when the output is filtered to one account.
pub(super) fn filter_note(account: Option<&str>) -> String {
    account
        .map(|account| format!(" of account {account} (--account-sid / TWILIO_ACCOUNT_SID)"))
        .unwrap_or_default()
}

/// A report as one JSON line (`--json`), or as a two-column table of `rows` (escaped) on the terminal.
pub(super) fn print_report<T: serde::Serialize>(
    json: bool,
    report: &T,
    rows: Vec<(String, String)>,
) -> Result<(), String> {
    if json {
        println!(
            "{}",
            serde_json::to_string(report).map_err(|err| err.to_string())?
        );
    } else {
        let mut out = table();
        for (name, value) in rows {
            out.add_row(clean(vec![name, value]));
        }
        println!("{out}");
    }
    Ok(())
}
