//! The receiver's settings, read from the environment, and its one-time construction at cold start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;

use crate::aws::queue::{SqsMediaQueue, SqsSpillQueue};
use crate::aws::ssm::{self, SecureStrings};
use crate::aws::store::DynamoEventStore;
use crate::env::{self, ConfigError, Lookup};
use crate::receiver::handler::Receiver;
use crate::receiver::keys::{KeyRing, DEFAULT_REFRESH};
use crate::twilio::signature::AuthTokens;
use crate::twilio::signing_keys::SigningKeys;

/// Where the signing keys come from: exactly one of these variables is set.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// `TWILIO_AUTH_TOKEN`: the token, or several separated by commas (one account).
    Inline(AuthTokens),
    /// `TWILIO_AUTH_TOKEN_PARAMETER`: the name of an SSM SecureString holding the same.
    SsmParameter(String),
    /// `TWILIO_SIGNING_KEYS`: the signing-keys document ([`crate::twilio::signing_keys`]).
    KeysInline(SigningKeys),
    /// `TWILIO_SIGNING_KEYS_PARAMETER`: the name of an SSM SecureString holding the document.
    KeysParameter(String),
    /// `TWILIO_SIGNING_KEYS_PATH`: a parameter path holding one SecureString per account.
    KeysPath(String),
}

/// The variables that say where the signing keys come from, in the order [`TokenSource`] lists them.
pub const KEY_VARIABLES: [&str; 5] = [
    "TWILIO_AUTH_TOKEN",
    "TWILIO_AUTH_TOKEN_PARAMETER",
    "TWILIO_SIGNING_KEYS",
    "TWILIO_SIGNING_KEYS_PARAMETER",
    "TWILIO_SIGNING_KEYS_PATH",
];

/// Everything the receiver reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Auth token(s), signing keys, or where to find them.
    pub tokens: TokenSource,
    /// `TWILIO_SIGNING_KEYS_REFRESH_SECONDS`: the least time between two re-reads of the signing keys
    /// (default 60 s).
    pub keys_refresh: Duration,
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
        let tokens = token_source(&lookup)?;
        let keys_refresh = lookup
            .whole_number("TWILIO_SIGNING_KEYS_REFRESH_SECONDS", 1..=86_400, "seconds")?
            .map_or(DEFAULT_REFRESH, Duration::from_secs);
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
            keys_refresh,
            events_table,
            media_queue_url,
            webhook_url,
            retention_days,
            spill_queue_url,
        })
    }
}

