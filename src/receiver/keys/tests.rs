use std::time::{Duration, Instant};

use super::*;
use crate::aws::error::Service;
use crate::receiver::ports::MemoryParameters;
use crate::twilio::signature::compute;

const URL: &str = "https://h.example/twilio/video";
const PARAMETER: &str = "/twilio/signing-keys";
const PATH: &str = "/twilio/accounts";

fn sid(n: usize) -> String {
    format!("AC{n:032x}")
}

fn entry(n: usize) -> serde_json::Value {
    serde_json::json!({"auth_tokens": [format!("token-{n}")]})
}

fn document(accounts: std::ops::Range<usize>) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        accounts.map(|n| (sid(n), entry(n))).collect();
    serde_json::Value::Object(map).to_string()
}

fn params(account: &str) -> Vec<(String, String)> {
    vec![
        ("AccountSid".to_owned(), account.to_owned()),
        ("StatusCallbackEvent".to_owned(), "room-created".to_owned()),
    ]
}

/// Verifies a callback of account `n` signed with account `signer`'s token, at `now`.
async fn verify(
    ring: &KeyRing,
    n: usize,
    signer: usize,
    now: Instant,
) -> Result<Verification, KeyError> {
    let account = sid(n);
    let params = params(&account);
    let signature = compute(&format!("token-{signer}"), URL, &params);
    ring.verify_at(Some(&account), None, URL, &params, &signature, now)
        .await
}

fn parameter_ring(store: &Arc<MemoryParameters>, start: Instant) -> KeyRing {
    let keys = SigningKeys::parse(&document(0..2)).unwrap_or_else(|e| panic!("{e}"));
    let store: Arc<dyn SecretParameters> = store.clone();
    KeyRing::from_parameter(keys, PARAMETER, store, start).with_refresh(Duration::from_secs(60))
}

#[tokio::test]
async fn single_token_mode_is_unchanged_and_has_no_shared_keys() {
    let ring = KeyRing::from(AuthTokens::parse("token-0").unwrap_or_else(|e| panic!("{e}")));
    let now = Instant::now();
    // Any AccountSid, as before.
    assert_eq!(verify(&ring, 7, 0, now).await, Ok(Verification::Token));
    assert_eq!(
        verify(&ring, 7, 1, now).await,
        Err(KeyError::Refused(Refusal::BadSignature))
    );
    let params = params(&sid(0));
    assert_eq!(
        ring.verify_at(
            Some(&sid(0)),
            Some("key=KS1,algorithm=HMAC_SHA256"),
            URL,
            &params,
            "x",
            now
        )
        .await,
        Err(KeyError::Refused(Refusal::UnknownKey("KS1".to_owned())))
    );
}

#[tokio::test]
async fn a_new_account_is_read_again_at_most_once_a_period_and_a_flood_costs_one_read() {
    let store = Arc::new(MemoryParameters::default());
    store.put(PARAMETER, &document(0..2));
    let start = Instant::now();
    let ring = parameter_ring(&store, start);
    assert_eq!(verify(&ring, 1, 1, start).await, Ok(Verification::Account));
    assert_eq!(store.reads(), 0, "a known account costs no read");

    // Account 2 is added to the parameter: within the period after the cold start's read, it is refused.
    store.put(PARAMETER, &document(0..3));
    let soon = start + Duration::from_secs(30);
    assert_eq!(
        verify(&ring, 2, 2, soon).await,
        Err(KeyError::Refused(Refusal::UnknownAccount(sid(2))))
    );
    assert_eq!(store.reads(), 0);
    // Once the period is over, the first callback naming it reads the parameter again and verifies.
    let later = start + Duration::from_secs(61);
    assert_eq!(verify(&ring, 2, 2, later).await, Ok(Verification::Account));
    assert_eq!(store.reads(), 1);
    assert_eq!(ring.accounts(), 3);

    // A flood of made-up accounts in the next period: one read.
    let flood = later + Duration::from_secs(60);
    for n in 1000..1500 {
        let refused = verify(&ring, n, n, flood + Duration::from_millis(n as u64)).await;
        assert_eq!(
            refused,
            Err(KeyError::Refused(Refusal::UnknownAccount(sid(n))))
        );
    }
    assert_eq!(
        store.reads(),
        2,
        "one read for 500 unknown accounts in one period"
    );
}

