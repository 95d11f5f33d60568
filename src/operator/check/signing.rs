//! The key the check signs its synthetic callback with: the one the receiver verifies with, read the way
//! the receiver reads it, so a wrong or missing key shows up as the 403 it would cause for Twilio.
//!
//! The receiver reads one of: `TWILIO_AUTH_TOKEN` (one token, or several separated by commas during a
//! rotation: Twilio signs with the primary, the first), `TWILIO_AUTH_TOKEN_PARAMETER` (an SSM SecureString
//! holding the same), or signing keys by account: `TWILIO_SIGNING_KEYS` (the document),
//! `TWILIO_SIGNING_KEYS_PARAMETER` (an SSM SecureString holding it) or `TWILIO_SIGNING_KEYS_PATH` (one
//! SecureString per account under a path). [`signing_key`] is the one place that turns a [`KeySource`]
//! into an account, a secret and, for a shared key, the `X-Twilio-Webhooks-Signature-Settings` it
//! announces; which key of an account signs is [`Signer`]'s rule.

use aws_config::SdkConfig;

use crate::twilio::shared_key;
use crate::twilio::signature::{self, Algorithm};
use crate::twilio::signing_keys::Signer;

/// The header that announces a shared-key signature (Twilio's "Sign webhooks with shared keys").
pub const SIGNATURE_SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";

/// Where the receiver's signing key comes from. Never printed.
#[derive(Clone)]
pub enum KeySource {
    /// `TWILIO_AUTH_TOKEN`: the token, or several separated by commas (the first signs).
    Token(String),
    /// `TWILIO_AUTH_TOKEN_PARAMETER` (or the stack's `AuthTokenParameterName`): an SSM SecureString.
    Parameter(String),
    /// `TWILIO_SIGNING_KEYS`: the signing-keys document.
    Document(String),
    /// `TWILIO_SIGNING_KEYS_PARAMETER`: an SSM SecureString holding the document.
    DocumentParameter(String),
    /// `TWILIO_SIGNING_KEYS_PATH`: one SSM SecureString per account, `{path}/{AccountSid}`.
    DocumentPath(String),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Token(_) => write!(f, "Token(redacted)"),
            KeySource::Document(_) => write!(f, "Document(redacted)"),
            KeySource::Parameter(name) => write!(f, "Parameter({name:?})"),
            KeySource::DocumentParameter(name) => write!(f, "DocumentParameter({name:?})"),
            KeySource::DocumentPath(path) => write!(f, "DocumentPath({path:?})"),
        }
    }
}

impl KeySource {
    /// Where the key was read, for messages (never the key).
    pub fn describe(&self) -> String {
        match self {
            KeySource::Token(_) => "the auth token in TWILIO_AUTH_TOKEN".to_owned(),
            KeySource::Parameter(name) => format!("the auth token in the SSM parameter {name}"),
            KeySource::Document(_) => "the signing keys in TWILIO_SIGNING_KEYS".to_owned(),
            KeySource::DocumentParameter(name) => {
                format!("the signing keys in the SSM parameter {name}")
            }
            KeySource::DocumentPath(path) => format!("the signing keys under the SSM path {path}"),
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

    /// A shared key of `account_sid` named `key` with `secret`, signing with `algorithm`.
    pub fn shared(
        account_sid: &str,
        key: &str,
        secret: &str,
        algorithm: Algorithm,
        source: &str,
    ) -> Self {
        SigningKey {
            shared_key: Some(SharedKey {
                key: key.to_owned(),
                algorithm,
            }),
            ..SigningKey::auth_token(account_sid, secret, source)
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
                shared_key::header_value(&shared.key, shared.algorithm),
            ));
        }
        headers
    }

    /// The signature of `url` and `params`: the auth token's HMAC-SHA1, or the shared key's algorithm
    /// over the same string (the full URL, then the parameters sorted by name).
    pub fn sign(&self, url: &str, params: &[(String, String)]) -> String {
        match &self.shared_key {
            None => signature::compute(&self.secret, url, params),
            Some(shared) => signature::compute_with(shared.algorithm, &self.secret, url, params),
        }
    }
}

