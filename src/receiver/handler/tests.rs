use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::aws::error::Service;
use crate::message::MediaMessage;
use crate::receiver::ports::{Mark, MemoryEventStore, MemoryMediaQueue, MemorySpillQueue};
use crate::twilio::signature::{self, AuthTokens};

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

    async fn mark_spilled(&self, pk: &str, sk: &str, reason: &str) -> Result<Mark, BackendError> {
        self.inner.mark_spilled(pk, sk, reason).await
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

/// Every signed callback is kept: `params` minus `drop`, with `set` applied, stored with a parse_error
/// containing `says`, answered 200 `malformed`.
async fn kept_malformed(
    params: Vec<(String, String)>,
    drop: &str,
    set: &[(&str, &str)],
    says: &str,
) -> (StoredEvent, Vec<MediaMessage>) {
    let receiver = receiver(MemoryMediaQueue::default());
    let mut params: Vec<(String, String)> = params.into_iter().filter(|(k, _)| k != drop).collect();
    for (name, value) in set {
        match params.iter_mut().find(|(k, _)| k == name) {
            Some(pair) => pair.1 = (*value).to_owned(),
            None => params.push(((*name).to_owned(), (*value).to_owned())),
        }
    }
    let response = receiver.handle(signed_request(&params)).await;
    let body = body_json(&response);
    assert_eq!(response.status(), StatusCode::OK, "{drop}: {body}");
    assert_eq!(body["outcome"], "malformed", "{drop}: {body}");
    let parse_error = body["parse_error"].as_str().unwrap_or_default();
    assert!(parse_error.contains(says), "{drop}: {parse_error}");
    let items = receiver.store().items();
    assert_eq!(items.len(), 1, "{drop}: kept");
    assert_eq!(items[0].parse_error.as_deref(), Some(parse_error));
    assert_eq!(
        items[0].params,
        Params::new(params.clone()).to_map(),
        "{drop}: every parameter as received"
    );
    assert_eq!(body["enqueued"], !receiver.queue().sent().is_empty());
    (items[0].clone(), receiver.queue().sent())
}

#[tokio::test]
async fn a_signed_callback_missing_any_required_parameter_is_kept_and_says_which() {
    for (sample, event) in [
        (room_created(), "room-created"),
        (recording_completed(), "recording-completed"),
    ] {
        let kind = EventKind::from(event);
        for name in crate::twilio::callback::required_parameters(&kind) {
            let (item, sent) = kept_malformed(sample.clone(), name, &[], name).await;
            match name {
                // Where the key comes from when the room is missing: the next SID in line.
                "RoomSid" if event == "recording-completed" => assert_eq!(item.pk, "RT01"),
                "RoomSid" | "AccountSid" => {}
                _ => assert_eq!(item.pk, "RM01", "{event} without {name}"),
            }
            if name == "Timestamp" {
                assert_eq!(
                    item.sk[..4],
                    item.received_at[..4],
                    "received time leads the key"
                );
                assert!(item.sk.starts_with(&item.received_at[..19]));
            } else {
                assert!(item.sk.starts_with("2026-11-27T09:"), "{}", item.sk);
            }
            // A media message needs the account, the room and the media SID; the rest is optional.
            let buildable = !matches!(name, "AccountSid" | "RoomSid" | "RecordingSid");
            let is_media = event == "recording-completed" && name != "StatusCallbackEvent";
            assert_eq!(
                sent.len(),
                usize::from(is_media && buildable),
                "{event} without {name}"
            );
        }
    }
}

#[tokio::test]
async fn malformed_values_and_repeats_are_kept_with_what_did_parse() {
    let (item, sent) = kept_malformed(recording_completed(), "", &[("Size", "big")], "Size").await;
    assert_eq!(item.fields.size, None, "the malformed field is left empty");
    assert_eq!(item.fields.duration, Some(10), "the others parse");
    assert_eq!(
        sent.len(),
        1,
        "the message can still be built, without a size"
    );
    assert_eq!(sent[0].size, None);

    let (item, _) = kept_malformed(
        room_created(),
        "",
        &[("Timestamp", "yesterday")],
        "Timestamp",
    )
    .await;
    assert!(item.sk.starts_with(&item.received_at[..19]), "{}", item.sk);

    let mut twice = room_created();
    twice.push(("RoomSid".into(), "RM02".into()));
    let (item, _) = kept_malformed(twice, "", &[], "RoomSid appears more than once").await;
    assert_eq!(item.pk, "RM01", "the first value files it");
}

#[tokio::test]
async fn a_callback_naming_no_sid_at_all_is_kept_too() {
    let only = vec![("Foo".to_owned(), "bar".to_owned())];
    let (item, sent) = kept_malformed(only, "", &[], "StatusCallbackEvent").await;
    assert_eq!(item.pk, crate::receiver::item::UNATTRIBUTED);
    assert!(sent.is_empty());
    let (item, _) = kept_malformed(
        vec![("AccountSid".to_owned(), "AC01".to_owned())],
        "",
        &[],
        "no room",
    )
    .await;
    assert_eq!(item.pk, "AC01");
}

/// A receiver whose table or queue fails as given, spilling to memory (that may fail too).
fn spilling<S: EventStore, Q: MediaQueue>(
    store: S,
    queue: Q,
    spill: MemorySpillQueue,
) -> Receiver<S, Q, MemorySpillQueue> {
    Receiver::new(tokens(), store, queue).with_spill(Some(spill))
}

#[tokio::test]
async fn a_failed_write_is_spilled_and_answered_202_and_the_consumer_stores_it_once() {
    let receiver = spilling(
        Flaky::<MemoryEventStore>::failing(1),
        MemoryMediaQueue::default(),
        MemorySpillQueue::default(),
    );
    let response = receiver
        .handle(signed_request(&recording_completed()))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(
        body_json(&response),
        serde_json::json!({"outcome": "spilled", "enqueued": true})
    );
    assert!(receiver.store().inner.items().is_empty());
    let spilled = receiver
        .spill()
        .map(MemorySpillQueue::spilled)
        .unwrap_or_default();
    assert_eq!(spilled.len(), 1);
    assert_eq!(spilled[0].url, URL);
    assert!(spilled[0].media_sent);
    assert!(
        spilled[0].reason.contains("DynamoDB throttled"),
        "{}",
        spilled[0].reason
    );

    // The consumer: verified again, stored, and the message not sent a second time.
    let message = serde_json::to_string(&spilled[0]).unwrap_or_default();
    for _ in 0..2 {
        let restored = receiver.restore(&message).await;
        assert!(restored.is_ok(), "{restored:?}");
    }
    let items = receiver.store().inner.items();
    assert_eq!(
        items.len(),
        1,
        "stored exactly once, however often it is consumed"
    );
    assert_eq!(items[0].params, Params::new(recording_completed()).to_map());
    assert_eq!(items[0].received_at, spilled[0].received_at);
    assert_eq!(
        receiver.queue().sent().len(),
        1,
        "the message had gone out already"
    );
}

#[tokio::test]
async fn a_failed_send_is_spilled_and_the_consumer_sends_the_message() {
    let receiver = spilling(
        MemoryEventStore::default(),
        Flaky::<MemoryMediaQueue>::failing(1),
        MemorySpillQueue::default(),
    );
    let response = receiver
        .handle(signed_request(&recording_completed()))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(body_json(&response)["enqueued"], false);
    let spilled = receiver
        .spill()
        .map(MemorySpillQueue::spilled)
        .unwrap_or_default();
    assert!(!spilled[0].media_sent);
    let message = serde_json::to_string(&spilled[0]).unwrap_or_default();
    let restored = receiver.restore(&message).await;
    assert!(
        matches!(
            restored,
            Ok(crate::receiver::spill::Restored {
                created: false,
                marked: true,
                enqueued: true
            })
        ),
        "{restored:?}"
    );
    assert_eq!(receiver.queue().inner.sent().len(), 1);
    // The item stored before the spill now says it was spilled, and why.
    let items = receiver.store().items();
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].spilled.as_deref(),
        Some(spilled[0].reason.as_str())
    );
    assert!(!spilled[0].reason.is_empty());
    // The spill message delivered again: the reason is kept, nothing marked twice.
    let again = receiver.restore(&message).await;
    assert!(
        matches!(
            again,
            Ok(crate::receiver::spill::Restored {
                created: false,
                marked: false,
                ..
            })
        ),
        "{again:?}"
    );
    assert_eq!(
        receiver.store().items()[0].spilled.as_deref(),
        Some(spilled[0].reason.as_str())
    );
}

