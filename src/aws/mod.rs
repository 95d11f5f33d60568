//! What both Lambdas share with AWS: how a failed call is classified ([`error`]), the events table and
//! media queue behind two narrow ports with their DynamoDB and SQS adapters ([`store`], [`queue`]), the
//! SDK configuration ([`sdk`]), SecureString reads ([`ssm`]) and the compiled-in TLS roots ([`tls`]).

pub mod error;
pub mod queue;
pub mod sdk;
pub mod ssm;
pub mod store;
pub mod tls;