/// The key the receiver verifies `account_sid`'s callbacks with, read from `source` (SSM through `sdk`).
pub async fn signing_key(
    source: &KeySource,
    account_sid: &str,
    sdk: &SdkConfig,
) -> Result<SigningKey, String> {
    let described = source.describe();
    let read = |name: String| async move {
        crate::aws::ssm::secure_string(sdk, &name)
            .await
            .map_err(|err| err.to_string())
    };
    let signer = match source {
        KeySource::Token(value) => first_token(value, &described)?,
        KeySource::Parameter(name) => first_token(&read(name.clone()).await?, &described)?,
        KeySource::Document(json) => of_document(json, account_sid, &described)?,
        KeySource::DocumentParameter(name) => {
            of_document(&read(name.clone()).await?, account_sid, &described)?
        }
        KeySource::DocumentPath(path) => {
            let name = format!("{}/{account_sid}", path.trim_end_matches('/'));
            let entry = read(name.clone()).await?;
            Signer::from_entry(account_sid, &entry).map_err(|err| format!("{name}: {err}"))?
        }
    };
    Ok(match signer {
        Signer::AuthToken(token) => SigningKey::auth_token(account_sid, &token, &described),
        Signer::SharedKey { key, secret } => SigningKey::shared(
            account_sid,
            &key,
            &secret,
            Algorithm::HmacSha256,
            &described,
        ),
    })
}

fn first_token(value: &str, described: &str) -> Result<Signer, String> {
    value
        .split(',')
        .map(str::trim)
        .find(|token| !token.is_empty())
        .map(|token| Signer::AuthToken(token.to_owned()))
        .ok_or_else(|| format!("{described} is empty"))
}

fn of_document(json: &str, account_sid: &str, described: &str) -> Result<Signer, String> {
    Signer::from_document(json, account_sid)
        .map_err(|err| format!("{described}: {err}"))?
        .ok_or_else(|| {
            format!(
                "{described} has no entry for {account_sid}: the receiver refuses its callbacks (403); \
                 add the account, or set TWILIO_ACCOUNT_SID to an account it lists"
            )
        })
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

    #[tokio::test]
    async fn a_document_signs_with_the_accounts_primary_token_or_else_its_shared_key() {
        use crate::twilio::signing_keys::{Scheme, SigningKeys};
        let sdk = aws_config::SdkConfig::builder().build();
        let a = format!("AC{}", "a".repeat(32));
        let b = format!("AC{}", "b".repeat(32));
        let json = format!(
            r#"{{"{a}": {{"auth_tokens": ["primary", "secondary"]}},
                "{b}": {{"shared_keys": {{"KS2": "two", "KS1": "one"}}}}}}"#
        );
        let receiver = SigningKeys::parse(&json).unwrap_or_else(|err| panic!("{err}"));
        let url = "https://example.com/x";
        let source = KeySource::Document(json.clone());

        let key_a = signing_key(&source, &a, &sdk)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(
            key_a.sign(url, &params()),
            signature::compute("primary", url, &params())
        );
        assert_eq!(key_a.headers(url, &params()).len(), 1);
        assert!(receiver
            .verify(
                &a,
                &Scheme::AuthToken,
                url,
                &params(),
                &key_a.sign(url, &params())
            )
            .is_ok());

        // Shared keys only: the first by name, HMAC_SHA256, announced; the receiver accepts it for b,
        // never for a.
        let key_b = signing_key(&source, &b, &sdk)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let headers = key_b.headers(url, &params());
        assert_eq!(headers[1].1, "key=KS1,algorithm=HMAC_SHA256");
        let scheme =
            Scheme::from_header(Some(&headers[1].1)).unwrap_or_else(|err| panic!("{err:?}"));
        assert!(receiver
            .verify(&b, &scheme, url, &params(), &headers[0].1)
            .is_ok());
        assert!(receiver
            .verify(&a, &scheme, url, &params(), &headers[0].1)
            .is_err());

        // An account the document lacks is refused by the receiver: the check says so before sending.
        let missing = signing_key(&source, &format!("AC{}", "c".repeat(32)), &sdk).await;
        let message = missing.err().unwrap_or_default();
        assert!(message.contains("has no entry"), "{message}");
        for secret in ["primary", "secondary", "two"] {
            assert!(!message.contains(secret), "{message}");
        }
    }
}
