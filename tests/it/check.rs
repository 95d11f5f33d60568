//! `check` end to end: the real receiver behind a local HTTP front (a hyper server turning each request
//! into the API Gateway event the Lambda gets, the same URL for signing and sending), moto for DynamoDB
//! and SQS, and the fake Twilio REST API's rooms (ours, ours with overrides, another URL, none).
//!
//! A working stack passes with every row ok and leaves nothing of its test room in the table (nor a
//! message on the media queue); rooms elsewhere and rooms missed are listed and fail; broken plumbing
//! fails with the redrive named; a receiver that is down, a wrong token and bad usage say so. A table
//! that is down: the round trip is spilled (a warn) and the spill consumer, run here, stores the item
//! within the wait. CloudWatch (moto): the spill queue's age (old: fail; young: warn) and, with `--stack`
//! (a moto CloudFormation stack whose outputs name the deployment), the stack's alarms in ALARM.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use time::OffsetDateTime;
use twilio_video_callbacks::operator::check::round_trip::deliver;
use twilio_video_callbacks::operator::check::signing::SigningKey;
use twilio_video_callbacks::receiver::gateway;
use twilio_video_callbacks::receiver::item::{ROOMS_INDEX, ROOM_DAY};
use twilio_video_callbacks::twilio::timestamp;

use crate::helpers::fake_rest::{self, FakeRest};
use crate::helpers::fake_twilio::{KEY_SECRET, KEY_SID};
use crate::helpers::*;

const ACCOUNT: &str = "AC00000000000000000000000000000001";
const PATH: &str = "/twilio/video";

/// A deployment: a table, its queues, the real receiver behind an HTTP front, and Twilio's REST API.
struct Stack {
    sdk: aws_config::SdkConfig,
    table: String,
    queue_url: String,
    spill_url: String,
    dead_letter_url: String,
    spill_dead_letter_url: String,
    /// The front's URL: where Twilio (and the check) sends, and what the receiver verifies.
    url: String,
    rest: FakeRest,
}

async fn stack(with_index: bool) -> Stack {
    stack_with(with_index, false).await
}

/// [`stack`], whose receiver's table is down when `table_down` (DynamoDB at an endpoint where nothing
/// listens): every verified callback is spilled, answered 202.
async fn stack_with(with_index: bool, table_down: bool) -> Stack {
    // Patient clients: on a loaded machine moto answers slowly, and a correctness test asserts end
    // states, not that every call beat the receiver's 3-second timeout.
    let sdk = moto_patient().await;
    let table = unique("events");
    if with_index {
        create_table(&sdk, &table).await;
    } else {
        plain_table(&sdk, &table).await;
    }
    let queue_url = create_queue(&sdk, &unique("media")).await;
    let spill_url = create_queue(&sdk, &unique("spill")).await;
    let dead_letter_url = create_queue(&sdk, &unique("media-dlq")).await;
    let spill_dead_letter_url = create_queue(&sdk, &unique("spill-dlq")).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let address = listener.local_addr().unwrap_or_else(|err| panic!("{err}"));
    let url = format!("http://{address}{PATH}");
    let receiver = if table_down {
        let down = sdk_at(&dead_endpoint()).await;
        receiver_spilling(&down, &sdk, &table, &queue_url, &spill_url)
            .with_webhook_url(Some(url.clone()))
    } else {
        healthy_receiver(&sdk, &table, &queue_url, &spill_url, &url).await
    };
    serve(listener, Arc::new(receiver));
    Stack {
        sdk,
        table,
        queue_url,
        spill_url,
        dead_letter_url,
        spill_dead_letter_url,
        url,
        rest: fake_rest::start(4).await,
    }
}

/// The deployed receiver: the table, the media queue and the spill queue all answer.
async fn healthy_receiver(
    sdk: &aws_config::SdkConfig,
    table: &str,
    queue_url: &str,
    spill_url: &str,
    url: &str,
) -> AwsReceiver {
    receiver_for(
        sdk,
        table,
        queue_url,
        &[("TWILIO_WEBHOOK_URL", url), ("SPILL_QUEUE_URL", spill_url)],
    )
    .await
}

