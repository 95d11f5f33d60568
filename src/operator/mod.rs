//! The operator's side (feature `operator`, the `twilio-video-callbacks` program): Twilio's Video REST
//! API with its rate limits ([`rest`]), its media resources as archive files and queue messages
//! ([`catalog`]), and the jobs over them: backfill, reconcile, prune ([`tasks`]).

pub mod catalog;
pub mod rest;
pub mod tasks;
