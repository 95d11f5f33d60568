//! Where callbacks are kept: the [`EventStore`] port, its DynamoDB adapter and an in-memory one.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
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

/// The events table, reduced to the one write the receiver makes.
pub trait EventStore: Send + Sync {
    /// Writes `event` unless an item with its key exists (a conditional put: never overwrites).
    fn insert(
        &self,
        event: StoredEvent,
    ) -> impl Future<Output = Result<Insert, BackendError>> + Send;
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
}
