//! The operator's program as a library: its command line (clap) and what each command does. The binary
//! (`src/bin/twilio-video-callbacks.rs`) only parses [`Cli`] and hands it to [`run`].
//!
//! One module per capability: the post-deploy check ([`check`]), the archive jobs over Twilio's REST API ([`archive`]: backfill, reconcile,
//! prune), the table's views ([`views`]: timeline, rooms), the index migration ([`index`]), replay
//! ([`replay`]), usage and its estimated cost ([`usage`]); the options every command takes and what they resolve to (`global`), the terminal and JSON
//! output they share (`output`), the values clap parses (`parse`).
//!
//! A new subcommand is a module with its `#[derive(clap::Args)]` struct and an
//! `async fn run(&self, global: &Global) -> Result<ExitCode, String>`, a variant of [`Command`] (its doc
//! comment is the subcommand's help; examples in `after_help`), and an arm in `dispatch`.
//!
//! Exit status: 0 when everything asked for was done and is safe, 1 when something is missing or failed
//! (with `--json`, the error as `{"error": ...}` on stdout too), 2 for a usage error.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub mod archive;
pub mod check;
pub mod decrypt;
pub mod global;
pub mod index;
mod output;
mod parse;
pub mod replay;
pub mod usage;
pub mod views;

use global::Global;

/// The command line: the options every command takes, and one command.
#[derive(Debug, Parser)]
#[command(
    name = "twilio-video-callbacks",
    version,
    about = "Check a deployment end to end; archive, check and prune a Twilio account's Video recordings and \
        compositions; read its rooms.",
    long_about = "Archive, check and prune a Twilio account's Video recordings and compositions; read the \
        stored rooms (timeline, rooms of a day) and send their media messages again (replay).\n\n\
        Settings come from options or the environment variables the Lambdas read; --stack reads the queue, \
        table and bucket from a deployed stack's outputs. AWS credentials and region come from the standard \
        AWS configuration (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).",
    after_help = "Examples:\n  \
        twilio-video-callbacks --stack twilio-video-callbacks check\n  \
        twilio-video-callbacks --stack twilio-video-callbacks backfill --since 2024-01-01\n  \
        twilio-video-callbacks --stack twilio-video-callbacks reconcile --since 2024-01-01 --json\n  \
        twilio-video-callbacks --stack twilio-video-callbacks prune --since 2024-01-01 --until 2026-01-01 --delete\n  \
        twilio-video-callbacks --stack twilio-video-callbacks rooms --date 2026-11-27\n  \
        twilio-video-callbacks --stack twilio-video-callbacks timeline RM0123... --html room.html\n  \
        twilio-video-callbacks --stack twilio-video-callbacks replay --room RM0123... --dry-run\n  \
        twilio-video-callbacks --stack twilio-video-callbacks usage --since 2026-11-01 --until 2026-12-01 --by day"
)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// The commands. Each variant's doc comment is its help (first paragraph: the summary in the list).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// After a deploy: deliver a signed test room-created to the callback URL and read it back (then
    /// remove it), look at the table, queues and dead-letter queues, and, with an API key, list the rooms
    /// Twilio created lately that do not send their callbacks here or whose room-created is missing.
    /// Exit status 1 when a step fails.
    #[command(after_help = "Examples:\n  \
        twilio-video-callbacks --stack twilio-video-callbacks check\n  \
        twilio-video-callbacks check --since 7d --json   # EVENTS_TABLE, MEDIA_QUEUE_URL, CALLBACK_URL, \
        TWILIO_AUTH_TOKEN, TWILIO_ACCOUNT_SID from the environment")]
    Check(check::Check),
    /// Send a media message for every completed recording and composition in the range, as the receiver
    /// would have for its callback; the media archiver copies them.
    #[command(
        after_help = "Example:\n  twilio-video-callbacks backfill --since 2024-01-01 --what all --dry-run"
    )]
    Backfill(archive::Backfill),
    /// Is every completed recording and composition in the range in the archive bucket with Twilio's size?
    /// Exit status 1 when one is not.
    #[command(
        after_help = "Example:\n  twilio-video-callbacks reconcile --since 2024-01-01 --enqueue-missing"
    )]
    Reconcile(archive::Reconcile),
    /// Delete at Twilio the media the archive safely holds (object with Twilio's size and a media-archived
    /// record); without --delete, only report what would be deleted.
    #[command(
        after_help = "Example:\n  twilio-video-callbacks prune --since 2024-01-01 --until 2025-01-01 --delete"
    )]
    Prune(archive::Prune),
    /// A room's story from the table, in time order: every callback, with participants, tracks,
    /// recordings and compositions, their archive outcomes, and malformed or spilled callbacks marked.
    /// Exit status 1 when the table holds nothing for the room.
    #[command(after_help = "Examples:\n  \
        twilio-video-callbacks timeline RM00000000000000000000000000000001\n  \
        twilio-video-callbacks timeline RM00000000000000000000000000000001 --html room.html   \
        # also draw it: one self-contained page\n  \
        twilio-video-callbacks timeline RM00000000000000000000000000000001 --json | jq -r .event")]
    Timeline(views::Timeline),
    /// The rooms created on one UTC day, read through the table's rooms-by-day index (no Scan): name,
    /// created, ended, duration, participants, recordings, compositions, archived.
    #[command(after_help = "Examples:\n  \
        twilio-video-callbacks rooms --date 2026-11-27\n  \
        twilio-video-callbacks rooms --date 2026-11-27 --account AC0123... --json")]
    Rooms(views::Rooms),
    /// Once, for rooms and media stored before the rooms-by-day index existed (or before it held
    /// media): scans the table (paced, resumable) and gives each room-created, recording-completed and
    /// composition-available item the index's attributes. Prints the key to resume from after every page.
    #[command(after_help = "Examples:\n  \
        twilio-video-callbacks index-rooms --items-per-second 100\n  \
        twilio-video-callbacks index-rooms --start-key '{\"pk\":\"RM...\",\"sk\":\"...\"}'   # resume")]
    IndexRooms(index::IndexRooms),
    /// Sends again the media messages the stored recording-completed and composition-available items
    /// produce, byte for byte as the receiver sent them (same idempotency keys): for a worker that was
    /// broken or a queue that was purged. One room's, or those whose callbacks arrived in a time range
    /// (through the index's media entries, whenever their rooms were created).
    #[command(after_help = "Examples:\n  \
        twilio-video-callbacks replay --room RM00000000000000000000000000000001\n  \
        twilio-video-callbacks replay --since 2026-11-27 --until 2026-11-28 --dry-run")]
    Replay(replay::Replay),
    /// Decrypt an archived encrypted recording or composition with your PKCS#8 RSA private key into a
    /// file; prints the plaintext's size and SHA-256. Exit status 1, and no output file, for a wrong key,
    /// an object that is not encrypted, or a bad padding.
    #[command(after_help = "Example:\n  \
        twilio-video-callbacks decrypt --private-key private.pem \
        s3://video-archive/twilio-video/AC.../RM.../RT....mka --output RT.mka")]
    Decrypt(decrypt::Decrypt),
    /// Participant minutes, recordings, compositions, archived bytes and an estimated cost per account,
    /// day or room, for the rooms created in [--since, --until) (UTC days), read through the
    /// rooms-by-day index and one Query per room (paced). A lower bound while rooms are open; an
    /// estimate, not an invoice.
    #[command(after_help = "Examples:\n  \
        twilio-video-callbacks usage --since 2026-11-01 --until 2026-12-01\n  \
        twilio-video-callbacks usage --since 2026-11-01 --until 2026-12-01 --by day --html usage.html\n  \
        twilio-video-callbacks usage --since 2026-11-27 --until 2026-11-28 --by room --account AC0123... --csv > rooms.csv\n  \
        twilio-video-callbacks usage --since 2026-11-01 --until 2026-12-01 --prices prices.json --json\n\n\
        A prices file overrides any of Twilio's list prices (USD a minute):\n  \
        {\"participant_minute\": 0.004, \"recording_minute\": 0.004, \"composition_minute\": 0.01}")]
    Usage(usage::Usage),
}

