//! `X-Twilio-Webhooks-Signature-Settings`: which shared key and algorithm signed a request.
//!
//! Twilio's shared-key signing is a Public Beta ("Sign webhooks with shared keys"). Every rule about it
//! that is not plain HMAC lives in this file, so a change in Twilio's documentation is a change here.
//!
//! Documented: when a Webhooks Rule matches the URL, Twilio signs with that Setting's shared key and
//! algorithm and adds `X-Twilio-Webhooks-Signature-Settings: key=<key>,algorithm=HMAC_SHA256`; only the
//! hash changes, the signed string is still the URL followed by the sorted POST parameters; without the
//! header the auth token and HMAC-SHA1 apply; an invalid signature or an unsupported algorithm is refused.
//!
//! Inferred (not documented; kept here so it is easy to change):
//! - the header is a comma-separated list of `name=value` fields, in any order; fields other than `key`
//!   and `algorithm` are ignored (Twilio may add some), blanks around fields are ignored;
//! - `key` names the shared key (its id at Twilio), matched exactly against the names configured per
//!   account; `algorithm` is one of [`ALGORITHMS`], matched exactly as Twilio writes it;
//! - the signature in `X-Twilio-Signature` is base64, like the auth token's.
//!
//! A header without `key` or `algorithm`, with either given twice or empty, is refused rather than
//! guessed at.

use crate::twilio::signature::Algorithm;

/// The header's name (lower case, as HTTP/2 and API Gateway's payload 2.0 deliver it).
pub const SETTINGS_HEADER: &str = "x-twilio-webhooks-signature-settings";

/// The algorithms the header may name, as Twilio writes them.
pub const ALGORITHMS: &[(&str, Algorithm)] = &[
    ("HMAC_SHA256", Algorithm::HmacSha256),
    ("HMAC_SHA1", Algorithm::HmacSha1),
];

/// What the header says: the shared key's name and the algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureSettings<'a> {
    /// The shared key's name (`key=`): not a secret.
    pub key: &'a str,
    /// The HMAC's hash (`algorithm=`).
    pub algorithm: Algorithm,
}

/// Why a settings header cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// `algorithm=` names an algorithm not in [`ALGORITHMS`].
    #[error("X-Twilio-Webhooks-Signature-Settings names an unsupported algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// The header lacks `key` or `algorithm`, repeats one, or leaves one empty.
    #[error("X-Twilio-Webhooks-Signature-Settings is malformed: {0}")]
    Malformed(&'static str),
}

/// The longest unknown algorithm name kept for the log (it comes from the request).
const MAX_ECHO: usize = 32;

impl<'a> SignatureSettings<'a> {
    /// Reads the header's value: fields in any order, extra fields ignored.
    pub fn parse(header: &'a str) -> Result<Self, SettingsError> {
        let (mut key, mut algorithm) = (None, None);
        for field in header.split(',') {
            let Some((name, value)) = field.split_once('=') else {
                continue;
            };
            let slot = match name.trim() {
                "key" => &mut key,
                "algorithm" => &mut algorithm,
                _ => continue,
            };
            if slot.replace(value.trim()).is_some() {
                return Err(SettingsError::Malformed("a field is given twice"));
            }
        }
        let key = key
            .filter(|key| !key.is_empty())
            .ok_or(SettingsError::Malformed("no key"))?;
        let name = algorithm
            .filter(|name| !name.is_empty())
            .ok_or(SettingsError::Malformed("no algorithm"))?;
        let algorithm = ALGORITHMS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, algorithm)| *algorithm)
            .ok_or_else(|| {
                SettingsError::UnknownAlgorithm(name.chars().take(MAX_ECHO).collect())
            })?;
        Ok(SignatureSettings { key, algorithm })
    }
}

/// The header Twilio would send for `key` and `algorithm`.
pub fn header_value(key: &str, algorithm: Algorithm) -> String {
    let name = ALGORITHMS
        .iter()
        .find(|(_, known)| *known == algorithm)
        .map(|(name, _)| *name)
        .unwrap_or_default();
    format!("key={key},algorithm={name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(header: &str) -> Result<SignatureSettings<'_>, SettingsError> {
        SignatureSettings::parse(header)
    }

    #[test]
    fn reads_key_and_algorithm_in_either_order_with_extra_fields() {
        let expected = SignatureSettings {
            key: "KS123",
            algorithm: Algorithm::HmacSha256,
        };
        for header in [
            "key=KS123,algorithm=HMAC_SHA256",
            "algorithm=HMAC_SHA256,key=KS123",
            "key=KS123, algorithm=HMAC_SHA256 ,version=2",
            "rule=RL1,algorithm=HMAC_SHA256,key=KS123,flag",
        ] {
            assert_eq!(parsed(header), Ok(expected.clone()), "{header}");
        }
        assert_eq!(
            parsed("key=k,algorithm=HMAC_SHA1").map(|s| s.algorithm),
            Ok(Algorithm::HmacSha1)
        );
        assert_eq!(
            header_value("KS1", Algorithm::HmacSha1),
            "key=KS1,algorithm=HMAC_SHA1"
        );
    }

    #[test]
    fn refuses_unknown_algorithms_and_malformed_headers() {
        for unknown in ["HMAC_SHA512", "hmac_sha256", "SHA256"] {
            assert_eq!(
                parsed(&format!("key=k,algorithm={unknown}")),
                Err(SettingsError::UnknownAlgorithm(unknown.to_owned()))
            );
        }
        let long = format!("key=k,algorithm={}", "X".repeat(200));
        assert!(
            matches!(parsed(&long), Err(SettingsError::UnknownAlgorithm(a)) if a.len() == MAX_ECHO)
        );
        for malformed in [
            "",
            "algorithm=HMAC_SHA256",
            "key=k",
            "key=,algorithm=HMAC_SHA256",
            "key=k,algorithm=",
            "key=a,key=b,algorithm=HMAC_SHA256",
            "Key=k,Algorithm=HMAC_SHA256",
        ] {
            assert!(
                matches!(parsed(malformed), Err(SettingsError::Malformed(_))),
                "{malformed:?}"
            );
        }
    }
}
