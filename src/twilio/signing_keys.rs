//! Signing keys by account: which auth tokens and shared keys may sign the callbacks of which account, and
//! the rule that a callback verifies only with the keys of the `AccountSid` it carries.
//!
//! The document (`TWILIO_SIGNING_KEYS`, or the SecureString named by `TWILIO_SIGNING_KEYS_PARAMETER`):
//!
//! ```json
//! {"AC…": {"auth_tokens": ["primary", "secondary"], "shared_keys": {"<key>": "<secret>"}}}
//! ```
//!
//! One entry ([`AccountKeys`]) is also what each parameter under `TWILIO_SIGNING_KEYS_PATH` holds. Every
//! secret is keyed into its HMAC state once, when the document is parsed; nothing here prints one, and
//! parse errors name accounts and positions, never values.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::twilio::shared_key::{SettingsError, SignatureSettings};
use crate::twilio::signature::{self, Algorithm, HmacSha1, HmacSha256};

/// What may sign one account's callbacks, keyed once. Never printed.
#[derive(Clone)]
pub struct AccountKeys {
    auth_tokens: Vec<HmacSha1>,
    shared_keys: HashMap<String, SharedKey>,
}

/// One shared key, keyed for both algorithms the header may name.
#[derive(Clone)]
struct SharedKey {
    sha1: HmacSha1,
    sha256: HmacSha256,
}

/// The signing keys of every account in a document.
#[derive(Clone, Default)]
pub struct SigningKeys {
    accounts: HashMap<String, Arc<AccountKeys>>,
}

/// An entry as written in the document.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(default)]
    auth_tokens: Vec<String>,
    #[serde(default)]
    shared_keys: HashMap<String, String>,
}

/// Why a document or an entry cannot be used. Names accounts and positions, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    /// Not JSON of the documented shape (serde's own message is not kept: it may quote a value).
    #[error("not a signing-keys document: {kind} at line {line}, column {column} (expected {{\"AC…\": {{\"auth_tokens\": [...], \"shared_keys\": {{\"<key>\": \"<secret>\"}}}}}})")]
    Shape {
        /// serde_json's category of the error (syntax, data, end of input).
        kind: &'static str,
        /// Where.
        line: usize,
        /// Where.
        column: usize,
    },
    /// A name that is not an account SID (`AC` and 32 hexadecimal digits).
    #[error("{0:?} is not an account SID (AC followed by 32 hexadecimal digits)")]
    NotAnAccount(String),
    /// An account with neither an auth token nor a shared key, or with an empty one.
    #[error("account {account}: {problem}")]
    Entry {
        /// The account.
        account: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// A document without any account.
    #[error("the document lists no account")]
    Empty,
}

/// Why a callback does not verify: each is a 403 with its own metrics outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The `AccountSid` it carries has no keys here.
    #[error("account {0} has no signing keys here")]
    UnknownAccount(String),
    /// The settings header names a shared key the account does not have.
    #[error("the account has no shared key {0:?}")]
    UnknownKey(String),
    /// The settings header names an algorithm this receiver does not know, or is malformed.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A signature that none of the account's keys produces for this URL and body.
    #[error("X-Twilio-Signature does not match this request")]
    BadSignature,
}

/// How a request says it was signed: with an auth token (no settings header), or with a shared key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme<'a> {
    /// HMAC-SHA1 under one of the account's auth tokens.
    AuthToken,
    /// The shared key and algorithm of `X-Twilio-Webhooks-Signature-Settings`.
    SharedKey(SignatureSettings<'a>),
}

impl<'a> Scheme<'a> {
    /// The scheme of a request whose settings header is `header` (absent: the auth token).
    pub fn from_header(header: Option<&'a str>) -> Result<Self, SettingsError> {
        match header {
            None => Ok(Scheme::AuthToken),
            Some(value) => SignatureSettings::parse(value).map(Scheme::SharedKey),
        }
    }
}

/// Whether `sid` looks like an account SID: `AC` and 32 hexadecimal digits.
pub fn is_account_sid(sid: &str) -> bool {
    sid.len() == 34 && sid.starts_with("AC") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn shape(err: &serde_json::Error) -> KeysError {
    KeysError::Shape {
        kind: match err.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected value",
            serde_json::error::Category::Eof => "incomplete JSON",
        },
        line: err.line(),
        column: err.column(),
    }
}

