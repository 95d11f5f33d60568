//! The jobs over Twilio's REST API: archive every completed recording and composition of a range
//! (`backfill`), check that the archive holds them (`reconcile`), delete at Twilio what it safely holds
//! (`prune`). Each prints its report and exits 1 when something failed or is missing.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;
use time::OffsetDateTime;

use super::global::Global;
use super::output::print_report;
use super::parse::parse_time;
use crate::operator::audit::{NotArchived, PruneReport, ReconcileReport};
use crate::operator::rest::Created;
use crate::operator::tasks::{self, BackfillReport, What};
use crate::twilio::timestamp;

/// The options of `backfill`.
#[derive(Debug, Args)]
pub struct Backfill {
    #[command(flatten)]
    range: Range,
    /// Which media.
    #[arg(long, env = "BACKFILL_WHAT", value_enum, default_value = "all")]
    what: WhatArg,
    /// List and count only; send nothing.
    #[arg(long, env = "DRY_RUN")]
    dry_run: bool,
}

/// The options of `reconcile`.
#[derive(Debug, Args)]
pub struct Reconcile {
    #[command(flatten)]
    range: Range,
    /// Send media messages for exactly the files that are not archived.
    #[arg(long, env = "ENQUEUE_MISSING")]
    enqueue_missing: bool,
}

/// The options of `prune`.
#[derive(Debug, Args)]
pub struct Prune {
    #[command(flatten)]
    range: Range,
    /// Really delete at Twilio.
    #[arg(long, env = "PRUNE_DELETE")]
    delete: bool,
}

#[derive(Debug, Args)]
struct Range {
    /// First day (UTC), or an RFC 3339 time: media created at or after it.
    #[arg(long, env = "SINCE", value_parser = parse_time)]
    since: OffsetDateTime,
    /// Day (UTC) or RFC 3339 time before which media was created; default: now.
    #[arg(long, env = "UNTIL", value_parser = parse_time)]
    until: Option<OffsetDateTime>,
}

