//! Shared set-up for the integration tests: real SDK clients against moto's server on loopback.
//!
//! The test command (`scripts/test.sh`) starts moto on a free port and exports its URL as
//! `AWS_ENDPOINT_URL`, with dummy credentials and a region. Each test makes its own table and queue, so
//! tests run in parallel without seeing each other's data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use lambda_http::request::LambdaRequest;
use lambda_http::Context;
use twilio_video_callbacks::aws::queue::{SqsMediaQueue, SqsSpillQueue};
use twilio_video_callbacks::aws::sdk::sdk_loader;
use twilio_video_callbacks::aws::store::DynamoEventStore;
use twilio_video_callbacks::receiver::gateway::{self, GatewayResponse};
use twilio_video_callbacks::receiver::handler::Receiver;
use twilio_video_callbacks::receiver::item::{StoredEvent, ROOMS_INDEX, ROOM_DAY, ROOM_KEY};
use twilio_video_callbacks::receiver::settings::{build_receiver, Settings};

pub use twilio_video_callbacks::receiver::settings::AwsReceiver;

/// moto's URL, from the test command.
pub fn moto_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if url.starts_with("http://127.0.0.1:") => url,
        other => panic!(
            "integration tests need moto's server: run them with scripts/test.sh, which starts it and sets \
             AWS_ENDPOINT_URL=http://127.0.0.1:PORT (found {other:?})"
        ),
    }
}

/// SDK configuration (the receiver's own timeouts and retries) pointed at `endpoint`.
pub async fn sdk_at(endpoint: &str) -> SdkConfig {
    sdk_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

/// For set-up and verification of large tests: moto, without the receiver's tight timeouts (a scan of
/// thousands of items takes moto longer than a callback may).
pub async fn moto_patient() -> SdkConfig {
    patient_at(&moto_endpoint()).await
}

/// [`moto_patient`]'s configuration for another endpoint (a fault proxy in front of moto).
pub async fn patient_at(endpoint: &str) -> SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_timeout(std::time::Duration::from_secs(120))
        .build();
    sdk_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .timeout_config(timeouts)
        .load()
        .await
}

pub async fn moto() -> SdkConfig {
    sdk_at(&moto_endpoint()).await
}

/// An endpoint where nothing listens: connections are refused at once.
pub fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|err| panic!("{err}"));
    let port = listener
        .local_addr()
        .unwrap_or_else(|err| panic!("{err}"))
        .port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fresh events table (pk/sk strings, on demand) with its sparse rooms-by-day index, as the template
/// makes it.
pub async fn create_table(sdk: &SdkConfig, name: &str) {
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap_or_else(|err| panic!("{err}"))
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap_or_else(|err| panic!("{err}"))
    };
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .attribute_definitions(attribute(ROOM_DAY))
        .attribute_definitions(attribute(ROOM_KEY))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(ROOMS_INDEX)
                .key_schema(key(ROOM_DAY, KeyType::Hash))
                .key_schema(key(ROOM_KEY, KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap_or_else(|err| panic!("{err}")),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("create table {name}: {err:?}"));
}

/// A fresh queue; FIFO when `name` ends in `.fifo`. Returns its URL.
pub async fn create_queue(sdk: &SdkConfig, name: &str) -> String {
    let mut request = aws_sdk_sqs::Client::new(sdk)
        .create_queue()
        .queue_name(name);
    if name.ends_with(".fifo") {
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
    }
    request
        .send()
        .await
        .unwrap_or_else(|err| panic!("create queue {name}: {err:?}"))
        .queue_url
        .unwrap_or_else(|| panic!("no URL for queue {name}"))
}

/// A table and a queue of this test's own, and a receiver built the way the binary builds it.
pub struct World {
    pub sdk: SdkConfig,
    pub table: String,
    pub queue_url: String,
    pub receiver: AwsReceiver,
}

pub const TOKEN: &str = "local-fake-auth-token-not-a-secret";

impl World {
    pub async fn new() -> Self {
        Self::with_queue_name(&unique("media")).await
    }

    pub async fn with_queue_name(queue_name: &str) -> Self {
        let sdk = moto().await;
        let table = unique("events");
        create_table(&sdk, &table).await;
        let queue_url = create_queue(&sdk, queue_name).await;
        let receiver = receiver_for(&sdk, &table, &queue_url, &[]).await;
        World {
            sdk,
            table,
            queue_url,
            receiver,
        }
    }

    pub async fn invoke(&self, event: LambdaRequest) -> GatewayResponse {
        gateway::invoke(&self.receiver, event, Context::default()).await
    }

    pub async fn items(&self) -> Vec<StoredEvent> {
        scan(&self.sdk, &self.table).await
    }

    pub async fn messages(&self) -> Vec<aws_sdk_sqs::types::Message> {
        drain(&self.sdk, &self.queue_url).await
    }
}

