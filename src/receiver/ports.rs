//! What the receiver needs of the outside, in its own terms: the events table ([`EventStore`]), the media
//! queue ([`MediaQueue`]), the spill queue ([`SpillQueue`]) and the SecureStrings holding the signing keys
//! ([`SecretParameters`]). Each port is implemented here twice: on the
//! AWS adapter of `crate::aws` (which knows no receiver type: it is handed attributes and JSON), and in
//! memory, for unit tests and examples.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::aws::error::BackendError;
use crate::aws::queue::{SqsMediaQueue, SqsSpillQueue};
use crate::aws::ssm::SecureStrings;
use crate::aws::store::DynamoEventStore;
pub use crate::aws::store::{Insert, Mark};
use crate::message::MediaMessage;
use crate::receiver::item::StoredEvent;
use crate::receiver::spill::Spilled;

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

/// The media queue, reduced to the one call the receiver makes.
pub trait MediaQueue: Send + Sync {
    /// Sends one message; returns once the queue has accepted it.
    fn send(&self, message: &MediaMessage)
        -> impl Future<Output = Result<(), BackendError>> + Send;
}

/// The spill queue, reduced to the one call the receiver makes: a verified request it could not store
/// or enqueue now, kept until the spill consumer can.
pub trait SpillQueue: Send + Sync {
    /// Sends one spilled request; returns once the queue has accepted it.
    fn spill(&self, spilled: &Spilled) -> impl Future<Output = Result<(), BackendError>> + Send;
}

/// SecureStrings by name, for the signing keys' re-reads ([`crate::receiver::keys`]). Object-safe (a
/// boxed future): it is called rarely, never on a known account's path.
pub trait SecretParameters: Send + Sync {
    /// The decrypted value of `name`; `None` when there is no such parameter.
    fn read<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<String>, BackendError>>;
}

/// A future returned by [`SecretParameters::read`].
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl SecretParameters for SecureStrings {
    fn read<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<String>, BackendError>> {
        Box::pin(self.get(name))
    }
}

/// In-memory SecureStrings that count their reads, for unit tests and examples; they can be told to fail.
#[derive(Debug, Default)]
pub struct MemoryParameters {
    values: Mutex<HashMap<String, String>>,
    reads: std::sync::atomic::AtomicUsize,
    failing: Mutex<Option<BackendError>>,
}

impl MemoryParameters {
    /// Sets `name` to `value`.
    pub fn put(&self, name: &str, value: &str) {
        lock(&self.values).insert(name.to_owned(), value.to_owned());
    }

    /// Deletes `name`.
    pub fn remove(&self, name: &str) {
        lock(&self.values).remove(name);
    }

    /// Makes every read fail with `err` (`None`: read again).
    pub fn fail_with(&self, err: Option<BackendError>) {
        *lock(&self.failing) = err;
    }

    /// How many reads were made.
    pub fn reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl SecretParameters for MemoryParameters {
    fn read<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<String>, BackendError>> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let result = match lock(&self.failing).clone() {
            Some(err) => Err(err),
            None => Ok(lock(&self.values).get(name).cloned()),
        };
        Box::pin(std::future::ready(result))
    }
}

impl EventStore for DynamoEventStore {
    async fn insert(&self, event: StoredEvent) -> Result<Insert, BackendError> {
        self.put_new(event.into_attributes()).await
    }

    async fn mark_spilled(&self, pk: &str, sk: &str, reason: &str) -> Result<Mark, BackendError> {
        DynamoEventStore::mark_spilled(self, pk, sk, reason).await
    }
}

impl MediaQueue for SqsMediaQueue {
    async fn send(&self, message: &MediaMessage) -> Result<(), BackendError> {
        SqsMediaQueue::send(self, message).await
    }
}

impl SpillQueue for SqsSpillQueue {
    async fn spill(&self, spilled: &Spilled) -> Result<(), BackendError> {
        self.send_json(spilled).await
    }
}

/// No spill queue (`SPILL_QUEUE_URL` unset): never constructed, only names the type.
#[derive(Debug, Clone, Copy)]
pub enum NoSpill {}

impl SpillQueue for NoSpill {
    async fn spill(&self, _: &Spilled) -> Result<(), BackendError> {
        match *self {}
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An in-memory table, for unit tests and examples.
#[derive(Debug, Default)]
pub struct MemoryEventStore {
    items: Mutex<HashMap<(String, String), StoredEvent>>,
}

impl MemoryEventStore {
    /// Every stored item, sorted by key.
    pub fn items(&self) -> Vec<StoredEvent> {
        let mut items: Vec<StoredEvent> = lock(&self.items).values().cloned().collect();
        items.sort_by(|a, b| (&a.pk, &a.sk).cmp(&(&b.pk, &b.sk)));
        items
    }
}

impl EventStore for MemoryEventStore {
    async fn insert(&self, event: StoredEvent) -> Result<Insert, BackendError> {
        let mut items = lock(&self.items);
        let key = (event.pk.clone(), event.sk.clone());
        if items.contains_key(&key) {
            return Ok(Insert::AlreadyStored);
        }
        items.insert(key, event);
        Ok(Insert::Created)
    }

    async fn mark_spilled(&self, pk: &str, sk: &str, reason: &str) -> Result<Mark, BackendError> {
        let mut items = lock(&self.items);
        match items.get_mut(&(pk.to_owned(), sk.to_owned())) {
            Some(item) if item.spilled.is_none() => {
                item.spilled = Some(reason.to_owned());
                Ok(Mark::Marked)
            }
            _ => Ok(Mark::Unchanged),
        }
    }
}

/// An in-memory media queue, for unit tests and examples.
#[derive(Debug, Default)]
pub struct MemoryMediaQueue {
    sent: Mutex<Vec<MediaMessage>>,
}

impl MemoryMediaQueue {
    /// Every message sent, in order.
    pub fn sent(&self) -> Vec<MediaMessage> {
        lock(&self.sent).clone()
    }
}

impl MediaQueue for MemoryMediaQueue {
    async fn send(&self, message: &MediaMessage) -> Result<(), BackendError> {
        lock(&self.sent).push(message.clone());
        Ok(())
    }
}

/// An in-memory spill queue, for unit tests and examples; it can be told to fail.
#[derive(Debug, Default)]
pub struct MemorySpillQueue {
    spilled: Mutex<Vec<Spilled>>,
    /// When set, every spill fails with this error.
    pub failing: Option<BackendError>,
}

impl MemorySpillQueue {
    /// A spill queue that refuses every message with `err`.
    pub fn failing_with(err: BackendError) -> Self {
        MemorySpillQueue {
            failing: Some(err),
            ..MemorySpillQueue::default()
        }
    }

    /// Every request spilled, in order.
    pub fn spilled(&self) -> Vec<Spilled> {
        lock(&self.spilled).clone()
    }
}

impl SpillQueue for MemorySpillQueue {
    async fn spill(&self, spilled: &Spilled) -> Result<(), BackendError> {
        if let Some(err) = &self.failing {
            return Err(err.clone());
        }
        lock(&self.spilled).push(spilled.clone());
        Ok(())
    }
}
