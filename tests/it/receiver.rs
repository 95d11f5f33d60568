//! The real handler with real SDK clients against moto's DynamoDB and SQS.

use std::collections::BTreeMap;

use crate::helpers::*;
use twilio_video_callbacks::message::MediaMessage;
use twilio_video_callbacks::twilio::callback::ParamValue;

fn expected_params(json: &str) -> BTreeMap<String, ParamValue> {
    sample_params(json)
        .into_iter()
        .map(|(name, value)| (name, ParamValue::Single(value)))
        .collect()
}

#[tokio::test]
async fn all_seventeen_events_are_stored_with_their_exact_parameters_in_one_timeline() {
    let world = World::new().await;
    let samples = event_samples();
    assert_eq!(samples.len(), 17, "one sample per documented event");
    for (name, json) in &samples {
        let response = world.invoke(lambda_event(json)).await;
        assert_eq!(response.status(), 200, "{name}: {}", response.body_text());
    }

    let items = world.items().await;
    assert_eq!(items.len(), 17);
    for (name, json) in &samples {
        let event = name.trim_end_matches(".json");
        let item = items
            .iter()
            .find(|item| item.event == event)
            .unwrap_or_else(|| panic!("no item for {event}"));
        assert_eq!(
            item.params,
            expected_params(json),
            "{event}: params as received"
        );
        assert_eq!(
            item.pk, "RM00000000000000000000000000000001",
            "{event}: filed in the room's timeline"
        );
        assert!(item
            .sk
            .starts_with(&twilio_video_callbacks::twilio::timestamp::format(
                item.fields.timestamp
            )));
    }

    // One Query returns the room's whole timeline in time order.
    let page = aws_sdk_dynamodb::Client::new(&world.sdk)
        .query()
        .table_name(&world.table)
        .key_condition_expression("pk = :room")
        .expression_attribute_values(
            ":room",
            aws_sdk_dynamodb::types::AttributeValue::S("RM00000000000000000000000000000001".into()),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let timeline: Vec<String> = page
        .items()
        .iter()
        .filter_map(|item| item.get("event").and_then(|v| v.as_s().ok()).cloned())
        .collect();
    assert_eq!(
        timeline,
        [
            "room-created",
            "participant-connected",
            "track-added",
            "recording-started",
            "track-disabled",
            "track-enabled",
            "recording-failed",
            "track-removed",
            "participant-disconnected",
            "recording-completed",
            "room-ended",
            "composition-enqueued",
            "composition-started",
            "composition-progress",
            "composition-available",
            "composition-failed",
            "composition-hook-failed",
        ]
    );

    // Typed attributes are DynamoDB numbers where the spec has integers.
    let raw = page
        .items()
        .iter()
        .find(|item| {
            item.get("event")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                == Some("recording-completed")
        })
        .unwrap_or_else(|| panic!("recording-completed missing from the query"));
    assert_eq!(
        raw.get("size")
            .and_then(|v| v.as_n().ok())
            .map(String::as_str),
        Some("48213399")
    );
    assert_eq!(
        raw.get("duration")
            .and_then(|v| v.as_n().ok())
            .map(String::as_str),
        Some("893")
    );
}

#[tokio::test]
async fn only_the_two_media_events_are_enqueued_with_the_documented_body() {
    let world = World::new().await;
    for (name, json) in event_samples() {
        let response = world.invoke(lambda_event(&json)).await;
        assert_eq!(response.status(), 200, "{name}");
    }
    let messages = world.messages().await;
    assert_eq!(messages.len(), 2);
    let mut bodies: Vec<MediaMessage> = messages
        .iter()
        .map(|m| {
            serde_json::from_str(m.body().unwrap_or_default()).unwrap_or_else(|err| panic!("{err}"))
        })
        .collect();
    bodies.sort_by(|a, b| a.event.cmp(&b.event));
    for message in &messages {
        let attribute = message
            .message_attributes()
            .and_then(|attributes| attributes.get("event"))
            .unwrap_or_else(|| panic!("no event attribute"));
        assert_eq!(attribute.data_type(), "String");
        let body: MediaMessage = serde_json::from_str(message.body().unwrap_or_default())
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(attribute.string_value(), Some(body.event.as_str()));
    }

    let composition = &bodies[0];
    assert_eq!(composition.event, "composition-available");
    assert_eq!(composition.schema_version, 1);
    assert_eq!(
        composition.composition_sid.as_deref(),
        Some("CJ00000000000000000000000000000001")
    );
    assert_eq!(
        composition.media_url.as_deref(),
        Some("https://video.twilio.com/v1/Compositions/CJ00000000000000000000000000000001/Media")
    );
    assert_eq!(composition.size, Some(187_654_321));

    let recording = &bodies[1];
    assert_eq!(recording.event, "recording-completed");
    assert_eq!(
        recording.recording_sid.as_deref(),
        Some("RT00000000000000000000000000000002")
    );
    assert_eq!(recording.room_name.as_deref(), Some("daily-standup"));
    assert_eq!(recording.duration, Some(893));
    assert_eq!(
        recording.media_uri.as_deref(),
        Some("/v1/Recordings/RT00000000000000000000000000000002/Media")
    );

    // The message carries the stored item's idempotency key.
    let items = world.items().await;
    for body in &bodies {
        let item = items
            .iter()
            .find(|item| item.event == body.event)
            .unwrap_or_else(|| panic!("no item for {}", body.event));
        assert_eq!(item.idempotency_key, body.idempotency_key);
    }
}

#[tokio::test]
async fn a_second_delivery_of_every_sample_changes_nothing() {
    let world = World::new().await;
    for (_, json) in event_samples() {
        world.invoke(lambda_event(&json)).await;
    }
    let before = world.items().await;
    let first_messages = media_keys(&world.messages().await);
    for (name, json) in event_samples() {
        let response = world.invoke(lambda_event(&json)).await;
        assert_eq!(response.status(), 200, "{name}");
        assert!(
            response.body_text().contains("\"duplicate\""),
            "{name}: {}",
            response.body_text()
        );
    }
    assert_eq!(
        world.items().await,
        before,
        "the table is unchanged, received_at included"
    );
    assert_eq!(first_messages.len(), 2);
    assert_eq!(
        media_keys(&world.messages().await),
        first_messages,
        "the two media events are sent again, with the same idempotency keys (workers deduplicate on them)"
    );
}

/// The idempotency keys of `messages`, in order.
fn media_keys(messages: &[aws_sdk_sqs::types::Message]) -> Vec<String> {
    let mut keys: Vec<String> = messages
        .iter()
        .map(|m| {
            serde_json::from_str::<MediaMessage>(m.body().unwrap_or_default())
                .unwrap_or_else(|err| panic!("{err}"))
                .idempotency_key
        })
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn a_tampered_or_unsigned_callback_stores_nothing() {
    let world = World::new().await;
    let room_created = sample("room-created.json");

    // Same signature, one value changed in the body.
    let mut tampered: serde_json::Value =
        serde_json::from_str(&room_created).unwrap_or_else(|err| panic!("{err}"));
    let params: Vec<(String, String)> = sample_params(&room_created)
        .into_iter()
        .map(|(k, v)| {
            if k == "RoomName" {
                (k, "someone-else".into())
            } else {
                (k, v)
            }
        })
        .collect();
    let body = serde_urlencoded::to_string(&params).unwrap_or_else(|err| panic!("{err}"));
    tampered["body"] = serde_json::Value::from(base64_encode(body.as_bytes()));
    let response = world.invoke(lambda_event(&tampered.to_string())).await;
    assert_eq!(response.status(), 403);

    for name in ["bad-signature-403.json", "missing-signature-403.json"] {
        let response = world.invoke(lambda_event(&sample(name))).await;
        assert_eq!(response.status(), 403, "{name}");
        assert!(response.body_text().contains("\"error\""));
    }
    assert!(world.items().await.is_empty());
    assert!(world.messages().await.is_empty());
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn a_queue_that_fails_then_recovers_still_gets_the_message_on_redelivery() {
    let world = World::new().await;
    // The same table, but SQS unreachable.
    let broken_sqs = sdk_at(&dead_endpoint()).await;
    let broken = receiver_split(&world.sdk, &broken_sqs, &world.table, &world.queue_url);
    let json = sample("recording-completed.json");
    let failed = twilio_video_callbacks::receiver::gateway::invoke(
        &broken,
        lambda_event(&json),
        Default::default(),
    )
    .await;
    assert_eq!(failed.status(), 503, "{}", failed.body_text());
    assert!(
        failed.body_text().contains("SQS unavailable"),
        "{}",
        failed.body_text()
    );
    let items = world.items().await;
    assert_eq!(
        items.len(),
        1,
        "the callback is stored although the send failed"
    );
    assert!(world.messages().await.is_empty());

    // Twilio retries; the queue is back.
    let retried = world.invoke(lambda_event(&json)).await;
    assert_eq!(retried.status(), 200, "{}", retried.body_text());
    let messages = world.messages().await;
    assert_eq!(messages.len(), 1);
    let body: MediaMessage = serde_json::from_str(messages[0].body().unwrap_or_default())
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(body.idempotency_key, items[0].idempotency_key);
    assert_eq!(
        world.items().await,
        items,
        "the redelivery stored nothing new"
    );
}

#[tokio::test]
async fn dynamodb_unreachable_is_a_5xx_but_the_media_message_is_sent_all_the_same() {
    let world = World::new().await;
    let dead = sdk_at(&dead_endpoint()).await;
    let receiver = receiver_split(&dead, &world.sdk, "events", &world.queue_url);
    let response = twilio_video_callbacks::receiver::gateway::invoke(
        &receiver,
        lambda_event(&sample("composition-available.json")),
        Default::default(),
    )
    .await;
    assert_eq!(response.status(), 503);
    assert!(
        response.body_text().contains("DynamoDB unavailable"),
        "{}",
        response.body_text()
    );
    // The workers get the media even while the table is out of reach; Twilio's redelivery (if its retry
    // policy allows one) stores the callback and sends the same key again.
    let messages = world.messages().await;
    assert_eq!(messages.len(), 1);
    let body: MediaMessage = serde_json::from_str(messages[0].body().unwrap_or_default())
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(body.event, "composition-available");
}

#[tokio::test]
async fn a_missing_table_is_a_500_that_says_so() {
    let world = World::new().await;
    let receiver = receiver_for(&world.sdk, "no-such-table", &world.queue_url, &[]).await;
    let response = twilio_video_callbacks::receiver::gateway::invoke(
        &receiver,
        lambda_event(&sample("room-created.json")),
        Default::default(),
    )
    .await;
    assert_eq!(response.status(), 500);
    assert!(
        response.body_text().contains("DynamoDB rejected"),
        "{}",
        response.body_text()
    );
}

#[tokio::test]
async fn a_fifo_queue_gets_the_room_as_group_and_the_key_as_deduplication_id() {
    let world = World::with_queue_name(&format!("{}.fifo", unique("media"))).await;
    let response = world
        .invoke(lambda_event(&sample("recording-completed.json")))
        .await;
    assert_eq!(response.status(), 200, "{}", response.body_text());
    let messages = world.messages().await;
    assert_eq!(messages.len(), 1);
    let attributes = messages[0].attributes().cloned().unwrap_or_default();
    let get = |name: aws_sdk_sqs::types::MessageSystemAttributeName| attributes.get(&name).cloned();
    assert_eq!(
        get(aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId).as_deref(),
        Some("RM00000000000000000000000000000001")
    );
    let body: MediaMessage = serde_json::from_str(messages[0].body().unwrap_or_default())
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        get(aws_sdk_sqs::types::MessageSystemAttributeName::MessageDeduplicationId),
        Some(body.idempotency_key)
    );
}

#[tokio::test]
async fn retention_days_set_a_ttl_on_stored_items() {
    let world = World::new().await;
    let receiver = receiver_for(
        &world.sdk,
        &world.table,
        &world.queue_url,
        &[("EVENT_RETENTION_DAYS", "30")],
    )
    .await;
    let response = twilio_video_callbacks::receiver::gateway::invoke(
        &receiver,
        lambda_event(&sample("room-ended.json")),
        Default::default(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let items = world.items().await;
    let received = twilio_video_callbacks::twilio::timestamp::parse(&items[0].received_at)
        .unwrap_or_else(|| panic!("received_at is a time"));
    assert_eq!(
        items[0].expires_at,
        Some(received.unix_timestamp() + 30 * 86_400)
    );
}

#[tokio::test]
async fn warm_up_reaches_both_backends_and_names_a_missing_one_without_writing_anything() {
    let world = World::new().await;
    let store = world.receiver.store();
    let queue = world.receiver.queue();
    store
        .warm_up()
        .await
        .unwrap_or_else(|err| panic!("table: {err}"));
    queue
        .warm_up()
        .await
        .unwrap_or_else(|err| panic!("queue: {err}"));
    assert!(world.items().await.is_empty(), "the warm-up reads only");
    assert!(
        world.messages().await.is_empty(),
        "the warm-up sends nothing"
    );

    // A table or queue that does not exist is reported, naming the service, so init can log it.
    let missing = receiver_split(
        &world.sdk,
        &world.sdk,
        &unique("no-such-table"),
        &format!("{}-missing", world.queue_url),
    );
    let table_err = missing.store().warm_up().await.err();
    let queue_err = missing.queue().warm_up().await.err();
    let table_text = table_err.map(|e| e.to_string()).unwrap_or_default();
    let queue_text = queue_err.map(|e| e.to_string()).unwrap_or_default();
    assert!(table_text.contains("DynamoDB"), "{table_text:?}");
    assert!(queue_text.contains("SQS"), "{queue_text:?}");
}
