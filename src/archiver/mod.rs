//! The `media-archiver` Lambda: for each media message on the queue, stream the recording or composition
//! from Twilio into the team's own S3 bucket, and record where it went in the room's timeline.
//!
//! Order per message: read it (the library's versioned type, [`rules::read_message`]); skip if Twilio
//! stored it externally or an object of the expected size is already archived with its `sha256` tag;
//! open the media at Twilio with its account's API key ([`media`]); refuse half an encryption envelope;
//! stream it into an S3 multipart upload ([`upload`]) that keeps the envelope and completes only with
//! every byte; record `media-archived`, or `media-archive-failed` for media Twilio deleted ([`record`]). This file
//! holds the decisions (which outcome is recorded, which message is acknowledged and which retried); the
//! three ports are traits, so the decisions are unit-tested without AWS or Twilio.

pub mod media;
pub mod record;
pub mod rules;
pub mod settings;
pub mod upload;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use time::OffsetDateTime;

use crate::message::MediaMessage;
use media::MediaSource;
use record::{OutcomeLog, Recorded};
use rules::{ArchiveError, ArchiveRecord, Archived};
use upload::{Expected, MediaSink};

use crate::twilio::envelope::Envelope;
pub use media::{ApiKey, ApiKeys};
pub use settings::{build, AwsArchiver, KeySource, Settings};

/// The archiver: its three ports, built once at cold start.
pub struct Archiver<M, S, R> {
    media: M,
    sink: S,
    log: R,
    prefix: String,
    media_base_url: String,
    attempts: u32,
}

/// How many times one delivery tries a copy that failed for a reason that may pass (a broken or stalled
/// transfer, a failed part upload, a Twilio 5xx), each time from a fresh `/Media` request: Twilio's file
/// URL expires (600 s by default), so a retry never reuses it. Then SQS delivers the message again.
pub const DEFAULT_ATTEMPTS: u32 = 2;

/// A second attempt within a delivery starts only if this much of the invocation remains; a copy that
/// would be cut by the function's timeout is better left to SQS (which delivers it to a fresh invocation).
pub const RETRY_MARGIN: Duration = Duration::from_secs(60);

/// The pause before attempt n + 1 is n times this.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

fn time_left(deadline: Option<Instant>) -> bool {
    deadline
        .is_none_or(|deadline| deadline.saturating_duration_since(Instant::now()) > RETRY_MARGIN)
}

/// What happened to one message, for the log and the batch response.
#[derive(Debug)]
struct Handled {
    message: MediaMessage,
    outcome: Archived,
    recorded: Recorded,
}

impl<M: MediaSource, S: MediaSink, R: OutcomeLog> Archiver<M, S, R> {
    /// Reads media from `media`, writes it to `sink` under `prefix`, records outcomes in `log`;
    /// `media_base_url` replaces the scheme and host of each message's `media_url`.
    pub fn new(media: M, sink: S, log: R, prefix: &str, media_base_url: &str) -> Self {
        Archiver {
            media,
            sink,
            log,
            prefix: prefix.to_owned(),
            media_base_url: media_base_url.to_owned(),
            attempts: DEFAULT_ATTEMPTS,
        }
    }