#[tokio::test]
async fn a_rotation_is_picked_up_and_a_failed_read_keeps_the_document() {
    let store = Arc::new(MemoryParameters::default());
    let start = Instant::now();
    let ring = parameter_ring(&store, start);
    let later = start + Duration::from_secs(61);
    // The parameter cannot be read: the document loaded stays, account 0 still verifies.
    store.fail_with(Some(BackendError::Unavailable {
        service: Service::Ssm,
        detail: "down".into(),
    }));
    assert!(verify(&ring, 5, 5, later).await.is_err());
    assert_eq!(store.reads(), 1);
    assert_eq!(verify(&ring, 0, 0, later).await, Ok(Verification::Account));
    // Unusable JSON is not loaded either.
    store.fail_with(None);
    store.put(PARAMETER, "{not json");
    let after = later + Duration::from_secs(61);
    assert!(verify(&ring, 5, 5, after).await.is_err());
    assert_eq!(ring.accounts(), 2);
    // A secondary token added to account 0: a callback it signed makes the next period's read.
    let rotated = serde_json::json!({
        sid(0): {"auth_tokens": ["token-0", "token-new"]},
        sid(1): entry(1),
    });
    store.put(PARAMETER, &rotated.to_string());
    let account = sid(0);
    let params = params(&account);
    let by_new = compute("token-new", URL, &params);
    let next = after + Duration::from_secs(61);
    assert_eq!(
        ring.verify_at(Some(&account), None, URL, &params, &by_new, next)
            .await,
        Ok(Verification::Account)
    );
    assert_eq!(store.reads(), 3);
}

#[tokio::test]
async fn no_account_sid_is_verified_against_every_account() {
    let ring = KeyRing::from(SigningKeys::parse(&document(0..3)).unwrap_or_else(|e| panic!("{e}")));
    let params = vec![("StatusCallbackEvent".to_owned(), "room-created".to_owned())];
    let signature = compute("token-2", URL, &params);
    for account in [None, Some("")] {
        assert_eq!(
            ring.verify(account, None, URL, &params, &signature).await,
            Ok(Verification::Unattributed(sid(2)))
        );
    }
    let forged = compute("token-9", URL, &params);
    assert_eq!(
        ring.verify(None, None, URL, &params, &forged).await,
        Err(KeyError::Refused(Refusal::BadSignature))
    );
}

#[tokio::test]
async fn the_path_reads_each_account_once_and_caps_reads_of_accounts_that_do_not_exist() {
    let store = Arc::new(MemoryParameters::default());
    for n in 0..300 {
        store.put(&format!("{PATH}/{}", sid(n)), &entry(n).to_string());
    }
    let dyn_store: Arc<dyn SecretParameters> = store.clone();
    let ring =
        KeyRing::from_path(&format!("{PATH}/"), dyn_store).with_refresh(Duration::from_secs(60));
    let start = Instant::now();
    for n in 0..300 {
        assert_eq!(
            verify(&ring, n, n, start).await,
            Ok(Verification::Account),
            "{n}"
        );
        assert_eq!(
            verify(&ring, n, n, start).await,
            Ok(Verification::Account),
            "{n}"
        );
    }
    assert_eq!(store.reads(), 300, "one read per account, then kept");
    // Cross-account: account 1's callback signed by account 0's token.
    assert!(verify(&ring, 1, 0, start).await.is_err());
    let reads = store.reads();
    // A flood of made-up accounts (and of garbage that is no SID, which costs nothing).
    for n in 10_000..10_500 {
        assert_eq!(
            verify(&ring, n, n, start).await,
            Err(KeyError::Refused(Refusal::UnknownAccount(sid(n))))
        );
        let garbage = format!("AC-{n}");
        assert!(ring
            .verify_at(Some(&garbage), None, URL, &params(&garbage), "x", start)
            .await
            .is_err());
    }
    assert_eq!(
        store.reads() - reads,
        SPECULATIVE_READS as usize,
        "capped per period"
    );
    // A new account added during the flood's period waits for the next period.
    store.put(&format!("{PATH}/{}", sid(400)), &entry(400).to_string());
    assert!(verify(&ring, 400, 400, start).await.is_err());
    let next = start + Duration::from_secs(60);
    assert_eq!(
        verify(&ring, 400, 400, next).await,
        Ok(Verification::Account)
    );
}

#[tokio::test]
async fn the_path_answers_503_when_a_new_account_cannot_be_read_and_drops_a_deleted_one() {
    let store = Arc::new(MemoryParameters::default());
    store.put(&format!("{PATH}/{}", sid(1)), &entry(1).to_string());
    let dyn_store: Arc<dyn SecretParameters> = store.clone();
    let ring = KeyRing::from_path(PATH, dyn_store).with_refresh(Duration::from_secs(60));
    let start = Instant::now();
    store.fail_with(Some(BackendError::Throttled {
        service: Service::Ssm,
        detail: "slow down".into(),
    }));
    assert!(matches!(
        verify(&ring, 1, 1, start).await,
        Err(KeyError::Unavailable(_))
    ));
    store.fail_with(None);
    assert_eq!(verify(&ring, 1, 1, start).await, Ok(Verification::Account));
    // Its parameter deleted: a failed verification in a later period reads it again and unloads it.
    store.remove(&format!("{PATH}/{}", sid(1)));
    let later = start + Duration::from_secs(61);
    assert!(verify(&ring, 1, 0, later).await.is_err());
    assert_eq!(ring.accounts(), 0);
    assert_eq!(
        verify(&ring, 1, 1, later).await,
        Err(KeyError::Refused(Refusal::UnknownAccount(sid(1))))
    );
}
