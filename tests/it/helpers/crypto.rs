//! Twilio's media encryption, played with RustCrypto's crates directly (never the project's own code):
//! an RSA key pair made once per test binary, a file encrypted the way Twilio encrypts it (a one-time
//! AES-256 key, AES/CBC/PKCS5Padding, the key wrapped with the RSA public key), its envelope headers, and
//! decryption with the private key alone.

use std::sync::OnceLock;

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::{Oaep, Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};

/// Which envelope Twilio serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// `x-amz-key`, `x-amz-iv`, `x-amz-matdesc`, `x-amz-unencrypted-content-length`; PKCS#1 v1.5.
    V1,
    /// `x-amz-key-v2`, `x-amz-iv`, `x-amz-wrap-alg: RSA-OAEP-SHA1`, `x-amz-cek-alg`, `x-amz-matdesc`.
    V2,
}

/// The test's key pair: 1024 bits (a debug-build 2048-bit keygen is slow), made once.
pub fn private_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap_or_else(|err| panic!("{err}"))
    })
}

/// Another key pair (a wrong key).
pub fn other_private_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap_or_else(|err| panic!("{err}"))
    })
}

/// A private key as a PKCS#8 PEM file's text.
pub fn pkcs8_pem(key: &RsaPrivateKey) -> String {
    key.to_pkcs8_pem(LineEnding::LF)
        .unwrap_or_else(|err| panic!("{err}"))
        .to_string()
}

/// `plaintext` encrypted as Twilio does, with the envelope headers it serves (`x-amz-meta-...`).
pub fn encrypt(plaintext: &[u8], envelope: Envelope) -> (Vec<u8>, Vec<(String, String)>) {
    let mut rng = rand::thread_rng();
    let cek: [u8; 32] = rand::random();
    let iv: [u8; 16] = rand::random();
    let ciphertext = cbc::Encryptor::<aes::Aes256>::new(&cek.into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
    let public = RsaPublicKey::from(private_key());
    let wrapped = match envelope {
        Envelope::V1 => public.encrypt(&mut rng, Pkcs1v15Encrypt, &cek),
        Envelope::V2 => public.encrypt(&mut rng, Oaep::new::<sha1::Sha1>(), &cek),
    }
    .unwrap_or_else(|err| panic!("{err}"));
    let meta = |name: &str, value: String| (format!("x-amz-meta-{name}"), value);
    let mut headers = vec![
        meta("x-amz-iv", BASE64.encode(iv)),
        meta("x-amz-matdesc", "{}".into()),
    ];
    match envelope {
        Envelope::V1 => {
            headers.push(meta("x-amz-key", BASE64.encode(&wrapped)));
            headers.push(meta(
                "x-amz-unencrypted-content-length",
                plaintext.len().to_string(),
            ));
        }
        Envelope::V2 => {
            headers.push(meta("x-amz-key-v2", BASE64.encode(&wrapped)));
            headers.push(meta("x-amz-wrap-alg", "RSA-OAEP-SHA1".into()));
            headers.push(meta("x-amz-cek-alg", "AES/CBC/PKCS5Padding".into()));
        }
    }
    (ciphertext, headers)
}

/// Decrypts an archived object from its bytes and user metadata, with the private key alone.
pub fn decrypt(ciphertext: &[u8], metadata: &std::collections::HashMap<String, String>) -> Vec<u8> {
    let get = |name: &str| {
        metadata.get(name).map(|v| {
            BASE64
                .decode(v)
                .unwrap_or_else(|err| panic!("{name}: {err}"))
        })
    };
    let iv = get("x-amz-iv").unwrap_or_else(|| panic!("no x-amz-iv in {metadata:?}"));
    let cek = match (get("x-amz-key-v2"), get("x-amz-key")) {
        (Some(wrapped), _) => {
            assert_eq!(
                metadata.get("x-amz-wrap-alg").map(String::as_str),
                Some("RSA-OAEP-SHA1")
            );
            private_key().decrypt(Oaep::new::<sha1::Sha1>(), &wrapped)
        }
        (None, Some(wrapped)) => private_key().decrypt(Pkcs1v15Encrypt, &wrapped),
        (None, None) => panic!("no wrapped key in {metadata:?}"),
    }
    .unwrap_or_else(|err| panic!("{err}"));
    cbc::Decryptor::<aes::Aes256>::new_from_slices(&cek, &iv)
        .unwrap_or_else(|err| panic!("{err}"))
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .unwrap_or_else(|err| panic!("{err}"))
}
