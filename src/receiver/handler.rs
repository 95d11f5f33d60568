//! The receiver: for one HTTP request, verify, parse, store, enqueue, answer.
//!
//! [`Receiver::handle`] is the whole product in one screen. It never panics on input and every failure
//! is a [`CallbackError`] variant whose HTTP status is decided in one place, [`CallbackError::status`].
//!
//! Once the signature verifies, nothing about the parameters refuses a callback: one that breaks the
//! specification's tables is kept with a `parse_error`. When the table write or the media message fails
//! and a spill queue is configured, the verified request goes onto it ([`crate::receiver::spill`]) and
//! Twilio gets a 202; only when the spill fails too does Twilio get a 5xx.

use std::time::Instant;

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

use crate::aws::error::BackendError;
pub use crate::receiver::error::CallbackError;
use crate::receiver::item::StoredEvent;
use crate::receiver::keys::{KeyRing, Verification};
use crate::receiver::ports::{EventStore, Insert, MediaQueue, NoSpill, SpillQueue};
use crate::receiver::spill::Spilled;
use crate::twilio::callback::{Callback, EventKind, Params};
use crate::twilio::shared_key::SETTINGS_HEADER;

/// The largest body accepted (Twilio's callbacks are a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The header Twilio sets on every delivery of one webhook request, retries included.
pub const IDEMPOTENCY_TOKEN_HEADER: &str = "i-twilio-idempotency-token";

/// The URL Twilio called, as reconstructed from the API Gateway event (see [`crate::receiver::gateway`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalledUrl(pub String);

/// Set on the request when API Gateway's base64 body did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndecodableBody(pub String);

/// The dimensions of one request's metrics: an event from the specification (or `undocumented`, or
/// `none` when it was not verified) and an outcome word. Nothing a request can choose freely.
fn metric_dimensions(
    trace: &Trace,
    result: &Result<Accepted, CallbackError>,
) -> (&'static str, &'static str) {
    match result {
        Ok(accepted) => (
            crate::metrics::event_dimension(trace.event.as_deref(), true),
            accepted.log_outcome(trace.unknown_event),
        ),
        Err(err) => (
            crate::metrics::event_dimension(trace.event.as_deref(), err.verified()),
            err.metric_outcome(),
        ),
    }
}

/// Where an accepted callback is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Written to the table now.
    Stored,
    /// Already in the table (a redelivery); nothing was written.
    Duplicate,
    /// On the spill queue, to be verified and stored again by the spill consumer.
    Spilled,
}

/// What happened to an accepted callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Where it is kept.
    pub kept: Kept,
    /// Whether a queue message was sent while handling this request.
    pub enqueued: bool,
    /// How the callback breaks the specification's tables, when it does (it is kept all the same).
    pub parse_error: Option<String>,
}

impl Accepted {
    /// The outcome word of Twilio's answer: `stored`, `malformed` (stored, with a `parse_error`),
    /// `duplicate` or `spilled`.
    pub fn outcome(&self) -> &'static str {
        match (self.kept, self.parse_error.is_some()) {
            (Kept::Spilled, _) => "spilled",
            (Kept::Duplicate, _) => "duplicate",
            (Kept::Stored, true) => "malformed",
            (Kept::Stored, false) => "stored",
        }
    }

    /// The outcome word of the log line, which also tells an event the specification does not list.
    pub fn log_outcome(&self, unknown_event: bool) -> &'static str {
        match (self.outcome(), unknown_event) {
            ("stored", true) => "stored_unknown_event",
            ("duplicate", true) => "duplicate_unknown_event",
            (outcome, _) => outcome,
        }
    }

    /// 202 for a spilled callback (accepted, stored later), 200 otherwise.
    pub fn status(&self) -> StatusCode {
        if self.kept == Kept::Spilled {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        }
    }
}

