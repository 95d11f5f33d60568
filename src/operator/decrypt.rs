//! Decrypting an archived encrypted media with the customer's private key, as Twilio's own decrypter does:
//! unwrap the one-time AES-256 key from the envelope with the PKCS#8 RSA private key (PKCS#1 v1.5, or
//! RSA-OAEP with SHA-1 when `x-amz-wrap-alg` says `RSA-OAEP-SHA1`), then AES-256-CBC with PKCS#5/7
//! padding, streamed: memory holds one read buffer whatever the file's size.
//!
//! RustCrypto's `rsa`, `aes` and `cbc` crates, linked only into the operator CLI (feature `operator`):
//! the private key never goes to a Lambda.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Oaep, Pkcs1v15Encrypt, RsaPrivateKey};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::twilio::envelope::{Envelope, Wrap};

/// Why a file could not be decrypted.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    /// The private key file is not a PKCS#8 RSA private key (PEM or DER).
    #[error("the private key is not a PKCS#8 RSA private key: {0}")]
    Key(String),
    /// The envelope's key does not unwrap with this private key.
    #[error("the content key does not unwrap with this private key (the wrong key?): {0}")]
    Unwrap(String),
    /// The envelope is unusable.
    #[error(transparent)]
    Envelope(#[from] crate::twilio::envelope::EnvelopeError),
    /// The ciphertext is not whole blocks, or its padding is wrong (a wrong key, or a damaged file).
    #[error("bad padding or a truncated ciphertext: the file does not decrypt")]
    Padding,
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a decryption wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decrypted {
    /// Plaintext bytes.
    pub size: u64,
    /// The plaintext's SHA-256, lowercase hex.
    pub sha256: String,
}

/// Reads a PKCS#8 RSA private key, PEM or DER.
pub fn private_key(bytes: &[u8]) -> Result<RsaPrivateKey, DecryptError> {
    match std::str::from_utf8(bytes) {
        Ok(pem) if pem.contains("-----BEGIN") => RsaPrivateKey::from_pkcs8_pem(pem),
        _ => RsaPrivateKey::from_pkcs8_der(bytes),
    }
    .map_err(|err| DecryptError::Key(err.to_string()))
}

/// Unwraps the envelope's content key (32 bytes for AES-256).
pub fn content_key(envelope: &Envelope, key: &RsaPrivateKey) -> Result<[u8; 32], DecryptError> {
    let wrapped = envelope.wrapped_key()?;
    let cek = match envelope.wrap()? {
        Wrap::Pkcs1v15 => key.decrypt(Pkcs1v15Encrypt, &wrapped),
        Wrap::OaepSha1 => key.decrypt(Oaep::new::<sha1::Sha1>(), &wrapped),
    }
    .map_err(|err| DecryptError::Unwrap(err.to_string()))?;
    <[u8; 32]>::try_from(cek.as_slice())
        .map_err(|_| DecryptError::Unwrap(format!("a {}-byte key, not 32", cek.len())))
}

/// Streams `input` (the ciphertext) through AES-256-CBC into `output`, checking the final padding.
pub async fn decrypt(
    envelope: &Envelope,
    key: &RsaPrivateKey,
    mut input: impl AsyncRead + Unpin,
    output: &mut impl std::io::Write,
) -> Result<Decrypted, DecryptError> {
    const BLOCK: usize = 16;
    let cek = content_key(envelope, key)?;
    let iv = envelope.iv()?;
    let mut cipher = cbc::Decryptor::<aes::Aes256>::new(&cek.into(), &iv.into());
    let mut hash = Sha256::new();
    let mut size = 0u64;
    let mut pending: Vec<u8> = Vec::with_capacity(64 * 1024 + BLOCK);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&chunk[..n]);
        // Every whole block but the last: the last one carries the padding, checked at the end.
        let ready = (pending.len().saturating_sub(1) / BLOCK) * BLOCK;
        if ready == 0 {
            continue;
        }
        let (blocks, _) = aes::cipher::inout::InOutBuf::from(&mut pending[..ready]).into_chunks();
        cipher.decrypt_blocks_inout_mut(blocks);
        output.write_all(&pending[..ready])?;
        hash.update(&pending[..ready]);
        size += ready as u64;
        pending.drain(..ready);
    }
    if pending.len() != BLOCK {
        return Err(DecryptError::Padding);
    }
    let tail = cipher
        .decrypt_padded_mut::<Pkcs7>(&mut pending)
        .map_err(|_| DecryptError::Padding)?;
    output.write_all(tail)?;
    hash.update(tail);
    size += tail.len() as u64;
    output.flush()?;
    Ok(Decrypted {
        size,
        sha256: hex::encode(hash.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockEncryptMut;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    use rsa::RsaPublicKey;
    use std::sync::OnceLock;

    fn keys() -> &'static (RsaPrivateKey, RsaPrivateKey) {
        static KEYS: OnceLock<(RsaPrivateKey, RsaPrivateKey)> = OnceLock::new();
        KEYS.get_or_init(|| {
            let mut rng = rand::thread_rng();
            let make = |rng: &mut rand::rngs::ThreadRng| {
                RsaPrivateKey::new(rng, 1024).unwrap_or_else(|err| panic!("{err}"))
            };
            (make(&mut rng), make(&mut rng))
        })
    }

    fn encrypt(plain: &[u8], oaep: bool) -> (Vec<u8>, Envelope) {
        let mut rng = rand::thread_rng();
        let cek: [u8; 32] = rand::random();
        let iv: [u8; 16] = rand::random();
        let ciphertext = cbc::Encryptor::<aes::Aes256>::new(&cek.into(), &iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(plain);
        let public = RsaPublicKey::from(&keys().0);
        let wrapped = if oaep {
            public.encrypt(&mut rng, Oaep::new::<sha1::Sha1>(), &cek)
        } else {
            public.encrypt(&mut rng, Pkcs1v15Encrypt, &cek)
        }
        .unwrap_or_else(|err| panic!("{err}"));
        let (key, wrap) = if oaep {
            ("x-amz-key-v2", "RSA-OAEP-SHA1")
        } else {
            ("x-amz-key", "RSA")
        };
        let (wrapped, iv) = (BASE64.encode(wrapped), BASE64.encode(iv));
        let envelope = Envelope::from_metadata([
            (key, wrapped.as_str()),
            ("x-amz-iv", iv.as_str()),
            ("x-amz-wrap-alg", wrap),
        ]);
        let Ok(Some(envelope)) = envelope else {
            panic!("{envelope:?}")
        };
        (ciphertext, envelope)
    }

    #[tokio::test]
    async fn both_wrappings_round_trip_streamed_in_many_reads() {
        for (len, oaep) in [(0, false), (15, true), (16, false), (200_001, true)] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let (ciphertext, envelope) = encrypt(&plain, oaep);
            let mut out = Vec::new();
            let done = decrypt(&envelope, &keys().0, ciphertext.as_slice(), &mut out).await;
            assert!(done.is_ok(), "{len}: {done:?}");
            assert_eq!(out, plain, "{len}");
            let done = done.unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(done.size, len as u64);
            assert_eq!(done.sha256, hex::encode(Sha256::digest(&plain)));
        }
    }

    #[tokio::test]
    async fn a_wrong_key_or_a_damaged_file_does_not_decrypt() {
        let (ciphertext, envelope) = encrypt(b"a recording of a room, longer than a block", false);
        let mut out = Vec::new();
        let wrong = decrypt(&envelope, &keys().1, ciphertext.as_slice(), &mut out).await;
        assert!(
            matches!(wrong, Err(DecryptError::Unwrap(_) | DecryptError::Padding)),
            "{wrong:?}"
        );
        let truncated = decrypt(&envelope, &keys().0, &ciphertext[..8], &mut Vec::new()).await;
        assert!(
            matches!(truncated, Err(DecryptError::Padding)),
            "{truncated:?}"
        );
        let mut flipped = ciphertext.clone();
        let last = flipped.len() - 17;
        flipped[last] ^= 0xff;
        let bad = decrypt(&envelope, &keys().0, flipped.as_slice(), &mut Vec::new()).await;
        assert!(matches!(bad, Err(DecryptError::Padding)), "{bad:?}");
    }
}
