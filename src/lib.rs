//! Twilio Video status callbacks on AWS Lambda: verify, parse, store, enqueue.
//!
//! The library holds everything that can be tested without AWS ([`callback`], [`signature`], [`item`],
//! [`message`]), the two ports to AWS ([`store`], [`queue`]) with their DynamoDB and SQS adapters, and
//! the orchestration ([`handler`]) that the `callback-receiver` binary serves through [`lambda`].
//!
//! Workers that consume the media queue depend on this crate for [`message::MediaMessage`]; the first of
//! them, the `media-archiver` binary ([`archive`], [`archiver`]), streams every recording and composition
//! into the team's own S3 bucket.
#![warn(missing_docs)]

mod open_enum;

pub mod archive;
pub mod archiver;
pub mod backend;
pub mod callback;
pub mod config;
pub mod handler;
pub mod item;
pub mod lambda;
pub mod message;
pub mod queue;
pub mod signature;
pub mod store;
pub mod timestamp;
pub mod tls;
