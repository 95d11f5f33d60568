//! Twilio Video status callbacks on AWS Lambda: verify, parse, store, enqueue; then archive the media.
//!
//! Where each thing lives:
//!
//! - [`twilio`]: Twilio's side, without I/O: the callback model and spec tables, the signature, shared-key
//!   settings, signing keys by account and which may verify what, timestamps.
//! - [`receiver`]: the `callback-receiver` Lambda: handler, API Gateway edge, stored item, settings, its
//!   signing keys' loading and re-reading.
//! - [`archiver`]: the `media-archiver` Lambda: its rules, the Twilio media client, the S3 multipart upload,
//!   the outcome record, settings, and the orchestration that decides what is acknowledged.
//! - [`aws`]: the adapters to AWS, in AWS's terms: error classification, the events table's conditional
//!   writes, the media and spill queues, the SDK loader, SSM reads, TLS roots.
//! - [`message`]: the media queue's message contract ([`message::MediaMessage`]); workers depend on it.
//! - [`env`]: configuration values and the start-up error both programs report.
//! - [`metrics`]: the metrics both functions write as CloudWatch Embedded Metric Format lines.
//! - `operator` (feature `operator`): the operator CLI's library: Twilio's REST API, backfill, reconcile,
//!   prune; a room's timeline (table, JSON, HTML), the rooms of a day, the index migration, replay; the
//!   program's command line and commands (`operator::cli`).
//!
//! Dependencies point one way, down: [`twilio`], [`env`], [`metrics`] and [`message`] know no program; [`aws`]
//! knows only them; each program (receiver, archiver, operator) owns its ports, as traits over its own
//! types, and implements them on the `aws` adapters itself, so no adapter or contract imports a program.
//!
//! The binaries in `src/bin/` are thin mains: they read settings, build clients once and run the Lambda
//! runtime, or parse the operator's arguments and run `operator::cli`.
#![warn(missing_docs)]

pub mod archiver;
pub mod aws;
pub mod env;
pub mod message;
pub mod metrics;
#[cfg(feature = "operator")]
pub mod operator;
pub mod receiver;
pub mod twilio;
