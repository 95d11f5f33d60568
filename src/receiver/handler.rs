//! The receiver: for one HTTP request, verify, parse, store, enqueue, answer.
//!
//! [`Receiver::handle`] is the whole product in one screen. It never panics on input and every failure
//! is a [`CallbackError`] variant whose HTTP status is decided in one place, [`CallbackError::status`].

use std::time::Instant;

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

use crate::aws::error::BackendError;
use crate::aws::queue::MediaQueue;
use crate::aws::store::{EventStore, Insert};
use crate::message::MediaMessage;
use crate::receiver::item::StoredEvent;
use crate::twilio::callback::{Callback, EventKind, Params, ParseError};
use crate::twilio::signature::{self, AuthTokens};

/// The largest body accepted (Twilio's callbacks are a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The URL Twilio called, as reconstructed from the API Gateway event (see [`crate::receiver::gateway`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalledUrl(pub String);

/// Set on the request when API Gateway's base64 body did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndecodableBody(pub String);

/// Why a callback was not accepted. Each variant maps to exactly one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// Not a POST.
    #[error("method {0} is not allowed: Twilio status callbacks are POST requests")]
    MethodNotAllowed(String),
    /// Not a form body.
    #[error("content type {0:?} is not supported: expected application/x-www-form-urlencoded")]
    UnsupportedMediaType(String),
    /// Over [`MAX_BODY_BYTES`].
    #[error("body of {0} bytes is over the limit of {max} bytes", max = MAX_BODY_BYTES)]
    PayloadTooLarge(usize),
    /// The body could not be decoded (base64 or UTF-8).
    #[error("body could not be decoded: {0}")]
    UndecodableBody(String),
    /// No `X-Twilio-Signature` header.
    #[error("missing X-Twilio-Signature header")]
    MissingSignature,
    /// The signature does not match any accepted token and URL form.
    #[error("X-Twilio-Signature does not match this request")]
    InvalidSignature,
    /// The URL Twilio called cannot be known from the request.
    #[error("cannot tell which URL Twilio called; set TWILIO_WEBHOOK_URL")]
    UnknownUrl,
    /// Signed, but not a valid callback.
    #[error(transparent)]
    InvalidCallback(#[from] ParseError),
    /// The table could not take the item. For a media event, its message may have been sent all the same
    /// (the log line's `enqueued` says whether).
    #[error("could not store the callback: {0}")]
    Store(BackendError),
    /// The item is stored (now or by an earlier delivery) but the queue message could not be sent; a
    /// redelivery sends it.
    #[error("stored the callback but could not enqueue it: {0}")]
    Enqueue(BackendError),
}

impl CallbackError {
    /// The one HTTP status for each failure.
    pub fn status(&self) -> StatusCode {
        match self {
            CallbackError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            CallbackError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CallbackError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            CallbackError::UndecodableBody(_) | CallbackError::InvalidCallback(_) => {
                StatusCode::BAD_REQUEST
            }
            CallbackError::MissingSignature | CallbackError::InvalidSignature => {
                StatusCode::FORBIDDEN
            }
            CallbackError::UnknownUrl => StatusCode::INTERNAL_SERVER_ERROR,
            CallbackError::Store(err) | CallbackError::Enqueue(err) if err.is_transient() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            CallbackError::Store(_) | CallbackError::Enqueue(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// What the caller is told. Backend details stay in the log.
    fn public_message(&self) -> String {
        match self {
            CallbackError::Store(err) => {
                format!("could not store the callback ({}); retry later", kind(err))
            }
            CallbackError::Enqueue(err) => {
                format!(
                    "could not enqueue the media event ({}); retry later",
                    kind(err)
                )
            }
            other => other.to_string(),
        }
    }

    /// A stable word for the log's `outcome` field.
    fn outcome(&self) -> &'static str {
        match self {
            CallbackError::MethodNotAllowed(_)
            | CallbackError::UnsupportedMediaType(_)
            | CallbackError::PayloadTooLarge(_)
            | CallbackError::UndecodableBody(_)
            | CallbackError::InvalidCallback(_) => "bad_request",
            CallbackError::MissingSignature | CallbackError::InvalidSignature => "forbidden",
            CallbackError::UnknownUrl => "misconfigured",
            CallbackError::Store(_) => "store_failed",
            CallbackError::Enqueue(_) => "enqueue_failed",
        }
    }
}

fn kind(err: &BackendError) -> String {
    match err {
        BackendError::Unavailable { service, .. } => format!("{service} unavailable"),
        BackendError::Throttled { service, .. } => format!("{service} throttled"),
        BackendError::Rejected { service, .. } => format!("{service} rejected the request"),
    }
}

/// What happened to an accepted callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// False when the same callback was already stored (a redelivery).
    pub created: bool,
    /// Whether a queue message was sent while handling this request.
    pub enqueued: bool,
}

impl Accepted {
    /// The outcome word Twilio's answer and the log line both carry (the log adds whether the event
    /// is one the specification does not list).
    pub fn outcome(&self, unknown_event: bool) -> &'static str {
        match (self.created, unknown_event) {
            (true, false) => "stored",
            (false, false) => "duplicate",
            (true, true) => "stored_unknown_event",
            (false, true) => "duplicate_unknown_event",
        }
    }
}

