//! The key the check signs its synthetic callback with: the one the receiver verifies with, read the way
//! the receiver reads it, so a wrong or missing key shows up as the 403 it would cause for Twilio.
//!
//! Today the receiver reads `TWILIO_AUTH_TOKEN` (one token, or several separated by commas during a
//! rotation: Twilio signs with the primary, the first) or `TWILIO_AUTH_TOKEN_PARAMETER` (an SSM
//! SecureString holding the same). [`signing_key`] is the one place that turns such a source into an
//! account, a secret and, for a shared key, the `X-Twilio-Webhooks-Signature-Settings` it announces; a
//! new way of configuring keys is a new [`KeySource`] variant resolved there.

use aws_config::SdkConfig;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};

use crate::twilio::signature;

/// The header that announces a shared-key signature (Twilio's "Sign webhooks with shared keys").
pub const SIGNATURE_SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";

/// Where the receiver's signing key comes from. Never printed.
#[derive(Clone)]
pub enum KeySource {
    /// `TWILIO_AUTH_TOKEN`: the token, or several separated by commas (the first signs).
    Token(String),
    /// `TWILIO_AUTH_TOKEN_PARAMETER` (or the stack's `AuthTokenParameterName`): an SSM SecureString.
    Parameter(String),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Token(_) => write!(f, "Token(redacted)"),
            KeySource::Parameter(name) => write!(f, "Parameter({name:?})"),
        }
    }
}

impl KeySource {
    /// Where the key was read, for messages (never the key).
    pub fn describe(&self) -> String {
        match self {
            KeySource::Token(_) => "the auth token in TWILIO_AUTH_TOKEN".to_owned(),
            KeySource::Parameter(name) => format!("the auth token in the SSM parameter {name}"),
        }
    }
}

/// How a signature is computed: Twilio's auth-token HMAC-SHA1, or a shared key's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `HMAC_SHA1` (the auth token's, and a shared key's that names it).
    HmacSha1,
    /// `HMAC_SHA256`.
    HmacSha256,
}

impl Algorithm {
    /// The name in the settings header.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HmacSha1 => "HMAC_SHA1",
            Algorithm::HmacSha256 => "HMAC_SHA256",
        }
    }
}

/// A shared key's identity as Twilio announces it (`key=<key>,algorithm=<algorithm>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedKey {
    /// What `key=` holds.
    pub key: String,
    /// The algorithm.
    pub algorithm: Algorithm,
}

/// An account's signing secret, as the receiver would verify it. Never printed.
#[derive(Clone)]
pub struct SigningKey {
    /// The account the synthetic callback is from (`AccountSid`).
    pub account_sid: String,
    secret: String,
    /// Set when the deployment verifies this account with a shared key: the header to send.
    pub shared_key: Option<SharedKey>,
    /// Where it was read, for messages.
    pub source: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("account_sid", &self.account_sid)
            .field("secret", &"redacted")
            .field("shared_key", &self.shared_key)
            .finish()
    }
}

impl SigningKey {
    /// A key of `account_sid` with `secret`, signing as an auth token (HMAC-SHA1, no settings header).
    pub fn auth_token(account_sid: &str, secret: &str, source: &str) -> Self {
        SigningKey {
            account_sid: account_sid.to_owned(),
            secret: secret.to_owned(),
            shared_key: None,
            source: source.to_owned(),
        }
    }

    /// The same key with a different secret: what a forger without the key would send.
    pub fn wrong(&self) -> Self {
        SigningKey {
            secret: format!("{}-not-the-key", self.secret),
            ..self.clone()
        }
    }

    /// The headers Twilio would send for `url` and `params`: `X-Twilio-Signature`, and the settings
    /// header for a shared key.
    pub fn headers(&self, url: &str, params: &[(String, String)]) -> Vec<(&'static str, String)> {
        let mut headers = vec![("X-Twilio-Signature", self.sign(url, params))];
        if let Some(shared) = &self.shared_key {
            headers.push((
                SIGNATURE_SETTINGS_HEADER,
                format!("key={},algorithm={}", shared.key, shared.algorithm.as_str()),
            ));
        }
        headers
    }

