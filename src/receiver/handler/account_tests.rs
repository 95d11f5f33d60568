//! The handler with signing keys by account: which keys verify which callbacks, the shared-key header, the
//! missing-`AccountSid` rule and the spill consumer's re-verification.

use super::*;
use crate::receiver::item::UNATTRIBUTED;
use crate::receiver::ports::{MemoryEventStore, MemoryMediaQueue, MemorySpillQueue};
use crate::twilio::shared_key::header_value;
use crate::twilio::signature::{compute, compute_with, Algorithm};
use crate::twilio::signing_keys::SigningKeys;

const URL: &str = "https://hooks.example.com/twilio/video";
const A: &str = "AC0000000000000000000000000000000a";
const B: &str = "AC0000000000000000000000000000000b";

fn keys() -> SigningKeys {
    let document = serde_json::json!({
        A: {"auth_tokens": ["a-primary", "a-secondary"], "shared_keys": {"KSa": "a-shared"}},
        B: {"auth_tokens": ["b-primary"], "shared_keys": {"KSb": "b-shared"}},
    });
    SigningKeys::parse(&document.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

fn receiver() -> Receiver<MemoryEventStore, MemoryMediaQueue> {
    Receiver::new(
        keys(),
        MemoryEventStore::default(),
        MemoryMediaQueue::default(),
    )
}

fn recording(account: Option<&str>, n: usize) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = [
        ("StatusCallbackEvent", "recording-completed".to_owned()),
        ("Timestamp", "2026-11-27T09:15:02.300Z".to_owned()),
        ("RoomSid", "RM01".to_owned()),
        ("RecordingSid", format!("RT{n:02}")),
        ("SourceSid", "MT01".to_owned()),
        ("RecordingUri", "/v1/Recordings/RT01".to_owned()),
        ("MediaUri", "/v1/Recordings/RT01/Media".to_owned()),
        ("Container", "mkv".to_owned()),
        ("Codec", "VP8".to_owned()),
        ("Type", "video".to_owned()),
        ("ParticipantSid", "PA01".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(account) = account {
        params.push(("AccountSid".to_owned(), account.to_owned()));
    }
    params
}

/// How `signer` can sign: (what, settings header, secret or token, algorithm).
fn ways(signer: &str) -> Vec<(&'static str, Option<String>, String, Algorithm)> {
    let p = if signer == A { "a" } else { "b" };
    let key = if signer == A { "KSa" } else { "KSb" };
    vec![
        ("primary", None, format!("{p}-primary"), Algorithm::HmacSha1),
        (
            "shared SHA1",
            Some(header_value(key, Algorithm::HmacSha1)),
            format!("{p}-shared"),
            Algorithm::HmacSha1,
        ),
        (
            "shared SHA256",
            Some(header_value(key, Algorithm::HmacSha256)),
            format!("{p}-shared"),
            Algorithm::HmacSha256,
        ),
    ]
}

fn signed(params: &[(String, String)], settings: Option<&str>, signature: &str) -> Request {
    let body = serde_urlencoded::to_string(params).unwrap_or_else(|err| panic!("{err}"));
    let mut builder = lambda_http::http::Request::builder()
        .method("POST")
        .uri(URL)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .extension(CalledUrl(URL.to_owned()));
    if let Some(settings) = settings {
        builder = builder.header("X-Twilio-Webhooks-Signature-Settings", settings);
    }
    builder
        .body(Body::Text(body))
        .unwrap_or_else(|err| panic!("{err}"))
}

fn sign(
    params: &[(String, String)],
    secret: &str,
    settings: Option<&str>,
    algorithm: Algorithm,
) -> String {
    match settings {
        None => compute(secret, URL, params),
        Some(_) => compute_with(algorithm, secret, URL, params),
    }
}

fn error(response: &Response<Body>) -> String {
    let body: serde_json::Value =
        serde_json::from_slice(response.body().as_ref()).unwrap_or_default();
    body["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn each_account_is_verified_only_by_its_own_keys() {
    let receiver = receiver();
    let mut n = 0;
    for named in [A, B] {
        for signer in [A, B] {
            for (what, settings, secret, algorithm) in ways(signer) {
                n += 1;
                let params = recording(Some(named), n);
                let signature = sign(&params, &secret, settings.as_deref(), algorithm);
                let response = receiver
                    .handle(signed(&params, settings.as_deref(), &signature))
                    .await;
                let expected = if named == signer { 200 } else { 403 };
                assert_eq!(
                    response.status().as_u16(),
                    expected,
                    "{named} signed by {signer}'s {what}: {}",
                    error(&response)
                );
            }
        }
    }
    // A's secondary token too.
    let params = recording(Some(A), 99);
    let response = receiver
        .handle(signed(&params, None, &compute("a-secondary", URL, &params)))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let items = receiver.store().items();
    assert_eq!(items.len(), 3 + 3 + 1);
    assert!(items
        .iter()
        .all(|item| item.pk == "RM01" && item.verified_account.is_none()));
    assert_eq!(receiver.queue().sent().len(), 7);
}

#[tokio::test]
async fn unknown_account_key_algorithm_and_malformed_settings_are_refused_each_for_its_reason() {
    let receiver = receiver();
    let other = "AC000000000000000000000000000000ff";
    let params = recording(Some(other), 1);
    let response = receiver
        .handle(signed(&params, None, &compute("a-primary", URL, &params)))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(error(&response).contains(other), "{}", error(&response));

    let params = recording(Some(A), 2);
    let sha256 = compute_with(Algorithm::HmacSha256, "a-shared", URL, &params);
    for (settings, expected) in [
        ("key=KSb,algorithm=HMAC_SHA256", "no shared key \"KSb\""),
        ("key=KSa,algorithm=HMAC_SHA512", "unsupported algorithm"),
        ("algorithm=HMAC_SHA256", "malformed"),
        ("key=KSa,algorithm=HMAC_SHA1", "does not match"),
    ] {
        let response = receiver
            .handle(signed(&params, Some(settings), &sha256))
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{settings}");
        assert!(
            error(&response).contains(expected),
            "{settings}: {}",
            error(&response)
        );
    }
    for settings in [
        "algorithm=HMAC_SHA256,key=KSa",
        "key=KSa,algorithm=HMAC_SHA256,setting=WS01",
    ] {
        let response = receiver
            .handle(signed(&params, Some(settings), &sha256))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{settings}: {}",
            error(&response)
        );
    }
    assert_eq!(receiver.store().items().len(), 1);
}

#[tokio::test]
async fn a_callback_without_account_sid_is_kept_malformed_with_its_verifying_account() {
    let receiver = receiver();
    let params = recording(None, 1);
    let response = receiver
        .handle(signed(&params, None, &compute("b-primary", URL, &params)))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value =
        serde_json::from_slice(response.body().as_ref()).unwrap_or_default();
    assert_eq!(body["outcome"], "malformed");
    let items = receiver.store().items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].pk, UNATTRIBUTED, "never filed under a room");
    assert_eq!(items[0].verified_account.as_deref(), Some(B));
    assert!(items[0].room_day.is_none());
    assert!(receiver.queue().sent().is_empty(), "never enqueued");
    // Signed by no account: refused.
    let response = receiver
        .handle(signed(&params, None, &compute("nobody", URL, &params)))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_spill_consumer_verifies_again_with_the_same_rule() {
    struct Down;
    impl EventStore for Down {
        async fn insert(&self, _: StoredEvent) -> Result<Insert, BackendError> {
            Err(BackendError::Unavailable {
                service: crate::aws::error::Service::DynamoDb,
                detail: "down".into(),
            })
        }
        async fn mark_spilled(
            &self,
            _: &str,
            _: &str,
            _: &str,
        ) -> Result<crate::receiver::ports::Mark, BackendError> {
            Ok(crate::receiver::ports::Mark::Unchanged)
        }
    }
    let down = Receiver::new(keys(), Down, MemoryMediaQueue::default())
        .with_spill(Some(MemorySpillQueue::default()));
    let settings = header_value("KSa", Algorithm::HmacSha256);
    let params = recording(Some(A), 1);
    let signature = compute_with(Algorithm::HmacSha256, "a-shared", URL, &params);
    let response = down
        .handle(signed(&params, Some(&settings), &signature))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let unattributed = recording(None, 2);
    let by_b = compute("b-primary", URL, &unattributed);
    assert_eq!(
        down.handle(signed(&unattributed, None, &by_b))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let spilled = down
        .spill()
        .map(MemorySpillQueue::spilled)
        .unwrap_or_default();
    assert_eq!(
        spilled[0].signature_settings.as_deref(),
        Some(settings.as_str())
    );

    let consumer = receiver();
    // The same request with its AccountSid changed to B's: B's keys do not verify it.
    let mut retargeted = spilled[0].clone();
    retargeted.body = retargeted.body.replace(A, B);
    let mut without_settings = spilled[0].clone();
    without_settings.signature_settings = None;
    for forged in [retargeted, without_settings] {
        let refused = consumer
            .restore(&serde_json::to_string(&forged).unwrap_or_default())
            .await;
        assert!(
            matches!(
                refused,
                Err(crate::receiver::spill::SpillError::Forged { .. })
            ),
            "{refused:?}"
        );
    }
    for good in &spilled {
        let restored = consumer
            .restore(&serde_json::to_string(good).unwrap_or_default())
            .await;
        assert!(restored.is_ok(), "{restored:?}");
    }
    let items = consumer.store().items();
    assert_eq!(items.len(), 2);
    let kept = items
        .iter()
        .find(|item| item.pk == UNATTRIBUTED)
        .map(|item| item.verified_account.clone());
    assert_eq!(kept, Some(Some(B.to_owned())));
    // The attributed media message went out while the table was down; the unattributed one never does.
    assert_eq!(down.queue().sent().len(), 1);
    assert!(consumer.queue().sent().is_empty());
}