/// The receiver's configuration and its two backends, built once per cold start.
pub struct Receiver<S, Q> {
    tokens: AuthTokens,
    webhook_url: Option<String>,
    retention_days: Option<u32>,
    store: S,
    queue: Q,
}

/// What a request was about, for its log line (filled in once the signature is verified).
#[derive(Debug, Default)]
struct Trace {
    event: Option<String>,
    room_sid: Option<String>,
    unknown_event: bool,
    /// A media event whose message was sent although its item could not be stored.
    enqueued_unstored: bool,
}

impl<S: EventStore, Q: MediaQueue> Receiver<S, Q> {
    /// A receiver accepting `tokens`, storing in `store` and enqueuing on `queue`.
    pub fn new(tokens: AuthTokens, store: S, queue: Q) -> Self {
        Receiver {
            tokens,
            webhook_url: None,
            retention_days: None,
            store,
            queue,
        }
    }

    /// Verify signatures against this URL instead of the one reconstructed from the request.
    pub fn with_webhook_url(mut self, url: Option<String>) -> Self {
        self.webhook_url = url;
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

    /// Handles one request and answers it; logs one line about it.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let mut trace = Trace::default();
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
        let params = read_form(request)?;
        self.verify(request, &params)?;
        trace.event = params.get("StatusCallbackEvent").map(str::to_owned);
        trace.room_sid = params.get("RoomSid").map(str::to_owned);

        let callback = Callback::parse(params)?;
        trace.unknown_event = matches!(callback.event, EventKind::Other(_));
        let item = StoredEvent::new(callback, OffsetDateTime::now_utc(), self.retention_days);
        let message = MediaMessage::for_item(&item);

        let Some(message) = message else {
            let insert = self
                .store
                .insert(item)
                .await
                .map_err(CallbackError::Store)?;
            return Ok(Accepted {
                created: insert == Insert::Created,
                enqueued: false,
            });
        };
        // A media event: the item and the message are written at the same time. Neither waits for the
        // other, so the message does not depend on DynamoDB being up (the media still reaches the
        // workers), and the answer waits for one round trip instead of two. Twilio gets its 2xx only once
        // both succeeded; a redelivery sends the message again, with the same idempotency key.
        let (stored, sent) = tokio::join!(self.store.insert(item), self.queue.send(&message));
        match (stored, sent) {
            (Ok(insert), Ok(())) => Ok(Accepted {
                created: insert == Insert::Created,
                enqueued: true,
            }),
            (Err(err), sent) => {
                match sent {
                    Ok(()) => trace.enqueued_unstored = true,
                    Err(queue_err) => {
                        tracing::warn!(error = %queue_err, "the media message could not be sent either");
                    }
                }
                Err(CallbackError::Store(err))
            }
            (Ok(_), Err(err)) => Err(CallbackError::Enqueue(err)),
        }
    }

    fn verify(&self, request: &Request, params: &Params) -> Result<(), CallbackError> {
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
        if signature::is_valid(&self.tokens, url, params.pairs(), signature) {
            Ok(())
        } else {
            Err(CallbackError::InvalidSignature)
        }
    }
}

/// Method, media type, size and encoding checks, then the form's parameters.
fn read_form(request: &Request) -> Result<Params, CallbackError> {
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
    Ok(Params::from_form(body))
}

fn respond(result: Result<Accepted, CallbackError>) -> Response<Body> {
    let (status, body) = match &result {
        Ok(accepted) => (
            StatusCode::OK,
            serde_json::json!({
                "outcome": accepted.outcome(false),
                "enqueued": accepted.enqueued,
            }),
        ),
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

/// One line per callback: event, room, outcome, status, milliseconds. Never the token, the signature or
/// the body.
fn log(trace: &Trace, result: &Result<Accepted, CallbackError>, ms: f64) {
    let event = trace.event.as_deref().unwrap_or("-");
    let room_sid = trace.room_sid.as_deref().unwrap_or("-");
    match result {
        Ok(accepted) => {
            let outcome = accepted.outcome(trace.unknown_event);
            if trace.unknown_event {
                tracing::warn!(
                    event,
                    room_sid,
                    outcome,
                    enqueued = accepted.enqueued,
                    status = 200,
                    ms,
                    "callback with an undocumented StatusCallbackEvent stored, not enqueued"
                );
            } else {
                tracing::info!(
                    event,
                    room_sid,
                    outcome,
                    enqueued = accepted.enqueued,
                    status = 200,
                    ms,
                    "callback handled"
                );
            }
        }
        Err(err) => {
            let (outcome, status) = (err.outcome(), err.status().as_u16());
            if status >= 500 {
                // `enqueued`: a media message went out although the item could not be stored.
                let enqueued = trace.enqueued_unstored;
                tracing::error!(event, room_sid, outcome, enqueued, status, ms, error = %err, "callback not handled");
            } else {
                tracing::warn!(event, room_sid, outcome, status, ms, error = %err, "callback refused");
            }
        }
    }
}

#[cfg(test)]
mod tests;
