use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::aws::error::Service;
use crate::aws::queue::MemoryMediaQueue;
use crate::aws::store::MemoryEventStore;

const TOKEN: &str = "unit-test-token";
const URL: &str = "https://hooks.example.com/twilio/video";

fn recording_completed() -> Vec<(String, String)> {
    [
        ("AccountSid", "AC01"),
        ("StatusCallbackEvent", "recording-completed"),
        ("Timestamp", "2026-11-27T09:15:02.300Z"),
        ("RoomSid", "RM01"),
        ("RoomName", "standup"),
        ("RoomType", "group"),
        ("RecordingSid", "RT01"),
        ("ParticipantSid", "PA01"),
        ("ParticipantIdentity", "alice"),
        ("SourceSid", "MT01"),
        ("RecordingUri", "/v1/Recordings/RT01"),
        ("MediaUri", "/v1/Recordings/RT01/Media"),
        ("Duration", "10"),
        ("Size", "1000"),
        ("Container", "mkv"),
        ("Codec", "VP8"),
        ("TrackName", "camera"),
        ("OffsetFromTwilioVideoEpoch", "5"),
        ("Type", "video"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn room_created() -> Vec<(String, String)> {
    [
        ("AccountSid", "AC01"),
        ("StatusCallbackEvent", "room-created"),
        ("Timestamp", "2026-11-27T09:00:00Z"),
        ("RoomSid", "RM01"),
        ("RoomName", "standup"),
        ("RoomStatus", "in-progress"),
        ("RoomType", "group"),
        ("SequenceNumber", "0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn signed_request(params: &[(String, String)]) -> Request {
    let signature = signature::compute(TOKEN, URL, params);
    request(
        params,
        "application/x-www-form-urlencoded",
        Some(&signature),
    )
}

fn request(params: &[(String, String)], content_type: &str, signature: Option<&str>) -> Request {
    let body = serde_urlencoded::to_string(params).unwrap_or_else(|err| panic!("{err}"));
    let mut builder = lambda_http::http::Request::builder()
        .method("POST")
        .uri(URL)
        .header("content-type", content_type)
        .extension(CalledUrl(URL.to_owned()));
    if let Some(signature) = signature {
        builder = builder.header("x-twilio-signature", signature);
    }
    builder
        .body(Body::Text(body))
        .unwrap_or_else(|err| panic!("{err}"))
}

fn tokens() -> AuthTokens {
    AuthTokens::parse(TOKEN).unwrap_or_else(|err| panic!("{err}"))
}

fn receiver<Q: MediaQueue>(queue: Q) -> Receiver<MemoryEventStore, Q> {
    Receiver::new(tokens(), MemoryEventStore::default(), queue)
}

/// A 503 whose error names the failing backend (`"SQS unavailable"`, `"DynamoDB throttled"`).
fn assert_unavailable(response: &Response<Body>, backend: &str) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = body_json(response);
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains(backend), "{error}");
}

fn body_json(response: &Response<Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).unwrap_or_else(|err| panic!("not JSON: {err}"))
}

#[tokio::test]
async fn a_signed_callback_is_stored_and_answered_200() {
    let receiver = receiver(MemoryMediaQueue::default());
    let response = receiver.handle(signed_request(&room_created())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body_json(&response),
        serde_json::json!({"outcome": "stored", "enqueued": false})
    );
    let items = receiver.store().items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].event, "room-created");
    assert!(receiver.queue().sent().is_empty());
}

#[tokio::test]
async fn a_media_callback_is_stored_and_enqueued_and_a_redelivery_sends_the_same_key() {
    let receiver = receiver(MemoryMediaQueue::default());
    let response = receiver
        .handle(signed_request(&recording_completed()))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(&response)["enqueued"], true);
    let sent = receiver.queue().sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recording_sid.as_deref(), Some("RT01"));
    let items = receiver.store().items();
    assert_eq!(items[0].idempotency_key, sent[0].idempotency_key);

    // A redelivery stores nothing new; its message (sent alongside the write, before the write can tell
    // it is a redelivery) carries the same idempotency key, which workers deduplicate on.
    let again = receiver
        .handle(signed_request(&recording_completed()))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(
        body_json(&again),
        serde_json::json!({"outcome": "duplicate", "enqueued": true})
    );
    assert_eq!(receiver.store().items().len(), 1);
    let sent = receiver.queue().sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1]);
}

/// A backend that fails its first `failures` calls, then hands the rest to `inner`.
#[derive(Default)]
struct Flaky<T> {
    failures: usize,
    calls: AtomicUsize,
    inner: T,
}

impl<T: Default> Flaky<T> {
    fn failing(failures: usize) -> Self {
        Flaky {
            failures,
            ..Flaky::default()
        }
    }