/// The receiver's configuration and its backends, built once per cold start.
pub struct Receiver<S, Q, P = NoSpill> {
    pub(crate) keys: KeyRing,
    webhook_url: Option<String>,
    pub(crate) retention_days: Option<u32>,
    pub(crate) store: S,
    pub(crate) queue: Q,
    spill: Option<P>,
}

/// What the handler learned about a request, for its one log line.
#[derive(Debug, Default)]
struct Trace {
    event: Option<String>,
    room_sid: Option<String>,
    account_sid: Option<String>,
    idempotency_token: Option<String>,
    unknown_event: bool,
    enqueued_unstored: bool,
    spill_error: Option<BackendError>,
}

/// A request whose signature verified: what a later re-verification needs, and which keys verified it.
struct Verified<'a> {
    url: &'a str,
    signature: &'a str,
    settings: Option<&'a str>,
    body: &'a [u8],
    by: Verification,
}

impl<S: EventStore, Q: MediaQueue> Receiver<S, Q, NoSpill> {
    /// A receiver verifying with `keys` (one account's [`crate::twilio::signature::AuthTokens`], or
    /// [`KeyRing`]), storing in `store`, enqueueing on `queue`, without a spill queue (a failed write is a
    /// 5xx).
    pub fn new(keys: impl Into<KeyRing>, store: S, queue: Q) -> Self {
        Receiver {
            keys: keys.into(),
            webhook_url: None,
            retention_days: None,
            store,
            queue,
            spill: None,
        }
    }
}

impl<S: EventStore, Q: MediaQueue, P: SpillQueue> Receiver<S, Q, P> {
    /// Spill to `spill` what cannot be stored or enqueued now (`SPILL_QUEUE_URL`).
    pub fn with_spill<P2: SpillQueue>(self, spill: Option<P2>) -> Receiver<S, Q, P2> {
        Receiver {
            keys: self.keys,
            webhook_url: self.webhook_url,
            retention_days: self.retention_days,
            store: self.store,
            queue: self.queue,
            spill,
        }
    }

    /// Verify signatures against this URL instead of the one reconstructed from the event. A fragment
    /// (Twilio's connection overrides, `#rc=...`) is not part of what Twilio signs, so it is dropped.
    pub fn with_webhook_url(mut self, url: Option<String>) -> Self {
        self.webhook_url = url.map(|url| match url.split_once('#') {
            Some((signed, _overrides)) => signed.to_owned(),
            None => url,
        });
        self
    }

    /// Let DynamoDB's TTL delete items this many days after receipt.
    pub fn with_retention_days(mut self, days: Option<u32>) -> Self {
        self.retention_days = days;
        self
    }

    /// The store (the binary opens its connection at init; tests read what it holds).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The queue (the binary opens its connection at init; tests read what it holds).
    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// The spill queue, when one is configured.
    pub fn spill(&self) -> Option<&P> {
        self.spill.as_ref()
    }

