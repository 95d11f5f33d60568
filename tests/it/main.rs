//! The integration tests, one crate (one link step): the real handler and archiver with the real SDK
//! clients against moto's server on loopback (started by `scripts/test.sh`), a fake Twilio where Twilio
//! is needed, and a fault-injecting proxy where failures are.
//!
//! - [`accounts`]: signing keys by account (a document in SSM, or one parameter per account), shared keys,
//!   the re-reads of the keys counted through a proxy.
//! - [`receiver`]: every documented event through the real function into DynamoDB and SQS.
//! - [`events`]: every file in `events/` through the handler, as `sam local invoke` would send it.
//! - [`faults`]: Twilio's redeliveries against a failing DynamoDB and SQS; nothing acknowledged is lost.
//! - [`hostile`]: generated hostile input through the Lambda edge.
//! - [`archiver`]: the media archiver against moto's S3 and a fake Twilio media server.
//! - `encrypted` (feature `operator`, for RustCrypto): encrypted media keeps its envelope and decrypts;
//!   each account's media is read with its own key.
//! - [`schema`]: the media message's JSON Schema against the type that writes it.
//! - [`spill`]: the spill queue and its consumer on real SQS; the events AWS tooling generates.
//! - [`alone`]: the load and large-file tests, which measure memory and run on their own.
//! - `check` (feature `operator`): the post-deploy check against the real receiver behind a local HTTP
//!   front, moto and the fake Twilio REST API's rooms.
//! - `operator` (feature `operator`): backfill, reconcile and prune against a fake Twilio REST API.
//! - `views` (feature `operator`): timeline, rooms of a day, the index migration and replay against the
//!   table the receiver filled.
//! - `usage` (feature `operator`): usage per account, day and room against rooms the receiver stored,
//!   compared with sums of the callbacks sent; its error paths.
//! - `helpers`: moto set-up, fixtures, the fake Twilio, the fault proxy.

mod accounts;
mod alone;
mod archiver;
#[cfg(feature = "operator")]
mod check;
#[cfg(feature = "operator")]
mod encrypted;
mod events;
mod faults;
mod helpers;
mod hostile;
#[cfg(feature = "operator")]
mod operator;
mod receiver;
mod schema;
mod spill;
#[cfg(feature = "operator")]
mod usage;
#[cfg(feature = "operator")]
mod views;
