//! `replay`: send again the media messages stored callbacks produce, one room's or those whose callbacks
//! arrived in a time range.

use std::process::ExitCode;

use clap::Args;
use time::OffsetDateTime;

use super::global::Global;
use super::output::{filter_note, print_report};
use super::parse::parse_time;
use crate::operator::rooms;
use crate::twilio::timestamp;

/// The options of `replay`.
#[derive(Debug, Args)]
pub struct Replay {
    /// One room.
    #[arg(long, env = "REPLAY_ROOM_SID", conflicts_with_all = ["since", "until"], required_unless_present = "since")]
    room: Option<String>,
    /// Media whose recording-completed or composition-available callback's Timestamp is at or
    /// after this day (UTC) or RFC 3339 time.
    #[arg(long, env = "SINCE", value_parser = parse_time)]
    since: Option<OffsetDateTime>,
    /// ... and before this day or time (after --since); default: now.
    #[arg(long, env = "UNTIL", value_parser = parse_time, requires = "since")]
    until: Option<OffsetDateTime>,
    /// Count only; send nothing.
    #[arg(long, env = "DRY_RUN")]
    dry_run: bool,
}

impl Replay {
    /// `--until` (default: now) must be after `--since`: a usage error otherwise.
    pub(super) fn check_usage(&self) -> Result<(), String> {
        if let Some(since) = self.since {
            let until = self.until.unwrap_or_else(OffsetDateTime::now_utc);
            if until <= since {
                return Err(format!(
                    "--until ({}) must be after --since ({})",
                    timestamp::format(until),
                    timestamp::format(since)
                ));
            }
        }
        Ok(())
    }

    /// Sends the messages (counts them only with `--dry-run`); an error without a queue, or when the table
    /// holds nothing for the room.
    pub async fn run(&self, global: &Global) -> Result<ExitCode, String> {
        let table = global.events_table().await?;
        let (dynamodb, name, queue) = (&table.dynamodb, &table.name, table.queue.as_ref());
        let json = global.json;
        let account = global.account_sid.as_deref();
        if queue.is_none() && !self.dry_run {
            return Err(
                "MEDIA_QUEUE_URL is not set: pass --queue-url, set MEDIA_QUEUE_URL, or use --stack"
                    .into(),
            );
        }
        let run_id = OffsetDateTime::now_utc().unix_timestamp_nanos().to_string();
        let report = match (&self.room, self.since) {
            (Some(room), _) => {
                rooms::replay_room(dynamodb, name, queue, room, self.dry_run, &run_id).await
            }
            (None, Some(since)) => {
                let until = self.until.unwrap_or_else(OffsetDateTime::now_utc);
                rooms::replay_between(
                    dynamodb,
                    name,
                    queue,
                    since,
                    until,
                    account,
                    self.dry_run,
                    &run_id,
                )
                .await
            }
            (None, None) => return Err("give --room or --since".into()),
        }
        .map_err(|err| err.to_string())?;
        let mut rows = vec![
            ("rooms".to_owned(), report.rooms.to_string()),
            ("media messages".to_owned(), report.messages.to_string()),
        ];
        for (event, n) in &report.by_event {
            rows.push((format!("  {event}"), n.to_string()));
        }
        rows.push((
            "sent".to_owned(),
            if report.dry_run {
                "0 (dry run)".into()
            } else {
                report.sent.to_string()
            },
        ));
        rows.push((
            "media callbacks without a message".to_owned(),
            report.unbuildable.to_string(),
        ));
        print_report(json, &report, rows)?;
        if !json && self.room.is_none() {
            eprintln!(
                "media whose callbacks arrived in the range{} (run {})",
                filter_note(account),
                report.run_id
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