    /// The signature of `url` and `params`: the auth token's HMAC-SHA1 ([`signature::compute`]), or the
    /// shared key's algorithm over the same string (the full URL, then the parameters sorted by name).
    pub fn sign(&self, url: &str, params: &[(String, String)]) -> String {
        match self.shared_key.as_ref().map(|shared| shared.algorithm) {
            None | Some(Algorithm::HmacSha1) => signature::compute(&self.secret, url, params),
            Some(Algorithm::HmacSha256) => {
                let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(self.secret.as_bytes())
                else {
                    // HMAC takes keys of any length: unreachable, and an empty signature is refused.
                    return String::new();
                };
                mac.update(url.as_bytes());
                for (name, value) in signature::in_order(params).iter() {
                    mac.update(name.as_bytes());
                    mac.update(value.as_bytes());
                }
                BASE64.encode(mac.finalize().into_bytes())
            }
        }
    }
}

/// The key the receiver verifies `account_sid`'s callbacks with, read from `source` (SSM through `sdk`).
pub async fn signing_key(
    source: &KeySource,
    account_sid: &str,
    sdk: &SdkConfig,
) -> Result<SigningKey, String> {
    let value = match source {
        KeySource::Token(value) => value.clone(),
        KeySource::Parameter(name) => crate::aws::ssm::secure_string(sdk, name)
            .await
            .map_err(|err| err.to_string())?,
    };
    let primary = value
        .split(',')
        .map(str::trim)
        .find(|token| !token.is_empty())
        .ok_or_else(|| format!("{} is empty", source.describe()))?;
    Ok(SigningKey::auth_token(
        account_sid,
        primary,
        &source.describe(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twilio::signature::{is_valid, AuthTokens};

    fn params() -> Vec<(String, String)> {
        vec![
            ("StatusCallbackEvent".into(), "room-created".into()),
            ("AccountSid".into(), "AC1".into()),
        ]
    }

    #[test]
    fn an_auth_token_signs_as_the_receiver_verifies_and_a_wrong_one_does_not() {
        let url = "https://example.com/twilio/video";
        let key = SigningKey::auth_token("AC1", "token", "test");
        let tokens = AuthTokens::parse("token").unwrap_or_else(|err| panic!("{err}"));
        let headers = key.headers(url, &params());
        assert_eq!(headers.len(), 1);
        assert!(is_valid(&tokens, url, &params(), &headers[0].1));
        assert!(!is_valid(
            &tokens,
            url,
            &params(),
            &key.wrong().sign(url, &params())
        ));
        assert!(!format!("{key:?}").contains("token\""));
    }

    #[test]
    fn a_shared_key_announces_itself_and_signs_with_its_algorithm() {
        let mut key = SigningKey::auth_token("AC1", "secret", "test");
        key.shared_key = Some(SharedKey {
            key: "KS1".into(),
            algorithm: Algorithm::HmacSha256,
        });
        let url = "https://example.com/x";
        let headers = key.headers(url, &params());
        assert_eq!(
            headers[1],
            (
                SIGNATURE_SETTINGS_HEADER,
                "key=KS1,algorithm=HMAC_SHA256".to_owned()
            )
        );
        // HMAC-SHA256 of the URL and the sorted parameters, base64 (32 bytes: 44 characters).
        assert_eq!(headers[0].1.len(), 44);
        assert_ne!(headers[0].1, signature::compute("secret", url, &params()));
    }

    #[tokio::test]
    async fn the_first_of_several_tokens_signs() {
        let sdk = aws_config::SdkConfig::builder().build();
        let key = signing_key(&KeySource::Token(" , a , b".into()), "AC1", &sdk).await;
        let url = "https://example.com/x";
        let signed = key.map(|key| key.sign(url, &params()));
        assert_eq!(signed, Ok(signature::compute("a", url, &params())));
        let empty = signing_key(&KeySource::Token(" , ".into()), "AC1", &sdk).await;
        assert!(empty.is_err());
        assert_eq!(
            format!("{:?}", KeySource::Token("a".into())),
            "Token(redacted)"
        );
    }
}
