//! `index-rooms`: the one-off migration that gives rooms and media stored before the rooms-by-day index
//! the index's attributes (a paced, resumable Scan).

use std::process::ExitCode;

use clap::Args;

use super::global::Global;
use super::output::print_report;
use super::parse::parse_rate;
use crate::operator::rooms::{self, IndexPlan};

/// The options of `index-rooms`.
#[derive(Debug, Args)]
pub struct IndexRooms {
    /// Resume after this key (as printed by an earlier run).
    #[arg(long, env = "START_KEY", value_parser = parse_start_key)]
    start_key: Option<String>,
    /// Items read per Scan page (1 to 1000).
    #[arg(long, env = "PAGE_SIZE", default_value_t = 200, value_parser = clap::value_parser!(i32).range(1..=1000))]
    page_size: i32,
    /// Most items scanned a second (each costs read capacity): a number above 0.
    #[arg(long, env = "ITEMS_PER_SECOND", default_value_t = 200.0, value_parser = parse_rate)]
    items_per_second: f64,
    /// Stop after this many pages (resume with the printed key).
    #[arg(long, env = "MAX_PAGES")]
    max_pages: Option<u64>,
}

impl IndexRooms {
    /// Scans the table, printing the key to resume from after every page on stderr, then the counts.
    pub async fn run(&self, global: &Global) -> Result<ExitCode, String> {
        let table = global.events_table().await?;
        let plan = IndexPlan {
            start_key: self.start_key.clone(),
            page_size: self.page_size,
            items_per_second: self.items_per_second,
            max_pages: self.max_pages,
        };
        let report = rooms::index_rooms(&table.dynamodb, &table.name, &plan, |progress| {
            eprintln!(
                "page {}: {} scanned, {} indexed{}",
                progress.pages,
                progress.scanned,
                progress.indexed,
                match &progress.next_start_key {
                    Some(key) => format!("; resume with --start-key '{key}'"),
                    None => "; the whole table is read".into(),
                }
            );
        })
        .await
        .map_err(|err| err.to_string())?;
        print_report(
            global.json,
            &report,
            vec![
                ("items scanned".into(), report.scanned.to_string()),
                ("items indexed now".into(), report.indexed.to_string()),
                ("  of which media".into(), report.media_indexed.to_string()),
                (
                    "items already indexed".into(),
                    report.already_indexed.to_string(),
                ),
                (
                    "items that cannot be indexed".into(),
                    report.skipped.to_string(),
                ),
                (
                    "resume with".into(),
                    report
                        .next_start_key
                        .as_ref()
                        .map(|key| format!("--start-key '{key}'"))
                        .unwrap_or("(done: the whole table was read)".into()),
                ),
            ],
        )?;
        Ok(ExitCode::SUCCESS)
    }
}

/// A key printed by an earlier run, checked here so that a wrong one is a usage error.
fn parse_start_key(text: &str) -> Result<String, String> {
    rooms::decode_start_key(text)
        .map(|_| text.to_owned())
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_a_finite_number_above_zero() {
        assert_eq!(parse_rate(" 2.5 "), Ok(2.5));
        for text in ["0", "-1", "inf", "NaN", "fast"] {
            assert!(parse_rate(text).is_err(), "{text}");
        }
    }
}
