//! The adapters to AWS, which every program shares: how a failed call is classified ([`error`]), the
//! events table's conditional writes ([`store`]), the media and spill queues ([`queue`]), the SDK
//! configuration ([`sdk`]), SecureString reads ([`ssm`]) and the compiled-in TLS roots ([`tls`]). They speak
//! in AWS's terms and the bottom layer's (attributes, JSON, the [`crate::message`] contract) and import no
//! program: each program implements its own ports on them.

pub mod error;
pub mod queue;
pub mod sdk;
pub mod ssm;
pub mod store;
pub mod tls;
