//! `twilio-video-callbacks`: the operator's program. Archive every recording and composition the account
//! ever made (`backfill`), check that the archive holds them all (`reconcile`), and stop paying Twilio for
//! what it holds (`prune`). Read the table: a room's story (`timeline`), the rooms of a day (`rooms`),
//! the one-off index migration (`index-rooms`), and send stored media messages again (`replay`).
//!
//! Exit status: 0 when everything asked for was done and is safe, 1 when something is missing or failed,
//! 2 for a usage error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde::Serialize;
use time::OffsetDateTime;
use twilio_video_callbacks::archiver::rules::DEFAULT_PREFIX;
use twilio_video_callbacks::archiver::ApiKey;
use twilio_video_callbacks::aws::queue::SqsMediaQueue;
use twilio_video_callbacks::aws::sdk;
use twilio_video_callbacks::message::TWILIO_VIDEO_BASE_URL;
use twilio_video_callbacks::operator::rest::{Created, TwilioRest};
use twilio_video_callbacks::operator::rooms::{self, IndexPlan};
use twilio_video_callbacks::operator::tasks::{self, Context, What};
use twilio_video_callbacks::operator::timeline;
use twilio_video_callbacks::twilio::timestamp;

#[derive(Debug, Parser)]
#[command(
    name = "twilio-video-callbacks",
    version,
    about = "Archive, check and prune a Twilio account's Video recordings and compositions; read its rooms.",
    long_about = "Archive, check and prune a Twilio account's Video recordings and compositions; read the \
        stored rooms (timeline, rooms of a day) and send their media messages again (replay).\n\n\
        Settings come from options or the environment variables the Lambdas read; --stack reads the queue, \
        table and bucket from a deployed stack's outputs. AWS credentials and region come from the standard \
        AWS configuration (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).",
    after_help = "Examples:\n  \
        twilio-video-callbacks --stack twilio-video-callbacks backfill --since 2024-01-01\n  \
        twilio-video-callbacks --stack twilio-video-callbacks reconcile --since 2024-01-01 --json\n  \
        twilio-video-callbacks --stack twilio-video-callbacks prune --since 2024-01-01 --until 2026-01-01 --delete\n  \
        twilio-video-callbacks --stack twilio-video-callbacks rooms --date 2026-11-27\n  \
        twilio-video-callbacks --stack twilio-video-callbacks timeline RM0123... --html room.html\n  \
        twilio-video-callbacks --stack twilio-video-callbacks replay --room RM0123... --dry-run"
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
    /// The Twilio account; media and rooms of other accounts (subaccounts) are left out when set (also
    /// when only TWILIO_ACCOUNT_SID is set in the environment: the terminal output then names it).
    #[arg(
        long,
        visible_alias = "account",
        env = "TWILIO_ACCOUNT_SID",
        global = true
    )]
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
    /// JSON on stdout instead of a table: one object (timeline: one object per line).
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
    /// A room's story from the table, in time order: every callback, with participants, tracks,
    /// recordings and compositions, their archive outcomes, and malformed or spilled callbacks marked.
    /// Exit status 1 when the table holds nothing for the room.
    #[command(after_help = "Examples:\n  \
        twilio-video-callbacks timeline RM00000000000000000000000000000001\n  \
        twilio-video-callbacks timeline RM00000000000000000000000000000001 --html room.html   \
        # also draw it: one self-contained page\n  \
        twilio-video-callbacks timeline RM00000000000000000000000000000001 --json | jq -r .event")]
    Timeline {
        /// The room (RM...); also the partition of a callback without one (CJ..., HK...).
        #[arg(env = "ROOM_SID")]
        room: String,
        /// Also write the room as one self-contained HTML page (inline SVG, no network requests).
        #[arg(long, env = "TIMELINE_HTML", value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// The rooms created on one UTC day, read through the table's rooms-by-day index (no Scan): name,
    /// created, ended, duration, participants, recordings, compositions, archived.
    #[command(after_help = "Examples:\n  \
        twilio-video-callbacks rooms --date 2026-11-27\n  \
        twilio-video-callbacks rooms --date 2026-11-27 --account AC0123... --json")]
    Rooms {
        /// The UTC day.
        #[arg(long, env = "ROOMS_DATE", value_parser = parse_day)]
        date: time::Date,
    },
    /// Once, for rooms and media stored before the rooms-by-day index existed (or before it held
    /// media): scans the table (paced, resumable) and gives each room-created, recording-completed and
    /// composition-available item the index's attributes. Prints the key to resume from after every page.
    #[command(after_help = "Examples:\n  \
        twilio-video-callbacks index-rooms --items-per-second 100\n  \
        twilio-video-callbacks index-rooms --start-key '{\"pk\":\"RM...\",\"sk\":\"...\"}'   # resume")]
    IndexRooms {
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
    },
    /// Sends again the media messages the stored recording-completed and composition-available items
    /// produce, byte for byte as the receiver sent them (same idempotency keys): for a worker that was
    /// broken or a queue that was purged. One room's, or those whose callbacks arrived in a time range
    /// (through the index's media entries, whenever their rooms were created).
    #[command(after_help = "Examples:\n  \
        twilio-video-callbacks replay --room RM00000000000000000000000000000001\n  \
        twilio-video-callbacks replay --since 2026-11-27 --until 2026-11-28 --dry-run")]
    Replay {
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
    },
}

fn parse_start_key(text: &str) -> Result<String, String> {
    rooms::decode_start_key(text)
        .map(|_| text.to_owned())
        .map_err(|err| err.to_string())
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!("{text:?} is not a number above 0")),
    }
}

