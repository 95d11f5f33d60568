//! Where callbacks are kept: the [`EventStore`] port, its DynamoDB adapter and an in-memory one.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::aws::error::{BackendError, Service};
use crate::receiver::item::StoredEvent;

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

/// The events table, reduced to the writes the receiver and its spill consumer make.
pub trait EventStore: Send + Sync {
    /// Writes `event` unless an item with its key exists (a conditional put: never overwrites).
    fn insert(
        &self,
        event: StoredEvent,
    ) -> impl Future<Output = Result<Insert, BackendError>> + Send;

    /// Sets the `spilled` attribute of the stored item `(pk, sk)` to `reason`, unless it has one already
    /// or the item does not exist (a conditional update: never overwrites, never creates). For the spill
    /// consumer, when the callback it restores had been stored before it was spilled.
    fn mark_spilled(
        &self,
        pk: &str,
        sk: &str,
        reason: &str,
    ) -> impl Future<Output = Result<Mark, BackendError>> + Send;
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

impl EventStore for DynamoEventStore {
    async fn insert(&self, event: StoredEvent) -> Result<Insert, BackendError> {
        let item: HashMap<String, AttributeValue> = event.into_attributes();
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

    async fn mark_spilled(&self, pk: &str, sk: &str, reason: &str) -> Result<Mark, BackendError> {
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

/// An in-memory table, for unit tests and examples.
#[derive(Debug, Default)]
pub struct MemoryEventStore {
    items: Mutex<HashMap<(String, String), StoredEvent>>,
}

impl MemoryEventStore {
    /// Every stored item, sorted by key.
    pub fn items(&self) -> Vec<StoredEvent> {
        let mut items: Vec<StoredEvent> = self.lock().values().cloned().collect();
        items.sort_by(|a, b| (&a.pk, &a.sk).cmp(&(&b.pk, &b.sk)));
        items
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), StoredEvent>> {
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl EventStore for MemoryEventStore {
    async fn insert(&self, event: StoredEvent) -> Result<Insert, BackendError> {
        let mut items = self.lock();
        let key = (event.pk.clone(), event.sk.clone());
        if items.contains_key(&key) {
            return Ok(Insert::AlreadyStored);
        }
        items.insert(key, event);
        Ok(Insert::Created)
    }

    async fn mark_spilled(&self, pk: &str, sk: &str, reason: &str) -> Result<Mark, BackendError> {
        let mut items = self.lock();
        match items.get_mut(&(pk.to_owned(), sk.to_owned())) {
            Some(item) if item.spilled.is_none() => {
                item.spilled = Some(reason.to_owned());
                Ok(Mark::Marked)
            }
            _ => Ok(Mark::Unchanged),
        }
    }
}
