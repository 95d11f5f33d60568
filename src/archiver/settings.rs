//! The archiver's settings, read from the environment, and its one-time construction at cold start.

use std::time::Duration;

use aws_config::SdkConfig;

use crate::archiver::media::{ApiKey, ApiKeys, TwilioMedia};
use crate::archiver::record::DynamoOutcomes;
use crate::archiver::rules::DEFAULT_PREFIX;
use crate::archiver::upload::S3Archive;
use crate::archiver::Archiver;
use crate::aws::{sdk, ssm};
use crate::env::{self, ConfigError, Lookup};
use crate::message::TWILIO_VIDEO_BASE_URL;

const MIB: usize = 1024 * 1024;
/// The part size unless `ARCHIVE_PART_SIZE_MIB` says otherwise.
pub const DEFAULT_PART_SIZE_MIB: u64 = 8;
/// Parts uploading at once unless `ARCHIVE_PARTS_IN_FLIGHT` says otherwise: 4 × 8 MiB keeps a 200 MiB
/// copy's peak under 64 MiB and leaves most of a 512 MB function for the batch's other messages.
pub const DEFAULT_PARTS_IN_FLIGHT: usize = 4;

/// Where the Twilio API keys come from: one key for every message, or one per account.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `TWILIO_API_KEY_SID` and `TWILIO_API_KEY_SECRET`.
    Inline(ApiKey),
    /// `TWILIO_API_KEY_PARAMETER`: the name of an SSM SecureString holding `SID:SECRET`.
    SsmParameter(String),
    /// `TWILIO_API_KEYS`: a JSON document `{"AC…": "SK…:secret"}` (locally).
    Document(ApiKeys),
    /// `TWILIO_API_KEYS_PARAMETER`: the name of an SSM SecureString holding that document (deployed).
    DocumentParameter(String),
}

/// Everything the archiver reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ARCHIVE_BUCKET`.
    pub bucket: String,
    /// `ARCHIVE_PREFIX` (default `twilio-video/`).
    pub prefix: String,
    /// `EVENTS_TABLE`: where outcomes are recorded.
    pub table: String,
    /// `TWILIO_MEDIA_BASE_URL` (default `https://video.twilio.com`): replaces `media_url`'s scheme and host.
    pub media_base_url: String,
    /// The Twilio API key, or where to find it.
    pub key: KeySource,
    /// `ARCHIVE_PART_SIZE_MIB`: bytes per multipart part (5 MiB to 5 GiB; larger files get larger parts).
    pub part_size: usize,
    /// `ARCHIVE_PARTS_IN_FLIGHT`: parts being filled or uploaded at once, across every message of a
    /// batch: the part buffers never exceed `part_size` × this. Keep it at least the batch size, so that
    /// every message of a batch can read while the others upload.
    pub parts_in_flight: usize,
    /// `ARCHIVE_ATTEMPTS`: copies tried per delivery when one fails for a reason that may pass.
    pub attempts: u32,
    /// How long to wait for response headers, and between two chunks of a body, before giving up.
    pub read_timeout: Duration,
}

impl Settings {
    /// Defaults around the required values.
    pub fn new(bucket: impl Into<String>, table: impl Into<String>, key: KeySource) -> Self {
        Settings {
            bucket: bucket.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            table: table.into(),
            media_base_url: TWILIO_VIDEO_BASE_URL.to_owned(),
            key,
            part_size: DEFAULT_PART_SIZE_MIB as usize * MIB,
            parts_in_flight: DEFAULT_PARTS_IN_FLIGHT,
            attempts: crate::archiver::DEFAULT_ATTEMPTS,
            read_timeout: Duration::from_secs(30),
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env::process)
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let bucket = lookup.require(
            "ARCHIVE_BUCKET",
            "set it to the S3 bucket that receives the media",
        )?;
        let table = lookup.require(
            "EVENTS_TABLE",
            "set it to the DynamoDB table where outcomes are recorded",
        )?;
        let key = key_source(&lookup)?;
        let mut settings = Settings::new(bucket, table, key);
        if let Some(prefix) = lookup.get("ARCHIVE_PREFIX") {
            settings.prefix = prefix;
        }
        if let Some(base) = lookup.get("TWILIO_MEDIA_BASE_URL") {
            if !(base.starts_with("https://") || base.starts_with("http://")) {
                return Err(ConfigError::Invalid {
                    name: "TWILIO_MEDIA_BASE_URL",
                    reason: format!("{base:?} is not an http(s) URL"),
                });
            }
            settings.media_base_url = base;
        }
        if let Some(mib) = lookup.whole_number("ARCHIVE_PART_SIZE_MIB", 5..=5 * 1024, "MiB")? {
            settings.part_size = mib as usize * MIB;
        }
        if let Some(n) = lookup.whole_number("ARCHIVE_PARTS_IN_FLIGHT", 1..=64, "parts")? {
            settings.parts_in_flight = n as usize;
        }
        if let Some(n) = lookup.whole_number("ARCHIVE_ATTEMPTS", 1..=5, "attempts")? {
            settings.attempts = n as u32;
        }
        Ok(settings)
    }
}

