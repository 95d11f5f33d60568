//! The table's views: a room's story (`timeline`: a table, JSON lines, or also an HTML page) and the
//! rooms of a day (`rooms`, through the rooms-by-day index).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::global::Global;
use super::output::{self, clean, filter_note};
use super::parse::parse_day;
use crate::operator::rooms;
use crate::operator::timeline;

/// The options of `timeline`.
#[derive(Debug, Args)]
pub struct Timeline {
    /// The room (RM...); also the partition of a callback without one (CJ..., HK...).
    #[arg(env = "ROOM_SID")]
    room: String,
    /// Also write the room as one self-contained HTML page (inline SVG, no network requests).
    #[arg(long, env = "TIMELINE_HTML", value_name = "FILE")]
    html: Option<PathBuf>,
}

/// The options of `rooms`.
#[derive(Debug, Args)]
pub struct Rooms {
    /// The UTC day.
    #[arg(long, env = "ROOMS_DATE", value_parser = parse_day)]
    date: time::Date,
}

impl Timeline {
    /// Prints the room's rows (and writes the page with `--html`); an error when the table holds nothing
    /// for the room.
    pub async fn run(&self, global: &Global) -> Result<ExitCode, String> {
        let table = global.events_table().await?;
        let timeline = rooms::room_timeline(&table.dynamodb, &table.name, &self.room)
            .await
            .map_err(|err| err.to_string())?;
        if timeline.rows.is_empty() {
            return Err(rooms::TableError::NothingStored {
                table: table.name,
                room: self.room.clone(),
            }
            .to_string());
        }
        if global.json {
            for row in &timeline.rows {
                println!(
                    "{}",
                    serde_json::to_string(row).map_err(|err| err.to_string())?
                );
            }
        } else {
            println!("{}", timeline::table(&timeline));
        }
        if let Some(path) = &self.html {
            std::fs::write(path, timeline::html(&timeline))
                .map_err(|err| format!("could not write {}: {err}", path.display()))?;
            eprintln!(
                "wrote {} ({} participants, {} recordings, {} compositions)",
                path.display(),
                timeline.lanes.len(),
                timeline.count(timeline::MediaKind::Recording),
                timeline.count(timeline::MediaKind::Composition)
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl Rooms {
    /// Prints the day's rooms (of one account when `--account-sid` or `TWILIO_ACCOUNT_SID` is set).
    pub async fn run(&self, global: &Global) -> Result<ExitCode, String> {
        let table = global.events_table().await?;
        let date = self.date;
        let account = global.account_sid.as_deref();
        let summaries = rooms::room_summaries(&table.dynamodb, &table.name, date, account)
            .await
            .map_err(|err| err.to_string())?;
        if global.json {
            let out = serde_json::json!({ "date": date.to_string(), "account_sid": account, "rooms": summaries });
            println!("{out}");
            return Ok(ExitCode::SUCCESS);
        }
        let mut out = output::table();
        out.set_header(vec![
            "room",
            "name",
            "created (UTC)",
            "ended (UTC)",
            "duration",
            "participants",
            "recordings",
            "compositions",
            "archived",
        ]);
        for r in &summaries {
            out.add_row(clean(vec![
                r.room_sid.clone(),
                r.name.clone().unwrap_or_default(),
                r.created.clone(),
                r.ended.clone().unwrap_or("(not ended)".into()),
                r.duration_seconds
                    .map(timeline::seconds)
                    .unwrap_or_default(),
                r.participants.to_string(),
                r.recordings.to_string(),
                r.compositions.to_string(),
                format!(
                    "{} of {}{}",
                    r.archived,
                    r.recordings + r.compositions,
                    if r.archive_failed > 0 {
                        format!(" ({} failed)", r.archive_failed)
                    } else {
                        String::new()
                    }
                ),
            ]));
        }
        println!("{out}");
        eprintln!(
            "{} room(s) created on {date}{}",
            summaries.len(),
            filter_note(account)
        );
        Ok(ExitCode::SUCCESS)
    }
}
