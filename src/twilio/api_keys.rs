//! Twilio API keys, without I/O: one key (`SID:SECRET`), or a document of one key per account
//! (`{"AC…": "SK…:secret"}`) for an account and its subaccounts. An API key belongs to one account, and
//! Twilio's limits are per account: a subaccount's media is read with the subaccount's own key.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

/// A Twilio API key (`SK...` and its secret). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    sid: String,
    secret: String,
}

impl ApiKey {
    /// From its two halves.
    pub fn new(sid: impl Into<String>, secret: impl Into<String>) -> Self {
        ApiKey {
            sid: sid.into(),
            secret: secret.into(),
        }
    }

    /// From `SID:SECRET` (the SSM parameter's form).
    pub fn parse(value: &str) -> Option<Self> {
        let (sid, secret) = value.trim().split_once(':')?;
        (!sid.is_empty() && !secret.is_empty()).then(|| ApiKey::new(sid, secret))
    }

    /// The key's SID (not secret).
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The `Authorization` header's value.
    pub(crate) fn basic_auth(&self) -> String {
        format!(
            "Basic {}",
            BASE64.encode(format!("{}:{}", self.sid, self.secret))
        )
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({}, secret redacted)", self.sid)
    }
}

/// Why a key document cannot be used (never quoting a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    /// Not a JSON object of strings.
    #[error("not a JSON object of \"AC...\": \"SK...:secret\" entries ({0})")]
    NotAnObject(String),
    /// An entry whose name is not an account SID.
    #[error("{0:?} is not an account SID (AC...)")]
    NotAnAccount(String),
    /// An entry whose value is not `SID:SECRET`.
    #[error("the key of {0} is not SID:SECRET")]
    NotAKey(String),
    /// No entry at all.
    #[error("the document names no account")]
    Empty,
}

/// The keys the programs read Twilio with: one per account, or one for every account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeys {
    /// One key (`TWILIO_API_KEY_SID`/`_SECRET` or `TWILIO_API_KEY_PARAMETER`), used for every message.
    Single(ApiKey),
    /// One key per account SID (`TWILIO_API_KEYS` or `TWILIO_API_KEYS_PARAMETER`); an account without
    /// one is not read.
    ByAccount(BTreeMap<String, ApiKey>),
}

impl ApiKeys {
    /// Parses a key document: a JSON object from account SID to `SID:SECRET`.
    pub fn parse_document(json: &str) -> Result<Self, KeysError> {
        let entries: BTreeMap<String, String> = serde_json::from_str(json).map_err(|err| {
            // serde_json's message names a position, never a value.
            KeysError::NotAnObject(format!("line {} column {}", err.line(), err.column()))
        })?;
        if entries.is_empty() {
            return Err(KeysError::Empty);
        }
        let mut keys = BTreeMap::new();
        for (account, value) in entries {
            if !(account.starts_with("AC") && account.len() > 2 && !account.contains('/')) {
                return Err(KeysError::NotAnAccount(account));
            }
            let key = ApiKey::parse(&value).ok_or_else(|| KeysError::NotAKey(account.clone()))?;
            keys.insert(account, key);
        }
        Ok(ApiKeys::ByAccount(keys))
    }

    /// The key to read `account`'s media with, if there is one.
    pub fn for_account(&self, account: &str) -> Option<&ApiKey> {
        match self {
            ApiKeys::Single(key) => Some(key),
            ApiKeys::ByAccount(keys) => keys.get(account),
        }
    }

    /// The accounts of a document (none for a single key: its account is not known).
    pub fn accounts(&self) -> Vec<&str> {
        match self {
            ApiKeys::Single(_) => Vec::new(),
            ApiKeys::ByAccount(keys) => keys.keys().map(String::as_str).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_parse_from_sid_colon_secret_and_never_print_the_secret() {
        let key = ApiKey::parse(" SK123:s3cr3t:with-colon ").unwrap_or_else(|| panic!("parses"));
        assert_eq!(key.sid(), "SK123");
        assert_eq!(key.secret, "s3cr3t:with-colon");
        assert!(!format!("{key:?}").contains("s3cr3t"));
        assert_eq!(
            key.basic_auth(),
            format!("Basic {}", BASE64.encode("SK123:s3cr3t:with-colon"))
        );
        assert!(ApiKey::parse("no-colon").is_none());
        assert!(ApiKey::parse(":secret").is_none());
        assert!(ApiKey::parse("SK1:").is_none());
    }

    #[test]
    fn a_document_gives_each_account_its_key_and_no_other() {
        let keys = ApiKeys::parse_document(r#"{"AC1": "SK1:one", "AC2": "SK2:two"}"#);
        let Ok(keys) = keys else { panic!("{keys:?}") };
        assert_eq!(keys.for_account("AC1").map(ApiKey::sid), Some("SK1"));
        assert_eq!(keys.for_account("AC2").map(ApiKey::sid), Some("SK2"));
        assert_eq!(keys.for_account("AC3"), None);
        assert_eq!(keys.accounts(), ["AC1", "AC2"]);
        let single = ApiKeys::Single(ApiKey::new("SK9", "s"));
        assert_eq!(single.for_account("AC3").map(ApiKey::sid), Some("SK9"));
    }

    #[test]
    fn a_bad_document_is_refused_without_quoting_a_secret() {
        for (json, expected) in [
            ("[]", "JSON object"),
            ("{}", "no account"),
            (r#"{"SK1": "SK1:secret-a"}"#, "not an account"),
            (r#"{"AC1": "secret-b"}"#, "not SID:SECRET"),
            (r#"{"AC1": "SK1:secret-c""#, "JSON object"),
        ] {
            let err = ApiKeys::parse_document(json).err().map(|e| e.to_string());
            let err = err.unwrap_or_default();
            assert!(err.contains(expected), "{json}: {err}");
            assert!(!err.contains("secret-"), "{err}");
        }
    }
}