/// Where the keys come from: exactly one of [`KEY_VARIABLES`].
fn token_source(lookup: &impl Lookup) -> Result<TokenSource, ConfigError> {
    let set: Vec<(&'static str, String)> = KEY_VARIABLES
        .iter()
        .filter_map(|name| lookup.get(name).map(|value| (*name, value)))
        .collect();
    let invalid = |name, reason: String| ConfigError::Invalid { name, reason };
    match set.as_slice() {
        [] => Err(ConfigError::Missing {
            name: "TWILIO_AUTH_TOKEN",
            hint: "set TWILIO_AUTH_TOKEN to the Twilio auth token (several separated by commas during a \
                   rotation), or TWILIO_AUTH_TOKEN_PARAMETER to the name of an SSM SecureString holding it; \
                   for several accounts, TWILIO_SIGNING_KEYS, TWILIO_SIGNING_KEYS_PARAMETER or \
                   TWILIO_SIGNING_KEYS_PATH (see docs/signing-keys.md)",
        }),
        [(name, value)] => match *name {
            "TWILIO_AUTH_TOKEN" => AuthTokens::parse(value)
                .map(TokenSource::Inline)
                .map_err(|err| invalid(name, err.to_string())),
            "TWILIO_AUTH_TOKEN_PARAMETER" => Ok(TokenSource::SsmParameter(value.clone())),
            "TWILIO_SIGNING_KEYS" => SigningKeys::parse(value)
                .map(TokenSource::KeysInline)
                .map_err(|err| invalid(name, err.to_string())),
            "TWILIO_SIGNING_KEYS_PARAMETER" => Ok(TokenSource::KeysParameter(value.clone())),
            _ if value.starts_with('/') && value.len() > 1 => {
                Ok(TokenSource::KeysPath(value.trim_end_matches('/').to_owned()))
            }
            _ => Err(invalid(
                name,
                "it must be a parameter path such as /twilio/signing-keys".to_owned(),
            )),
        },
        [(first, _), ..] => {
            let names: Vec<&str> = set.iter().map(|(name, _)| *name).collect();
            Err(invalid(
                first,
                format!(
                    "{} are all set: set only one of them (one source of signing keys)",
                    names.join(" and ")
                ),
            ))
        }
    }
}

/// Resolves the signing keys: reads SSM (with decryption) when the settings name a parameter, once; the
/// per-account path is read later, account by account.
pub async fn resolve_keys(settings: &Settings, sdk: &SdkConfig) -> Result<KeyRing, ConfigError> {
    let unusable = |parameter: &str, reason: String| ConfigError::Ssm {
        parameter: parameter.to_owned(),
        reason,
    };
    let ring = match &settings.tokens {
        TokenSource::Inline(tokens) => KeyRing::from(tokens.clone()),
        TokenSource::SsmParameter(parameter) => {
            let value = ssm::secure_string(sdk, parameter).await?;
            KeyRing::from(
                AuthTokens::parse(&value).map_err(|err| unusable(parameter, err.to_string()))?,
            )
        }
        TokenSource::KeysInline(keys) => KeyRing::from(keys.clone()),
        TokenSource::KeysParameter(parameter) => {
            let strings = SecureStrings::new(sdk);
            let value = ssm::required(&strings, parameter).await?;
            let read_at = Instant::now();
            let keys =
                SigningKeys::parse(&value).map_err(|err| unusable(parameter, err.to_string()))?;
            KeyRing::from_parameter(keys, parameter, Arc::new(strings), read_at)
        }
        TokenSource::KeysPath(path) => KeyRing::from_path(path, Arc::new(SecureStrings::new(sdk))),
    };
    Ok(ring.with_refresh(settings.keys_refresh))
}

/// Builds the receiver once: SDK clients, keys, backends.
pub async fn build_receiver(
    settings: &Settings,
    sdk: &SdkConfig,
) -> Result<AwsReceiver, ConfigError> {
    let keys = resolve_keys(settings, sdk).await?;
    let store = DynamoEventStore::new(aws_sdk_dynamodb::Client::new(sdk), &settings.events_table);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue = SqsMediaQueue::new(sqs.clone(), &settings.media_queue_url);
    let spill = settings
        .spill_queue_url
        .as_ref()
        .map(|url| SqsSpillQueue::new(sqs, url));
    Ok(Receiver::new(keys, store, queue)
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

    const DOCUMENT: &str = r#"{"AC00000000000000000000000000000001": {"auth_tokens": ["t"], "shared_keys": {"KS1": "s"}}}"#;

    #[test]
    fn reads_the_signing_keys_sources_and_refuses_two_at_once_naming_both() {
        let inline = settings(&[BASE, &[("TWILIO_SIGNING_KEYS", DOCUMENT)]].concat());
        assert!(
            matches!(&inline, Ok(Settings { tokens: TokenSource::KeysInline(k), keys_refresh, .. }) if k.len() == 1 && keys_refresh.as_secs() == 60),
            "{inline:?}"
        );
        let parameter = settings(
            &[
                BASE,
                &[
                    ("TWILIO_SIGNING_KEYS_PARAMETER", "/twilio/keys"),
                    ("TWILIO_SIGNING_KEYS_REFRESH_SECONDS", "5"),
                ],
            ]
            .concat(),
        );
        assert!(
            matches!(&parameter, Ok(Settings { tokens: TokenSource::KeysParameter(p), keys_refresh, .. }) if p == "/twilio/keys" && keys_refresh.as_secs() == 5),
            "{parameter:?}"
        );
        let path = settings(&[BASE, &[("TWILIO_SIGNING_KEYS_PATH", "/twilio/accounts/")]].concat());
        assert!(
            matches!(&path, Ok(Settings { tokens: TokenSource::KeysPath(p), .. }) if p == "/twilio/accounts"),
            "{path:?}"
        );
        let relative = settings(&[BASE, &[("TWILIO_SIGNING_KEYS_PATH", "accounts")]].concat());
        assert!(matches!(
            relative,
            Err(ConfigError::Invalid {
                name: "TWILIO_SIGNING_KEYS_PATH",
                ..
            })
        ));
        for (a, b) in [
            ("TWILIO_AUTH_TOKEN", "TWILIO_SIGNING_KEYS_PARAMETER"),
            ("TWILIO_AUTH_TOKEN_PARAMETER", "TWILIO_SIGNING_KEYS"),
            ("TWILIO_SIGNING_KEYS_PARAMETER", "TWILIO_SIGNING_KEYS_PATH"),
        ] {
            let value = |name: &str| {
                if name == "TWILIO_SIGNING_KEYS" {
                    DOCUMENT
                } else {
                    "/p"
                }
            };
            let err = settings(&[BASE, &[(a, value(a)), (b, value(b))]].concat())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(a) && err.contains(b), "{err}");
        }
        let bad = settings(
            &[
                BASE,
                &[(
                    "TWILIO_SIGNING_KEYS",
                    r#"{"AC1": {"auth_tokens": ["s3cr3t"]}}"#,
                )],
            ]
            .concat(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            bad.contains("TWILIO_SIGNING_KEYS") && !bad.contains("s3cr3t"),
            "{bad}"
        );
        let refresh = settings(
            &[
                BASE,
                &[
                    ("TWILIO_SIGNING_KEYS", DOCUMENT),
                    ("TWILIO_SIGNING_KEYS_REFRESH_SECONDS", "0"),
                ],
            ]
            .concat(),
        );
        assert!(matches!(
            refresh,
            Err(ConfigError::Invalid {
                name: "TWILIO_SIGNING_KEYS_REFRESH_SECONDS",
                ..
            })
        ));
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
