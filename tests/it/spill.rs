//! Nothing lost under Twilio's default delivery, against moto: a callback the table cannot take goes
//! onto a real SQS spill queue and is answered 202; the same function, invoked with the spill queue's
//! SQS event, verifies it again and stores it; what does not verify ends in the dead-letter queue. And
//! the API Gateway events AWS's own tooling generates (`sam local generate-event`) verify and are stored.

use aws_lambda_events::sqs::SqsBatchResponse;
use aws_sdk_sqs::types::QueueAttributeName;
use base64::Engine as _;
use twilio_video_callbacks::receiver::gateway::{self, Answer};
use twilio_video_callbacks::receiver::spill::Spilled;
use twilio_video_callbacks::twilio::signature;

use crate::helpers::*;

/// A spill queue whose messages move to a dead-letter queue after `max_receives` receives.
async fn spill_queues(sdk: &aws_config::SdkConfig, max_receives: u32) -> (String, String) {
    let client = aws_sdk_sqs::Client::new(sdk);
    let dead_letters = create_queue(sdk, &unique("spill-dlq")).await;
    let arn = client
        .get_queue_attributes()
        .queue_url(&dead_letters)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"))
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_else(|| panic!("no ARN"));
    let spill = client
        .create_queue()
        .queue_name(unique("spill"))
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"{max_receives}"}}"#),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"))
        .queue_url
        .unwrap_or_else(|| panic!("no URL"));
    (spill, dead_letters)
}

/// The function invoked with `event` as Lambda would: a JSON payload, dispatched on its shape.
async fn invoke_with(receiver: &AwsReceiver, event: serde_json::Value) -> Answer {
    gateway::dispatch(receiver, event, Default::default())
        .await
        .unwrap_or_else(|err| panic!("not an event the function takes: {err}"))
}

fn batch(answer: Answer) -> SqsBatchResponse {
    match answer {
        Answer::Batch(response) => response,
        Answer::Http(response) => panic!("an SQS event answered as HTTP: {response:?}"),
    }
}

#[tokio::test]
async fn a_table_that_is_down_spills_and_the_spill_consumer_stores_it_once() {
    let world = World::new().await;
    let (spill_url, _) = spill_queues(&world.sdk, 5).await;
    let dead = sdk_at(&dead_endpoint()).await;
    let down = receiver_spilling(
        &dead,
        &world.sdk,
        &world.table,
        &world.queue_url,
        &spill_url,
    );

    let sample_event: serde_json::Value = serde_json::from_str(&sample("recording-completed.json"))
        .unwrap_or_else(|err| panic!("{err}"));
    let Answer::Http(response) = invoke_with(&down, sample_event).await else {
        panic!("an API Gateway event answered as a batch")
    };
    assert_eq!(response.status(), 202, "{}", response.body_text());
    let body: serde_json::Value =
        serde_json::from_str(&response.body_text()).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(body["outcome"], "spilled");
    assert_eq!(
        body["enqueued"], true,
        "the message went out while the table was down"
    );
    assert!(scan(&world.sdk, &world.table).await.is_empty());

    // The table is back: the same function consumes the spill queue.
    let healthy = receiver_spilling(
        &world.sdk,
        &world.sdk,
        &world.table,
        &world.queue_url,
        &spill_url,
    );
    let event = receive_as_event(&world.sdk, &spill_url).await;
    assert_eq!(event.records.len(), 1);
    let spilled: Spilled =
        serde_json::from_str(event.records[0].body.as_deref().unwrap_or_default())
            .unwrap_or_else(|err| panic!("{err}"));
    assert!(spilled.media_sent);
    assert!(
        spilled.reason.contains("DynamoDB unavailable"),
        "{}",
        spilled.reason
    );
    let event = serde_json::to_value(&event).unwrap_or_else(|err| panic!("{err}"));
    // Delivered twice (SQS is at least once): stored once.
    for _ in 0..2 {
        let response = batch(invoke_with(&healthy, event.clone()).await);
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
    let items = scan(&world.sdk, &world.table).await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].params,
        twilio_video_callbacks::twilio::callback::Params::new(sample_params(&sample(
            "recording-completed.json"
        )))
        .to_map()
    );
    assert_eq!(items[0].received_at, spilled.received_at);
    assert_eq!(
        world.messages().await.len(),
        1,
        "the media message was not sent again"
    );
}