    /// Tries a failing copy up to `attempts` times per delivery (at least once).
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Handles one SQS batch: its messages are archived at the same time, each to its own outcome; those
    /// worth retrying are reported as failures.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        self.handle_until(event, None).await
    }

    /// [`Archiver::handle`], within the invocation's `deadline`: a failed copy is tried again in this
    /// delivery only while [`RETRY_MARGIN`] remains, otherwise it is left to SQS.
    pub async fn handle_until(
        &self,
        event: SqsEvent,
        deadline: Option<Instant>,
    ) -> SqsBatchResponse {
        let handled = futures_util::future::join_all(event.records.iter().map(|record| async {
            let id = record.message_id.clone().unwrap_or_default();
            let started = Instant::now();
            let result = self
                .process(record.body.as_deref().unwrap_or_default(), deadline)
                .await;
            (id, result, started.elapsed())
        }))
        .await;
        let mut failures = Vec::new();
        for (id, result, elapsed) in handled {
            let ms = elapsed.as_millis() as u64;
            let bytes = result.as_ref().map_or(0, |h| h.outcome.copied_bytes());
            crate::metrics::archive(metric_outcome(&result), bytes, elapsed.as_secs_f64());
            match &result {
                Ok(handled) => {
                    tracing::info!(
                        message_id = %id,
                        event = %handled.message.event,
                        media_sid = rules::media_sid(&handled.message).unwrap_or("-"),
                        outcome = handled.outcome.word(),
                        repeat = handled.recorded == Recorded::Repeat,
                        bytes,
                        mib_per_s = bytes as f64 / 1_048_576.0 / elapsed.as_secs_f64().max(1e-6),
                        sha256 = handled.outcome.sha256().unwrap_or("-"),
                        encrypted = handled.outcome.encrypted().map_or("no", |v| v.as_str()),
                        ms,
                        "media archived"
                    )
                }
                Err(err @ ArchiveError::MediaGone(_)) => {
                    tracing::warn!(message_id = %id, error = %err, ms, "media gone at Twilio: recorded and acknowledged")
                }
                Err(err @ ArchiveError::NoKey { account }) => {
                    tracing::error!(message_id = %id, account_sid = %account, error = %err, ms, "no API key for the message's account: media not archived; the message will be retried")
                }
                Err(err @ ArchiveError::Envelope(_)) => {
                    tracing::error!(message_id = %id, error = %err, ms, "incomplete encryption envelope: nothing archived; the message will be retried")
                }
                Err(err) => {
                    tracing::error!(message_id = %id, error = %err, ms, "media not archived; the message will be retried")
                }
            }
            if let Err(err) = result {
                if err.retry() {
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

    async fn process(
        &self,
        body: &str,
        deadline: Option<Instant>,
    ) -> Result<Handled, ArchiveError> {
        let message = rules::read_message(body)?;
        let result = self.archive(&message, deadline).await;
        // The outcome's time: when the copy finished (or was found done), not when the message arrived.
        let at = crate::twilio::timestamp::format(OffsetDateTime::now_utc());
        match result {
            Ok(outcome) => {
                let recorded = self
                    .log
                    .record(ArchiveRecord::archived(&message, &outcome, &at))
                    .await?;
                Ok(Handled {
                    message,
                    outcome,
                    recorded,
                })
            }
            Err(gone @ ArchiveError::MediaGone(_)) => {
                self.log
                    .record(ArchiveRecord::failed(&message, &gone.to_string(), &at))
                    .await?;
                Err(gone)
            }
            Err(err) => Err(err),
        }
    }

    async fn archive(
        &self,
        message: &MediaMessage,
        deadline: Option<Instant>,
    ) -> Result<Archived, ArchiveError> {
        if let Some(location) = message
            .media_external_location
            .as_ref()
            .filter(|l| !l.is_empty())
        {
            return Ok(Archived::External {
                location: location.clone(),
            });
        }
        if let Some(size) = message.size {
            let stem = rules::object_key(&self.prefix, message, "")?;
            if let Some(found) = self.sink.find(&stem, size).await? {
                return Ok(Archived::AlreadyThere {
                    s3_uri: found.s3_uri,
                    size: found.size,
                    sha256: found.sha256,
                    encrypted: found.encrypted,
                });
            }
        }
        let media_url = message.media_url.as_deref().ok_or_else(|| {
            ArchiveError::InvalidMessage("no media_url and no media_external_location".into())
        })?;
        let url = rules::rebase(media_url, &self.media_base_url)?;
        let mut attempt = 1;
        loop {
            match self.copy(message, &url).await {
                Err(err @ ArchiveError::Transient(_))
                    if attempt < self.attempts && time_left(deadline) =>
                {
                    tracing::warn!(
                        media_sid = rules::media_sid(message).unwrap_or("-"),
                        attempt,
                        error = %err,
                        "copy failed; trying again from a fresh media URL"
                    );
                    // A moment for a connection that just broke; the next attempt starts from /Media.
                    tokio::time::sleep(RETRY_PAUSE * attempt).await;
                    attempt += 1;
                }
                done => return done,
            }
        }
    }

    /// One attempt: opens the media at Twilio (a fresh redirect each time) and streams it into the sink,
    /// with every `x-amz-meta-*` entry Twilio served (the encryption envelope) beside our own metadata.
    /// Half an envelope fails before anything is written.
    async fn copy(&self, message: &MediaMessage, url: &str) -> Result<Archived, ArchiveError> {
        let media = self.media.open(url, &message.account_sid).await?;
        let envelope =
            Envelope::from_metadata(media.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(|err| ArchiveError::Envelope(err.to_string()))?;
        let encrypted = envelope.is_some();
        rules::check_announced(media.content_length, message.size, encrypted)?;
        let content_type = media.content_type.clone();
        let ext = rules::extension(message, Some(&content_type));
        let key = rules::object_key(&self.prefix, message, &ext)?;
        let mut metadata = metadata(message);
        for (name, value) in &media.metadata {
            metadata
                .entry(name.clone())
                .or_insert_with(|| value.clone());
        }
        let expected = Expected {
            size: message.size,
            encrypted,
        };
        let uploaded = self.sink.upload(&key, media, metadata, expected).await?;
        Ok(Archived::Copied {
            s3_uri: uploaded.s3_uri,
            size: uploaded.size,
            content_type,
            sha256: uploaded.sha256,
            encrypted: uploaded.encrypted,
        })
    }
}

/// The `Outcome` of the archive metrics: how the media was archived, or why not.
fn metric_outcome(result: &Result<Handled, ArchiveError>) -> &'static str {
    match result {
        Ok(handled) => handled.outcome.word(),
        Err(ArchiveError::MediaGone(_)) => "gone",
        Err(ArchiveError::Unauthorized { .. }) => "unauthorized",
        Err(ArchiveError::NoKey { .. }) => "no_key",
        Err(ArchiveError::Envelope(_)) => "envelope_incomplete",
        Err(ArchiveError::InvalidMessage(_)) => "invalid_message",
        Err(ArchiveError::Transient(_)) => "failed",
    }
}

/// Object metadata: what the media is, so the bucket can be understood without the table.
fn metadata(message: &MediaMessage) -> HashMap<String, String> {
    let mut metadata = HashMap::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            metadata.insert(name.to_owned(), value);
        }
    };
    put("account-sid", Some(message.account_sid.clone()));
    put("room-sid", Some(message.room_sid.clone()));
    put("participant-sid", message.participant_sid.clone());
    put("recording-sid", message.recording_sid.clone());
    put("composition-sid", message.composition_sid.clone());
    put("codec", message.codec.as_ref().map(|c| c.to_string()));
    put("duration", message.duration.map(|d| d.to_string()));
    put("idempotency-key", Some(message.idempotency_key.clone()));
    metadata
}

#[cfg(test)]
mod tests;
