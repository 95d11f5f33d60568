//! Twilio's side of the contract, without I/O: the status callback model and the specification's
//! parameter tables ([`callback`]), `X-Twilio-Signature` ([`signature`]), Twilio's timestamps
//! ([`timestamp`]), API keys by account ([`api_keys`]) and the envelope of encrypted media ([`envelope`]).

pub mod api_keys;
pub mod callback;
pub mod envelope;
pub(crate) mod open_enum;
pub mod signature;
pub mod timestamp;
