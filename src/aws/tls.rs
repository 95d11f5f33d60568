//! The root certificates every outbound TLS connection trusts (DynamoDB, SQS, SSM, S3, Twilio): Mozilla's
//! root program as compiled into the binary by `webpki-root-certs`.
//!
//! Why not the operating system's store: loading it means reading and parsing every file of the
//! certificate directory at cold start (2 to 4 ms measured on these machines, before the first
//! connection), and the set then depends on the image the function runs on. The compiled-in set costs
//! about 0.1 ms to load, is the same everywhere, and is updated with the crate (`cargo update`).

use std::sync::Arc;

use aws_smithy_http_client::tls::TrustStore;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rustls::pki_types::CertificateDer;

/// The trusted roots, as DER.
pub fn roots() -> &'static [CertificateDer<'static>] {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
}

/// The roots as the AWS SDK's HTTP client takes them (PEM), and nothing from the operating system.
pub fn sdk_trust_store() -> TrustStore {
    roots().iter().fold(
        TrustStore::empty().with_native_roots(false),
        |store, cert| store.with_pem_certificate(pem(cert)),
    )
}

/// A rustls client configuration (ring, TLS 1.2 and 1.3) trusting the roots, for our own HTTPS client.
pub fn client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let mut store = rustls::RootCertStore::empty();
    store.add_parsable_certificates(roots().iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store)
        .with_no_client_auth())
}

/// One certificate in PEM: base64 in lines of 64 characters between the usual markers.
fn pem(der: &[u8]) -> Vec<u8> {
    let body = BASE64.encode(der);
    let mut text = String::with_capacity(body.len() + body.len() / 64 + 64);
    text.push_str("-----BEGIN CERTIFICATE-----\n");
    // Base64 is ASCII: every 64-byte offset is a character boundary.
    for start in (0..body.len()).step_by(64) {
        text.push_str(&body[start..body.len().min(start + 64)]);
        text.push('\n');
    }
    text.push_str("-----END CERTIFICATE-----\n");
    text.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn the_set_is_mozillas_and_holds_the_roots_aws_endpoints_chain_to() {
        assert!(roots().len() > 100, "{}", roots().len());
        // Every AWS endpoint's certificate chains to Amazon Trust Services (Amazon Root CA 1 to 4, and
        // Starfield Services Root G2 for older clients). Their subjects, as DER, must be in the set.
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(
                roots()
                    .iter()
                    .any(|cert| cert.windows(name.len()).any(|w| w == name.as_bytes())),
                "{name} is not among the trusted roots"
            );
        }
    }

    #[test]
    fn every_root_survives_the_pem_round_trip_and_parses() {
        // The SDK's client decodes these PEMs and adds each certificate to its store with `expect`:
        // every one must decode to the same bytes and be accepted by rustls, or the first connection
        // would panic.
        let mut store = rustls::RootCertStore::empty();
        for cert in roots() {
            let text = pem(cert);
            let decoded: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&text)
                .collect::<Result<_, _>>()
                .unwrap_or_else(|err| panic!("{err:?}"));
            assert_eq!(decoded, vec![cert.clone()]);
            assert!(text.split(|b| *b == b'\n').all(|line| line.len() <= 64));
            store
                .add(cert.clone())
                .unwrap_or_else(|err| panic!("{err}"));
        }
        assert_eq!(store.len(), roots().len());
    }

    // The SDK's side is exercised by every test against moto: its client builds its connector from
    // `sdk_trust_store` (and would panic on a root it cannot parse) before the first call.
    #[test]
    fn our_own_client_config_builds_on_ring_with_every_root() {
        let config = client_config().unwrap_or_else(|err| panic!("{err}"));
        assert!(config.crypto_provider().cipher_suites.len() > 2);
    }
}