/// The local HTTP front: each request becomes the API Gateway (HTTP API) event of the deployed route and
/// goes through the real Lambda edge and handler; the handler's answer goes back as HTTP.
fn serve(listener: tokio::net::TcpListener, receiver: Arc<AwsReceiver>) {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let receiver = receiver.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let receiver = receiver.clone();
                    async move { Ok::<_, std::convert::Infallible>(front(&receiver, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

async fn front(
    receiver: &AwsReceiver,
    request: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let host = parts
        .headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let event = http_api_event(
        host,
        parts.uri.path(),
        parts.method.as_str(),
        &headers,
        &base64::engine::general_purpose::STANDARD.encode(&body),
        true,
    );
    let event = serde_json::from_value(event).unwrap_or_else(|err| panic!("{err}"));
    let answer = gateway::invoke(receiver, event, Default::default()).await;
    hyper::Response::builder()
        .status(answer.status())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(answer.body_text())))
        .unwrap_or_else(|err| panic!("{err}"))
}

/// A table with the keys but without the rooms-by-day index.
async fn plain_table(sdk: &aws_config::SdkConfig, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let mut request = aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (key, kind) in [("pk", KeyType::Hash), ("sk", KeyType::Range)] {
        request = request
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(key)
                    .key_type(kind)
                    .build()
                    .unwrap_or_else(|err| panic!("{err}")),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap_or_else(|err| panic!("{err}")),
            );
    }
    request.send().await.unwrap_or_else(|err| panic!("{err:?}"));
}

fn ago(hours: i64) -> String {
    timestamp::format(OffsetDateTime::now_utc() - time::Duration::hours(hours))
}

fn room_sid(n: usize) -> String {
    format!("RM{n:032x}")
}

impl Stack {
    /// Twilio created `room` with `callback`, and (when `delivered`) its room-created reached the table.
    async fn room(
        &self,
        sid: &str,
        status: &str,
        hours_ago: i64,
        callback: Option<&str>,
        delivered: bool,
    ) {
        let created = ago(hours_ago);
        self.rest.add(
            "Rooms",
            fake_rest::room(sid, &format!("name-{sid}"), status, &created, callback),
        );
        if delivered {
            let params: Vec<(String, String)> = [
                ("AccountSid", ACCOUNT),
                ("RoomName", &format!("name-{sid}")),
                ("RoomSid", sid),
                ("RoomStatus", "in-progress"),
                ("RoomType", "group"),
                ("StatusCallbackEvent", "room-created"),
                ("Timestamp", &created),
                ("SequenceNumber", "0"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let key = SigningKey::auth_token(ACCOUNT, TOKEN, "test");
            let answer = deliver(&self.url, &key, &params)
                .await
                .unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(answer.status, 200, "{}", answer.body);
        }
    }

    /// The program's `check --json` with this stack's settings, then `extra` (set or, when empty, removed).
    async fn check(&self, args: &[&str], extra: &[(&str, &str)]) -> (Option<i32>, Value, String) {
        let mut command = operator_cli();
        command
            .arg("check")
            .arg("--json")
            .args(args)
            .env("EVENTS_TABLE", &self.table)
            .env("MEDIA_QUEUE_URL", &self.queue_url)
            .env("SPILL_QUEUE_URL", &self.spill_url)
            .env("DEAD_LETTER_QUEUE_URL", &self.dead_letter_url)
            .env("SPILL_DEAD_LETTER_QUEUE_URL", &self.spill_dead_letter_url)
            .env("CALLBACK_URL", &self.url)
            .env("TWILIO_AUTH_TOKEN", TOKEN)
            .env("TWILIO_ACCOUNT_SID", ACCOUNT)
            .env("TWILIO_API_KEY_SID", KEY_SID)
            .env("TWILIO_API_KEY_SECRET", KEY_SECRET)
            .env("TWILIO_VIDEO_BASE_URL", &self.rest.url)
            .env("CHECK_WAIT", "5s");
        for (name, value) in extra {
            if value.is_empty() {
                command.env_remove(name);
            } else {
                command.env(name, value);
            }
        }
        // The front runs on this test's runtime: wait for the program without blocking it.
        let out = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap_or_else(|err| panic!("{err}"))
            .unwrap_or_else(|err| panic!("{err}"));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
            panic!("{err}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout))
        });
        (out.status.code(), json, stderr)
    }

    /// Every item of `room` in the table, and the index entries of today and yesterday naming it.
    async fn traces_of(&self, room: &str) -> (usize, usize) {
        let items = scan(&self.sdk, &self.table).await;
        let in_table = items.iter().filter(|item| item.pk == room).count();
        let client = aws_sdk_dynamodb::Client::new(&self.sdk);
        let mut in_index = 0;
        for day in [ago(0), ago(24)] {
            let page = client
                .query()
                .table_name(&self.table)
                .index_name(ROOMS_INDEX)
                .key_condition_expression("#day = :day")
                .expression_attribute_names("#day", ROOM_DAY)
                .expression_attribute_values(":day", AttributeValue::S(day[..10].to_owned()))
                .send()
                .await
                .unwrap_or_else(|err| panic!("{err:?}"));
            in_index += page
                .items()
                .iter()
                .filter(|item| matches!(item.get("pk"), Some(AttributeValue::S(pk)) if pk == room))
                .count();
        }
        (in_table, in_index)
    }
}

fn row<'a>(json: &'a Value, step: &str) -> &'a Value {
    json["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["step"] == step))
        .unwrap_or_else(|| panic!("no row {step} in {json}"))
}

fn status<'a>(json: &'a Value, step: &str) -> &'a str {
    row(json, step)["status"].as_str().unwrap_or_default()
}