/// Exactly one of the four ways to give the keys.
fn key_source(lookup: &impl Lookup) -> Result<KeySource, ConfigError> {
    let sid = lookup.get("TWILIO_API_KEY_SID");
    let secret = lookup.get("TWILIO_API_KEY_SECRET");
    let parameter = lookup.get("TWILIO_API_KEY_PARAMETER");
    let document = lookup.get("TWILIO_API_KEYS");
    let documents = lookup.get("TWILIO_API_KEYS_PARAMETER");
    let given = [
        sid.is_some() || secret.is_some(),
        parameter.is_some(),
        document.is_some(),
        documents.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(ConfigError::Invalid {
            name: "TWILIO_API_KEYS",
            reason: "set only one of TWILIO_API_KEYS, TWILIO_API_KEYS_PARAMETER, TWILIO_API_KEY_PARAMETER, \
                     or TWILIO_API_KEY_SID with TWILIO_API_KEY_SECRET"
                .into(),
        });
    }
    Ok(match (sid, secret, parameter, document, documents) {
        (Some(sid), Some(secret), ..) => KeySource::Inline(ApiKey::new(sid, secret)),
        (Some(_), None, ..) | (None, Some(_), ..) => {
            return Err(ConfigError::Invalid {
                name: "TWILIO_API_KEY_SID",
                reason: "set both TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET".into(),
            })
        }
        (_, _, Some(parameter), ..) => KeySource::SsmParameter(parameter),
        (_, _, _, Some(document), _) => {
            KeySource::Document(ApiKeys::parse_document(&document).map_err(|err| {
                ConfigError::Invalid {
                    name: "TWILIO_API_KEYS",
                    reason: err.to_string(),
                }
            })?)
        }
        (_, _, _, _, Some(parameter)) => KeySource::DocumentParameter(parameter),
        (None, None, None, None, None) => return Err(ConfigError::Missing {
            name: "TWILIO_API_KEY_PARAMETER",
            hint:
                "set it to the name of an SSM SecureString holding SID:SECRET of a Twilio API key \
                       (or TWILIO_API_KEYS_PARAMETER for one key per account), or set \
                       TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET (or TWILIO_API_KEYS)",
        }),
    })
}

/// Resolves the API keys, reading SSM (with decryption) when the settings name a parameter.
pub async fn resolve_keys(source: &KeySource, sdk: &SdkConfig) -> Result<ApiKeys, ConfigError> {
    match source {
        KeySource::Inline(key) => Ok(ApiKeys::Single(key.clone())),
        KeySource::Document(keys) => Ok(keys.clone()),
        KeySource::SsmParameter(parameter) => {
            let value = ssm::secure_string(sdk, parameter).await?;
            ApiKey::parse(&value)
                .map(ApiKeys::Single)
                .ok_or_else(|| ConfigError::Ssm {
                    parameter: parameter.clone(),
                    reason: "it must hold SID:SECRET of a Twilio API key".into(),
                })
        }
        KeySource::DocumentParameter(parameter) => {
            let value = ssm::secure_string(sdk, parameter).await?;
            ApiKeys::parse_document(&value).map_err(|err| ConfigError::Ssm {
                parameter: parameter.clone(),
                reason: err.to_string(),
            })
        }
    }
}

/// The archiver as deployed: Twilio over HTTPS, S3, DynamoDB.
pub type AwsArchiver = Archiver<TwilioMedia, S3Archive, DynamoOutcomes>;

