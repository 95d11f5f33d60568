//! `usage`: participant minutes, recordings, compositions, archived bytes and an estimated cost per
//! account, day or room, for the rooms created in a range of UTC days.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use super::global::Global;
use super::output::filter_note;
use super::parse::{parse_day, parse_rate};
use crate::operator::usage::{self, By, Pace, Prices, DEFAULT_PACE};

/// What the rooms are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupBy {
    /// One line per account SID.
    Account,
    /// One line per UTC day of the rooms' creation.
    Day,
    /// One line per room SID.
    Room,
}

impl From<GroupBy> for By {
    fn from(by: GroupBy) -> By {
        match by {
            GroupBy::Account => By::Account,
            GroupBy::Day => By::Day,
            GroupBy::Room => By::Room,
        }
    }
}

/// The options of `usage`.
#[derive(Debug, Args)]
pub struct Usage {
    /// The first UTC day: rooms created on it or after.
    #[arg(long, env = "SINCE", value_parser = parse_day)]
    since: time::Date,
    /// The UTC day after the last: rooms created before it (after --since).
    #[arg(long, env = "UNTIL", value_parser = parse_day)]
    until: time::Date,
    /// One line per account (the default), per UTC day of creation, or per room.
    #[arg(long, env = "USAGE_BY", value_enum, default_value_t = GroupBy::Account)]
    by: GroupBy,
    /// CSV on stdout instead of a table: a header row, one row per group, then the total.
    #[arg(long, env = "OUTPUT_CSV")]
    csv: bool,
    /// Also write the report as one self-contained HTML page with a chart (no network requests).
    #[arg(long, env = "USAGE_HTML", value_name = "FILE")]
    html: Option<PathBuf>,
    /// A JSON file of prices in USD a minute overriding Twilio's list prices, e.g.
    /// {"participant_minute": 0.0035, "recording_minute": 0.004, "composition_minute": 0.01}.
    #[arg(long, env = "USAGE_PRICES", value_name = "FILE", value_parser = read_prices)]
    prices: Option<Prices>,
    /// Most room partitions read a second (each one Query): a number above 0.
    #[arg(long, env = "ROOMS_PER_SECOND", default_value_t = DEFAULT_PACE.rooms_per_second, value_parser = parse_rate)]
    rooms_per_second: f64,
}

/// Reads and checks a prices file (a usage error when it is unreadable or wrong).
fn read_prices(path: &str) -> Result<Prices, String> {
    let text =
        std::fs::read_to_string(path).map_err(|err| format!("could not read {path}: {err}"))?;
    Prices::from_json(&text).map_err(|err| format!("{path}: {err}"))
}

/// A bar on stderr when it is a terminal; nothing otherwise (a scheduled job's log stays clean).
fn progress(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} rooms read ({per_sec}, {eta} left)")
    {
        bar.set_style(style);
    }
    bar
}

impl Usage {
    /// `--until` must be after `--since`, and `--csv` and `--json` exclude each other: usage errors.
    pub(super) fn check_usage(&self, global: &Global) -> Result<(), String> {
        if self.until <= self.since {
            return Err(format!(
                "--until ({}) must be after --since ({}): the range is [since, until), e.g. --since \
                 2026-11-01 --until 2026-12-01 for November",
                self.until, self.since
            ));
        }
        if self.csv && global.json {
            return Err("--csv and --json exclude each other: choose one".into());
        }
        Ok(())
    }

    /// Reads the range's rooms and prints the report (and writes the page with `--html`).
    pub async fn run(&self, global: &Global) -> Result<ExitCode, String> {
        let table = global.events_table().await?;
        let account = global.account_sid.as_deref();
        let rooms = usage::rooms_created_between(
            &table.dynamodb,
            &table.name,
            self.since,
            self.until,
            account,
        )
        .await
        .map_err(|err| err.to_string())?;
        let bar = progress(rooms.len() as u64);
        let pace = Pace {
            rooms_per_second: self.rooms_per_second,
            ..DEFAULT_PACE
        };
        let read = usage::rooms_usage(&table.dynamodb, &table.name, &rooms, pace, || bar.inc(1))
            .await
            .map_err(|err| err.to_string())?;
        bar.finish_and_clear();
        let prices = self.prices.unwrap_or(usage::LIST_PRICES);
        let report = usage::report(read, self.by.into(), prices);
        let range = format!(
            "rooms created from {} to {} (UTC, until excluded){}",
            self.since,
            self.until,
            filter_note(account)
        );
        if global.json {
            print!(
                "{}",
                usage::json_lines(&report).map_err(|err| err.to_string())?
            );
        } else if self.csv {
            print!("{}", usage::csv(&report));
        } else {
            println!("{}", usage::table(&report));
        }
        if let Some(path) = &self.html {
            let title = format!(
                "rooms created from {} to {} (UTC, until excluded), {}",
                self.since,
                self.until,
                account.map_or("every account".to_owned(), |a| format!("account {a}"))
            );
            std::fs::write(path, usage::html(&report, &title))
                .map_err(|err| format!("could not write {}: {err}", path.display()))?;
            eprintln!("wrote {} ({} groups)", path.display(), report.groups.len());
        }
        eprintln!("{} {range}", report.total.figures.rooms);
        for note in usage::notes(&report) {
            // The disclaimer on the terminal only; the lower bound and the prices always.
            if note != usage::DISCLAIMER || !(global.json || self.csv) {
                eprintln!("{note}");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
