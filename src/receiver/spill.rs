//! The spill queue: where a verified request waits when the table (or, for a media event, the media
//! queue) cannot take it now, and its consumer, which stores it once the table answers.
//!
//! A spilled request carries what is needed to verify and store it again: the form body exactly as
//! received, the signature, the URL it was verified against and when it arrived. The consumer verifies it
//! again (the queue is not a trust boundary: anything that can send to it could forge a message), stores it
//! exactly once (the same conditional write as the HTTP path, so a request that was stored after all is a
//! duplicate), and sends its media message if that had not gone out. A message that does not verify or
//! cannot be read is logged and left to fail until SQS moves it to the spill dead-letter queue: it is
//! never stored.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::aws::error::BackendError;
use crate::receiver::handler::{Receiver, MAX_BODY_BYTES};
use crate::receiver::item::StoredEvent;
use crate::receiver::keys::KeyError;
use crate::receiver::ports::{EventStore, Insert, Mark, MediaQueue, SpillQueue};
use crate::twilio::callback::{Callback, Params};
use crate::twilio::timestamp;

/// The version of [`Spilled`] this crate writes and reads.
pub const SPILL_VERSION: u32 = 1;

/// A verified request the receiver could not keep at once: one message on the spill queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spilled {
    /// Always [`SPILL_VERSION`].
    pub spill_version: u32,
    /// The URL the signature was verified against (without a fragment).
    pub url: String,
    /// `X-Twilio-Signature` as received.
    pub signature: String,
    /// `X-Twilio-Webhooks-Signature-Settings` as received, when the request was signed with a shared key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_settings: Option<String>,
    /// The form body exactly as received (UTF-8, checked before verification).
    pub body: String,
    /// When the receiver got it (UTC, RFC 3339): the item's `received_at`.
    pub received_at: String,
    /// Whether its media message was already sent (only media events have one).
    pub media_sent: bool,
    /// Why it was spilled.
    pub reason: String,
    /// Twilio's `I-Twilio-Idempotency-Token`, when the request carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_token: Option<String>,
}

impl Spilled {
    /// The spill of a request verified against `url` with `signature` (and the shared-key `settings`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        url: &str,
        signature: &str,
        settings: Option<&str>,
        body: &[u8],
        received_at: OffsetDateTime,
        media_sent: bool,
        reason: &str,
        idempotency_token: Option<String>,
    ) -> Self {
        Spilled {
            spill_version: SPILL_VERSION,
            url: url.to_owned(),
            signature: signature.to_owned(),
            signature_settings: settings.map(str::to_owned),
            body: String::from_utf8_lossy(body).into_owned(),
            received_at: timestamp::format(received_at),
            media_sent,
            reason: reason.to_owned(),
            idempotency_token,
        }
    }
}

/// Why one spilled message could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpillError {
    /// Not a spilled request this consumer reads: never stored; dead-lettered.
    #[error("not a spilled request: {0}")]
    Unreadable(String),
    /// The signature does not verify: never stored; dead-lettered.
    #[error("the spilled request's signature does not verify against {url} ({why}): not stored")]
    Forged {
        /// The URL it claims to have been verified against.
        url: String,
        /// Why (the refusal, which names no secret).
        why: String,
    },
    /// The table or the media queue failed: retried.
    #[error("{0}")]
    Backend(#[from] BackendError),
}

/// What storing one spilled request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// False when the callback was already in the table.
    pub created: bool,
    /// When it was already in the table (stored before it was spilled): whether its item was given the
    /// `spilled` reason now (false when it had one: a redelivery of the spill message).
    pub marked: bool,
    /// Whether its media message was sent now.
    pub enqueued: bool,
}

impl<S: EventStore, Q: MediaQueue, P: SpillQueue> Receiver<S, Q, P> {
    /// Consumes one batch from the spill queue (SQS event source, partial batch responses): every
    /// message is tried; those not stored are reported as failures, so SQS delivers them again until
    /// its redrive policy moves them to the dead-letter queue.
    pub async fn drain_spill(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut failures = Vec::new();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            match self
                .restore(record.body.as_deref().unwrap_or_default())
                .await
            {
                Ok(restored) => {
                    let outcome = if restored.created {
                        "stored"
                    } else {
                        "duplicate"
                    };
                    tracing::info!(
                        message_id = %id,
                        outcome,
                        enqueued = restored.enqueued,
                        marked = restored.marked,
                        "spilled callback kept"
                    );
                    crate::metrics::spill_drain(outcome);
                }
                Err(err @ SpillError::Backend(_)) => {
                    crate::metrics::spill_drain("retried");
                    tracing::warn!(message_id = %id, error = %err, "spilled callback not stored yet; SQS will deliver it again");
                    failures.push(BatchItemFailure {
                        item_identifier: id,
                    });
                }
                Err(err) => {
                    crate::metrics::spill_drain("refused");
                    tracing::error!(message_id = %id, error = %err, "spilled message refused: it goes to the dead-letter queue, never to the table");
                    failures.push(BatchItemFailure {
                        item_identifier: id,
                    });
                }
            }
        }
        SqsBatchResponse {
            batch_item_failures: failures,
        }
    }

    /// Verifies one spilled request again and keeps it: stored once, its media message sent if it had
    /// not gone out.
    pub async fn restore(&self, message: &str) -> Result<Restored, SpillError> {
        let spilled: Spilled =
            serde_json::from_str(message).map_err(|err| SpillError::Unreadable(err.to_string()))?;
        if spilled.spill_version != SPILL_VERSION {
            return Err(SpillError::Unreadable(format!(
                "spill_version {} (this consumer reads {SPILL_VERSION})",
                spilled.spill_version
            )));
        }
        if spilled.body.len() > MAX_BODY_BYTES {
            return Err(SpillError::Unreadable(format!(
                "a body of {} bytes is over the receiver's limit",
                spilled.body.len()
            )));
        }
        let received_at = timestamp::parse(&spilled.received_at).ok_or_else(|| {
            SpillError::Unreadable(format!("received_at {:?}", spilled.received_at))
        })?;
        let params = Params::from_form(spilled.body.as_bytes());
        // The same rule as the HTTP path: only the keys of the AccountSid it carries.
        let by = match self
            .keys
            .verify(
                params.get("AccountSid"),
                spilled.signature_settings.as_deref(),
                &spilled.url,
                params.pairs(),
                &spilled.signature,
            )
            .await
        {
            Ok(by) => by,
            Err(KeyError::Unavailable(err)) => return Err(SpillError::Backend(err)),
            Err(KeyError::Refused(refusal)) => {
                return Err(SpillError::Forged {
                    url: spilled.url,
                    why: refusal.to_string(),
                })
            }
        };
        let (callback, problems) = Callback::read(params, received_at);
        let item = StoredEvent::new(callback, received_at, self.retention_days)
            .with_problems(&problems)
            .verified_by(&by)
            .spilled_because(&spilled.reason);
        let message = item.media_message().filter(|_| !spilled.media_sent);
        let key = (item.pk.clone(), item.sk.clone());
        let reason = item.spilled.clone().unwrap_or_default();
        let created = self.store.insert(item).await? == Insert::Created;
        // Stored before it was spilled (the write succeeded, the media send failed): mark that item.
        let marked =
            !created && self.store.mark_spilled(&key.0, &key.1, &reason).await? == Mark::Marked;
        let enqueued = match &message {
            Some(message) => {
                self.queue.send(message).await?;
                true
            }
            None => false,
        };
        Ok(Restored {
            created,
            marked,
            enqueued,
        })
    }
}
