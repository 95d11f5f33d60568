//! The operator's side (feature `operator`, the `twilio-video-callbacks` program): Twilio's Video REST
//! API with its rate limits ([`rest`]), its media resources as archive files and queue messages
//! ([`catalog`]), and the jobs over them: backfill ([`tasks`]), reconcile and prune ([`audit`]), with the archiver's
//! outcome records they read ([`records`]); the events table as the
//! operator reads it: a room's story ([`timeline`]), the rooms of a day, the index migration and replay
//! ([`rooms`]); usage per account, day or room, priced ([`usage`]); decrypting an encrypted archive
//! ([`decrypt`]); the post-deploy check of the whole stack ([`check`]); and the program's command line and
//! commands ([`cli`]).

pub mod audit;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod decrypt;
pub mod records;
pub mod rest;
pub mod rooms;
pub mod tasks;
pub mod timeline;
pub mod usage;
