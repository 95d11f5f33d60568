//! Why a callback was not kept ([`CallbackError`]): one variant per reason, each mapped here, in one place,
//! to its HTTP status, its log outcome and its metrics outcome.

use lambda_http::http::StatusCode;

use crate::aws::error::BackendError;
use crate::receiver::handler::MAX_BODY_BYTES;
use crate::receiver::keys::KeyError;
use crate::twilio::shared_key::SettingsError;
use crate::twilio::signing_keys::Refusal;

/// Why a callback was not kept. Each variant maps to exactly one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// Not a POST.
    #[error("method {0} is not allowed: Twilio status callbacks are POST requests")]
    MethodNotAllowed(String),
    /// Not a form.
    #[error("content type {0:?} is not supported: expected application/x-www-form-urlencoded")]
    UnsupportedMediaType(String),
    /// Larger than [`MAX_BODY_BYTES`].
    #[error("body of {0} bytes is over the limit of {max} bytes", max = MAX_BODY_BYTES)]
    PayloadTooLarge(usize),
    /// Base64 that does not decode, or a form that is not UTF-8: nothing to verify.
    #[error("body could not be decoded: {0}")]
    UndecodableBody(String),
    /// No `X-Twilio-Signature`.
    #[error("missing X-Twilio-Signature header")]
    MissingSignature,
    /// A signature that no key of its account (or no configured token) produces for this URL and body.
    #[error("X-Twilio-Signature does not match this request")]
    InvalidSignature,
    /// The `AccountSid` it carries has no signing keys here (the SID is not secret; it is logged).
    #[error("account {0} has no signing keys here")]
    UnknownAccount(String),
    /// `X-Twilio-Webhooks-Signature-Settings` names a shared key its account does not have.
    #[error("the account has no shared key {0:?}")]
    UnknownKey(String),
    /// `X-Twilio-Webhooks-Signature-Settings` names an algorithm this receiver does not support.
    #[error("X-Twilio-Webhooks-Signature-Settings names an unsupported algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// `X-Twilio-Webhooks-Signature-Settings` cannot be read (no key or algorithm, a field twice).
    #[error("X-Twilio-Webhooks-Signature-Settings is malformed: {0}")]
    MalformedSettings(&'static str),
    /// The signing keys of its account could not be read now (SSM failed): worth a retry.
    #[error("the signing keys could not be read: {0}")]
    KeysUnavailable(BackendError),
    /// Neither `TWILIO_WEBHOOK_URL` nor the event tells which URL Twilio signed.
    #[error("cannot tell which URL Twilio called; set TWILIO_WEBHOOK_URL")]
    UnknownUrl,
    /// The table write failed, and the request could not be spilled either.
    #[error("could not store the callback: {0}")]
    Store(BackendError),
    /// The media message could not be sent, and the request could not be spilled either.
    #[error("stored the callback but could not enqueue it: {0}")]
    Enqueue(BackendError),
}

impl CallbackError {
    /// The HTTP status Twilio gets: 4xx for what can never succeed, 503 for what may on a retry, 500 for a
    /// deployment fault.
    pub fn status(&self) -> StatusCode {
        match self {
            CallbackError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            CallbackError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CallbackError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            CallbackError::UndecodableBody(_) => StatusCode::BAD_REQUEST,
            CallbackError::MissingSignature
            | CallbackError::InvalidSignature
            | CallbackError::UnknownAccount(_)
            | CallbackError::UnknownKey(_)
            | CallbackError::UnknownAlgorithm(_)
            | CallbackError::MalformedSettings(_) => StatusCode::FORBIDDEN,
            CallbackError::UnknownUrl => StatusCode::INTERNAL_SERVER_ERROR,
            CallbackError::Store(err)
            | CallbackError::Enqueue(err)
            | CallbackError::KeysUnavailable(err)
                if err.is_transient() =>
            {
                StatusCode::SERVICE_UNAVAILABLE
            }
            CallbackError::Store(_)
            | CallbackError::Enqueue(_)
            | CallbackError::KeysUnavailable(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What Twilio's request log shows: the error, without backend details.
    pub(crate) fn public_message(&self) -> String {
        match self {
            CallbackError::KeysUnavailable(err) => {
                format!(
                    "could not read the signing keys ({}); retry later",
                    kind(err)
                )
            }
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

    /// The log's outcome word.
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            CallbackError::MethodNotAllowed(_)
            | CallbackError::UnsupportedMediaType(_)
            | CallbackError::PayloadTooLarge(_)
            | CallbackError::UndecodableBody(_) => "bad_request",
            CallbackError::MissingSignature
            | CallbackError::InvalidSignature
            | CallbackError::UnknownAccount(_)
            | CallbackError::UnknownKey(_)
            | CallbackError::UnknownAlgorithm(_)
            | CallbackError::MalformedSettings(_) => "forbidden",
            CallbackError::UnknownUrl => "misconfigured",
            CallbackError::KeysUnavailable(_) => "keys_unavailable",
            CallbackError::Store(_) => "store_failed",
            CallbackError::Enqueue(_) => "enqueue_failed",
        }
    }
}

impl CallbackError {
    /// The `Outcome` of the callback metrics: why a request was refused, or which backend failed.
    pub(crate) fn metric_outcome(&self) -> &'static str {
        match self {
            CallbackError::MethodNotAllowed(_) => "refused_method",
            CallbackError::UnsupportedMediaType(_) => "refused_content_type",
            CallbackError::PayloadTooLarge(_) => "refused_too_large",
            CallbackError::UndecodableBody(_) => "refused_undecodable",
            CallbackError::MissingSignature => "refused_no_signature",
            CallbackError::InvalidSignature => "refused_bad_signature",
            CallbackError::UnknownAccount(_) => "refused_unknown_account",
            CallbackError::UnknownKey(_) => "refused_unknown_key",
            CallbackError::UnknownAlgorithm(_) => "refused_unknown_algorithm",
            CallbackError::MalformedSettings(_) => "refused_bad_signature_settings",
            CallbackError::KeysUnavailable(_) => "keys_unavailable",
            CallbackError::UnknownUrl => "misconfigured",
            CallbackError::Store(_) => "store_failed",
            CallbackError::Enqueue(_) => "enqueue_failed",
        }
    }

    /// Whether the request's signature had verified (its event can be trusted as a dimension).
    pub(crate) fn verified(&self) -> bool {
        matches!(self, CallbackError::Store(_) | CallbackError::Enqueue(_))
    }
}

fn kind(err: &BackendError) -> String {
    match err {
        BackendError::Unavailable { service, .. } => format!("{service} unavailable"),
        BackendError::Throttled { service, .. } => format!("{service} throttled"),
        BackendError::Rejected { service, .. } => format!("{service} rejected the request"),
    }
}

impl From<KeyError> for CallbackError {
    fn from(err: KeyError) -> Self {
        match err {
            KeyError::Refused(Refusal::UnknownAccount(account)) => {
                CallbackError::UnknownAccount(account.chars().take(64).collect())
            }
            KeyError::Refused(Refusal::UnknownKey(key)) => {
                CallbackError::UnknownKey(key.chars().take(64).collect())
            }
            KeyError::Refused(Refusal::Settings(SettingsError::UnknownAlgorithm(name))) => {
                CallbackError::UnknownAlgorithm(name)
            }
            KeyError::Refused(Refusal::Settings(SettingsError::Malformed(why))) => {
                CallbackError::MalformedSettings(why)
            }
            KeyError::Refused(Refusal::BadSignature) => CallbackError::InvalidSignature,
            KeyError::Unavailable(err) => CallbackError::KeysUnavailable(err),
        }
    }
}
