use super::*;
use crate::twilio::shared_key::header_value;
use crate::twilio::signature::{compute, compute_with};

const A: &str = "AC00000000000000000000000000000001";
const B: &str = "AC00000000000000000000000000000002";
const URL: &str = "https://h.example/twilio/video";

fn document() -> String {
    serde_json::json!({
        A: {"auth_tokens": ["a-primary", "a-secondary"], "shared_keys": {"KSa": "a-shared-secret"}},
        B: {"auth_tokens": ["b-primary", "b-secondary"], "shared_keys": {"KSb": "b-shared-secret"}},
    })
    .to_string()
}

fn keys() -> SigningKeys {
    SigningKeys::parse(&document()).unwrap_or_else(|err| panic!("{err}"))
}

fn params(account: &str) -> Vec<(String, String)> {
    vec![
        ("AccountSid".to_owned(), account.to_owned()),
        ("StatusCallbackEvent".to_owned(), "room-created".to_owned()),
    ]
}

/// Every way an account's callbacks may be signed: (what, settings header, signature).
fn signings(account: &str, params: &[(String, String)]) -> Vec<(String, Option<String>, String)> {
    let p = if account == A { "a" } else { "b" };
    let key = if account == A { "KSa" } else { "KSb" };
    let secret = format!("{p}-shared-secret");
    let mut all = Vec::new();
    for token in ["primary", "secondary"] {
        all.push((
            format!("{account} {token}"),
            None,
            compute(&format!("{p}-{token}"), URL, params),
        ));
    }
    for algorithm in [Algorithm::HmacSha1, Algorithm::HmacSha256] {
        all.push((
            format!("{account} shared {algorithm:?}"),
            Some(header_value(key, algorithm)),
            compute_with(algorithm, &secret, URL, params),
        ));
    }
    all
}

fn verify(
    keys: &SigningKeys,
    account: &str,
    header: Option<&str>,
    params: &[(String, String)],
    signature: &str,
) -> Result<(), Refusal> {
    let scheme = Scheme::from_header(header)?;
    keys.verify(account, &scheme, URL, params, signature)
}

#[test]
fn each_account_verifies_with_its_primary_secondary_and_shared_keys() {
    let keys = keys();
    for account in [A, B] {
        let params = params(account);
        for (what, header, signature) in signings(account, &params) {
            assert_eq!(
                verify(&keys, account, header.as_deref(), &params, &signature),
                Ok(()),
                "{what}"
            );
        }
    }
}

#[test]
fn no_key_of_one_account_verifies_a_callback_naming_another() {
    let keys = keys();
    for (signer, named) in [(A, B), (B, A)] {
        // The callback names `named`, but is signed with every key of `signer`.
        let params = params(named);
        for (what, header, signature) in signings(signer, &params) {
            let refused = verify(&keys, named, header.as_deref(), &params, &signature);
            let expected = if header.is_some() {
                // The other account's shared key is not one of this account's keys.
                Refusal::UnknownKey(if signer == A { "KSa" } else { "KSb" }.to_owned())
            } else {
                Refusal::BadSignature
            };
            assert_eq!(refused, Err(expected), "{what} naming {named}");
        }
    }
}

#[test]
fn a_shared_key_with_the_wrong_algorithm_or_used_as_a_token_is_refused() {
    let keys = keys();
    let params = params(A);
    let sha1 = compute_with(Algorithm::HmacSha1, "a-shared-secret", URL, &params);
    let header = header_value("KSa", Algorithm::HmacSha256);
    assert_eq!(
        verify(&keys, A, Some(&header), &params, &sha1),
        Err(Refusal::BadSignature)
    );
    // A shared key's signature without the header is checked against the auth tokens.
    assert_eq!(
        verify(&keys, A, None, &params, &sha1),
        Err(Refusal::BadSignature)
    );
    // An auth token's signature with a settings header is checked against the shared key.
    let by_token = compute("a-primary", URL, &params);
    assert_eq!(
        verify(
            &keys,
            A,
            Some("key=KSa,algorithm=HMAC_SHA1"),
            &params,
            &by_token
        ),
        Err(Refusal::BadSignature)
    );
}