    /// The signing keys.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Handles one request and answers it; logs one line about it.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let mut trace = Trace {
            idempotency_token: request
                .headers()
                .get(IDEMPOTENCY_TOKEN_HEADER)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
            ..Trace::default()
        };
        let result = self.process(&request, &mut trace).await;
        let ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
        log(&trace, &result, ms);
        respond(result)
    }

    async fn process(
        &self,
        request: &Request,
        trace: &mut Trace,
    ) -> Result<Accepted, CallbackError> {
        let (params, body) = read_form(request)?;
        trace.account_sid = params
            .get("AccountSid")
            .map(|sid| sid.chars().take(64).collect());
        let verified = self.verify(request, &params, body).await?;
        trace.event = params.get("StatusCallbackEvent").map(str::to_owned);
        trace.room_sid = params.get("RoomSid").map(str::to_owned);

        let received_at = OffsetDateTime::now_utc();
        let (callback, problems) = Callback::read(params, received_at);
        trace.unknown_event = matches!(&callback.event, EventKind::Other(kind) if !kind.is_empty());
        let item = StoredEvent::new(callback, received_at, self.retention_days)
            .with_problems(&problems)
            .verified_by(&verified.by);
        let parse_error = item.parse_error.clone();
        let message = item.media_message();
        let accepted = |kept, enqueued| Accepted {
            kept,
            enqueued,
            parse_error: parse_error.clone(),
        };

        let Some(message) = message else {
            return match self.store.insert(item).await {
                Ok(insert) => Ok(accepted(kept(insert), false)),
                Err(err) => {
                    self.spill_or(
                        err,
                        CallbackError::Store,
                        &verified,
                        received_at,
                        true,
                        trace,
                    )
                    .await?;
                    Ok(accepted(Kept::Spilled, false))
                }
            };
        };
        let (stored, sent) = tokio::join!(self.store.insert(item), self.queue.send(&message));
        match (stored, sent) {
            (Ok(insert), Ok(())) => Ok(accepted(kept(insert), true)),
            (Err(err), sent) => {
                let media_sent = match sent {
                    Ok(()) => {
                        trace.enqueued_unstored = true;
                        true
                    }
                    Err(queue_err) => {
                        tracing::warn!(error = %queue_err, "the media message could not be sent either");
                        false
                    }
                };
                self.spill_or(
                    err,
                    CallbackError::Store,
                    &verified,
                    received_at,
                    media_sent,
                    trace,
                )
                .await?;
                Ok(accepted(Kept::Spilled, media_sent))
            }
            (Ok(_), Err(err)) => {
                self.spill_or(
                    err,
                    CallbackError::Enqueue,
                    &verified,
                    received_at,
                    false,
                    trace,
                )
                .await?;
                Ok(accepted(Kept::Spilled, false))
            }
        }
    }

    /// Puts the verified request on the spill queue; without one, or when it fails too, the original
    /// failure is the answer.
    async fn spill_or(
        &self,
        err: BackendError,
        failure: fn(BackendError) -> CallbackError,
        verified: &Verified<'_>,
        received_at: OffsetDateTime,
        media_sent: bool,
        trace: &mut Trace,
    ) -> Result<(), CallbackError> {
        let Some(spill) = &self.spill else {
            return Err(failure(err));
        };
        let spilled = Spilled::new(
            verified.url,
            verified.signature,
            verified.settings,
            verified.body,
            received_at,
            media_sent,
            &failure(err.clone()).to_string(),
            trace.idempotency_token.clone(),
        );
        match spill.spill(&spilled).await {
            Ok(()) => {
                tracing::warn!(reason = %spilled.reason, "the verified request is on the spill queue");
                Ok(())
            }
            Err(spill_err) => {
                trace.spill_error = Some(spill_err);
                Err(failure(err))
            }
        }
    }

    async fn verify<'a>(
        &'a self,
        request: &'a Request,
        params: &Params,
        body: &'a [u8],
    ) -> Result<Verified<'a>, CallbackError> {
        let signature = request
            .headers()
            .get("x-twilio-signature")
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.trim().is_empty())
            .ok_or(CallbackError::MissingSignature)?;
        let url = match &self.webhook_url {
            Some(url) => url.as_str(),
            None => request
                .extensions()
                .get::<CalledUrl>()
                .map(|called| called.0.as_str())
                .ok_or(CallbackError::UnknownUrl)?,
        };
        let settings = request
            .headers()
            .get(SETTINGS_HEADER)
            .map(|value| value.to_str().unwrap_or_default());
        let by = self
            .keys
            .verify(
                params.get("AccountSid"),
                settings,
                url,
                params.pairs(),
                signature,
            )
            .await?;
        Ok(Verified {
            url,
            signature,
            settings,
            body,
            by,
        })
    }
}

fn kept(insert: Insert) -> Kept {
    match insert {
        Insert::Created => Kept::Stored,
        Insert::AlreadyStored => Kept::Duplicate,
    }
}