impl AccountKeys {
    /// One account's entry, as JSON: `{"auth_tokens": [...], "shared_keys": {...}}`.
    pub fn parse(account: &str, json: &str) -> Result<Self, KeysError> {
        let entry: Entry = serde_json::from_str(json).map_err(|err| shape(&err))?;
        Self::from_entry(account, entry)
    }

    fn from_entry(account: &str, entry: Entry) -> Result<Self, KeysError> {
        let problem = |problem| KeysError::Entry {
            account: account.to_owned(),
            problem,
        };
        if entry.auth_tokens.is_empty() && entry.shared_keys.is_empty() {
            return Err(problem("no auth token and no shared key"));
        }
        if entry.auth_tokens.iter().any(|t| t.trim().is_empty()) {
            return Err(problem("an empty auth token"));
        }
        if entry
            .shared_keys
            .iter()
            .any(|(name, secret)| name.trim().is_empty() || secret.is_empty())
        {
            return Err(problem("a shared key with an empty name or secret"));
        }
        Ok(AccountKeys {
            auth_tokens: entry
                .auth_tokens
                .iter()
                .map(|token| signature::keyed(token.trim()))
                .collect(),
            shared_keys: entry
                .shared_keys
                .iter()
                .map(|(name, secret)| {
                    let key = SharedKey {
                        sha1: signature::keyed(secret),
                        sha256: signature::keyed(secret),
                    };
                    (name.trim().to_owned(), key)
                })
                .collect(),
        })
    }

    /// Verifies `signature` of `url` and `params` by `scheme` with this account's keys.
    pub fn verify(
        &self,
        scheme: &Scheme<'_>,
        url: &str,
        params: &[(String, String)],
        signature: &str,
    ) -> Result<(), Refusal> {
        let verified = match scheme {
            Scheme::AuthToken => signature::verifies(&self.auth_tokens, url, params, signature),
            Scheme::SharedKey(settings) => {
                let key = self
                    .shared_keys
                    .get(settings.key)
                    .ok_or_else(|| Refusal::UnknownKey(settings.key.to_owned()))?;
                match settings.algorithm {
                    Algorithm::HmacSha1 => {
                        signature::verifies(std::slice::from_ref(&key.sha1), url, params, signature)
                    }
                    Algorithm::HmacSha256 => signature::verifies(
                        std::slice::from_ref(&key.sha256),
                        url,
                        params,
                        signature,
                    ),
                }
            }
        };
        if verified {
            Ok(())
        } else {
            Err(Refusal::BadSignature)
        }
    }

    /// How many auth tokens and shared keys the account has.
    pub fn counts(&self) -> (usize, usize) {
        (self.auth_tokens.len(), self.shared_keys.len())
    }
}

impl std::fmt::Debug for AccountKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (tokens, shared) = self.counts();
        write!(
            f,
            "AccountKeys({tokens} auth tokens, {shared} shared keys, redacted)"
        )
    }
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKeys({} accounts, redacted)", self.accounts.len())
    }
}

/// What Twilio signs one account's callbacks with, for a tool that plays Twilio (the operator's `check`):
/// the primary auth token (the first listed), or, for an account with shared keys only, the first shared
/// key by name (signed with `HMAC_SHA256`). The receiver never keeps a secret in this form. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub enum Signer {
    /// An auth token: HMAC-SHA1, no settings header.
    AuthToken(String),
    /// A shared key: its name (announced in the settings header) and its secret.
    SharedKey {
        /// The key's name (`key=`).
        key: String,
        /// Its secret.
        secret: String,
    },
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::AuthToken(_) => write!(f, "AuthToken(redacted)"),
            Signer::SharedKey { key, .. } => write!(f, "SharedKey({key:?}, redacted)"),
        }
    }
}

