//! `X-Twilio-Signature`: proof that a request came from Twilio.
//!
//! Twilio signs the full URL it called followed by every POST parameter name and value, names sorted,
//! with HMAC-SHA1 keyed by the account's auth token, base64-encoded. Like Twilio's own helper
//! libraries, a request is accepted when the signature matches the URL as reconstructed, the URL with the
//! scheme's default port added, or the URL with its port removed.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

pub(crate) type HmacSha1 = Hmac<Sha1>;
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The hash of a signature's HMAC: SHA-1 for the auth token (always); SHA-1 or SHA-256 for a shared key,
/// as its `X-Twilio-Webhooks-Signature-Settings` header names (see [`crate::twilio::shared_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA1: the auth token's, and a shared key's `HMAC_SHA1`.
    HmacSha1,
    /// HMAC-SHA256: a shared key's `HMAC_SHA256`.
    HmacSha256,
}

/// One or more auth tokens (primary and secondary during a rotation), each held as an HMAC-SHA1 state
/// already keyed with it: keying costs two SHA-1 blocks, paid once at start-up instead of per callback.
/// Never printed.
#[derive(Clone)]
pub struct AuthTokens(Vec<HmacSha1>);

/// Why a set of auth tokens cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no auth token: the value is empty (give one token, or several separated by commas)")]
pub struct EmptyTokens;

impl AuthTokens {
    /// Reads one token, or several separated by commas; blanks around commas are ignored.
    pub fn parse(value: &str) -> Result<Self, EmptyTokens> {
        let tokens: Vec<HmacSha1> = value
            .split(',')
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .map(keyed::<HmacSha1>)
            .collect();
        if tokens.is_empty() {
            Err(EmptyTokens)
        } else {
            Ok(AuthTokens(tokens))
        }
    }

    /// How many tokens are accepted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: a set is built from at least one token.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for AuthTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthTokens({} redacted)", self.0.len())
    }
}

/// Computes the signature Twilio would send for `url` and `params` under `token`.
pub fn compute(token: &str, url: &str, params: &[(String, String)]) -> String {
    BASE64.encode(
        mac(&keyed::<HmacSha1>(token), url, &in_order(params))
            .finalize()
            .into_bytes(),
    )
}

/// Computes the signature Twilio would send for `url` and `params` under the shared key `secret` with
/// `algorithm` (base64, like the auth token's).
pub fn compute_with(
    algorithm: Algorithm,
    secret: &str,
    url: &str,
    params: &[(String, String)],
) -> String {
    let params = in_order(params);
    let bytes = match algorithm {
        Algorithm::HmacSha1 => mac(&keyed::<HmacSha1>(secret), url, &params)
            .finalize()
            .into_bytes()
            .to_vec(),
        Algorithm::HmacSha256 => mac(&keyed::<HmacSha256>(secret), url, &params)
            .finalize()
            .into_bytes()
            .to_vec(),
    };
    BASE64.encode(bytes)
}

/// An HMAC state keyed with `secret` (configuration, never the request).
pub(crate) fn keyed<M: Mac + hmac::digest::KeyInit>(secret: &str) -> M {
    #[allow(clippy::expect_used)]
    <M as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes()).expect(
        "HMAC accepts keys of any length; the key comes from configuration, not the request",
    )
}

