//! Twilio's encrypted stored media (Enterprise "Encrypting your stored media"), without I/O.
//!
//! With encryption on, the file URL that `/Media` redirects to serves the ciphertext
//! (`AES/CBC/PKCS5Padding` under a one-time AES-256 key), and the only copy of that key travels in the
//! response's headers, wrapped with the customer's RSA public key: the envelope of AWS's S3 client-side
//! encryption, as `x-amz-meta-*` headers (v1: `x-amz-key`, `x-amz-iv`, `x-amz-matdesc`,
//! `x-amz-unencrypted-content-length`; v2: `x-amz-key-v2`, `x-amz-wrap-alg`, `x-amz-cek-alg`). An archive
//! that keeps those entries as the object's own user metadata, under the same names, stays decryptable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The prefix of S3 user metadata headers (and of Twilio's envelope headers).
pub const META_PREFIX: &str = "x-amz-meta-";
/// The wrapped key of a v1 envelope (base64).
pub const KEY_V1: &str = "x-amz-key";
/// The wrapped key of a v2 envelope (base64).
pub const KEY_V2: &str = "x-amz-key-v2";
/// The IV (base64, 16 bytes).
pub const IV: &str = "x-amz-iv";
/// How the key is wrapped (v2): `RSA-OAEP-SHA1`, or PKCS#1 v1.5 when absent or `RSA`.
pub const WRAP_ALG: &str = "x-amz-wrap-alg";
/// Every envelope entry, v1 and v2 (user metadata names, without [`META_PREFIX`]).
pub const ENTRIES: [&str; 7] = [
    KEY_V1,
    IV,
    "x-amz-matdesc",
    "x-amz-unencrypted-content-length",
    KEY_V2,
    WRAP_ALG,
    "x-amz-cek-alg",
];

/// The envelope's format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    /// `x-amz-key`.
    V1,
    /// `x-amz-key-v2` (with `x-amz-wrap-alg` and `x-amz-cek-alg`).
    V2,
}

impl Version {
    /// `v1` or `v2`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }
}

/// How the content key is wrapped with the RSA key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrap {
    /// PKCS#1 v1.5 (Java's default `RSA` cipher, as Twilio's own decrypter uses).
    Pkcs1v15,
    /// RSA-OAEP with SHA-1 (`x-amz-wrap-alg: RSA-OAEP-SHA1`).
    OaepSha1,
}

/// Why an envelope cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// A wrapped key without an IV, or an IV without a key: the file could never be decrypted.
    #[error("half an encryption envelope: {present} without {missing}")]
    Half {
        /// The entry served.
        present: &'static str,
        /// The entry missing.
        missing: &'static str,
    },
    /// An entry that is not what the format says (bad base64, an IV of the wrong length, an unknown
    /// wrapping algorithm).
    #[error("encryption envelope entry {name}: {reason}")]
    Invalid {
        /// The entry.
        name: &'static str,
        /// Why.
        reason: String,
    },
}

/// A complete envelope: the wrapped key and the IV, with every other entry served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    entries: BTreeMap<String, String>,
    version: Version,
}

impl Envelope {
    /// The envelope among user metadata entries (names without [`META_PREFIX`], any case): `None` when
    /// there is neither key nor IV, an error for half of one.
    pub fn from_metadata<'a>(
        metadata: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Option<Envelope>, EnvelopeError> {
        let mut entries = BTreeMap::new();
        for (name, value) in metadata {
            let name = name.to_ascii_lowercase();
            if ENTRIES.contains(&name.as_str()) {
                entries.insert(name, value.to_owned());
            }
        }
        let key = [KEY_V2, KEY_V1]
            .into_iter()
            .find(|k| entries.contains_key(*k));
        let version = match (key, entries.contains_key(IV)) {
            (None, false) => return Ok(None),
            (Some(key), false) => {
                return Err(EnvelopeError::Half {
                    present: key,
                    missing: IV,
                })
            }
            (None, true) => {
                return Err(EnvelopeError::Half {
                    present: IV,
                    missing: KEY_V1,
                })
            }
            (Some(KEY_V2), true) => Version::V2,
            (Some(_), true) => Version::V1,
        };
        let envelope = Envelope { entries, version };
        envelope.iv()?;
        envelope.wrapped_key()?;
        envelope.wrap()?;
        Ok(Some(envelope))
    }

