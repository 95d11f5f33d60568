//! Twilio's side of the contract, without I/O: the status callback model and the specification's
//! parameter tables ([`callback`]), `X-Twilio-Signature` ([`signature`]), and Twilio's timestamps
//! ([`timestamp`]).

pub mod callback;
pub(crate) mod open_enum;
pub mod signature;
pub mod timestamp;