    /// Whether this call is one of the failing ones.
    fn fails(&self) -> bool {
        self.calls.fetch_add(1, Ordering::SeqCst) < self.failures
    }
}

impl MediaQueue for Flaky<MemoryMediaQueue> {
    async fn send(&self, message: &MediaMessage) -> Result<(), BackendError> {
        if self.fails() {
            return Err(BackendError::Unavailable {
                service: Service::Sqs,
                detail: "injected".into(),
            });
        }
        self.inner.send(message).await
    }
}

impl EventStore for Flaky<MemoryEventStore> {
    async fn insert(&self, event: StoredEvent) -> Result<Insert, BackendError> {
        if self.fails() {
            return Err(BackendError::Throttled {
                service: Service::DynamoDb,
                detail: "injected".into(),
            });
        }
        self.inner.insert(event).await
    }
}

#[tokio::test]
async fn a_failed_send_is_a_503_and_the_redelivery_sends_it() {
    let receiver = receiver(Flaky::<MemoryMediaQueue>::failing(1));
    let first = receiver
        .handle(signed_request(&recording_completed()))
        .await;
    assert_unavailable(&first, "SQS unavailable");
    assert_eq!(
        receiver.store().items().len(),
        1,
        "the item is stored although the send failed"
    );

    let second = receiver
        .handle(signed_request(&recording_completed()))
        .await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(
        body_json(&second),
        serde_json::json!({"outcome": "duplicate", "enqueued": true})
    );
    assert_eq!(receiver.queue().inner.sent().len(), 1);
    assert_eq!(receiver.store().items().len(), 1);
}

#[tokio::test]
async fn a_failed_write_is_a_503_but_the_media_message_goes_out_all_the_same() {
    let receiver = Receiver::new(
        tokens(),
        Flaky::<MemoryEventStore>::failing(1),
        MemoryMediaQueue::default(),
    );
    let first = receiver
        .handle(signed_request(&recording_completed()))
        .await;
    assert_unavailable(&first, "DynamoDB throttled");
    assert!(receiver.store().inner.items().is_empty());
    assert_eq!(
        receiver.queue().sent().len(),
        1,
        "the workers get the media even though the table refused the item"
    );

    // Twilio's redelivery stores it; the message it sends has the same key.
    let second = receiver
        .handle(signed_request(&recording_completed()))
        .await;
    assert_eq!(
        body_json(&second),
        serde_json::json!({"outcome": "stored", "enqueued": true})
    );
    let items = receiver.store().inner.items();
    assert_eq!(items.len(), 1);
    let sent = receiver.queue().sent();
    assert_eq!(sent.len(), 2);
    assert!(sent
        .iter()
        .all(|m| m.idempotency_key == items[0].idempotency_key));

    // A room event depends on the write alone.
    let room = Receiver::new(
        tokens(),
        Flaky::<MemoryEventStore>::failing(1),
        MemoryMediaQueue::default(),
    );
    let refused = room.handle(signed_request(&room_created())).await;
    assert_unavailable(&refused, "DynamoDB throttled");
    assert!(room.queue().sent().is_empty());
}

