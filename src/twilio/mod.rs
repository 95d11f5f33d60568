//! Twilio's side of the contract, without I/O: the status callback model and the specification's
//! parameter tables ([`callback`]), `X-Twilio-Signature` ([`signature`]), the shared-key settings header
//! ([`shared_key`]), signing keys by account and the rule of which may verify what ([`signing_keys`]),
//! Twilio's timestamps ([`timestamp`]), API keys by account ([`api_keys`]) and the envelope of encrypted
//! media ([`envelope`]).

pub mod api_keys;
pub mod callback;
pub mod envelope;
pub(crate) mod open_enum;
pub mod shared_key;
pub mod signature;
pub mod signing_keys;
pub mod timestamp;
