//! `twilio-video-callbacks`: the operator's program. Archive every recording and composition the account
//! ever made (`backfill`), check that the archive holds them all (`reconcile`), and stop paying Twilio for
//! what it holds (`prune`).
//!
//! Exit status: 0 when everything asked for was done and is safe, 1 when something is missing or failed,
//! 2 for a usage error.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::Serialize;
use time::OffsetDateTime;
use twilio_video_callbacks::archiver::rules::DEFAULT_PREFIX;
use twilio_video_callbacks::archiver::ApiKey;
use twilio_video_callbacks::aws::sdk;
use twilio_video_callbacks::message::TWILIO_VIDEO_BASE_URL;
use twilio_video_callbacks::operator::rest::{Created, TwilioRest};
use twilio_video_callbacks::operator::tasks::{self, Context, What};
use twilio_video_callbacks::twilio::timestamp;

#[derive(Debug, Parser)]
#[command(
    name = "twilio-video-callbacks",
    version,
    about = "Archive, check and prune a Twilio account's Video recordings and compositions.",
    long_about = "Archive, check and prune a Twilio account's Video recordings and compositions.\n\n\
        Settings come from options or the environment variables the Lambdas read; --stack reads the queue, \
        table and bucket from a deployed stack's outputs. AWS credentials and region come from the standard \
        AWS configuration (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).",
    after_help = "Examples:\n  \
        twilio-video-callbacks --stack twilio-video-callbacks backfill --since 2024-01-01\n  \
        twilio-video-callbacks --stack twilio-video-callbacks reconcile --since 2024-01-01 --json\n  \
        twilio-video-callbacks --stack twilio-video-callbacks prune --since 2024-01-01 --until 2026-01-01 --delete"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// Read MEDIA_QUEUE_URL, EVENTS_TABLE and ARCHIVE_BUCKET from this CloudFormation stack's outputs.
    #[arg(long, env = "STACK_NAME", global = true)]
    stack: Option<String>,
    /// The Twilio account; media of other accounts (subaccounts) is left out when set.
    #[arg(long, env = "TWILIO_ACCOUNT_SID", global = true)]
    account_sid: Option<String>,
    /// A Twilio API key (SK...) that may read (and, for prune --delete, delete) Video media.
    #[arg(long, env = "TWILIO_API_KEY_SID", global = true)]
    api_key_sid: Option<String>,
    /// The API key's secret.
    #[arg(
        long,
        env = "TWILIO_API_KEY_SECRET",
        hide_env_values = true,
        global = true
    )]
    api_key_secret: Option<String>,
    /// The media queue (the stack's MediaQueueUrl).
    #[arg(long, env = "MEDIA_QUEUE_URL", global = true)]
    queue_url: Option<String>,
    /// The events table (the stack's EventsTableName).
    #[arg(long, env = "EVENTS_TABLE", global = true)]
    table: Option<String>,
    /// The archive bucket (the stack's ArchiveBucketName).
    #[arg(long, env = "ARCHIVE_BUCKET", global = true)]
    bucket: Option<String>,
    /// The archive's key prefix, as the archiver was deployed with.
    #[arg(long, env = "ARCHIVE_PREFIX", default_value = DEFAULT_PREFIX, global = true)]
    prefix: String,
    /// Twilio's Video API (a local fake in tests).
    #[arg(long, env = "TWILIO_VIDEO_BASE_URL", default_value = TWILIO_VIDEO_BASE_URL, global = true)]
    twilio_base_url: String,
    /// Most Twilio reads a second (Twilio's default account limit is 80, shared with your other uses).
    #[arg(long, env = "TWILIO_READ_RATE", default_value_t = 40.0, global = true)]
    read_rate: f64,
    /// Most Twilio writes (deletes) a second (Twilio's default account limit is 20).
    #[arg(long, env = "TWILIO_WRITE_RATE", default_value_t = 10.0, global = true)]
    write_rate: f64,
    /// One JSON object on stdout instead of a table.
    #[arg(long, env = "OUTPUT_JSON", global = true)]
    json: bool,
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Send a media message for every completed recording and composition in the range, as the receiver
    /// would have for its callback; the media archiver copies them.
    #[command(
        after_help = "Example:\n  twilio-video-callbacks backfill --since 2024-01-01 --what all --dry-run"
    )]
    Backfill {
        #[command(flatten)]
        range: Range,
        /// Which media.
        #[arg(long, env = "BACKFILL_WHAT", value_enum, default_value = "all")]
        what: WhatArg,
        /// List and count only; send nothing.
        #[arg(long, env = "DRY_RUN")]
        dry_run: bool,
    },
    /// Is every completed recording and composition in the range in the archive bucket with Twilio's size?
    /// Exit status 1 when one is not.
    #[command(
        after_help = "Example:\n  twilio-video-callbacks reconcile --since 2024-01-01 --enqueue-missing"
    )]
    Reconcile {
        #[command(flatten)]
        range: Range,
        /// Send media messages for exactly the files that are not archived.
        #[arg(long, env = "ENQUEUE_MISSING")]
        enqueue_missing: bool,
    },
    /// Delete at Twilio the media the archive safely holds (object with Twilio's size and a media-archived
    /// record); without --delete, only report what would be deleted.
    #[command(
        after_help = "Example:\n  twilio-video-callbacks prune --since 2024-01-01 --until 2025-01-01 --delete"
    )]
    Prune {
        #[command(flatten)]
        range: Range,
        /// Really delete at Twilio.
        #[arg(long, env = "PRUNE_DELETE")]
        delete: bool,
    },
}

fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    let text = text.trim();
    let as_day = format!("{text}T00:00:00Z");
    timestamp::parse(text)
        .or_else(|| timestamp::parse(&as_day))
        .ok_or_else(|| format!("{text:?} is neither a day (2024-01-31) nor an RFC 3339 time"))
}