#[tokio::test]
async fn signature_failures_are_403_and_store_nothing() {
    let receiver = receiver(MemoryMediaQueue::default());
    let params = room_created();
    let missing = receiver
        .handle(request(&params, "application/x-www-form-urlencoded", None))
        .await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body_json(&missing)["error"],
        "missing X-Twilio-Signature header"
    );

    let wrong_token = signature::compute("another-token", URL, &params);
    let wrong = receiver
        .handle(request(
            &params,
            "application/x-www-form-urlencoded",
            Some(&wrong_token),
        ))
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);

    let mut tampered = params.clone();
    let signature = signature::compute(TOKEN, URL, &params);
    tampered[3].1 = "RM-someone-else".into();
    let response = receiver
        .handle(request(
            &tampered,
            "application/x-www-form-urlencoded",
            Some(&signature),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(receiver.store().items().is_empty());
}

#[tokio::test]
async fn the_configured_webhook_url_overrides_the_reconstructed_one() {
    let params = room_created();
    let configured = "https://hooks.example.com/custom?tenant=7";
    let signature = signature::compute(TOKEN, configured, &params);
    let plain = receiver(MemoryMediaQueue::default());
    let refused = plain
        .handle(request(
            &params,
            "application/x-www-form-urlencoded",
            Some(&signature),
        ))
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let with_url =
        receiver(MemoryMediaQueue::default()).with_webhook_url(Some(configured.to_owned()));
    let accepted = with_url
        .handle(request(
            &params,
            "application/x-www-form-urlencoded",
            Some(&signature),
        ))
        .await;
    assert_eq!(accepted.status(), StatusCode::OK);
}

#[tokio::test]
async fn method_media_type_and_size_are_checked_in_that_order() {
    let receiver = receiver(MemoryMediaQueue::default());
    let mut get = signed_request(&room_created());
    *get.method_mut() = Method::GET;
    let response = receiver.handle(get).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response.headers().get("allow").map(|v| v.as_bytes()),
        Some(&b"POST"[..])
    );

    let params = room_created();
    let signature = signature::compute(TOKEN, URL, &params);
    let json = receiver
        .handle(request(&params, "application/json", Some(&signature)))
        .await;
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let with_charset = receiver
        .handle(request(
            &params,
            "Application/X-WWW-Form-Urlencoded; charset=utf-8",
            Some(&signature),
        ))
        .await;
    assert_eq!(with_charset.status(), StatusCode::OK);

    let mut big = room_created();
    big.push(("Padding".into(), "x".repeat(MAX_BODY_BYTES)));
    let response = receiver.handle(signed_request(&big)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(receiver.store().items().len(), 1);

    // The order: a request wrong in all three ways is refused for its method; wrong in the last two,
    // for its media type.
    let big_signature = signature::compute(TOKEN, URL, &big);
    let mut everything_wrong = request(&big, "application/json", Some(&big_signature));
    *everything_wrong.method_mut() = Method::GET;
    assert_eq!(
        receiver.handle(everything_wrong).await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    let type_and_size_wrong = request(&big, "application/json", Some(&big_signature));
    assert_eq!(
        receiver.handle(type_and_size_wrong).await.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test]
async fn undecodable_bodies_are_400() {
    let receiver = receiver(MemoryMediaQueue::default());
    let mut marked = signed_request(&room_created());
    marked
        .extensions_mut()
        .insert(UndecodableBody("not base64".into()));
    assert_eq!(
        receiver.handle(marked).await.status(),
        StatusCode::BAD_REQUEST
    );

    let mut latin1 = signed_request(&room_created());
    *latin1.body_mut() = Body::Binary(vec![b'A', b'=', 0xE9]);
    let response = receiver.handle(latin1).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body_json(&response)["error"]
        .as_str()
        .unwrap_or_default()
        .contains("UTF-8"));
    assert!(receiver.store().items().is_empty());
}

#[tokio::test]
async fn a_signed_but_invalid_callback_is_400_naming_the_parameter() {
    let receiver = receiver(MemoryMediaQueue::default());
    let params: Vec<(String, String)> = room_created()
        .into_iter()
        .filter(|(k, _)| k != "RoomStatus")
        .collect();
    let response = receiver.handle(signed_request(&params)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body_json(&response)["error"],
        "missing required parameter RoomStatus for room-created"
    );
    assert!(receiver.store().items().is_empty());
}

#[tokio::test]
async fn an_unknown_event_is_stored_answered_and_not_enqueued() {
    let receiver = receiver(MemoryMediaQueue::default());
    let mut params = recording_completed();
    params[1].1 = "recording-archived".into();
    let response = receiver.handle(signed_request(&params)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(receiver.store().items()[0].event, "recording-archived");
    assert!(receiver.queue().sent().is_empty());
}

#[tokio::test]
async fn without_a_url_the_receiver_says_what_to_configure() {
    let receiver = receiver(MemoryMediaQueue::default());
    let mut request = signed_request(&room_created());
    request.extensions_mut().remove::<CalledUrl>();
    let response = receiver.handle(request).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body_json(&response)["error"]
        .as_str()
        .unwrap_or_default()
        .contains("TWILIO_WEBHOOK_URL"));
}

#[test]
fn every_error_maps_to_one_status() {
    let backend = |transient: bool| {
        if transient {
            BackendError::Throttled {
                service: Service::DynamoDb,
                detail: String::new(),
            }
        } else {
            BackendError::Rejected {
                service: Service::DynamoDb,
                detail: String::new(),
            }
        }
    };
    let cases = [
        (CallbackError::MethodNotAllowed("GET".into()), 405),
        (
            CallbackError::UnsupportedMediaType("text/plain".into()),
            415,
        ),
        (CallbackError::PayloadTooLarge(1 << 20), 413),
        (CallbackError::UndecodableBody("x".into()), 400),
        (CallbackError::MissingSignature, 403),
        (CallbackError::InvalidSignature, 403),
        (CallbackError::UnknownUrl, 500),
        (CallbackError::InvalidCallback(ParseError::NoTimeline), 400),
        (CallbackError::Store(backend(true)), 503),
        (CallbackError::Store(backend(false)), 500),
        (CallbackError::Enqueue(backend(true)), 503),
        (CallbackError::Enqueue(backend(false)), 500),
    ];
    for (error, status) in cases {
        assert_eq!(error.status().as_u16(), status, "{error}");
    }
}