impl Range {
    fn created(&self) -> Created {
        Created {
            after: rfc3339(self.since),
            before: self.until.map(rfc3339),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum WhatArg {
    Recordings,
    Compositions,
    All,
}

impl Backfill {
    /// Sends a media message for every completed file in the range (none with `--dry-run`), account by
    /// account; exit status 1 when one could not be sent.
    pub async fn run(&self, global: &Global) -> Result<ExitCode, String> {
        let what = match self.what {
            WhatArg::Recordings => What::Recordings,
            WhatArg::Compositions => What::Compositions,
            WhatArg::All => What::All,
        };
        let mut reports = Vec::new();
        for ctx in global.twilio_contexts().await? {
            let r = tasks::backfill(&ctx, &self.range.created(), what, self.dry_run)
                .await
                .map_err(|err| in_account(&ctx, err))?;
            ctx.progress.finish_and_clear();
            reports.push(r);
        }
        let ok = reports.iter().all(|r| r.failed == 0);
        print_accounts(
            global.json,
            &reports,
            |r| r.account.as_deref(),
            backfill_rows,
        )?;
        Ok(status(ok))
    }
}

fn backfill_rows(r: &BackfillReport) -> Vec<(String, String)> {
    let mut rows = vec![row("listed", r.listed.to_string())];
    for (kind, counts) in &r.kinds {
        rows.push(row(
            &format!("  {kind:?}s").to_lowercase(),
            format!("{} listed, {} enqueued", counts.listed, counts.enqueued),
        ));
    }
    rows.push(row(
        "enqueued",
        if r.dry_run {
            "0 (dry run)".into()
        } else {
            r.enqueued.to_string()
        },
    ));
    rows.push(row("without a room (not sent)", r.roomless.to_string()));
    rows.push(row("failed", r.failed.to_string()));
    for sid in &r.failed_sids {
        rows.push(row("  not sent", sid.clone()));
    }
    rows
}

impl Reconcile {
    /// Compares Twilio's files with the archive, account by account (and sends messages for the missing
    /// ones with `--enqueue-missing`); exit status 1 when one is missing, of another size, or encrypted
    /// without its envelope.
    pub async fn run(&self, global: &Global) -> Result<ExitCode, String> {
        let mut reports = Vec::new();
        for ctx in global.twilio_contexts().await? {
            let r = tasks::reconcile(&ctx, &self.range.created(), self.enqueue_missing)
                .await
                .map_err(|err| in_account(&ctx, err))?;
            ctx.progress.finish_and_clear();
            reports.push(r);
        }
        let ok = reports.iter().all(ReconcileReport::complete);
        print_accounts(
            global.json,
            &reports,
            |r| r.account.as_deref(),
            |r| {
                let mut rows = vec![
                    row("total", r.total.to_string()),
                    row("archived", r.archived.to_string()),
                    row("  of which encrypted", r.encrypted.to_string()),
                    row("missing", r.missing.to_string()),
                    row("size mismatch", r.size_mismatch.to_string()),
                    row(
                        "envelope missing (encrypted)",
                        r.envelope_missing.to_string(),
                    ),
                    row("external (customer storage)", r.external.to_string()),
                ];
                rows.extend(r.not_archived.iter().map(not_archived_row));
                rows.push(row("enqueued", r.enqueued.to_string()));
                rows
            },
        )?;
        Ok(status(ok))
    }
}

impl Prune {
    /// Deletes at Twilio (with `--delete`) what the archive safely holds, account by account; exit
    /// status 1 when a deletion failed or when something in the range is not safely archived (missing,
    /// of another size, encrypted without its envelope, or without its media-archived record).
    pub async fn run(&self, global: &Global) -> Result<ExitCode, String> {
        let mut reports = Vec::new();
        for ctx in global.twilio_contexts().await? {
            let r = tasks::prune(&ctx, &self.range.created(), self.delete)
                .await
                .map_err(|err| in_account(&ctx, err))?;
            ctx.progress.finish_and_clear();
            reports.push(r);
        }
        let ok = reports.iter().all(PruneReport::complete);
        print_accounts(
            global.json,
            &reports,
            |r| r.account.as_deref(),
            |r| {
                let mut rows = vec![
                    row("total", r.total.to_string()),
                    row("safe to delete", r.deletable.to_string()),
                    row(
                        "deleted at Twilio",
                        if r.delete {
                            r.deleted.to_string()
                        } else {
                            "0 (add --delete)".into()
                        },
                    ),
                    row("kept (not safely archived)", r.kept.to_string()),
                ];
                rows.extend(r.kept_files.iter().map(not_archived_row));
                rows.push(row("kept (external)", r.external.to_string()));
                rows.push(row("failed", r.failed.to_string()));
                rows
            },
        )?;
        Ok(status(ok))
    }
}

fn not_archived_row(n: &NotArchived) -> (String, String) {
    row(
        &format!("  {}", n.reason),
        format!(
            "{} (Twilio {} bytes, archive {})",
            n.sid,
            n.twilio_size.map(|s| s.to_string()).unwrap_or("?".into()),
            n.archived_size
                .map(|s| format!("{s} bytes"))
                .unwrap_or("none".into())
        ),
    )
}

/// An error of one account's job, naming the account when there are several.
fn in_account(ctx: &tasks::Context, err: tasks::OperatorError) -> String {
    match &ctx.account_sid {
        Some(account) => format!("account {account}: {err}"),
        None => err.to_string(),
    }
}

/// One account's report as before (its table, or its JSON object); several as one table per account
/// (headed by its SID) or, with `--json`, one object `{"accounts": [...]}`.
fn print_accounts<R: Serialize>(
    json: bool,
    reports: &[R],
    account: impl Fn(&R) -> Option<&str>,
    rows: impl Fn(&R) -> Vec<(String, String)>,
) -> Result<(), String> {
    match reports {
        [one] => print_report(json, one, rows(one)),
        several if json => print_report(
            true,
            &serde_json::json!({ "accounts": several }),
            Vec::new(),
        ),
        several => {
            for report in several {
                let mut table = vec![row("account", account(report).unwrap_or("?").to_owned())];
                table.extend(rows(report));
                print_report(false, report, table)?;
            }
            Ok(())
        }
    }
}

fn row(name: &str, value: String) -> (String, String) {
    (name.to_owned(), value)
}

fn status(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A time as Twilio's `DateCreatedAfter`/`DateCreatedBefore` take it.
fn rfc3339(time: OffsetDateTime) -> String {
    let text = timestamp::format(time);
    // Twilio's examples use whole seconds.
    match text.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_gets_whole_seconds() {
        let time = timestamp::parse("2024-01-31T10:20:30.456Z");
        assert_eq!(time.map(rfc3339).as_deref(), Some("2024-01-31T10:20:30Z"));
    }
}
