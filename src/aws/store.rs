//! The events table in DynamoDB, in the terms of its items: a conditional put that never overwrites and a
//! conditional update that never creates. It knows no program's types; the receiver implements its `EventStore` port on
//! it, in its own `ports` module.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::aws::error::{BackendError, Service};

/// What inserting a callback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// The callback was new and is now stored.
    Created,
    /// The same callback (same key) was already stored; nothing was written.
    AlreadyStored,
}

/// Whether marking a stored item as spilled changed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// The item now carries the reason.
    Marked,
    /// The item already carried a reason (kept), or no longer exists: nothing was written.
    Unchanged,
}

/// The events table in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoEventStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoEventStore {
    /// Uses `table` through `client` (built once at cold start).
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoEventStore {
            client,
            table: table.into(),
        }
    }

    /// Opens the client's connection during init, so the first callback does not pay for it: one
    /// consistent-free GetItem of a key that never exists (0.5 read unit; needs only the GetItem the
    /// receiver already has).
    pub async fn warm_up(&self) -> Result<(), BackendError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S("#warm-up".to_owned()))
            .key("sk", AttributeValue::S("#warm-up".to_owned()))
            .projection_expression("pk")
            .send()
            .await
            .map(|_| ())
            .map_err(|err| BackendError::from_sdk(Service::DynamoDb, err))
    }
}

impl DynamoEventStore {
    /// Writes `item` unless an item with its `pk` exists (a conditional put: never overwrites).
    pub async fn put_new(
        &self,
        item: HashMap<String, AttributeValue>,
    ) -> Result<Insert, BackendError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Insert::Created),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(Insert::AlreadyStored),
                _ => Err(BackendError::from_sdk(Service::DynamoDb, err)),
            },
        }
    }

    /// Sets the `spilled` attribute of the item `(pk, sk)` to `reason`, unless it has one already or the
    /// item does not exist (a conditional update: never overwrites, never creates).
    pub async fn mark_spilled(
        &self,
        pk: &str,
        sk: &str,
        reason: &str,
    ) -> Result<Mark, BackendError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .update_expression("SET spilled = :reason")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(spilled)")
            .expression_attribute_values(":reason", AttributeValue::S(reason.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Mark::Marked),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(Mark::Unchanged),
                _ => Err(BackendError::from_sdk(Service::DynamoDb, err)),
            },
        }
    }
}