fn detail(json: &Value, step: &str) -> String {
    row(json, step)["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_working_stack_passes_every_step_and_the_check_leaves_nothing_behind() {
    let stack = stack(true).await;
    let with_overrides = format!("{}#ct=3000&rc=3&rp=all", stack.url);
    stack
        .room(&room_sid(1), "in-progress", 1, Some(&stack.url), true)
        .await;
    stack
        .room(&room_sid(2), "completed", 2, Some(&with_overrides), true)
        .await;
    stack
        .room(&room_sid(3), "failed", 3, Some(&stack.url), true)
        .await;
    // More completed rooms than one page holds (PageSize 100): the listing follows next_page_url.
    for n in 10..115 {
        stack
            .room(&room_sid(n), "completed", 5, Some(&stack.url), true)
            .await;
    }
    let before = scan(&stack.sdk, &stack.table).await.len();

    let (code, json, stderr) = stack.check(&[], &[]).await;
    assert_eq!(code, Some(0), "{json}\n{stderr}");
    assert_eq!(json["status"], "ok");
    assert!(
        json["not_checked"]
            .as_array()
            .is_some_and(|notes| notes.iter().any(|note| note
                .as_str()
                .unwrap_or_default()
                .contains("alarms: read only with --stack"))),
        "{json}"
    );
    for step in [
        "round trip: deliver",
        "round trip: stored",
        "round trip: duplicate",
        "round trip: wrong signature",
        "round trip: cleanup",
        "plumbing: table",
        "plumbing: media queue",
        "plumbing: spill queue",
        "plumbing: media dead-letter queue",
        "plumbing: spill dead-letter queue",
        "twilio: status callback",
        "twilio: missed",
    ] {
        assert_eq!(status(&json, step), "ok", "{step}: {json}");
    }
    assert!(
        detail(&json, "twilio: status callback").starts_with("108 room(s)"),
        "{json}"
    );
    assert!(
        stack
            .rest
            .state
            .throttled
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
    );

    // Nothing of the test room is left: not in the table, not in the index; nothing else was touched,
    // and no media message was ever sent.
    let test_room = json["test_room"].as_str().unwrap_or_default().to_owned();
    assert!(
        test_room.starts_with("RM") && test_room.len() == 34,
        "{json}"
    );
    assert_eq!(stack.traces_of(&test_room).await, (0, 0));
    assert_eq!(scan(&stack.sdk, &stack.table).await.len(), before);
    assert!(drain(&stack.sdk, &stack.queue_url).await.is_empty());

    // On a terminal: a table, and the verdict on stderr.
    let mut command = operator_cli();
    command
        .arg("check")
        .env("EVENTS_TABLE", &stack.table)
        .env("MEDIA_QUEUE_URL", &stack.queue_url)
        .env("CALLBACK_URL", &with_overrides)
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .env("TWILIO_ACCOUNT_SID", ACCOUNT);
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap_or_else(|err| panic!("{err}"))
        .unwrap_or_else(|err| panic!("{err}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("round trip: cleanup"), "{stdout}");
    assert!(
        stderr.contains(&format!("check: ok against {}", stack.url)),
        "{stderr}"
    );
    assert!(stderr.contains("not checked: twilio"), "{stderr}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
}

#[tokio::test]
async fn rooms_that_do_not_call_here_and_rooms_missed_are_listed_and_fail() {
    let stack = stack(true).await;
    stack
        .room(&room_sid(1), "completed", 1, Some(&stack.url), true)
        .await;
    stack
        .room(
            &room_sid(2),
            "completed",
            2,
            Some("https://old.example.com/hook#rc=3"),
            false,
        )
        .await;
    stack
        .room(&room_sid(3), "in-progress", 1, Some(""), false)
        .await;
    stack.room(&room_sid(4), "failed", 1, None, false).await;
    stack
        .room(&room_sid(5), "completed", 3, Some(&stack.url), false)
        .await;
    // Created before --since: not listed.
    stack
        .room(
            &room_sid(6),
            "completed",
            30,
            Some("https://old.example.com/hook"),
            false,
        )
        .await;

    let (code, json, stderr) = stack.check(&[], &[]).await;
    assert_eq!(code, Some(1), "{json}\n{stderr}");
    assert_eq!(status(&json, "round trip: cleanup"), "ok", "{json}");
    assert_eq!(status(&json, "twilio: status callback"), "fail", "{json}");
    let elsewhere = detail(&json, "twilio: status callback");
    let old = format!(
        "{} (name-{}) -> https://old.example.com/hook#rc=3",
        room_sid(2),
        room_sid(2)
    );
    assert!(elsewhere.contains(&old), "{elsewhere}");
    assert!(elsewhere.contains(&format!("{} (name-{}) -> (none)", room_sid(3), room_sid(3))));
    assert!(elsewhere.contains(&format!("{} (name-{}) -> (none)", room_sid(4), room_sid(4))));
    assert!(elsewhere.starts_with("3 of 5 room(s)"), "{elsewhere}");
    for absent in [room_sid(1), room_sid(5), room_sid(6)] {
        assert!(!elsewhere.contains(&absent), "{elsewhere}");
    }
    assert_eq!(status(&json, "twilio: missed"), "fail");
    let missed = detail(&json, "twilio: missed");
    assert!(
        missed.contains(&room_sid(5)) && !missed.contains(&room_sid(1)),
        "{missed}"
    );

    // A week back, the old room is listed too.
    let (_, week, _) = stack.check(&["--since", "7d"], &[]).await;
    assert!(
        detail(&week, "twilio: status callback").contains(&room_sid(6)),
        "{week}"
    );

    // An API key Twilio refuses: the step fails and says what to check.
    let (code, refused, _) = stack
        .check(&[], &[("TWILIO_API_KEY_SECRET", "wrong")])
        .await;
    assert_eq!(code, Some(1));
    assert!(
        detail(&refused, "twilio: status callback").contains("401"),
        "{refused}"
    );
}

#[tokio::test]
async fn broken_plumbing_fails_and_names_the_redrive() {
    let stack = stack(false).await;
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    for url in [&stack.dead_letter_url, &stack.spill_url] {
        sqs.send_message()
            .queue_url(url)
            .message_body("{}")
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
    }
    let missing_queue = format!("{}/123456789012/no-such-queue", moto_endpoint());
    let (code, json, stderr) = stack
        .check(&[], &[("MEDIA_QUEUE_URL", &missing_queue)])
        .await;
    assert_eq!(code, Some(1), "{json}\n{stderr}");
    // The round trip works regardless (the receiver's own queue is fine), and cleans up.
    assert_eq!(status(&json, "round trip: stored"), "ok", "{json}");
    assert_eq!(status(&json, "round trip: cleanup"), "ok", "{json}");
    assert_eq!(status(&json, "plumbing: table"), "fail");
    assert!(detail(&json, "plumbing: table").contains(ROOMS_INDEX));
    assert_eq!(status(&json, "plumbing: media queue"), "fail");
    assert!(detail(&json, "plumbing: media queue").contains("no-such-queue"));
    assert_eq!(status(&json, "plumbing: spill queue"), "warn");
    // moto publishes no SQS metrics: the age is unknown, and the row says so.
    assert!(
        detail(&json, "plumbing: spill queue").contains("age of the oldest is unknown"),
        "{json}"
    );
    assert_eq!(status(&json, "plumbing: media dead-letter queue"), "fail");
    let next = row(&json, "plumbing: media dead-letter queue")["next"]
        .as_str()
        .unwrap_or_default();
    assert!(
        next.contains("aws sqs start-message-move-task --source-arn arn:aws:sqs:"),
        "{next}"
    );
    assert_eq!(status(&json, "plumbing: spill dead-letter queue"), "ok");
}

#[tokio::test]
async fn a_receiver_that_is_down_fails_and_says_where_it_called() {
    let stack = stack(true).await;
    let down = format!("{}{PATH}", dead_endpoint());
    let (code, json, _) = stack.check(&[], &[("CALLBACK_URL", &down)]).await;
    assert_eq!(code, Some(1));
    assert_eq!(status(&json, "round trip: deliver"), "fail");
    let said = detail(&json, "round trip: deliver");
    assert!(
        said.contains(&format!("could not reach the receiver at {down}")),
        "{said}"
    );
    assert_eq!(status(&json, "round trip: cleanup"), "ok");
}

#[tokio::test]
async fn a_wrong_token_fails_the_round_trip_with_403_and_says_so() {
    let stack = stack(true).await;
    let (code, json, stderr) = stack
        .check(&[], &[("TWILIO_AUTH_TOKEN", "not-the-deployed-token")])
        .await;
    assert_eq!(code, Some(1));
    assert_eq!(status(&json, "round trip: deliver"), "fail");
    let said = detail(&json, "round trip: deliver");
    assert!(
        said.contains("answered 403") && said.contains("TWILIO_AUTH_TOKEN"),
        "{said}"
    );
    assert!(json["rows"]
        .as_array()
        .is_some_and(|rows| rows.iter().all(|row| row["step"] != "round trip: stored")));
    assert_eq!(status(&json, "round trip: cleanup"), "ok");
    let test_room = json["test_room"].as_str().unwrap_or_default().to_owned();
    assert_eq!(stack.traces_of(&test_room).await, (0, 0));
    assert!(!json.to_string().contains("not-the-deployed-token"));
    assert!(!stderr.contains("not-the-deployed-token"));
}

#[tokio::test]
async fn bad_usage_is_exit_status_2_and_missing_settings_fail_the_round_trip() {
    let help = operator_cli()
        .args(["check", "--help"])
        .env("TWILIO_AUTH_TOKEN", "secret-token-in-the-environment")
        .output()
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--since") && text.contains("Example"),
        "{text}"
    );
    assert!(!text.contains("secret-token-in-the-environment"), "{text}");
    for args in [
        vec!["check", "--since", "yesterday"],
        vec!["check", "--since", "0h"],
        vec!["check", "--callback-url", "ftp://example.com/x"],
        vec!["check", "--auth-token", "a", "--auth-token-parameter", "/p"],
    ] {
        let out = operator_cli()
            .args(&args)
            .output()
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = operator_cli()
        .args(["check", "--json"])
        .output()
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(status(&json, "round trip"), "fail");
    let said = detail(&json, "round trip");
    for missing in [
        "CALLBACK_URL",
        "EVENTS_TABLE",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_ACCOUNT_SID",
    ] {
        assert!(said.contains(missing), "{said}");
    }
}

/// The spill consumer, as the template's SpillDrain event source runs it: the receiver's own function
/// (its table healthy) invoked with batches of the spill queue; what it handled is deleted.
fn spill_consumer(stack: &Stack, receiver: AwsReceiver) -> tokio::task::JoinHandle<()> {
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let spill_url = stack.spill_url.clone();
    tokio::spawn(async move {
        loop {
            let received = sqs
                .receive_message()
                .queue_url(&spill_url)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .send()
                .await
                .unwrap_or_else(|err| panic!("{err:?}"));
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
            let event = aws_lambda_events::sqs::SqsEvent {
                records: messages
                    .iter()
                    .map(|m| aws_lambda_events::sqs::SqsMessage {
                        message_id: m.message_id.clone(),
                        receipt_handle: m.receipt_handle.clone(),
                        body: m.body.clone(),
                        event_source: Some("aws:sqs".to_owned()),
                        ..Default::default()
                    })
                    .collect(),
            };
            let event = serde_json::to_value(&event).unwrap_or_else(|err| panic!("{err}"));
            let answer = gateway::dispatch(&receiver, event, Default::default())
                .await
                .unwrap_or_else(|err| panic!("{err}"));
            let gateway::Answer::Batch(response) = answer else {
                panic!("an SQS event answered as HTTP")
            };
            for message in &messages {
                let failed = response
                    .batch_item_failures
                    .iter()
                    .any(|f| Some(&f.item_identifier) == message.message_id.as_ref());
                if !failed {
                    sqs.delete_message()
                        .queue_url(&spill_url)
                        .receipt_handle(message.receipt_handle.clone().unwrap_or_default())
                        .send()
                        .await
                        .unwrap_or_else(|err| panic!("{err:?}"));
                }
            }
        }
    })
}

#[tokio::test]
async fn a_spilled_round_trip_warns_and_its_item_still_appears_and_is_removed() {
    let stack = stack_with(true, true).await;
    let healthy = healthy_receiver(
        &stack.sdk,
        &stack.table,
        &stack.queue_url,
        &stack.spill_url,
        &stack.url,
    )
    .await;
    let consumer = spill_consumer(&stack, healthy);
    let (code, json, stderr) = stack.check(&[], &[]).await;
    consumer.abort();
    assert_eq!(code, Some(0), "warnings only: {json}\n{stderr}");
    assert_eq!(json["status"], "warn", "{json}");
    assert_eq!(status(&json, "round trip: deliver"), "warn", "{json}");
    assert!(
        detail(&json, "round trip: deliver").contains("answered 202"),
        "{json}"
    );
    // Stored by the spill consumer within the wait.
    assert_eq!(status(&json, "round trip: stored"), "ok", "{json}");
    // No second delivery: spilled too, it could be stored after the cleanup.
    assert_eq!(status(&json, "round trip: duplicate"), "warn", "{json}");
    assert_eq!(status(&json, "round trip: wrong signature"), "ok", "{json}");
    assert_eq!(status(&json, "round trip: cleanup"), "ok", "{json}");
    let test_room = json["test_room"].as_str().unwrap_or_default().to_owned();
    assert_eq!(stack.traces_of(&test_room).await, (0, 0));
    assert!(drain(&stack.sdk, &stack.spill_url).await.is_empty());
}

/// A datapoint of AWS/SQS ApproximateAgeOfOldestMessage for the queue at `url`, as SQS publishes it.
async fn oldest_age_is(sdk: &aws_config::SdkConfig, url: &str, seconds: f64) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let name = url.rsplit('/').next().unwrap_or_default();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    // moto does not read a gzipped PutMetricData (the SDK compresses it by default).
    let config = aws_sdk_cloudwatch::config::Builder::from(sdk)
        .disable_request_compression(true)
        .build();
    aws_sdk_cloudwatch::Client::from_conf(config)
        .put_metric_data()
        .namespace("AWS/SQS")
        .metric_data(
            MetricDatum::builder()
                .metric_name("ApproximateAgeOfOldestMessage")
                .dimensions(Dimension::builder().name("QueueName").value(name).build())
                .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(now))
                .value(seconds)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
}

#[tokio::test]
async fn a_spill_queue_with_an_old_message_fails_naming_the_redrive_and_a_young_one_warns() {
    let stack = stack(true).await;
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let young = create_queue(&stack.sdk, &unique("spill-young")).await;
    for url in [&stack.spill_url, &young] {
        sqs.send_message()
            .queue_url(url)
            .message_body("{}")
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
    }
    oldest_age_is(&stack.sdk, &stack.spill_url, 900.0).await;
    oldest_age_is(&stack.sdk, &young, 40.0).await;

    let (code, json, stderr) = stack.check(&[], &[]).await;
    assert_eq!(code, Some(1), "{json}\n{stderr}");
    assert_eq!(status(&json, "plumbing: spill queue"), "fail", "{json}");
    assert!(
        detail(&json, "plumbing: spill queue").contains("waited 900 s"),
        "{json}"
    );
    let next = row(&json, "plumbing: spill queue")["next"]
        .as_str()
        .unwrap_or_default();
    assert!(
        next.contains("SpillDrain") && next.contains("aws sqs start-message-move-task"),
        "{next}"
    );

    let (code, json, stderr) = stack.check(&[], &[("SPILL_QUEUE_URL", &young)]).await;
    assert_eq!(code, Some(0), "{json}\n{stderr}");
    assert_eq!(status(&json, "plumbing: spill queue"), "warn", "{json}");
    let said = detail(&json, "plumbing: spill queue");
    assert!(
        said.contains("waited 40 s") && said.contains("draining"),
        "{said}"
    );
}

/// A CloudFormation stack in moto whose outputs name this deployment (and whose parameter names the
/// auth token's SSM parameter), as `sam deploy` leaves it; its name.
async fn deployed_stack(stack: &Stack) -> String {
    let name = unique("callbacks");
    let parameter = format!("/{name}/auth-token");
    // moto's first CreateStack can be slower than the receiver's timeouts (a retry finds it exists).
    let patient = moto_patient().await;
    aws_sdk_ssm::Client::new(&patient)
        .put_parameter()
        .name(&parameter)
        .value(TOKEN)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let outputs: serde_json::Map<String, Value> = [
        ("CallbackUrl", &stack.url),
        ("EventsTableName", &stack.table),
        ("MediaQueueUrl", &stack.queue_url),
        ("SpillQueueUrl", &stack.spill_url),
        ("DeadLetterQueueUrl", &stack.dead_letter_url),
        ("SpillDeadLetterQueueUrl", &stack.spill_dead_letter_url),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), serde_json::json!({ "Value": value })))
    .collect();
    let template = serde_json::json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "AuthTokenParameterName": {"Type": "String", "Default": parameter},
            "WebhookUrl": {"Type": "String", "Default": ""}
        },
        "Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": outputs,
    });
    aws_sdk_cloudformation::Client::new(&patient)
        .create_stack()
        .stack_name(&name)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    name
}

