//! The receiver's signing keys ([`KeyRing`]): where they come from, when they are read again, and which
//! account verified a request. The rules of verification itself are Twilio's side,
//! [`crate::twilio::signing_keys`]; this file only decides which keys to hand them.
//!
//! Five sources, exactly one of them configured ([`crate::receiver::settings`]):
//!
//! - `TWILIO_AUTH_TOKEN` / `TWILIO_AUTH_TOKEN_PARAMETER`: one account's tokens, as before; any of them
//!   verifies a callback whatever its `AccountSid` (a single-account deployment).
//! - `TWILIO_SIGNING_KEYS`: a document of keys by account, fixed for the process.
//! - `TWILIO_SIGNING_KEYS_PARAMETER`: the same document in a SecureString, read at cold start and read
//!   again, at most once per refresh period, when a callback names an account the document lacks or none
//!   of its account's keys verifies it (a token or key added for a rotation). A failed re-read keeps the
//!   document it has.
//! - `TWILIO_SIGNING_KEYS_PATH`: one SecureString per account, `{path}/{AccountSid}`, read on the first
//!   callback of the account and kept. Reads that may come to nothing (an account not loaded yet that
//!   turns out not to exist, a loaded account read again after a failed verification) are capped at
//!   [`SPECULATIVE_READS`] per refresh period, so a flood of made-up SIDs or forged signatures costs at
//!   most that many reads a period. A loaded account is read again at most once a period.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::aws::error::BackendError;
use crate::receiver::ports::SecretParameters;
use crate::twilio::signature::{self, AuthTokens};
use crate::twilio::signing_keys::{is_account_sid, AccountKeys, Refusal, Scheme, SigningKeys};

/// The default of `TWILIO_SIGNING_KEYS_REFRESH_SECONDS`.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(60);

/// Under `TWILIO_SIGNING_KEYS_PATH`, the reads per refresh period that may come to nothing.
pub const SPECULATIVE_READS: u32 = 10;

/// Which keys verified a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// One of the single-account tokens (`TWILIO_AUTH_TOKEN`): the request's `AccountSid` is not checked.
    Token,
    /// The keys of the `AccountSid` the request carries.
    Account,
    /// A request without `AccountSid`, verified by the keys of this account: kept as `malformed`, with
    /// this account as its `verified_account`, never filed under a room nor enqueued.
    Unattributed(String),
}

/// Why a request was not verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Refused (403): see [`Refusal`].
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// An account's keys could not be read now (503: Twilio may retry).
    #[error("the account's signing keys could not be read: {0}")]
    Unavailable(BackendError),
}

/// Where the keys come from.
enum Source {
    Tokens(AuthTokens),
    Fixed,
    Parameter {
        name: String,
        store: Arc<dyn SecretParameters>,
    },
    Path {
        path: String,
        store: Arc<dyn SecretParameters>,
    },
}

/// What changes while the function runs.
#[derive(Default)]
struct State {
    keys: SigningKeys,
    /// The document parameter's last read (the cold start's, then each re-read).
    last_read: Option<Instant>,
    /// Path mode: when the current period began, and the speculative reads made in it.
    period_start: Option<Instant>,
    speculative: u32,
    /// Path mode: when each loaded account was last read.
    read_at: HashMap<String, Instant>,
}

/// The signing keys and their source. Never printed.
pub struct KeyRing {
    source: Source,
    refresh: Duration,
    state: Mutex<State>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.source {
            Source::Tokens(_) => "tokens",
            Source::Fixed => "document",
            Source::Parameter { .. } => "parameter",
            Source::Path { .. } => "path",
        };
        write!(f, "KeyRing({mode}, redacted)")
    }
}

impl From<AuthTokens> for KeyRing {
    fn from(tokens: AuthTokens) -> Self {
        KeyRing::with_source(Source::Tokens(tokens), SigningKeys::default(), None)
    }
}