/// A receiver configured like the binary: settings from `extra` over the test's table, queue and token.
pub async fn receiver_for(
    sdk: &SdkConfig,
    table: &str,
    queue_url: &str,
    extra: &[(&str, &str)],
) -> AwsReceiver {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("TWILIO_AUTH_TOKEN".to_owned(), TOKEN.to_owned()),
        ("EVENTS_TABLE".to_owned(), table.to_owned()),
        ("MEDIA_QUEUE_URL".to_owned(), queue_url.to_owned()),
    ]);
    // A source of signing keys replaces the test token: two sources are a start-up error.
    if extra.iter().any(|(name, _)| {
        name.starts_with("TWILIO_AUTH_TOKEN")
            || (name.starts_with("TWILIO_SIGNING_KEYS") && !name.ends_with("_REFRESH_SECONDS"))
    }) {
        vars.remove("TWILIO_AUTH_TOKEN");
    }
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let settings =
        Settings::from_lookup(|name| vars.get(name).cloned()).unwrap_or_else(|err| panic!("{err}"));
    build_receiver(&settings, sdk)
        .await
        .unwrap_or_else(|err| panic!("{err}"))
}

/// A receiver whose DynamoDB and SQS clients use different configurations (one of them broken, say).
pub fn receiver_split(
    dynamodb: &SdkConfig,
    sqs: &SdkConfig,
    table: &str,
    queue_url: &str,
) -> AwsReceiver {
    let tokens = twilio_video_callbacks::twilio::signature::AuthTokens::parse(TOKEN)
        .unwrap_or_else(|err| panic!("{err}"));
    Receiver::new(
        tokens,
        DynamoEventStore::new(aws_sdk_dynamodb::Client::new(dynamodb), table),
        SqsMediaQueue::new(aws_sdk_sqs::Client::new(sqs), queue_url),
    )
    .with_spill(None::<SqsSpillQueue>)
}

/// [`receiver_split`] that spills to `spill_url` what it cannot store or enqueue.
pub fn receiver_spilling(
    dynamodb: &SdkConfig,
    sqs: &SdkConfig,
    table: &str,
    queue_url: &str,
    spill_url: &str,
) -> AwsReceiver {
    receiver_split(dynamodb, sqs, table, queue_url).with_spill(Some(SqsSpillQueue::new(
        aws_sdk_sqs::Client::new(sqs),
        spill_url,
    )))
}

/// The sample file `name` in events/.
pub fn sample(name: &str) -> String {
    let path = events_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Every item in `table`, sorted by key.
pub async fn scan(sdk: &SdkConfig, table: &str) -> Vec<StoredEvent> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let mut items: Vec<StoredEvent> = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|err| panic!("scan {table}: {err:?}"));
        for item in page.items() {
            items.push(
                serde_dynamo::from_item(item.clone())
                    .unwrap_or_else(|err| panic!("item shape: {err}")),
            );
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    items.sort_by(|a, b| (&a.pk, &a.sk).cmp(&(&b.pk, &b.sk)));
    items
}

/// Receives and deletes every message on the queue (with attributes).
pub async fn drain(sdk: &SdkConfig, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let client = aws_sdk_sqs::Client::new(sdk);
    let mut messages = Vec::new();
    loop {
        let batch = client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .visibility_timeout(600)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap_or_else(|err| panic!("receive: {err:?}"))
            .messages
            .unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        for message in &batch {
            if let Some(handle) = message.receipt_handle() {
                client
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .unwrap_or_else(|err| panic!("delete: {err:?}"));
            }
        }
        messages.extend(batch);
    }
    messages
}

/// Keeps a queue drained while a test sends to it, as a consumer would: moto's SQS walks every message
/// on each call, so a queue left to grow slows every send until they time out.
pub struct Drainer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<Vec<twilio_video_callbacks::message::MediaMessage>>,
}