impl Signer {
    /// The signer of `account` in a whole document (`TWILIO_SIGNING_KEYS`); `None` when the document
    /// does not name the account.
    pub fn from_document(json: &str, account: &str) -> Result<Option<Signer>, KeysError> {
        let mut entries: HashMap<String, Entry> =
            serde_json::from_str(json).map_err(|err| shape(&err))?;
        entries
            .remove(account)
            .map(|entry| Signer::of(account, entry))
            .transpose()
    }

    /// The signer of `account` from its own entry (a parameter under `TWILIO_SIGNING_KEYS_PATH`).
    pub fn from_entry(account: &str, json: &str) -> Result<Signer, KeysError> {
        let entry: Entry = serde_json::from_str(json).map_err(|err| shape(&err))?;
        Signer::of(account, entry)
    }

    fn of(account: &str, entry: Entry) -> Result<Signer, KeysError> {
        // The receiver's own checks: what it would refuse to load signs nothing.
        AccountKeys::from_entry(account, entry.clone())?;
        if let Some(token) = entry.auth_tokens.first() {
            return Ok(Signer::AuthToken(token.trim().to_owned()));
        }
        let (key, secret) =
            entry
                .shared_keys
                .into_iter()
                .min()
                .ok_or_else(|| KeysError::Entry {
                    account: account.to_owned(),
                    problem: "no auth token and no shared key",
                })?;
        Ok(Signer::SharedKey {
            key: key.trim().to_owned(),
            secret,
        })
    }
}

impl SigningKeys {
    /// Parses a whole document; at least one account, each with at least one key.
    pub fn parse(json: &str) -> Result<Self, KeysError> {
        let entries: HashMap<String, Entry> =
            serde_json::from_str(json).map_err(|err| shape(&err))?;
        if entries.is_empty() {
            return Err(KeysError::Empty);
        }
        let mut accounts = HashMap::with_capacity(entries.len());
        for (account, entry) in entries {
            if !is_account_sid(&account) {
                return Err(KeysError::NotAnAccount(account));
            }
            let keys = AccountKeys::from_entry(&account, entry)?;
            accounts.insert(account, Arc::new(keys));
        }
        Ok(SigningKeys { accounts })
    }

    /// The keys of `account`, if the document has it.
    pub fn get(&self, account: &str) -> Option<&Arc<AccountKeys>> {
        self.accounts.get(account)
    }

    /// How many accounts the document lists.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether it lists none (never, for a parsed document).
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// Adds or replaces one account's keys (the per-account parameters of `TWILIO_SIGNING_KEYS_PATH`).
    pub fn insert(&mut self, account: String, keys: Arc<AccountKeys>) {
        self.accounts.insert(account, keys);
    }

    /// Removes one account's keys (its per-account parameter was deleted).
    pub fn remove(&mut self, account: &str) {
        self.accounts.remove(account);
    }

    /// The rule for a request that carries `account`: only that account's keys can verify it.
    pub fn verify(
        &self,
        account: &str,
        scheme: &Scheme<'_>,
        url: &str,
        params: &[(String, String)],
        signature: &str,
    ) -> Result<(), Refusal> {
        self.get(account)
            .ok_or_else(|| Refusal::UnknownAccount(account.to_owned()))?
            .verify(scheme, url, params, signature)
    }

    /// The rule for a signed request that carries no `AccountSid`: tried with every account's keys; the
    /// account whose keys verify it, if any. Refused as [`Refusal::UnknownKey`] when it names a shared key
    /// no account has, [`Refusal::BadSignature`] otherwise. Costs one HMAC per key of every account.
    pub fn verify_unattributed(
        &self,
        scheme: &Scheme<'_>,
        url: &str,
        params: &[(String, String)],
        signature: &str,
    ) -> Result<&str, Refusal> {
        let mut refusal = match scheme {
            Scheme::SharedKey(settings) => Refusal::UnknownKey(settings.key.to_owned()),
            Scheme::AuthToken => Refusal::BadSignature,
        };
        for (account, keys) in &self.accounts {
            match keys.verify(scheme, url, params, signature) {
                Ok(()) => return Ok(account),
                Err(Refusal::UnknownKey(_)) => {}
                Err(other) => refusal = other,
            }
        }
        Err(refusal)
    }
}

#[cfg(test)]
mod tests;
