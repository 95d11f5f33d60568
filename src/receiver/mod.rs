//! The `callback-receiver` Lambda: the API Gateway edge ([`gateway`]) turns an event into a request; the
//! [`handler`] verifies (with the signing keys of [`keys`]), parses, stores and enqueues it, or refuses it
//! with an [`error`]; [`item`] is the stored item's shape; [`ports`]
//! are what it needs of the table and the queues, implemented on the AWS adapters and in memory;
//! [`settings`] reads the environment and builds the receiver once at cold start; [`spill`] keeps what
//! the table cannot take now and stores it later.

pub mod error;
pub mod gateway;
pub mod handler;
pub mod item;
pub mod keys;
pub mod ports;
pub mod settings;
pub mod spill;