#[tokio::test]
async fn only_when_the_spill_fails_too_does_twilio_get_a_5xx() {
    let failing = MemorySpillQueue::failing_with(BackendError::Unavailable {
        service: Service::Sqs,
        detail: "injected".into(),
    });
    let receiver = spilling(
        Flaky::<MemoryEventStore>::failing(1),
        MemoryMediaQueue::default(),
        failing,
    );
    let response = receiver.handle(signed_request(&room_created())).await;
    assert_unavailable(&response, "DynamoDB throttled");
}

#[tokio::test]
async fn the_spill_consumer_never_stores_what_does_not_verify() {
    let receiver = spilling(
        Flaky::<MemoryEventStore>::failing(1),
        MemoryMediaQueue::default(),
        MemorySpillQueue::default(),
    );
    receiver.handle(signed_request(&room_created())).await;
    let spilled = receiver
        .spill()
        .map(MemorySpillQueue::spilled)
        .unwrap_or_default();
    let mut forged = spilled[0].clone();
    forged.body = forged.body.replace("standup", "forged");
    let mut elsewhere = spilled[0].clone();
    elsewhere.url = "https://attacker.example.com/twilio/video".into();
    let event = aws_lambda_events::sqs::SqsEvent {
        records: [
            ("forged", serde_json::to_string(&forged).unwrap_or_default()),
            (
                "elsewhere",
                serde_json::to_string(&elsewhere).unwrap_or_default(),
            ),
            ("garbage", "{\"spill_version\":1}".to_owned()),
            (
                "good",
                serde_json::to_string(&spilled[0]).unwrap_or_default(),
            ),
        ]
        .into_iter()
        .map(|(id, body)| aws_lambda_events::sqs::SqsMessage {
            message_id: Some(id.to_owned()),
            body: Some(body),
            ..Default::default()
        })
        .collect(),
    };
    let response = receiver.drain_spill(event).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["forged", "elsewhere", "garbage"]);
    let items = receiver.store().inner.items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].fields.room_name.as_deref(), Some("standup"));
}

