//! Configuration from the environment, and the one-time construction of the receiver at cold start.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use crate::handler::Receiver;
use crate::queue::SqsMediaQueue;
use crate::signature::AuthTokens;
use crate::store::DynamoEventStore;

/// Where the auth token(s) come from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// `TWILIO_AUTH_TOKEN`: the token, or several separated by commas.
    Inline(AuthTokens),
    /// `TWILIO_AUTH_TOKEN_PARAMETER`: the name of an SSM SecureString holding the same.
    SsmParameter(String),
}

/// Everything the receiver reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Auth token(s) or where to find them.
    pub tokens: TokenSource,
    /// `EVENTS_TABLE`.
    pub events_table: String,
    /// `MEDIA_QUEUE_URL`.
    pub media_queue_url: String,
    /// `TWILIO_WEBHOOK_URL`: the exact URL configured at Twilio, when it cannot be reconstructed.
    pub webhook_url: Option<String>,
    /// `EVENT_RETENTION_DAYS`: days until DynamoDB's TTL may delete an item; unset keeps items forever.
    pub retention_days: Option<u32>,
}

/// Why the function cannot start. The message says what to set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is absent or empty.
    #[error("{name} is not set: {hint}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// What it should hold.
        hint: &'static str,
    },
    /// A variable holds something unusable.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The SSM parameter could not be read.
    #[error("could not read the auth token parameter {parameter} from SSM: {reason}")]
    Ssm {
        /// The parameter's name (never its value).
        parameter: String,
        /// Why.
        reason: String,
    },
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let tokens = match (get("TWILIO_AUTH_TOKEN"), get("TWILIO_AUTH_TOKEN_PARAMETER")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    name: "TWILIO_AUTH_TOKEN",
                    reason: "both TWILIO_AUTH_TOKEN and TWILIO_AUTH_TOKEN_PARAMETER are set; set only one".into(),
                })
            }
            (Some(value), None) => TokenSource::Inline(AuthTokens::parse(&value).map_err(|err| {
                ConfigError::Invalid {
                    name: "TWILIO_AUTH_TOKEN",
                    reason: err.to_string(),
                }
            })?),
            (None, Some(parameter)) => TokenSource::SsmParameter(parameter),
            (None, None) => {
                return Err(ConfigError::Missing {
                    name: "TWILIO_AUTH_TOKEN",
                    hint: "set TWILIO_AUTH_TOKEN to the Twilio auth token (several separated by commas during a \
                           rotation), or TWILIO_AUTH_TOKEN_PARAMETER to the name of an SSM SecureString holding it",
                })
            }
        };
        let events_table = get("EVENTS_TABLE").ok_or(ConfigError::Missing {
            name: "EVENTS_TABLE",
            hint: "set it to the name of the DynamoDB table (keys pk and sk, strings)",
        })?;
        let media_queue_url = get("MEDIA_QUEUE_URL").ok_or(ConfigError::Missing {
            name: "MEDIA_QUEUE_URL",
            hint: "set it to the URL of the SQS queue for recording-completed and composition-available",
        })?;
        let webhook_url = get("TWILIO_WEBHOOK_URL");
        if let Some(url) = &webhook_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::Invalid {
                    name: "TWILIO_WEBHOOK_URL",
                    reason: "it must be the full URL configured at Twilio, starting with https://"
                        .into(),
                });
            }
        }
        let retention_days = get("EVENT_RETENTION_DAYS")
            .map(|value| match value.parse::<u32>() {
                Ok(days) if days > 0 => Ok(days),
                _ => Err(ConfigError::Invalid {
                    name: "EVENT_RETENTION_DAYS",
                    reason: format!("{value:?} is not a positive whole number of days"),
                }),
            })
            .transpose()?;
        Ok(Settings {
            tokens,
            events_table,
            media_queue_url,
            webhook_url,
            retention_days,
        })
    }
}

