//! The two queues in SQS: the media queue ([`SqsMediaQueue`], which carries the [`MediaMessage`] contract)
//! and the spill queue ([`SqsSpillQueue`], which carries any JSON body it is given). They know no
//! program's types; the receiver implements its ports on them, in its own
//! `ports` module.

use aws_sdk_sqs::types::MessageAttributeValue;

use crate::aws::error::{BackendError, Service};
use crate::message::MediaMessage;

/// The media queue in SQS (standard or FIFO).
#[derive(Debug, Clone)]
pub struct SqsMediaQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsMediaQueue {
    /// Sends to the queue at `url` through `client` (built once at cold start).
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        SqsMediaQueue {
            client,
            url: url.into(),
        }
    }

    /// Opens the client's connection during init, so the first media callback does not pay for it: one
    /// GetQueueAttributes asking for no attribute (the cheapest call the receiver's role allows; it
    /// still proves the queue exists and the role may use it).
    pub async fn warm_up(&self) -> Result<(), BackendError> {
        self.client
            .get_queue_attributes()
            .queue_url(&self.url)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| BackendError::from_sdk(Service::Sqs, err))
    }

    /// Whether the queue is FIFO (its URL ends in `.fifo`).
    pub fn is_fifo(&self) -> bool {
        self.url.ends_with(".fifo")
    }
}

impl SqsMediaQueue {
    /// Sends one message; returns once the queue has accepted it. On a FIFO queue the message group is
    /// the room and the deduplication id the message's `idempotency_key`.
    pub async fn send(&self, message: &MediaMessage) -> Result<(), BackendError> {
        self.send_with(message, &message.idempotency_key).await
    }

    /// Sends `message` again for the operator's `replay` run `run_id`: the same body, `event`
    /// attribute and (FIFO) message group as [`SqsMediaQueue::send`]; only a FIFO queue's deduplication id
    /// differs ([`replay_deduplication_id`]), so SQS does not drop a replay sent within its 5-minute
    /// deduplication window of the original. Workers deduplicate on the body's `idempotency_key`.
    pub async fn send_replay(
        &self,
        message: &MediaMessage,
        run_id: &str,
    ) -> Result<(), BackendError> {
        self.send_with(
            message,
            &replay_deduplication_id(&message.idempotency_key, run_id),
        )
        .await
    }

    async fn send_with(
        &self,
        message: &MediaMessage,
        deduplication_id: &str,
    ) -> Result<(), BackendError> {
        let body = serde_json::to_string(message).map_err(|err| BackendError::Rejected {
            service: Service::Sqs,
            detail: format!("message does not serialize: {err}"),
        })?;
        let event = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(&message.event)
            .build()
            .map_err(|err| BackendError::Rejected {
                service: Service::Sqs,
                detail: format!("message attribute: {err}"),
            })?;
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .message_attributes("event", event);
        if self.is_fifo() {
            request = request
                .message_group_id(message.group_id())
                .message_deduplication_id(deduplication_id);
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|err| BackendError::from_sdk(Service::Sqs, err))
    }
}

/// A replayed message's FIFO deduplication id: `{idempotency_key}:replay:{run_id}`. Unlike the
/// receiver's (the key alone), SQS does not take it for a duplicate of the original; two sends of one
/// run still deduplicate.
pub fn replay_deduplication_id(idempotency_key: &str, run_id: &str) -> String {
    format!("{idempotency_key}:replay:{run_id}")
}

/// The spill queue in SQS (standard).
#[derive(Debug, Clone)]
pub struct SqsSpillQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsSpillQueue {
    /// Sends to the queue at `url` through `client` (built once at cold start).
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        SqsSpillQueue {
            client,
            url: url.into(),
        }
    }
}

impl SqsSpillQueue {
    /// Sends `message` as one JSON message; returns once the queue has accepted it.
    pub async fn send_json<T: serde::Serialize + Sync>(
        &self,
        message: &T,
    ) -> Result<(), BackendError> {
        let body = serde_json::to_string(message).map_err(|err| BackendError::Rejected {
            service: Service::Sqs,
            detail: format!("spilled request does not serialize: {err}"),
        })?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| BackendError::from_sdk(Service::Sqs, err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_deduplication_id_differs_from_the_original_and_between_runs() {
        let key = "a".repeat(64);
        let first = replay_deduplication_id(&key, "1764312000123456789");
        assert_eq!(first, format!("{key}:replay:1764312000123456789"));
        assert_ne!(first, key);
        assert_ne!(first, replay_deduplication_id(&key, "1764312000123456790"));
        // SQS allows 128 characters of letters, digits and punctuation.
        assert!(first.len() <= 128 && first.chars().all(|c| c.is_ascii_graphic()));
    }
}
