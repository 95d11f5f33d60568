//! How a call to DynamoDB, SQS or SSM failed, in terms that decide the answer to Twilio.
//!
//! Every AWS SDK error is classified once, here, without losing what kind of failure it was: an outage
//! and a throttle are retried by Twilio after a 503, a rejected request (missing table, denied access)
//! is a deployment fault and a 500. A conditional-check failure is not an error at all: the store turns
//! it into [`crate::aws::store::Insert::AlreadyStored`] before it gets here.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Which AWS service failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The events table.
    DynamoDb,
    /// The media queue.
    Sqs,
    /// Parameter Store (the signing keys).
    Ssm,
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Service::DynamoDb => "DynamoDB",
            Service::Sqs => "SQS",
            Service::Ssm => "SSM",
        })
    }
}

/// A failed call to a backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The service could not be reached, timed out or answered 5xx: worth retrying.
    #[error("{service} unavailable: {detail}")]
    Unavailable {
        /// Which service.
        service: Service,
        /// What the SDK reported.
        detail: String,
    },
    /// The service refused for capacity (throttling): worth retrying.
    #[error("{service} throttled: {detail}")]
    Throttled {
        /// Which service.
        service: Service,
        /// What the SDK reported.
        detail: String,
    },
    /// The service rejected the request (missing resource, access denied, invalid): a deployment fault.
    #[error("{service} rejected the request: {detail}")]
    Rejected {
        /// Which service.
        service: Service,
        /// What the SDK reported.
        detail: String,
    },
}

const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "TooManyRequestsException",
    "AWS.SimpleQueueService.RequestThrottled",
];

impl BackendError {
    /// Classifies an SDK error from `service`.
    pub fn from_sdk<E>(service: Service, error: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match &error {
            SdkError::TimeoutError(_) => BackendError::Unavailable {
                service,
                detail: "request timed out".to_owned(),
            },
            SdkError::DispatchFailure(_) => BackendError::Unavailable {
                service,
                detail: format!(
                    "could not send the request: {}",
                    DisplayErrorContext(&error)
                ),
            },
            SdkError::ResponseError(_) => BackendError::Unavailable {
                service,
                detail: "unreadable response".to_owned(),
            },
            SdkError::ServiceError(context) => {
                let err = context.err();
                let code = err.code().unwrap_or("Unknown");
                let detail = format!("{code}: {}", err.message().unwrap_or("no message"));
                if THROTTLING_CODES.contains(&code) {
                    BackendError::Throttled { service, detail }
                } else if context.raw().status().is_server_error() {
                    BackendError::Unavailable { service, detail }
                } else {
                    BackendError::Rejected { service, detail }
                }
            }
            _ => BackendError::Rejected {
                service,
                detail: DisplayErrorContext(&error).to_string(),
            },
        }
    }

    /// Whether Twilio should retry (the backend may recover on its own).
    pub fn is_transient(&self) -> bool {
        !matches!(self, BackendError::Rejected { .. })
    }
}
