//! The receiver's settings, read from the environment, and its one-time construction at cold start.

use aws_config::SdkConfig;

use crate::aws::queue::{SqsMediaQueue, SqsSpillQueue};
use crate::aws::ssm;
use crate::aws::store::DynamoEventStore;
use crate::env::{self, ConfigError, Lookup};
use crate::receiver::handler::Receiver;
use crate::twilio::signature::AuthTokens;

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
    /// `SPILL_QUEUE_URL`: where a verified request goes when the table or the media queue fails; unset,
    /// such a failure is a 5xx.
    pub spill_queue_url: Option<String>,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env::process)
    }

    /// Reads settings through `lookup` (the environment, or a map in tests). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup.get(name);
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
        let retention_days = lookup
            .whole_number("EVENT_RETENTION_DAYS", 1..=u64::from(u32::MAX), "days")?
            .map(|days| days as u32);
        let spill_queue_url = get("SPILL_QUEUE_URL");
        Ok(Settings {
            tokens,
            events_table,
            media_queue_url,
            webhook_url,
            retention_days,
            spill_queue_url,
        })
    }
}

/// Resolves the auth tokens, reading SSM (with decryption) when the settings name a parameter.
pub async fn resolve_tokens(
    source: &TokenSource,
    sdk: &SdkConfig,
) -> Result<AuthTokens, ConfigError> {
    match source {
        TokenSource::Inline(tokens) => Ok(tokens.clone()),
        TokenSource::SsmParameter(parameter) => {
            let value = ssm::secure_string(sdk, parameter).await?;
            AuthTokens::parse(&value).map_err(|err| ConfigError::Ssm {
                parameter: parameter.clone(),
                reason: err.to_string(),
            })
        }
    }
}

/// Builds the receiver once: SDK clients, tokens, backends.
pub async fn build_receiver(
    settings: &Settings,
    sdk: &SdkConfig,
) -> Result<AwsReceiver, ConfigError> {
    let tokens = resolve_tokens(&settings.tokens, sdk).await?;
    let store = DynamoEventStore::new(aws_sdk_dynamodb::Client::new(sdk), &settings.events_table);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue = SqsMediaQueue::new(sqs.clone(), &settings.media_queue_url);
    let spill = settings
        .spill_queue_url
        .as_ref()
        .map(|url| SqsSpillQueue::new(sqs, url));
    Ok(Receiver::new(tokens, store, queue)
        .with_spill(spill)
        .with_webhook_url(settings.webhook_url.clone())
        .with_retention_days(settings.retention_days))
}

/// The receiver as deployed: DynamoDB, SQS, and the spill queue when `SPILL_QUEUE_URL` is set.
pub type AwsReceiver = Receiver<DynamoEventStore, SqsMediaQueue, SqsSpillQueue>;

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_lookup(crate::env::lookup_from(vars))
    }

    const BASE: &[(&str, &str)] = &[
        ("EVENTS_TABLE", "events"),
        ("MEDIA_QUEUE_URL", "https://sqs/q"),
    ];
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
