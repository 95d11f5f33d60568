//! `twilio-video-callbacks`: the operator's program. Archive every recording and composition the account
//! ever made (`backfill`), check that the archive holds them all (`reconcile`), and stop paying Twilio for
//! what it holds (`prune`). Read the table: a room's story (`timeline`), the rooms of a day (`rooms`),
//! the one-off index migration (`index-rooms`), and send stored media messages again (`replay`).
//!
//! The command line and every command live in the library (`operator::cli`); this only parses the
//! arguments and exits with the command's status: 0 when everything asked for was done and is safe, 1 when
//! something is missing or failed, 2 for a usage error.

use std::process::ExitCode;

use clap::Parser;
use twilio_video_callbacks::operator::cli::{self, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    cli::run(Cli::parse()).await
}