#[tokio::test]
async fn a_spilled_message_that_does_not_verify_ends_in_the_dead_letter_queue_never_in_the_table() {
    let world = World::new().await;
    let (spill_url, dead_letters) = spill_queues(&world.sdk, 1).await;
    let forged = Spilled::new(
        "https://abc123defg.execute-api.us-east-1.amazonaws.com/twilio/video",
        "c2lnbmF0dXJl",
        None,
        b"AccountSid=AC1&StatusCallbackEvent=room-created&RoomSid=RM1&Timestamp=2026-11-27T09%3A00%3A00Z",
        time::OffsetDateTime::now_utc(),
        false,
        "written by someone who can send to the queue",
        None,
    );
    aws_sdk_sqs::Client::new(&world.sdk)
        .send_message()
        .queue_url(&spill_url)
        .message_body(serde_json::to_string(&forged).unwrap_or_default())
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let receiver = receiver_spilling(
        &world.sdk,
        &world.sdk,
        &world.table,
        &world.queue_url,
        &spill_url,
    );
    let event = receive_as_event(&world.sdk, &spill_url).await;
    let id = event.records[0].message_id.clone().unwrap_or_default();
    let response =
        batch(invoke_with(&receiver, serde_json::to_value(&event).unwrap_or_default()).await);
    assert_eq!(
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect::<Vec<_>>(),
        [id]
    );
    assert!(scan(&world.sdk, &world.table).await.is_empty());
    // After its last receive, SQS's redrive policy moves it to the dead-letter queue.
    let again = receive_as_event(&world.sdk, &spill_url).await;
    assert!(again.records.is_empty());
    assert_eq!(drain(&world.sdk, &dead_letters).await.len(), 1);
}

/// A form signed for `url`, base64 as API Gateway passes it.
fn signed_form(url: &str, params: &[(String, String)]) -> (String, String) {
    let body = serde_urlencoded::to_string(params).unwrap_or_else(|err| panic!("{err}"));
    let signature = signature::compute(TOKEN, url, params);
    (
        base64::engine::general_purpose::STANDARD.encode(body),
        signature,
    )
}

fn tooling_event(file: &str) -> serde_json::Value {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{path}: {err}"))
}