/// The AWS SDK configuration shared by every client: region, credentials and endpoint from the
/// environment (`AWS_ENDPOINT_URL` included), with timeouts that turn a stalled backend into a 5xx well
/// inside the function's timeout, and the SDK's standard retries.
pub async fn aws_config() -> SdkConfig {
    sdk_loader().load().await
}

/// The loader behind [`aws_config`], for callers that override something (tests point it elsewhere).
pub fn sdk_loader() -> ConfigLoader {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(sdk_tls_context())
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(SharedHttpClient::new(ConnectorOnFirstUse(https)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(1_000))
                .operation_attempt_timeout(Duration::from_millis(1_500))
                .operation_timeout(Duration::from_millis(3_000))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
}

/// The SDK's HTTPS client, minus the connector it builds and throws away when each SDK client is created.
///
/// The SDK's hyper client validates itself in `Client::new` by building a complete connector, TLS
/// configuration included (parsing every trusted root), and dropping it; it then builds the connector it
/// really uses at the first request. With two clients that was three parses of the roots at cold start
/// instead of one (about 0.4 ms each here). This wrapper hands the connector requests to the SDK's client
/// and skips that validation: a TLS configuration that cannot be built (it cannot, the roots are compiled
/// in and tested in [`crate::tls`]) would fail the first call instead of `Client::new`.
#[derive(Debug)]
struct ConnectorOnFirstUse(SharedHttpClient);

impl HttpClient for ConnectorOnFirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The SDK's TLS settings: the compiled-in roots of [`crate::tls`], not the operating system's.
fn sdk_tls_context() -> tls::TlsContext {
    #[allow(clippy::expect_used)]
    tls::TlsContext::builder()
        .with_trust_store(crate::tls::sdk_trust_store())
        .build()
        .expect("building a TLS context from a trust store cannot fail; the roots are compiled in")
}

/// Resolves the auth tokens, reading SSM (with decryption) when the settings name a parameter.
pub async fn resolve_tokens(
    source: &TokenSource,
    sdk: &SdkConfig,
) -> Result<AuthTokens, ConfigError> {
    let parameter = match source {
        TokenSource::Inline(tokens) => return Ok(tokens.clone()),
        TokenSource::SsmParameter(parameter) => parameter,
    };
    let ssm_error = |reason: String| ConfigError::Ssm {
        parameter: parameter.clone(),
        reason,
    };
    let output = aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(parameter)
        .with_decryption(true)
        .send()
        .await
        .map_err(|err| ssm_error(aws_sdk_ssm::error::DisplayErrorContext(&err).to_string()))?;
    let value = output
        .parameter()
        .and_then(|p| p.value())
        .ok_or_else(|| ssm_error("the parameter has no value".into()))?;
    AuthTokens::parse(value).map_err(|err| ssm_error(err.to_string()))
}

/// Builds the receiver once: SDK clients, tokens, backends.
pub async fn build_receiver(
    settings: &Settings,
    sdk: &SdkConfig,
) -> Result<Receiver<DynamoEventStore, SqsMediaQueue>, ConfigError> {
    let tokens = resolve_tokens(&settings.tokens, sdk).await?;
    let store = DynamoEventStore::new(aws_sdk_dynamodb::Client::new(sdk), &settings.events_table);
    let queue = SqsMediaQueue::new(aws_sdk_sqs::Client::new(sdk), &settings.media_queue_url);
    Ok(Receiver::new(tokens, store, queue)
        .with_webhook_url(settings.webhook_url.clone())
        .with_retention_days(settings.retention_days))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    const BASE: &[(&str, &str)] = &[
        ("EVENTS_TABLE", "events"),
        ("MEDIA_QUEUE_URL", "https://sqs/q"),
    ];

    /// An HTTP client that counts how often the SDK asks it to validate itself (the SDK's own client
    /// builds a whole connector, TLS roots included, each time).
    #[derive(Debug, Default)]
    struct CountsValidations(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl HttpClient for CountsValidations {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            unreachable!("no request is made in this test")
        }

        fn validate_base_client_config(
            &self,
            _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder,
            _: &aws_sdk_dynamodb::config::ConfigBag,
        ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    fn dynamodb_client_with(http_client: SharedHttpClient) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                .http_client(http_client)
                .build(),
        )
    }

    #[test]
    fn creating_sdk_clients_does_not_build_a_connector_each_time() {
        let bare = CountsValidations::default();
        let bare_count = bare.0.clone();
        dynamodb_client_with(SharedHttpClient::new(bare));
        dynamodb_client_with(SharedHttpClient::new(CountsValidations(bare_count.clone())));
        assert_eq!(
            bare_count.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "without the wrapper, each client validates (builds) the connector"
        );

        let inner = CountsValidations::default();
        let count = inner.0.clone();
        let wrapped = SharedHttpClient::new(ConnectorOnFirstUse(SharedHttpClient::new(inner)));
        dynamodb_client_with(wrapped.clone());
        dynamodb_client_with(wrapped);
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn refuses_to_start_without_a_token_and_says_what_to_set() {
        let err = settings(BASE)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("TWILIO_AUTH_TOKEN_PARAMETER"), "{err}");
        assert!(err.contains("TWILIO_AUTH_TOKEN"), "{err}");
    }

    #[test]
    fn accepts_inline_tokens_or_a_parameter_but_not_both() {
        let inline = settings(&[BASE, &[("TWILIO_AUTH_TOKEN", "a,b")]].concat());
        assert!(
            matches!(inline, Ok(Settings { tokens: TokenSource::Inline(t), .. }) if t.len() == 2)
        );
        let ssm = settings(&[BASE, &[("TWILIO_AUTH_TOKEN_PARAMETER", "/twilio/token")]].concat());
        assert!(
            matches!(ssm, Ok(Settings { tokens: TokenSource::SsmParameter(p), .. }) if p == "/twilio/token")
        );
        let both = settings(
            &[
                BASE,
                &[
                    ("TWILIO_AUTH_TOKEN", "a"),
                    ("TWILIO_AUTH_TOKEN_PARAMETER", "/p"),
                ],
            ]
            .concat(),
        );
        assert!(matches!(both, Err(ConfigError::Invalid { .. })));
    }

    #[test]
    fn table_and_queue_are_required() {
        let no_table = settings(&[("TWILIO_AUTH_TOKEN", "a"), ("MEDIA_QUEUE_URL", "q")]);
        assert!(matches!(
            no_table,
            Err(ConfigError::Missing {
                name: "EVENTS_TABLE",
                ..
            })
        ));
        let no_queue = settings(&[("TWILIO_AUTH_TOKEN", "a"), ("EVENTS_TABLE", "t")]);
        assert!(matches!(
            no_queue,
            Err(ConfigError::Missing {
                name: "MEDIA_QUEUE_URL",
                ..
            })
        ));
    }

    #[test]
    fn retention_and_webhook_url_are_validated() {
        let token = [("TWILIO_AUTH_TOKEN", "a")];
        let ok = settings(&[BASE, &token, &[("EVENT_RETENTION_DAYS", "90")]].concat());
        assert!(matches!(
            ok,
            Ok(Settings {
                retention_days: Some(90),
                ..
            })
        ));
        for bad in ["0", "-1", "ninety"] {
            let err = settings(&[BASE, &token, &[("EVENT_RETENTION_DAYS", bad)]].concat());
            assert!(
                matches!(
                    err,
                    Err(ConfigError::Invalid {
                        name: "EVENT_RETENTION_DAYS",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        let url = settings(
            &[
                BASE,
                &token,
                &[("TWILIO_WEBHOOK_URL", "hooks.example.com/x")],
            ]
            .concat(),
        );
        assert!(matches!(
            url,
            Err(ConfigError::Invalid {
                name: "TWILIO_WEBHOOK_URL",
                ..
            })
        ));
    }
}