impl Drainer {
    /// Starts receiving and deleting from `queue_url`.
    pub fn start(sdk: &SdkConfig, queue_url: &str) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (client, url, done) = (
            aws_sdk_sqs::Client::new(sdk),
            queue_url.to_owned(),
            stop.clone(),
        );
        let task = tokio::spawn(async move {
            let mut messages = Vec::new();
            loop {
                let stopping = done.load(Ordering::SeqCst);
                let received = client
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .visibility_timeout(600)
                    // No long poll: moto holds its queue while one waits, which would stall the sends.
                    .wait_time_seconds(0)
                    .send()
                    .await;
                let batch = match received {
                    Ok(output) => output.messages.unwrap_or_default(),
                    Err(err) => {
                        eprintln!("drainer: receive failed ({err:?}); trying again");
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        continue;
                    }
                };
                if batch.is_empty() {
                    if stopping {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
                let mut entries = Vec::new();
                for (n, message) in batch.iter().enumerate() {
                    if let Some(handle) = message.receipt_handle() {
                        entries.push(
                            aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                                .id(n.to_string())
                                .receipt_handle(handle)
                                .build()
                                .unwrap_or_else(|err| panic!("{err}")),
                        );
                    }
                    messages.push(
                        serde_json::from_str(message.body().unwrap_or_default())
                            .unwrap_or_else(|err| panic!("not a media message: {err}")),
                    );
                }
                if !entries.is_empty() {
                    // Deleting only keeps the queue short; a failed delete is harmless (the
                    // visibility timeout outlasts the test).
                    match client
                        .delete_message_batch()
                        .queue_url(&url)
                        .set_entries(Some(entries))
                        .send()
                        .await
                    {
                        Ok(out) if !out.failed().is_empty() => {
                            eprintln!("drainer: {} deletes refused", out.failed().len())
                        }
                        Ok(_) => {}
                        Err(err) => eprintln!("drainer: delete failed ({err:?})"),
                    }
                }
            }
            messages
        });
        Drainer { stop, task }
    }

    /// Stops once the queue is empty; every message received, in order of receipt.
    pub async fn finish(self) -> Vec<twilio_video_callbacks::message::MediaMessage> {
        self.stop.store(true, Ordering::SeqCst);
        self.task
            .await
            .unwrap_or_else(|err| panic!("the drainer panicked: {err}"))
    }
}

/// Up to ten messages from `queue_url`, as the SQS event Lambda would deliver (visible again at once
/// if not deleted, so a reported failure is retried on the next receive).
pub async fn receive_as_event(
    sdk: &aws_config::SdkConfig,
    queue_url: &str,
) -> aws_lambda_events::sqs::SqsEvent {
    let output = aws_sdk_sqs::Client::new(sdk)
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    aws_lambda_events::sqs::SqsEvent {
        records: output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| aws_lambda_events::sqs::SqsMessage {
                message_id: m.message_id,
                receipt_handle: m.receipt_handle,
                body: m.body,
                event_source: Some("aws:sqs".to_owned()),
                ..Default::default()
            })
            .collect(),
    }
}

pub fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

/// The sample files: (file name, event JSON).
pub fn sample_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(events_dir())
        .unwrap_or_else(|err| panic!("events/: {err}"))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .filter(|path| path.file_name().is_some_and(|name| name != "env.json"))
        .map(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{name}: {err}"));
            (name, text)
        })
        .collect();
    files.sort();
    files
}

/// The 17 documented event samples, in file-name order.
pub fn event_samples() -> Vec<(String, String)> {
    sample_files()
        .into_iter()
        .filter(|(name, _)| {
            let stem = name.trim_end_matches(".json");
            twilio_video_callbacks::twilio::callback::EventKind::DOCUMENTED.contains(&stem)
        })
        .collect()
}

pub fn lambda_event(json: &str) -> LambdaRequest {
    serde_json::from_str(json).unwrap_or_else(|err| panic!("not an API Gateway event: {err}"))
}

/// The form parameters inside a sample event's (base64) body.
pub fn sample_params(json: &str) -> Vec<(String, String)> {
    use base64::Engine as _;
    let value: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|err| panic!("{err}"));
    let body = value["body"].as_str().unwrap_or_default();
    let bytes = if value["isBase64Encoded"].as_bool().unwrap_or(false) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_else(|err| panic!("{err}"))
    } else {
        body.as_bytes().to_vec()
    };
    serde_urlencoded::from_bytes(&bytes).unwrap_or_else(|err| panic!("{err}"))
}

/// The API Gateway HTTP API (payload 2.0) event for a request to `https://{domain}{path}`, as JSON.
pub fn http_api_event(
    domain: &str,
    path: &str,
    method: &str,
    headers: &[(String, String)],
    body: &str,
    base64: bool,
) -> serde_json::Value {
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone())))
        .collect();
    serde_json::json!({
        "version": "2.0",
        "routeKey": "POST /twilio/video",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123defg", "domainName": domain, "domainPrefix": "abc123defg",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "54.172.60.1", "userAgent": "TwilioProxy/1.1"},
            "requestId": "r", "routeKey": "POST /twilio/video", "stage": "$default",
            "time": "27/Nov/2026:09:00:00 +0000", "timeEpoch": 0
        },
        "body": body,
        "isBase64Encoded": base64
    })
}

/// The operator's program, without any of the settings a developer's shell may hold (stack, table, queue,
/// account, API key): each test sets what it means.
#[cfg(feature = "operator")]
pub fn operator_cli() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_twilio-video-callbacks"));
    for name in [
        "STACK_NAME",
        "EVENTS_TABLE",
        "MEDIA_QUEUE_URL",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_API_KEY_SID",
        "TWILIO_API_KEY_SECRET",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_AUTH_TOKEN_PARAMETER",
        "CALLBACK_URL",
        "SPILL_QUEUE_URL",
        "DEAD_LETTER_QUEUE_URL",
        "SPILL_DEAD_LETTER_QUEUE_URL",
        "TWILIO_VIDEO_BASE_URL",
        "OUTPUT_JSON",
    ] {
        command.env_remove(name);
    }
    command
}

#[cfg(feature = "operator")]
pub mod crypto;
#[cfg(feature = "operator")]
pub mod fake_rest;
pub mod fake_twilio;
pub mod fault_proxy;
pub mod lambda_runtime;
pub mod media;
pub mod memory;
pub mod twilio;