#[test]
fn unknown_account_key_and_algorithm_are_refused_each_for_its_reason() {
    let keys = keys();
    let other = "AC00000000000000000000000000000009";
    let params = params(other);
    let signature = compute("a-primary", URL, &params);
    assert_eq!(
        verify(&keys, other, None, &params, &signature),
        Err(Refusal::UnknownAccount(other.to_owned()))
    );
    let params = params_for_a();
    let signature = compute_with(Algorithm::HmacSha256, "a-shared-secret", URL, &params);
    assert_eq!(
        verify(
            &keys,
            A,
            Some("key=KSnone,algorithm=HMAC_SHA256"),
            &params,
            &signature
        ),
        Err(Refusal::UnknownKey("KSnone".to_owned()))
    );
    assert_eq!(
        verify(
            &keys,
            A,
            Some("key=KSa,algorithm=HMAC_MD5"),
            &params,
            &signature
        ),
        Err(Refusal::Settings(SettingsError::UnknownAlgorithm(
            "HMAC_MD5".to_owned()
        )))
    );
}

fn params_for_a() -> Vec<(String, String)> {
    params(A)
}

#[test]
fn the_settings_header_may_be_reordered_and_carry_extra_fields() {
    let keys = keys();
    let params = params(A);
    let signature = compute_with(Algorithm::HmacSha256, "a-shared-secret", URL, &params);
    for header in [
        "algorithm=HMAC_SHA256,key=KSa",
        "key=KSa,algorithm=HMAC_SHA256,setting=WS1",
        "version=1, algorithm=HMAC_SHA256, key=KSa",
    ] {
        assert_eq!(
            verify(&keys, A, Some(header), &params, &signature),
            Ok(()),
            "{header}"
        );
    }
}

#[test]
fn a_callback_without_an_account_is_verified_against_every_account() {
    let keys = keys();
    let params = vec![("StatusCallbackEvent".to_owned(), "room-created".to_owned())];
    for account in [A, B] {
        for (what, header, signature) in signings(account, &params) {
            let scheme = Scheme::from_header(header.as_deref()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                keys.verify_unattributed(&scheme, URL, &params, &signature),
                Ok(account),
                "{what}"
            );
        }
    }
    let forged = compute("nobody's token", URL, &params);
    assert_eq!(
        keys.verify_unattributed(&Scheme::AuthToken, URL, &params, &forged),
        Err(Refusal::BadSignature)
    );
    let scheme = Scheme::from_header(Some("key=KSnone,algorithm=HMAC_SHA1"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        keys.verify_unattributed(&scheme, URL, &params, &forged),
        Err(Refusal::UnknownKey("KSnone".to_owned()))
    );
}

#[test]
fn documents_are_checked_and_errors_never_quote_a_secret() {
    assert_eq!(keys().len(), 2);
    let cases: &[(&str, &str)] = &[
        (
            r#"{"AC00000000000000000000000000000001": {"auth_tokens": "s3cr3t"}}"#,
            "unexpected value",
        ),
        (
            r#"{"AC00000000000000000000000000000001": {"auth_tokens": ["s3cr3t"], "typo": 1}}"#,
            "unexpected value",
        ),
        (
            r#"{"AC00000000000000000000000000000001": {"auth_tokens": ["s3cr3t"}"#,
            "invalid JSON",
        ),
        (
            r#"{"AC00000000000000000000000000000001": {"auth_tokens": [], "shared_keys": {}}}"#,
            "no auth token and no shared key",
        ),
        (
            r#"{"AC00000000000000000000000000000001": {"auth_tokens": [" "]}}"#,
            "an empty auth token",
        ),
        (
            r#"{"AC00000000000000000000000000000001": {"shared_keys": {"KS": ""}}}"#,
            "empty name or secret",
        ),
        (
            r#"{"ac00": {"auth_tokens": ["s3cr3t"]}}"#,
            "not an account SID",
        ),
        (r#"{}"#, "no account"),
        (r#"["s3cr3t"]"#, "unexpected value"),
    ];
    for (json, expected) in cases {
        let err = SigningKeys::parse(json)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(expected), "{json}: {err}");
        assert!(!err.contains("s3cr3t"), "{json}: {err}");
    }
    let one = AccountKeys::parse(A, r#"{"auth_tokens": ["t"], "shared_keys": {"KS1": "s"}}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one.counts(), (1, 1));
    assert_eq!(
        format!("{one:?}"),
        "AccountKeys(1 auth tokens, 1 shared keys, redacted)"
    );
    assert!(!format!("{:?}", keys()).contains("primary"));
}

#[test]
fn account_sids_are_ac_and_32_hex_digits() {
    assert!(is_account_sid(A));
    assert!(is_account_sid("ACabcdefABCDEF00000000000000000000"));
    for not in [
        "",
        "AC",
        "RM00000000000000000000000000000001",
        "AC0000000000000000000000000000000z",
        "AC000000000000000000000000000000011",
    ] {
        assert!(!is_account_sid(not), "{not}");
    }
}
