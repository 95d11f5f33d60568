//! The outcome record in the room's timeline (`media-archived`, `media-archive-failed`): written once,
//! by the first delivery that reaches an outcome. A redelivered message never erases it: a repeat only
//! adds `confirmed_at` (the latest repeat) and counts itself in `confirmations`.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::archiver::rules::{ArchiveError, ArchiveRecord};

/// What writing an outcome did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The first record of this outcome for this media.
    First,
    /// A record was already there and was kept; the repeat was counted on it.
    Repeat,
}

/// Where outcomes are written: the events table in production, memory in unit tests.
pub trait OutcomeLog: Send + Sync {
    /// Writes `record` unless one with its key exists; then only marks the repeat on the existing one.
    fn record(
        &self,
        record: ArchiveRecord,
    ) -> impl Future<Output = Result<Recorded, ArchiveError>> + Send;
}

fn transient(err: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Transient(format!("recording the outcome: {err}"))
}

/// The events table in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoOutcomes {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoOutcomes {
    /// Writes to `table` through `client`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoOutcomes {
            client,
            table: table.into(),
        }
    }

    async fn mark_repeat(&self, record: &ArchiveRecord) -> Result<(), ArchiveError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(record.pk.clone()))
            .key("sk", AttributeValue::S(record.sk.clone()))
            .update_expression("SET confirmed_at = :at ADD confirmations :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", AttributeValue::S(record.archived_at.clone()))
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| transient(aws_sdk_dynamodb::error::DisplayErrorContext(err)))
    }
}

impl OutcomeLog for DynamoOutcomes {
    async fn record(&self, record: ArchiveRecord) -> Result<Recorded, ArchiveError> {
        let item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&record).map_err(transient)?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(Recorded::First),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => {
                    self.mark_repeat(&record).await?;
                    Ok(Recorded::Repeat)
                }
                _ => Err(transient(aws_sdk_dynamodb::error::DisplayErrorContext(err))),
            },
        }
    }
}