impl From<SigningKeys> for KeyRing {
    fn from(keys: SigningKeys) -> Self {
        KeyRing::with_source(Source::Fixed, keys, None)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl KeyRing {
    fn with_source(source: Source, keys: SigningKeys, read_at: Option<Instant>) -> Self {
        KeyRing {
            source,
            refresh: DEFAULT_REFRESH,
            state: Mutex::new(State {
                keys,
                last_read: read_at,
                ..State::default()
            }),
        }
    }

    /// Keys from the document `keys`, just read (at `read_at`) from the SecureString `name` of `store`,
    /// which is read again as the module describes.
    pub fn from_parameter(
        keys: SigningKeys,
        name: &str,
        store: Arc<dyn SecretParameters>,
        read_at: Instant,
    ) -> Self {
        let source = Source::Parameter {
            name: name.to_owned(),
            store,
        };
        KeyRing::with_source(source, keys, Some(read_at))
    }

    /// Keys read per account from `{path}/{AccountSid}` in `store`, none loaded yet.
    pub fn from_path(path: &str, store: Arc<dyn SecretParameters>) -> Self {
        let source = Source::Path {
            path: path.trim_end_matches('/').to_owned(),
            store,
        };
        KeyRing::with_source(source, SigningKeys::default(), None)
    }

    /// Reads again at most once per `refresh` (`TWILIO_SIGNING_KEYS_REFRESH_SECONDS`).
    pub fn with_refresh(mut self, refresh: Duration) -> Self {
        self.refresh = refresh;
        self
    }

    /// How many accounts have keys loaded now (0 in single-token mode).
    pub fn accounts(&self) -> usize {
        lock(&self.state).keys.len()
    }

    /// Verifies a request that carries `account` (its `AccountSid`, if any), the settings header
    /// `settings` (if any) and `signature`, for `url` and `params`.
    pub async fn verify(
        &self,
        account: Option<&str>,
        settings: Option<&str>,
        url: &str,
        params: &[(String, String)],
        signature: &str,
    ) -> Result<Verification, KeyError> {
        self.verify_at(account, settings, url, params, signature, Instant::now())
            .await
    }

    /// [`KeyRing::verify`] at the instant `now` (for tests of the refresh period).
    pub async fn verify_at(
        &self,
        account: Option<&str>,
        settings: Option<&str>,
        url: &str,
        params: &[(String, String)],
        signature: &str,
        now: Instant,
    ) -> Result<Verification, KeyError> {
        let scheme = Scheme::from_header(settings).map_err(Refusal::from)?;
        if let Source::Tokens(tokens) = &self.source {
            return match scheme {
                Scheme::AuthToken if signature::is_valid(tokens, url, params, signature) => {
                    Ok(Verification::Token)
                }
                Scheme::AuthToken => Err(Refusal::BadSignature.into()),
                // One account's auth tokens: no shared key is configured.
                Scheme::SharedKey(settings) => {
                    Err(Refusal::UnknownKey(settings.key.to_owned()).into())
                }
            };
        }
        let Some(account) = account.filter(|account| !account.is_empty()) else {
            let state = lock(&self.state);
            return match state
                .keys
                .verify_unattributed(&scheme, url, params, signature)
            {
                Ok(account) => Ok(Verification::Unattributed(account.to_owned())),
                Err(refusal) => Err(refusal.into()),
            };
        };
        let first = self.check(account, &scheme, url, params, signature);
        match first {
            Ok(()) => return Ok(Verification::Account),
            // Nothing to read again: the header itself is refused.
            Err(refusal @ Refusal::Settings(_)) => return Err(refusal.into()),
            Err(_) => {}
        }
        if !self.read_again(account, now).await? {
            return Err(first.err().unwrap_or(Refusal::BadSignature).into());
        }
        self.check(account, &scheme, url, params, signature)?;
        Ok(Verification::Account)
    }

    fn check(
        &self,
        account: &str,
        scheme: &Scheme<'_>,
        url: &str,
        params: &[(String, String)],
        signature: &str,
    ) -> Result<(), Refusal> {
        let keys: Option<Arc<AccountKeys>> = lock(&self.state).keys.get(account).cloned();
        keys.ok_or_else(|| Refusal::UnknownAccount(account.to_owned()))?
            .verify(scheme, url, params, signature)
    }

    /// Reads `account`'s keys again when its source and the refresh period allow; whether anything was
    /// read (and verification is worth another try).
    async fn read_again(&self, account: &str, now: Instant) -> Result<bool, KeyError> {
        match &self.source {
            Source::Tokens(_) | Source::Fixed => Ok(false),
            Source::Parameter { name, store } => {
                {
                    let mut state = lock(&self.state);
                    if state
                        .last_read
                        .is_some_and(|last| now.saturating_duration_since(last) < self.refresh)
                    {
                        return Ok(false);
                    }
                    state.last_read = Some(now);
                }
                Ok(self.reload_document(name, store.as_ref(), account).await)
            }
            Source::Path { path, store } => {
                if !is_account_sid(account) {
                    return Ok(false);
                }
                let loaded =
                    {
                        let mut state = lock(&self.state);
                        if state.period_start.is_none_or(|start| {
                            now.saturating_duration_since(start) >= self.refresh
                        }) {
                            state.period_start = Some(now);
                            state.speculative = 0;
                        }
                        let loaded = state.keys.get(account).is_some();
                        let recently = state.read_at.get(account).is_some_and(|last| {
                            now.saturating_duration_since(*last) < self.refresh
                        });
                        if (loaded && recently) || state.speculative >= SPECULATIVE_READS {
                            return Ok(false);
                        }
                        state.speculative += 1;
                        if loaded {
                            state.read_at.insert(account.to_owned(), now);
                        }
                        loaded
                    };
                self.load_account(path, store.as_ref(), account, loaded, now)
                    .await
            }
        }
    }

    /// Reads the document again; a failed read or an unusable document keeps the one loaded.
    async fn reload_document(
        &self,
        name: &str,
        store: &dyn SecretParameters,
        account: &str,
    ) -> bool {
        let problem = match store.read(name).await {
            Ok(Some(text)) => match SigningKeys::parse(&text) {
                Ok(keys) => {
                    let accounts = keys.len();
                    lock(&self.state).keys = keys;
                    tracing::info!(
                        parameter = name,
                        accounts,
                        account,
                        "signing keys read again"
                    );
                    return true;
                }
                Err(err) => err.to_string(),
            },
            Ok(None) => "the parameter does not exist".to_owned(),
            Err(err) => err.to_string(),
        };
        tracing::warn!(parameter = name, account, error = %problem, "signing keys not read again: keeping those loaded");
        false
    }

    /// Reads one account's parameter; `loaded` when the account had keys already (a re-read). The read
    /// was counted as speculative beforehand; a first read that finds the account is given back.
    async fn load_account(
        &self,
        path: &str,
        store: &dyn SecretParameters,
        account: &str,
        loaded: bool,
        now: Instant,
    ) -> Result<bool, KeyError> {
        let name = format!("{path}/{account}");
        let read = store.read(&name).await;
        let mut state = lock(&self.state);
        let problem = match read {
            Ok(Some(text)) => match AccountKeys::parse(account, &text) {
                Ok(keys) => {
                    state.keys.insert(account.to_owned(), Arc::new(keys));
                    state.read_at.insert(account.to_owned(), now);
                    if !loaded {
                        state.speculative = state.speculative.saturating_sub(1);
                    }
                    tracing::info!(parameter = %name, loaded, "account's signing keys read");
                    return Ok(true);
                }
                Err(err) => err.to_string(),
            },
            Ok(None) if loaded => {
                // Its parameter was deleted: its keys no longer verify anything.
                state.keys.remove(account);
                state.read_at.remove(account);
                tracing::warn!(parameter = %name, "account's signing keys removed: its parameter is gone");
                return Ok(false);
            }
            Ok(None) => return Ok(false),
            Err(err) if !loaded => return Err(KeyError::Unavailable(err)),
            Err(err) => err.to_string(),
        };
        tracing::warn!(parameter = %name, error = %problem, "account's signing keys not read: keeping what is loaded");
        Ok(false)
    }
}

#[cfg(test)]
mod tests;