fn rfc3339(time: OffsetDateTime) -> String {
    let text = timestamp::format(time);
    // Twilio's examples use whole seconds.
    match text.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => text,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    match run(cli).await {
        Ok(outcome) => outcome,
        Err(err) => {
            if json {
                println!("{}", serde_json::json!({ "error": err }));
            }
            eprintln!("error: {err}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let g = &cli.global;
    let (Some(sid), Some(secret)) = (&g.api_key_sid, &g.api_key_secret) else {
        return Err(
            "set TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET (or --api-key-sid/--api-key-secret) to a Twilio \
             API key that may read Video media"
                .into(),
        );
    };
    let sdk = sdk::sdk_loader()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(std::time::Duration::from_secs(60))
                .build(),
        )
        .load()
        .await;
    let mut queue_url = g.queue_url.clone();
    let mut table = g.table.clone();
    let mut bucket = g.bucket.clone();
    if let Some(stack) = &g.stack {
        let outputs = stack_outputs(&sdk, stack).await?;
        let from = |name: &str| {
            outputs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        queue_url = queue_url.or_else(|| from("MediaQueueUrl"));
        table = table.or_else(|| from("EventsTableName"));
        bucket = bucket.or_else(|| from("ArchiveBucketName"));
    }
    let twilio = TwilioRest::new(
        ApiKey::new(sid, secret),
        &g.twilio_base_url,
        g.read_rate,
        g.write_rate,
    )
    .map_err(|err| err.to_string())?;
    let ctx = Context {
        twilio,
        queue: queue_url.map(|url| (aws_sdk_sqs::Client::new(&sdk), url)),
        bucket: bucket.map(|bucket| (sdk::s3_client(&sdk), bucket)),
        prefix: g.prefix.clone(),
        table: table.map(|table| (aws_sdk_dynamodb::Client::new(&sdk), table)),
        account_sid: g.account_sid.clone(),
        progress: tasks::progress(),
    };
    let (summary, ok): (Summary, bool) = match &cli.command {
        Command::Backfill {
            range,
            what,
            dry_run,
        } => {
            let what = match what {
                WhatArg::Recordings => What::Recordings,
                WhatArg::Compositions => What::Compositions,
                WhatArg::All => What::All,
            };
            let report = tasks::backfill(&ctx, &range.created(), what, *dry_run)
                .await
                .map_err(|err| err.to_string())?;
            let ok = report.failed == 0;
            (Summary::Backfill(report), ok)
        }
        Command::Reconcile {
            range,
            enqueue_missing,
        } => {
            let report = tasks::reconcile(&ctx, &range.created(), *enqueue_missing)
                .await
                .map_err(|err| err.to_string())?;
            let ok = report.missing == 0 && report.size_mismatch == 0;
            (Summary::Reconcile(report), ok)
        }
        Command::Prune { range, delete } => {
            let report = tasks::prune(&ctx, &range.created(), *delete)
                .await
                .map_err(|err| err.to_string())?;
            let ok = report.failed == 0;
            (Summary::Prune(report), ok)
        }
    };
    ctx.progress.finish_and_clear();
    if g.json {
        println!(
            "{}",
            serde_json::to_string(&summary).map_err(|err| err.to_string())?
        );
    } else {
        println!("{}", summary.table());
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn stack_outputs(
    sdk: &aws_config::SdkConfig,
    stack: &str,
) -> Result<Vec<(String, String)>, String> {
    let described = aws_sdk_cloudformation::Client::new(sdk)
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|err| {
            format!(
                "could not read the outputs of stack {stack}: {}",
                aws_sdk_cloudformation::error::DisplayErrorContext(err)
            )
        })?;
    Ok(described
        .stacks()
        .iter()
        .flat_map(|s| s.outputs())
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect())
}

#[derive(Serialize)]
#[serde(untagged)]
enum Summary {
    Backfill(tasks::BackfillReport),
    Reconcile(tasks::ReconcileReport),
    Prune(tasks::PruneReport),
}

impl Summary {
    fn table(&self) -> Table {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        let mut row = |name: &str, value: String| {
            table.add_row(vec![name.to_owned(), value]);
        };
        match self {
            Summary::Backfill(r) => {
                row("listed", r.listed.to_string());
                for (kind, counts) in &r.kinds {
                    row(
                        &format!("  {kind:?}s").to_lowercase(),
                        format!("{} listed, {} enqueued", counts.listed, counts.enqueued),
                    );
                }
                row(
                    "enqueued",
                    if r.dry_run {
                        "0 (dry run)".into()
                    } else {
                        r.enqueued.to_string()
                    },
                );
                row("without a room (not sent)", r.roomless.to_string());
                row("failed", r.failed.to_string());
                for sid in &r.failed_sids {
                    row("  not sent", sid.clone());
                }
            }
            Summary::Reconcile(r) => {
                row("total", r.total.to_string());
                row("archived", r.archived.to_string());
                row("missing", r.missing.to_string());
                row("size mismatch", r.size_mismatch.to_string());
                row("external (customer storage)", r.external.to_string());
                for n in &r.not_archived {
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
                    );
                }
                row("enqueued", r.enqueued.to_string());
            }
            Summary::Prune(r) => {
                row("total", r.total.to_string());
                row("safe to delete", r.deletable.to_string());
                row(
                    "deleted at Twilio",
                    if r.delete {
                        r.deleted.to_string()
                    } else {
                        "0 (add --delete)".into()
                    },
                );
                row("kept (not safely archived)", r.kept.to_string());
                row("kept (external)", r.external.to_string());
                row("failed", r.failed.to_string());
            }
        }
        table
    }
}