/// The checks clap's derive cannot express; a failure is a usage error (exit status 2).
fn check_usage(cli: &Cli) -> Result<(), clap::Error> {
    if let Command::Replay {
        since: Some(since),
        until,
        ..
    } = &cli.command
    {
        let until = until.unwrap_or_else(OffsetDateTime::now_utc);
        if until <= *since {
            return Err(Cli::command().error(
                clap::error::ErrorKind::ValueValidation,
                format!(
                    "--until ({}) must be after --since ({})",
                    timestamp::format(until),
                    timestamp::format(*since)
                ),
            ));
        }
    }
    Ok(())
}

/// A row's cells with every control character (an escape sequence in a room name, an identity, a
/// fact) shown escaped, so table data cannot drive the terminal.
fn clean(row: Vec<String>) -> Vec<String> {
    row.iter().map(|text| timeline::cell(text)).collect()
}

/// `(account AC...)` when the output is filtered to one account.
fn filter_note(account: Option<&str>) -> String {
    account
        .map(|account| format!(" of account {account} (--account-sid / TWILIO_ACCOUNT_SID)"))
        .unwrap_or_default()
}

fn parse_day(text: &str) -> Result<time::Date, String> {
    parse_time(text).and_then(|time| {
        if time.time() == time::Time::MIDNIGHT {
            Ok(time.date())
        } else {
            Err(format!("{text:?} is not a day (2026-11-27)"))
        }
    })
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
    if let Err(err) = check_usage(&cli) {
        err.exit();
    }
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
    let reads_twilio = matches!(
        cli.command,
        Command::Backfill { .. } | Command::Reconcile { .. } | Command::Prune { .. }
    );
    let key = (g.api_key_sid.as_ref(), g.api_key_secret.as_ref());
    let key = match key {
        _ if !reads_twilio => None,
        (Some(sid), Some(secret)) => Some((sid, secret)),
        _ => {
            return Err(
                "set TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET (or --api-key-sid/--api-key-secret) to a \
                 Twilio API key that may read Video media"
                    .into(),
            )
        }
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
    let Some((sid, secret)) = key else {
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let table = table
            .ok_or("EVENTS_TABLE is not set: pass --table, set EVENTS_TABLE, or use --stack")?;
        let queue = queue_url.map(|url| SqsMediaQueue::new(aws_sdk_sqs::Client::new(&sdk), url));
        return read_table(&cli, &dynamodb, &table, queue.as_ref()).await;
    };
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
        Command::Timeline { .. }
        | Command::Rooms { .. }
        | Command::IndexRooms { .. }
        | Command::Replay { .. } => {
            return Err("this subcommand reads the table, not Twilio".into());
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

/// The subcommands that read the events table (and, for replay, send to the media queue).
async fn read_table(
    cli: &Cli,
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    queue: Option<&SqsMediaQueue>,
) -> Result<ExitCode, String> {
    let json = cli.global.json;
    let account = cli.global.account_sid.as_deref();
    match &cli.command {
        Command::Timeline { room, html } => {
            let timeline = rooms::room_timeline(dynamodb, table, room)
                .await
                .map_err(|err| err.to_string())?;
            if timeline.rows.is_empty() {
                return Err(rooms::TableError::NothingStored {
                    table: table.to_owned(),
                    room: room.clone(),
                }
                .to_string());
            }
            if json {
                for row in &timeline.rows {
                    println!(
                        "{}",
                        serde_json::to_string(row).map_err(|err| err.to_string())?
                    );
                }
            } else {
                println!("{}", timeline::table(&timeline));
            }
            if let Some(path) = html {
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
        }
        Command::Rooms { date } => {
            let summaries = rooms::room_summaries(dynamodb, table, *date, account)
                .await
                .map_err(|err| err.to_string())?;
            if json {
                let out = serde_json::json!({ "date": date.to_string(), "account_sid": account, "rooms": summaries });
                println!("{out}");
            } else {
                let mut out = Table::new();
                out.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
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
            }
        }
        Command::IndexRooms {
            start_key,
            page_size,
            items_per_second,
            max_pages,
        } => {
            let plan = IndexPlan {
                start_key: start_key.clone(),
                page_size: *page_size,
                items_per_second: *items_per_second,
                max_pages: *max_pages,
            };
            let report = rooms::index_rooms(dynamodb, table, &plan, |progress| {
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
                json,
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
        }
        Command::Replay {
            room,
            since,
            until,
            dry_run,
        } => {
            if queue.is_none() && !dry_run {
                return Err(
                    "MEDIA_QUEUE_URL is not set: pass --queue-url, set MEDIA_QUEUE_URL, or use --stack".into(),
                );
            }
            let run_id = OffsetDateTime::now_utc().unix_timestamp_nanos().to_string();
            let report = match (room, since) {
                (Some(room), _) => {
                    rooms::replay_room(dynamodb, table, queue, room, *dry_run, &run_id).await
                }
                (None, Some(since)) => {
                    let until = until.unwrap_or_else(OffsetDateTime::now_utc);
                    rooms::replay_between(
                        dynamodb, table, queue, *since, until, account, *dry_run, &run_id,
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
            if !json && room.is_none() {
                eprintln!(
                    "media whose callbacks arrived in the range{} (run {})",
                    filter_note(account),
                    report.run_id
                );
            }
        }
        Command::Backfill { .. } | Command::Reconcile { .. } | Command::Prune { .. } => {
            return Err("this subcommand reads Twilio: it needs an API key".into())
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A report as one JSON line (`--json`), or as a two-column table of `rows` (escaped) on the terminal.
fn print_report<T: serde::Serialize>(
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
        let mut out = Table::new();
        out.load_preset(UTF8_FULL_CONDENSED);
        for (name, value) in rows {
            out.add_row(clean(vec![name, value]));
        }
        println!("{out}");
    }
    Ok(())
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
            table.add_row(clean(vec![name.to_owned(), value]));
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