/// Builds the archiver once: the API key, the clients.
pub async fn build(settings: &Settings, sdk: &SdkConfig) -> Result<AwsArchiver, ConfigError> {
    let keys = resolve_keys(&settings.key, sdk).await?;
    let media =
        TwilioMedia::new(keys, settings.read_timeout).map_err(|err| ConfigError::Invalid {
            name: "TLS",
            reason: err.to_string(),
        })?;
    let sink = S3Archive::new(
        sdk::s3_client(sdk),
        &settings.bucket,
        settings.part_size,
        settings.parts_in_flight,
        settings.read_timeout,
    );
    let log = DynamoOutcomes::new(aws_sdk_dynamodb::Client::new(sdk), &settings.table);
    Ok(
        Archiver::new(media, sink, log, &settings.prefix, &settings.media_base_url)
            .with_attempts(settings.attempts),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_lookup(crate::env::lookup_from(vars))
    }

    const BASE: &[(&str, &str)] = &[
        ("ARCHIVE_BUCKET", "media"),
        ("EVENTS_TABLE", "events"),
        ("TWILIO_API_KEY_PARAMETER", "/twilio/key"),
    ];

    #[test]
    fn defaults_around_the_required_values() {
        let Ok(s) = settings(BASE) else {
            panic!("the base settings are valid")
        };
        assert_eq!(s.bucket, "media");
        assert_eq!(s.table, "events");
        assert_eq!(s.prefix, "twilio-video/");
        assert_eq!(s.media_base_url, TWILIO_VIDEO_BASE_URL);
        assert!(matches!(s.key, KeySource::SsmParameter(p) if p == "/twilio/key"));
        assert_eq!(s.part_size, 8 * MIB);
        assert_eq!(s.parts_in_flight, DEFAULT_PARTS_IN_FLIGHT);
        assert_eq!(s.attempts, crate::archiver::DEFAULT_ATTEMPTS);
    }

    #[test]
    fn part_size_parts_in_flight_and_attempts_are_read_within_s3s_bounds() {
        let ok = settings(
            &[
                BASE,
                &[
                    ("ARCHIVE_PART_SIZE_MIB", "16"),
                    ("ARCHIVE_PARTS_IN_FLIGHT", "6"),
                    ("ARCHIVE_ATTEMPTS", "3"),
                ],
            ]
            .concat(),
        );
        assert!(
            matches!(&ok, Ok(s) if s.part_size == 16 * MIB && s.parts_in_flight == 6 && s.attempts == 3),
            "{ok:?}"
        );
        for (name, bad) in [
            ("ARCHIVE_PART_SIZE_MIB", "4"),
            ("ARCHIVE_PARTS_IN_FLIGHT", "0"),
            ("ARCHIVE_ATTEMPTS", "many"),
        ] {
            let err = settings(&[BASE, &[(name, bad)]].concat()).err();
            assert!(
                matches!(&err, Some(ConfigError::Invalid { name: n, .. }) if *n == name),
                "{name}={bad}: {err:?}"
            );
        }
    }

    #[test]
    fn bucket_and_table_are_required_and_named() {
        for missing in ["ARCHIVE_BUCKET", "EVENTS_TABLE"] {
            let vars: Vec<_> = BASE
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let err = settings(&vars).err();
            assert!(
                matches!(err, Some(ConfigError::Missing { name, .. }) if name == missing),
                "{missing}: {err:?}"
            );
        }
    }

    #[test]
    fn the_key_is_inline_or_a_parameter_never_both_nor_half() {
        let no_parameter: Vec<_> = BASE[..2].to_vec();
        let inline = settings(
            &[
                &no_parameter[..],
                &[
                    ("TWILIO_API_KEY_SID", "SK1"),
                    ("TWILIO_API_KEY_SECRET", "s"),
                ],
            ]
            .concat(),
        );
        assert!(
            matches!(&inline, Ok(Settings { key: KeySource::Inline(k), .. }) if k.sid() == "SK1"),
            "{inline:?}"
        );
        let none = settings(&no_parameter);
        assert!(matches!(
            none,
            Err(ConfigError::Missing {
                name: "TWILIO_API_KEY_PARAMETER",
                ..
            })
        ));
        let half = settings(&[&no_parameter[..], &[("TWILIO_API_KEY_SID", "SK1")]].concat());
        assert!(matches!(half, Err(ConfigError::Invalid { .. })));
        let both = settings(
            &[
                BASE,
                &[
                    ("TWILIO_API_KEY_SID", "SK1"),
                    ("TWILIO_API_KEY_SECRET", "s"),
                ],
            ]
            .concat(),
        );
        assert!(matches!(both, Err(ConfigError::Invalid { .. })));
    }

    #[test]
    fn a_key_document_is_read_inline_or_named_and_never_beside_another_key() {
        let no_parameter: Vec<_> = BASE[..2].to_vec();
        let inline = settings(
            &[
                &no_parameter[..],
                &[("TWILIO_API_KEYS", r#"{"AC1": "SK1:a", "AC2": "SK2:b"}"#)],
            ]
            .concat(),
        );
        assert!(
            matches!(&inline, Ok(Settings { key: KeySource::Document(k), .. }) if k.accounts() == ["AC1", "AC2"]),
            "{inline:?}"
        );
        let named = settings(
            &[
                &no_parameter[..],
                &[("TWILIO_API_KEYS_PARAMETER", "/twilio/keys")],
            ]
            .concat(),
        );
        assert!(matches!(
            named,
            Ok(Settings {
                key: KeySource::DocumentParameter(_),
                ..
            })
        ));
        let bad = settings(&[&no_parameter[..], &[("TWILIO_API_KEYS", "{}")]].concat());
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid {
                name: "TWILIO_API_KEYS",
                ..
            })
        ));
        let both = settings(&[BASE, &[("TWILIO_API_KEYS", r#"{"AC1": "SK1:a"}"#)]].concat());
        assert!(matches!(both, Err(ConfigError::Invalid { .. })));
    }

    #[test]
    fn prefix_and_media_base_url_are_read_and_the_url_checked() {
        let ok = settings(
            &[
                BASE,
                &[
                    ("ARCHIVE_PREFIX", "media/"),
                    ("TWILIO_MEDIA_BASE_URL", "http://127.0.0.1:9"),
                ],
            ]
            .concat(),
        );
        assert!(
            matches!(&ok, Ok(s) if s.prefix == "media/" && s.media_base_url == "http://127.0.0.1:9")
        );
        let bad_url = settings(&[BASE, &[("TWILIO_MEDIA_BASE_URL", "video.twilio.com")]].concat());
        assert!(matches!(
            bad_url,
            Err(ConfigError::Invalid {
                name: "TWILIO_MEDIA_BASE_URL",
                ..
            })
        ));
    }
}
