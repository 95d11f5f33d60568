//! Hostile input, generated: whatever arrives, the receiver never panics, answers as the rules say, and
//! never stores a callback whose signature it did not verify. Runs the real handler through the Lambda
//! edge with the in-memory store and queue (the AWS adapters are exercised by the other tests).

use base64::Engine as _;
use lambda_http::request::LambdaRequest;
use proptest::prelude::*;
use twilio_video_callbacks::receiver::handler::{Receiver, MAX_BODY_BYTES};
use twilio_video_callbacks::twilio::callback::{Callback, Params};

use crate::helpers::http_api_event;
use twilio_video_callbacks::receiver::gateway;
use twilio_video_callbacks::receiver::ports::{MemoryEventStore, MemoryMediaQueue};
use twilio_video_callbacks::twilio::signature::{self, AuthTokens};

const TOKEN: &str = "hostile-test-token";
const DOMAIN: &str = "abc.execute-api.us-east-1.amazonaws.com";
const PATH: &str = "/twilio/video";

fn url() -> String {
    format!("https://{DOMAIN}{PATH}")
}

fn receiver() -> Receiver<MemoryEventStore, MemoryMediaQueue> {
    let tokens = AuthTokens::parse(TOKEN).unwrap_or_else(|err| panic!("{err}"));
    Receiver::new(
        tokens,
        MemoryEventStore::default(),
        MemoryMediaQueue::default(),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("{err}"))
}

/// The HTTP API event, or `None` for one API Gateway could never send (an invalid header, say): the
/// runtime's deserializer refuses those before the handler, so they are not what these properties are
/// about. Callers `prop_assume!` it, so such cases are counted as rejects and capped.
fn event(
    method: &str,
    headers: &[(String, String)],
    body: &str,
    base64: bool,
) -> Option<LambdaRequest> {
    serde_json::from_value(http_api_event(DOMAIN, PATH, method, headers, body, base64)).ok()
}