/// The MAC of `url` and `ordered` (pairs already sorted, see [`in_order`]) under a keyed `token`.
fn mac<M: Mac + Clone>(token: &M, url: &str, ordered: &[(String, String)]) -> M {
    let mut mac = token.clone();
    mac.update(url.as_bytes());
    for (name, value) in ordered {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The pairs sorted by name, then value: borrowed as they are when already so (the usual case, as
/// [`crate::twilio::callback::Params`] keeps them by name), sorted into a new list otherwise.
pub(crate) fn in_order(params: &[(String, String)]) -> std::borrow::Cow<'_, [(String, String)]> {
    if params.is_sorted() {
        std::borrow::Cow::Borrowed(params)
    } else {
        let mut sorted = params.to_vec();
        sorted.sort();
        std::borrow::Cow::Owned(sorted)
    }
}

/// Whether `signature` (the header's value) is Twilio's signature of `url` and `params` under any of
/// `tokens`, for the URL as given or with its default port added or removed. Comparison is constant-time.
/// The URL as given is tried first; the other port form is only built when that fails.
pub fn is_valid(
    tokens: &AuthTokens,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    verifies(&tokens.0, url, params, signature)
}

/// Whether `signature` (base64) is the MAC of `url` (either port form) and `params` under any of the keyed
/// `keys`, with the MAC's own constant-time comparison. The rule [`is_valid`] applies, for any HMAC.
pub(crate) fn verifies<M: Mac + Clone>(
    keys: &[M],
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    let Ok(expected) = BASE64.decode(signature.trim()) else {
        return false;
    };
    let params = in_order(params);
    let matches = |candidate: &str| {
        keys.iter()
            .any(|key| mac(key, candidate, &params).verify_slice(&expected).is_ok())
    };
    matches(url) || url_variants(url).iter().skip(1).any(|other| matches(other))
}

/// The URL as given, followed by its other port form: with the scheme's default port when it has none,
/// or without its port when it has one.
pub fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    let Ok(uri) = url.parse::<lambda_http::http::Uri>() else {
        return variants;
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return variants;
    };
    let rest = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("");
    let rest = if url.ends_with(authority.as_str()) {
        ""
    } else {
        rest
    };
    let (userinfo, _) = authority
        .as_str()
        .rsplit_once('@')
        .map(|(info, host)| (format!("{info}@"), host))
        .unwrap_or_default();
    let host = authority.host();
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let other = match (authority.port_u16(), scheme) {
        (Some(_), _) => Some(format!("{scheme}://{userinfo}{host}{rest}")),
        (None, "https") => Some(format!("{scheme}://{userinfo}{host}:443{rest}")),
        (None, "http") => Some(format!("{scheme}://{userinfo}{host}:80{rest}")),
        (None, _) => None,
    };
    variants.extend(other.filter(|other| other != url));
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct VectorFile {
        auth_token: String,
        vectors: Vec<Vector>,
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        name: String,
        url: String,
        params: Vec<(String, String)>,
        signature: String,
    }

    fn published_vectors() -> VectorFile {
        // Twilio's published test vectors (public), kept in the repository.
        let text = include_str!("../../tests/data/twilio-signature-vectors.json");
        serde_json::from_str(text).unwrap_or_else(|err| panic!("vectors do not parse: {err}"))
    }

    fn tokens(value: &str) -> AuthTokens {
        AuthTokens::parse(value).unwrap_or_else(|err| panic!("{err}"))
    }

    #[test]
    fn reproduces_every_published_vector() {
        let file = published_vectors();
        assert_eq!(
            file.vectors.len(),
            5,
            "the vector file changed; review these tests"
        );
        for vector in &file.vectors {
            assert_eq!(
                compute(&file.auth_token, &vector.url, &vector.params),
                vector.signature,
                "vector {:?}",
                vector.name
            );
            assert!(
                is_valid(
                    &tokens(&file.auth_token),
                    &vector.url,
                    &vector.params,
                    &vector.signature
                ),
                "vector {:?} does not validate",
                vector.name
            );
        }
    }

    #[test]
    fn port_rule_accepts_the_default_port_added_or_removed() {
        let file = published_vectors();
        let find = |name: &str| {
            file.vectors
                .iter()
                .find(|v| v.name == name)
                .unwrap_or_else(|| panic!("vector {name} is missing"))
        };
        let plain = find("form POST, https, no port");
        let with_443 = find("same, URL signed with explicit :443");
        let token = tokens(&file.auth_token);
        // Signed without a port, reconstructed with :443.
        assert!(is_valid(
            &token,
            &with_443.url,
            &plain.params,
            &plain.signature
        ));
        // Signed with :443, reconstructed without it.
        assert!(is_valid(
            &token,
            &plain.url,
            &with_443.params,
            &with_443.signature
        ));
        // Signed over http with :80, reconstructed without the port.
        let http_80 = find("same, http with explicit :80");
        assert!(is_valid(
            &token,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &http_80.params,
            &http_80.signature
        ));
        // A non-standard port is not the default: it must not validate against :443 or no port.
        let odd = find("same, http with a non-standard port");
        assert!(!is_valid(&token, &plain.url, &odd.params, &odd.signature));
        assert!(!is_valid(
            &token,
            &with_443.url,
            &odd.params,
            &odd.signature
        ));
    }

    #[test]
    fn url_variants_add_or_remove_the_default_port() {
        assert_eq!(
            url_variants("https://h.example/p?q=1"),
            vec!["https://h.example/p?q=1", "https://h.example:443/p?q=1"]
        );
        assert_eq!(
            url_variants("https://h.example:443/p"),
            vec!["https://h.example:443/p", "https://h.example/p"]
        );
        assert_eq!(
            url_variants("http://h.example/"),
            vec!["http://h.example/", "http://h.example:80/"]
        );
        assert_eq!(
            url_variants("http://h.example:8080/x"),
            vec!["http://h.example:8080/x", "http://h.example/x"]
        );
        assert_eq!(
            url_variants("https://user:pw@h.example/x"),
            vec![
                "https://user:pw@h.example/x",
                "https://user:pw@h.example:443/x"
            ]
        );
        assert_eq!(url_variants("not a url"), vec!["not a url"]);
    }

    #[test]
    fn any_token_of_a_rotation_is_accepted_and_others_are_not() {
        let params = vec![("A".to_owned(), "1".to_owned())];
        let url = "https://h.example/hook";
        let by_secondary = compute("secondary", url, &params);
        assert!(is_valid(
            &tokens("primary, secondary"),
            url,
            &params,
            &by_secondary
        ));
        assert!(!is_valid(&tokens("primary"), url, &params, &by_secondary));
    }

    #[test]
    fn tampering_with_anything_signed_is_refused() {
        let params = vec![
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "2".to_owned()),
        ];
        let url = "https://h.example/hook?x=1";
        let token = tokens("secret");
        let signature = compute("secret", url, &params);
        assert!(is_valid(&token, url, &params, &signature));
        let changed_value = vec![
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "3".to_owned()),
        ];
        assert!(!is_valid(&token, url, &changed_value, &signature));
        let added = [params.clone(), vec![("C".to_owned(), String::new())]].concat();
        assert!(!is_valid(&token, url, &added, &signature));
        assert!(!is_valid(
            &token,
            "https://h.example/hook?x=2",
            &params,
            &signature
        ));
        assert!(!is_valid(&token, url, &params, "not base64!"));
        assert!(!is_valid(&token, url, &params, ""));
    }

    #[test]
    fn parameter_order_does_not_matter_because_names_are_sorted() {
        let forward = vec![
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "2".to_owned()),
        ];
        let backward = vec![
            ("B".to_owned(), "2".to_owned()),
            ("A".to_owned(), "1".to_owned()),
        ];
        assert_eq!(
            compute("t", "https://h/", &forward),
            compute("t", "https://h/", &backward)
        );
    }

    #[test]
    fn tokens_parse_and_never_print() {
        assert_eq!(tokens(" a , b ,").len(), 2);
        assert!(matches!(AuthTokens::parse(" , "), Err(EmptyTokens)));
        assert_eq!(format!("{:?}", tokens("s3cr3t")), "AuthTokens(1 redacted)");
    }
}