    /// Its format version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Every entry, as user metadata (names without [`META_PREFIX`]).
    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.entries
    }

    /// The wrapped content key.
    pub fn wrapped_key(&self) -> Result<Vec<u8>, EnvelopeError> {
        let name = match self.version {
            Version::V1 => KEY_V1,
            Version::V2 => KEY_V2,
        };
        decode(name, self.entries.get(name).map(String::as_str))
    }

    /// The 16-byte IV.
    pub fn iv(&self) -> Result<[u8; 16], EnvelopeError> {
        let bytes = decode(IV, self.entries.get(IV).map(String::as_str))?;
        <[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| EnvelopeError::Invalid {
            name: IV,
            reason: format!("{} bytes, not 16", bytes.len()),
        })
    }

    /// How the key is wrapped.
    pub fn wrap(&self) -> Result<Wrap, EnvelopeError> {
        match self.entries.get(WRAP_ALG).map(String::as_str) {
            None | Some("RSA") | Some("RSA/ECB/PKCS1Padding") => Ok(Wrap::Pkcs1v15),
            Some("RSA-OAEP-SHA1") => Ok(Wrap::OaepSha1),
            Some(other) => Err(EnvelopeError::Invalid {
                name: WRAP_ALG,
                reason: format!("{other:?} is not RSA or RSA-OAEP-SHA1"),
            }),
        }
    }
}

fn decode(name: &'static str, value: Option<&str>) -> Result<Vec<u8>, EnvelopeError> {
    use base64::Engine as _;
    let value = value.unwrap_or_default().trim();
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|err| EnvelopeError::Invalid {
            name,
            reason: format!("not base64: {err}"),
        })
        .and_then(|bytes| {
            if bytes.is_empty() {
                Err(EnvelopeError::Invalid {
                    name,
                    reason: "empty".into(),
                })
            } else {
                Ok(bytes)
            }
        })
}

/// The ciphertext's length for `size` bytes of plaintext under AES-CBC with PKCS#5/7 padding.
pub fn padded_length(size: u64) -> u64 {
    (size / 16 + 1) * 16
}

/// Whether `count` bytes of ciphertext fit a media whose announced `size` is either the plaintext's
/// (then the ciphertext is its [`padded_length`]) or the ciphertext's own.
pub fn ciphertext_fits(count: u64, size: u64) -> bool {
    count == size || count == padded_length(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "a2V5LWJ5dGVz";
    const IV16: &str = "AAECAwQFBgcICQoLDA0ODw==";

    #[test]
    fn a_v1_and_a_v2_envelope_are_read_with_every_entry() {
        let v1 = Envelope::from_metadata([
            ("x-amz-key", KEY),
            ("X-Amz-Iv", IV16),
            ("x-amz-matdesc", "{}"),
            ("account-sid", "AC1"),
        ]);
        let Ok(Some(v1)) = v1 else { panic!("{v1:?}") };
        assert_eq!(v1.version(), Version::V1);
        assert_eq!(v1.entries().len(), 3, "only envelope entries");
        assert_eq!(v1.wrap(), Ok(Wrap::Pkcs1v15));
        assert_eq!(v1.wrapped_key().ok().as_deref(), Some(&b"key-bytes"[..]));
        assert_eq!(v1.iv().ok().map(|iv| iv[15]), Some(15));
        let v2 = Envelope::from_metadata([
            ("x-amz-key-v2", KEY),
            ("x-amz-iv", IV16),
            ("x-amz-wrap-alg", "RSA-OAEP-SHA1"),
            ("x-amz-cek-alg", "AES/CBC/PKCS5Padding"),
        ]);
        let Ok(Some(v2)) = v2 else { panic!("{v2:?}") };
        assert_eq!(v2.version(), Version::V2);
        assert_eq!(v2.wrap(), Ok(Wrap::OaepSha1));
    }

    #[test]
    fn no_envelope_is_none_and_half_of_one_is_an_error() {
        assert_eq!(Envelope::from_metadata([("account-sid", "AC1")]), Ok(None));
        assert!(matches!(
            Envelope::from_metadata([("x-amz-key", KEY)]),
            Err(EnvelopeError::Half { missing: IV, .. })
        ));
        assert!(matches!(
            Envelope::from_metadata([("x-amz-iv", IV16)]),
            Err(EnvelopeError::Half { present: IV, .. })
        ));
        assert!(matches!(
            Envelope::from_metadata([("x-amz-key", KEY), ("x-amz-iv", "AAEC")]),
            Err(EnvelopeError::Invalid { name: IV, .. })
        ));
        assert!(matches!(
            Envelope::from_metadata([("x-amz-key", "%%"), ("x-amz-iv", IV16)]),
            Err(EnvelopeError::Invalid { name: KEY_V1, .. })
        ));
        assert!(matches!(
            Envelope::from_metadata([
                ("x-amz-key-v2", KEY),
                ("x-amz-iv", IV16),
                ("x-amz-wrap-alg", "kms")
            ]),
            Err(EnvelopeError::Invalid { name: WRAP_ALG, .. })
        ));
    }

    #[test]
    fn ciphertext_is_the_size_or_its_padded_length() {
        assert_eq!(padded_length(0), 16);
        assert_eq!(padded_length(15), 16);
        assert_eq!(padded_length(16), 32);
        assert!(ciphertext_fits(32, 16));
        assert!(ciphertext_fits(32, 32));
        assert!(ciphertext_fits(48, 32));
        assert!(!ciphertext_fits(33, 16));
        assert!(!ciphertext_fits(16, 32));
    }
}