/// An alarm named as CloudFormation names the template's (`{stack}-{LogicalId}-{suffix}`).
async fn alarm(sdk: &aws_config::SdkConfig, name: &str) {
    aws_sdk_cloudwatch::Client::new(sdk)
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/SQS")
        .metric_name("ApproximateNumberOfMessagesVisible")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(
            aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold,
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
}

#[tokio::test]
async fn with_stack_everything_is_read_from_its_outputs_and_an_alarm_in_alarm_fails() {
    let stack = stack(true).await;
    let name = deployed_stack(&stack).await;
    let firing = format!("{name}-SpillDeadLetterAlarm-1A2B3C4D");
    alarm(&stack.sdk, &firing).await;
    alarm(&stack.sdk, &format!("{name}-MediaBacklogAlarm-5E6F7A8B")).await;
    // Another stack's, whose name extends this one's: not this stack's alarm.
    let other = format!("{name}-dev-SpillBacklogAlarm-9C0D1E2F");
    alarm(&stack.sdk, &other).await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&stack.sdk);
    cloudwatch
        .set_alarm_state()
        .alarm_name(&other)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("another stack's")
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    // Only the stack: no table, queue, URL or token in the environment.
    let unset = [
        ("EVENTS_TABLE", ""),
        ("MEDIA_QUEUE_URL", ""),
        ("SPILL_QUEUE_URL", ""),
        ("DEAD_LETTER_QUEUE_URL", ""),
        ("SPILL_DEAD_LETTER_QUEUE_URL", ""),
        ("CALLBACK_URL", ""),
        ("TWILIO_AUTH_TOKEN", ""),
    ];

    let (code, json, stderr) = stack.check(&["--stack", &name], &unset).await;
    assert_eq!(code, Some(0), "{json}\n{stderr}");
    assert_eq!(json["callback_url"], stack.url.as_str());
    for step in [
        "round trip: deliver",
        "round trip: stored",
        "round trip: cleanup",
        "plumbing: table",
        "plumbing: media queue",
        "plumbing: spill queue",
        "plumbing: media dead-letter queue",
        "plumbing: spill dead-letter queue",
        "plumbing: alarms",
    ] {
        assert_eq!(status(&json, step), "ok", "{step}: {json}");
    }
    assert!(
        detail(&json, "plumbing: alarms").contains("none of the 2 alarm(s)"),
        "{json}"
    );

    cloudwatch
        .set_alarm_state()
        .alarm_name(&firing)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("Threshold Crossed: 1 datapoint [2.0] >= 1.0")
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let (code, json, stderr) = stack.check(&["--stack", &name], &unset).await;
    assert_eq!(code, Some(1), "{json}\n{stderr}");
    let alarms: Vec<&Value> = json["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter(|row| row["step"] == "plumbing: alarms")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(alarms.len(), 1, "{json}");
    assert_eq!(alarms[0]["status"], "fail");
    let said = alarms[0]["detail"].as_str().unwrap_or_default();
    assert!(
        said.contains(&format!("{firing} is in ALARM")) && said.contains("Threshold Crossed"),
        "{said}"
    );
    assert!(
        alarms[0]["next"]
            .as_str()
            .is_some_and(|next| next.contains("redrive")),
        "{json}"
    );
}