/// Runs the parsed command line and returns the program's exit status: 2 (clap's message on stderr) when
/// the options fail a check clap's derive cannot express, 1 when the command fails (the error on stderr,
/// and with `--json` also as `{"error": ...}` on stdout) or finds something missing, else 0.
pub async fn run(cli: Cli) -> ExitCode {
    if let Err(message) = cli.command.check_usage(&cli.global) {
        let err = Cli::command().error(clap::error::ErrorKind::ValueValidation, message);
        // What clap's `Error::exit` does, without ending the process from a library.
        let _ = err.print();
        return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
    }
    let json = cli.global.json;
    match dispatch(&cli).await {
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

/// Runs one command: its exit status, or the error that makes it 1.
async fn dispatch(cli: &Cli) -> Result<ExitCode, String> {
    let global = &cli.global;
    match &cli.command {
        Command::Check(args) => args.run(global).await,
        Command::Backfill(args) => args.run(global).await,
        Command::Reconcile(args) => args.run(global).await,
        Command::Prune(args) => args.run(global).await,
        Command::Timeline(args) => args.run(global).await,
        Command::Rooms(args) => args.run(global).await,
        Command::IndexRooms(args) => args.run(global).await,
        Command::Replay(args) => args.run(global).await,
        Command::Decrypt(args) => args.run(global).await,
        Command::Usage(args) => args.run(global).await,
    }
}

impl Command {
    /// The checks clap's derive cannot express; a failure is a usage error (exit status 2).
    fn check_usage(&self, global: &Global) -> Result<(), String> {
        match self {
            Command::Replay(args) => args.check_usage(),
            Command::Check(args) => args.check_usage(),
            Command::Usage(args) => args.check_usage(global),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn replay_until_before_since_is_a_usage_error() {
        let cli = Cli::try_parse_from([
            "twilio-video-callbacks",
            "replay",
            "--since",
            "2026-01-02",
            "--until",
            "2026-01-01",
        ]);
        let message = cli.map(|cli| cli.command.check_usage(&cli.global));
        assert!(matches!(message, Ok(Err(m)) if m.contains("must be after --since")));
    }
}