#[tokio::test]
async fn the_events_aws_tooling_generates_verify_with_the_url_they_carry() {
    let world = World::new().await;

    // `sam local generate-event apigateway aws-proxy`: a REST API event without
    // requestContext.domainName; the URL comes from the Host header and the path as called.
    let mut rest = tooling_event("sam-apigateway-aws-proxy.json");
    assert!(rest["requestContext"].get("domainName").is_none());
    let query: Vec<(String, String)> = rest["queryStringParameters"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let url = format!(
        "https://{}{}?{}",
        rest["headers"]["Host"].as_str().unwrap_or_default(),
        rest["requestContext"]["path"].as_str().unwrap_or_default(),
        serde_urlencoded::to_string(&query).unwrap_or_default()
    );
    assert!(url.ends_with("/prod/twilio/video?foo=bar"), "{url}");
    let room = sample_params(&sample("room-created.json"));
    let (body, signature) = signed_form(&url, &room);
    for headers in ["headers", "multiValueHeaders"] {
        let value = |v: &str| match headers {
            "headers" => serde_json::Value::from(v),
            _ => serde_json::json!([v]),
        };
        rest[headers]["Content-Type"] = value("application/x-www-form-urlencoded");
        rest[headers]["X-Twilio-Signature"] = value(&signature);
    }
    rest["body"] = body.into();
    rest["isBase64Encoded"] = true.into();

    // `sam local generate-event apigateway http-api-proxy`: payload 2.0, with a query string.
    let mut http = tooling_event("sam-apigateway-http-api-proxy.json");
    let url = format!(
        "https://{}{}?{}",
        http["requestContext"]["domainName"]
            .as_str()
            .unwrap_or_default(),
        http["rawPath"].as_str().unwrap_or_default(),
        http["rawQueryString"].as_str().unwrap_or_default()
    );
    let participant = sample_params(&sample("participant-connected.json"));
    let (body, signature) = signed_form(&url, &participant);
    http["headers"]["content-type"] = "application/x-www-form-urlencoded".into();
    http["headers"]["x-twilio-signature"] = signature.into();
    http["body"] = body.into();

    for (name, event) in [("aws-proxy", rest), ("http-api-proxy", http)] {
        let Answer::Http(response) = invoke_with(&world.receiver, event).await else {
            panic!("{name}: answered as a batch")
        };
        assert_eq!(response.status(), 200, "{name}: {}", response.body_text());
    }
    let events: Vec<String> = scan(&world.sdk, &world.table)
        .await
        .into_iter()
        .map(|item| item.event)
        .collect();
    assert_eq!(events.len(), 2);
    assert!(events.contains(&"room-created".to_owned()));
    assert!(events.contains(&"participant-connected".to_owned()));
}

#[tokio::test]
async fn a_callback_stored_before_it_was_spilled_is_marked_by_the_consumer() {
    let world = World::new().await;
    let (spill_url, _) = spill_queues(&world.sdk, 5).await;
    // The table answers, the media queue does not: stored, then spilled with media_sent false.
    let dead = sdk_at(&dead_endpoint()).await;
    let tokens = signature::AuthTokens::parse(TOKEN).unwrap_or_else(|err| panic!("{err}"));
    let queue_down = twilio_video_callbacks::receiver::handler::Receiver::new(
        tokens,
        twilio_video_callbacks::aws::store::DynamoEventStore::new(
            aws_sdk_dynamodb::Client::new(&world.sdk),
            &world.table,
        ),
        twilio_video_callbacks::aws::queue::SqsMediaQueue::new(
            aws_sdk_sqs::Client::new(&dead),
            &world.queue_url,
        ),
    )
    .with_spill(Some(
        twilio_video_callbacks::aws::queue::SqsSpillQueue::new(
            aws_sdk_sqs::Client::new(&world.sdk),
            &spill_url,
        ),
    ));
    let sample_event: serde_json::Value = serde_json::from_str(&sample("recording-completed.json"))
        .unwrap_or_else(|err| panic!("{err}"));
    let Answer::Http(response) = invoke_with(&queue_down, sample_event).await else {
        panic!("an API Gateway event answered as a batch")
    };
    assert_eq!(response.status(), 202, "{}", response.body_text());
    let items = scan(&world.sdk, &world.table).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].spilled, None, "stored before the spill");

    // The consumer: the insert finds the item, which it marks with the spill's reason, and sends the
    // message that had not gone out. Delivered twice: marked once, the reason kept.
    let event = receive_as_event(&world.sdk, &spill_url).await;
    let spilled: Spilled =
        serde_json::from_str(event.records[0].body.as_deref().unwrap_or_default())
            .unwrap_or_else(|err| panic!("{err}"));
    assert!(!spilled.media_sent);
    let event = serde_json::to_value(&event).unwrap_or_else(|err| panic!("{err}"));
    for _ in 0..2 {
        let response = batch(invoke_with(&world.receiver, event.clone()).await);
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
    let items = scan(&world.sdk, &world.table).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].spilled.as_deref(), Some(spilled.reason.as_str()));
    assert!(
        spilled.reason.contains("SQS"),
        "the reason says what failed: {}",
        spilled.reason
    );
    assert_eq!(
        world.messages().await.len(),
        2,
        "sent by each delivery of the spill message (at least once)"
    );
}