#[tokio::test]
async fn a_fragment_in_the_configured_url_is_not_signed() {
    let receiver = receiver(MemoryMediaQueue::default())
        .with_webhook_url(Some(format!("{URL}#ct=2000&rt=4000&tt=15000&rc=3&rp=all")));
    let mut request = signed_request(&room_created());
    request.extensions_mut().remove::<CalledUrl>();
    let response = receiver.handle(request).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        body_json(&response)
    );
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
        (CallbackError::UnknownAccount("AC02".into()), 403),
        (CallbackError::UnknownKey("KS1".into()), 403),
        (CallbackError::UnknownAlgorithm("HMAC_MD5".into()), 403),
        (CallbackError::MalformedSettings("no key"), 403),
        (CallbackError::KeysUnavailable(backend(true)), 503),
        (CallbackError::KeysUnavailable(backend(false)), 500),
        (CallbackError::UnknownUrl, 500),
        (CallbackError::Store(backend(true)), 503),
        (CallbackError::Store(backend(false)), 500),
        (CallbackError::Enqueue(backend(true)), 503),
        (CallbackError::Enqueue(backend(false)), 500),
    ];
    for (error, status) in cases {
        assert_eq!(error.status().as_u16(), status, "{error}");
    }
}

#[test]
fn every_outcome_has_valid_metrics_without_a_sid_token_or_identity_as_a_dimension() {
    let backend = || BackendError::Unavailable {
        service: Service::DynamoDb,
        detail: "down".into(),
    };
    let errors = [
        CallbackError::MethodNotAllowed("GET".into()),
        CallbackError::UnsupportedMediaType("application/json".into()),
        CallbackError::PayloadTooLarge(70_000),
        CallbackError::UndecodableBody("bad base64".into()),
        CallbackError::MissingSignature,
        CallbackError::InvalidSignature,
        CallbackError::UnknownAccount("AC02".into()),
        CallbackError::UnknownKey("KS1".into()),
        CallbackError::UnknownAlgorithm("HMAC_MD5".into()),
        CallbackError::MalformedSettings("no key"),
        CallbackError::KeysUnavailable(backend()),
        CallbackError::UnknownUrl,
        CallbackError::Store(backend()),
        CallbackError::Enqueue(backend()),
    ];
    let accepted = [Kept::Stored, Kept::Duplicate, Kept::Spilled]
        .into_iter()
        .flat_map(|kept| {
            [None, Some("missing RoomSid".to_owned())].map(|parse_error| Accepted {
                kept,
                enqueued: true,
                parse_error,
            })
        });
    let results: Vec<Result<Accepted, CallbackError>> = accepted
        .map(Ok)
        .chain(errors.into_iter().map(Err))
        .collect();
    // What a trace can hold: a documented event, an undocumented one, a SID where an event should be.
    let traces = [
        "room-created",
        "room-recording-paused",
        "RM0123456789abcdef0123456789abcdef",
    ]
    .map(|event| Trace {
        event: Some(event.to_owned()),
        room_sid: Some("RM0123456789abcdef0123456789abcdef".to_owned()),
        idempotency_token: Some("6f1d3a2fb5c85fb87b6f81b3358d7502e2f2".to_owned()),
        unknown_event: event != "room-created",
        ..Trace::default()
    });
    let mut outcomes = std::collections::BTreeSet::new();
    for trace in &traces {
        for result in &results {
            let (event, outcome) = metric_dimensions(trace, result);
            outcomes.insert(outcome);
            let line =
                crate::metrics::callback_document("TwilioVideoCallbacks", 1, event, outcome, 3.5);
            crate::metrics::tests::assert_no_identifying_dimension(&line);
            if result.as_ref().is_err_and(|err| !err.verified()) {
                assert_eq!(
                    event,
                    crate::metrics::NO_EVENT,
                    "an unverified request's event is not trusted"
                );
            }
        }
    }
    assert_eq!(
        outcomes.len(),
        6 + 14,
        "each accepted and each refused outcome is its own dimension value: {outcomes:?}"
    );
}