fn form_headers(signature: Option<String>) -> Vec<(String, String)> {
    let mut headers = vec![(
        "content-type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    if let Some(signature) = signature {
        headers.push(("x-twilio-signature".to_owned(), signature));
    }
    headers
}

fn room_created() -> Vec<(String, String)> {
    [
        ("AccountSid", "AC1"),
        ("StatusCallbackEvent", "room-created"),
        ("Timestamp", "2026-11-27T09:00:00Z"),
        ("RoomSid", "RM1"),
        ("RoomName", "r"),
        ("RoomStatus", "in-progress"),
        ("RoomType", "group"),
        ("SequenceNumber", "0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Parameter names: the documented ones (so that parsing gets far) and anything else.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "AccountSid",
            "StatusCallbackEvent",
            "Timestamp",
            "RoomSid",
            "RoomName",
            "RoomStatus",
            "RoomType",
            "SequenceNumber",
            "ParticipantSid",
            "TrackSid",
            "RecordingSid",
            "Size",
            "Duration",
            "MediaUri",
            "CompositionSid",
            "HookSid",
            "PercentageDone",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,12}",
        ".{0,4}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "room-created", "recording-completed", "composition-available", "track-added", "room-ended",
            "2026-11-27T09:00:00Z", "not a time", "42", "-1", "RM1", "", "in-progress", "mka", "%zz", "+",
        ])
        .prop_map(str::to_owned),
        3 => "\\PC{0,40}",
        1 => ".{0,8}",
        1 => (0usize..3).prop_map(|n| "x".repeat([10_000, 40_000, 70_000][n])),
    ]
}

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((name(), value()), 0..24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_global_rejects: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary bytes, methods, content types and signatures: only 4xx, and nothing stored (a random
    /// signature never verifies).
    #[test]
    fn arbitrary_requests_are_refused_without_panicking(
        method in prop::sample::select(vec!["POST", "GET", "PUT", "DELETE", "PATCH"]),
        content_type in prop_oneof![
            Just("application/x-www-form-urlencoded".to_owned()),
            Just("application/x-www-form-urlencoded; charset=UTF-8".to_owned()),
            Just("application/json".to_owned()),
            "[ -~]{0,40}",
        ],
        body in prop::collection::vec(any::<u8>(), 0..4096),
        encode in any::<bool>(),
        raw_text in "\\PC{0,200}",
        signature in prop_oneof![Just(None), "[A-Za-z0-9+/=]{0,40}".prop_map(Some), "\\PC{0,40}".prop_map(Some)],
    ) {
        let receiver = receiver();
        let mut headers = vec![("content-type".to_owned(), content_type)];
        if let Some(signature) = signature.filter(|s| !s.chars().any(char::is_control)) {
            headers.push(("x-twilio-signature".to_owned(), signature));
        }
        let (body, base64) = if encode { (b64(&body), true) } else { (raw_text, false) };
        let event = event(method, &headers, &body, base64);
        prop_assume!(event.is_some(), "not an event API Gateway could send");
        let Some(event) = event else { return Ok(()) };
        let response = runtime().block_on(gateway::invoke(&receiver, event, Default::default()));
        let status = response.status();
        prop_assert!(matches!(status, 400 | 403 | 405 | 413 | 415), "status {status}");
        prop_assert!(receiver.store().items().is_empty());
        let body: serde_json::Value = serde_json::from_str(&response.body_text())
            .map_err(|err| TestCaseError::fail(format!("error body is not JSON: {err}")))?;
        prop_assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }

    /// Invalid base64 when API Gateway says the body is base64: 400, never a panic.
    #[test]
    fn invalid_base64_is_a_400(garbage in "[^A-Za-z0-9+/=]{1,64}") {
        let receiver = receiver();
        let event = event("POST", &form_headers(Some("c2lnbmF0dXJl".into())), &garbage, true);
        prop_assume!(event.is_some(), "not an event API Gateway could send");
        let Some(event) = event else { return Ok(()) };
        let response = runtime().block_on(gateway::invoke(&receiver, event, Default::default()));
        prop_assert_eq!(response.status(), 400);
    }

    /// Correctly signed arbitrary parameters (unicode, repeats, huge values, stray percent signs): always
    /// kept with their exact parameters (200), `stored` when they make a valid callback and `malformed`
    /// with a parse_error otherwise; 413 only when too large to read. Never 400, 403 or 5xx.
    #[test]
    fn signed_arbitrary_parameters_are_always_kept_and_marked_when_malformed(
        valid_base in any::<bool>(),
        extra in params(),
    ) {
        // Half the cases start from a valid room-created, so that acceptance is exercised as much as refusal.
        let mut pairs = if valid_base { room_created() } else { Vec::new() };
        pairs.extend(extra);
        let receiver = receiver();
        let body = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        // The receiver verifies what it decodes, so sign what a decoder reads back.
        let decoded = Params::from_form(body.as_bytes());
        let signature = signature::compute(TOKEN, &url(), decoded.pairs());
        let event = event("POST", &form_headers(Some(signature)), &b64(body.as_bytes()), true);
        prop_assume!(event.is_some(), "not an event API Gateway could send");
        let Some(event) = event else { return Ok(()) };
        let response = runtime().block_on(gateway::invoke(&receiver, event, Default::default()));
        let status = response.status();
        let stored = receiver.store().items();
        if body.len() > MAX_BODY_BYTES {
            prop_assert_eq!(status, 413);
            prop_assert!(stored.is_empty());
        } else {
            prop_assert_eq!(status, 200, "{}", response.body_text());
            prop_assert_eq!(stored.len(), 1);
            prop_assert_eq!(&stored[0].params, &decoded.to_map());
            let answer: serde_json::Value = serde_json::from_str(&response.body_text())
                .map_err(|err| TestCaseError::fail(format!("not JSON: {err}")))?;
            let valid = Callback::parse(decoded.clone()).is_ok();
            prop_assert_eq!(answer["outcome"].as_str(), Some(if valid { "stored" } else { "malformed" }));
            prop_assert_eq!(stored[0].parse_error.is_none(), valid);
            prop_assert!(!stored[0].pk.is_empty());
        }
    }

    /// A signed body with any one byte changed is never accepted.
    #[test]
    fn a_signed_body_changed_anywhere_is_never_stored(
        seed in params(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut pairs = room_created();
        pairs.extend(seed.into_iter().filter(|(k, v)| k.len() + v.len() < 200));
        let body = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        let decoded = Params::from_form(body.as_bytes());
        let signature = signature::compute(TOKEN, &url(), decoded.pairs());
        let mut bytes = body.into_bytes();
        let at = position.index(bytes.len());
        prop_assume!(bytes[at] != byte);
        bytes[at] = byte;
        // Changing a byte can leave the decoded parameters identical (e.g. '+' and "%20" both decode
        // to a space); only a change to what was signed must be refused.
        let changed = Params::from_form(&bytes) != decoded;
        prop_assume!(changed);
        let receiver = receiver();
        let event = event("POST", &form_headers(Some(signature)), &b64(&bytes), true);
        prop_assume!(event.is_some(), "not an event API Gateway could send");
        let Some(event) = event else { return Ok(()) };
        let response = runtime().block_on(gateway::invoke(&receiver, event, Default::default()));
        prop_assert!(matches!(response.status(), 400 | 403), "status {}", response.status());
        prop_assert!(receiver.store().items().is_empty());
    }
}