/// The request's form, checked in order: method, media type, decodable body, size, UTF-8.
fn read_form(request: &Request) -> Result<(Params, &[u8]), CallbackError> {
    if request.method() != Method::POST {
        return Err(CallbackError::MethodNotAllowed(
            request.method().to_string(),
        ));
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(CallbackError::UnsupportedMediaType(content_type));
    }
    if let Some(UndecodableBody(reason)) = request.extensions().get::<UndecodableBody>() {
        return Err(CallbackError::UndecodableBody(reason.clone()));
    }
    let body: &[u8] = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(CallbackError::PayloadTooLarge(body.len()));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(CallbackError::UndecodableBody(
            "the form is not valid UTF-8".to_owned(),
        ));
    }
    Ok((Params::from_form(body), body))
}

fn respond(result: Result<Accepted, CallbackError>) -> Response<Body> {
    let (status, body) = match &result {
        Ok(accepted) => {
            let mut body = serde_json::json!({
                "outcome": accepted.outcome(),
                "enqueued": accepted.enqueued,
            });
            if let Some(parse_error) = &accepted.parse_error {
                body["parse_error"] = serde_json::Value::from(parse_error.as_str());
            }
            (accepted.status(), body)
        }
        Err(err) => (
            err.status(),
            serde_json::json!({ "error": err.public_message() }),
        ),
    };
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    if matches!(result, Err(CallbackError::MethodNotAllowed(_))) {
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    }
    response
}

/// One line per request: what it was, what happened, how long it took. Never a token, signature or body.
/// Then its metrics, as one Embedded Metric Format line ([`crate::metrics`]).
fn log(trace: &Trace, result: &Result<Accepted, CallbackError>, ms: f64) {
    let (metric_event, metric_outcome) = metric_dimensions(trace, result);
    crate::metrics::callback(metric_event, metric_outcome, ms);
    let event = trace.event.as_deref().unwrap_or("-");
    let room_sid = trace.room_sid.as_deref().unwrap_or("-");
    let token = trace.idempotency_token.as_deref().unwrap_or("-");
    match result {
        Ok(accepted) => {
            let outcome = accepted.log_outcome(trace.unknown_event);
            let status = accepted.status().as_u16();
            let enqueued = accepted.enqueued;
            let parse_error = accepted.parse_error.as_deref();
            // Anything but a plain store or duplicate is a warning, and says why.
            let note = if parse_error.is_some() {
                "signed callback breaks the specification's tables: kept with its parse_error"
            } else if accepted.kept == Kept::Spilled {
                "callback spilled: the spill consumer stores it when the table answers"
            } else if trace.unknown_event {
                "callback with an undocumented StatusCallbackEvent stored, not enqueued"
            } else {
                tracing::info!(
                    event,
                    room_sid,
                    outcome,
                    enqueued,
                    status,
                    ms,
                    idempotency_token = token,
                    "callback handled"
                );
                return;
            };
            tracing::warn!(
                event,
                room_sid,
                outcome,
                enqueued,
                status,
                ms,
                idempotency_token = token,
                parse_error = parse_error.unwrap_or("-"),
                "{note}"
            );
        }
        Err(err) => {
            let (outcome, status) = (err.outcome(), err.status().as_u16());
            if status >= 500 {
                let enqueued = trace.enqueued_unstored;
                let spill_error = trace.spill_error.as_ref().map(ToString::to_string);
                tracing::error!(
                    event, room_sid, outcome, enqueued, status, ms, idempotency_token = token,
                    error = %err, spill_error = spill_error.as_deref().unwrap_or("-"),
                    "callback not handled"
                );
            } else {
                let account_sid = trace.account_sid.as_deref().unwrap_or("-");
                tracing::warn!(event, room_sid, account_sid, outcome, status, ms, idempotency_token = token, error = %err, "callback refused");
            }
        }
    }
}

#[cfg(test)]
mod account_tests;
#[cfg(test)]
mod tests;
