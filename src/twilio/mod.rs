//! Twilio's side of the contract, without I/O: the status callback model and the specification's
//! parameter tables ([`callback`]), `X-Twilio-Signature` ([`signature`]), the shared-key settings header
//! ([`shared_key`]), signing keys by account and the rule of which may verify what ([`signing_keys`]), and
//! Twilio's timestamps ([`timestamp`]).

pub mod callback;
pub(crate) mod open_enum;
pub mod shared_key;
pub mod signature;
pub mod signing_keys;
pub mod timestamp;
