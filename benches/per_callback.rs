//! The per-callback work without I/O, over the 17 sample events: decode the form, verify the signature,
//! parse the typed event, build the DynamoDB item (as attribute values), the queue message (as JSON) and
//! the metrics line (Embedded Metric Format; only its write to stdout is left out).
//!
//! `cargo bench --bench per_callback`; the figure to read is the time per element (one callback). The
//! `_1000_accounts` cases verify with signing keys by account (a document of 1000 accounts, the samples'
//! among them) instead of one account's token.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use futures_util::FutureExt as _;
use time::OffsetDateTime;
use twilio_video_callbacks::metrics;
use twilio_video_callbacks::receiver::item::StoredEvent;
use twilio_video_callbacks::receiver::keys::KeyRing;
use twilio_video_callbacks::twilio::callback::{Callback, EventKind, Params};
use twilio_video_callbacks::twilio::signature::{self, AuthTokens};
use twilio_video_callbacks::twilio::signing_keys::SigningKeys;

const TOKEN: &str = "local-fake-auth-token-not-a-secret";

/// 1000 accounts, each with two tokens and a shared key; the samples' account has the samples' token.
fn many_accounts() -> KeyRing {
    let mut document = serde_json::Map::new();
    for n in 1..=1000u32 {
        let token = if n == 1 {
            TOKEN.to_owned()
        } else {
            format!("token-{n}")
        };
        document.insert(
            format!("AC{n:032x}"),
            serde_json::json!({"auth_tokens": [token, format!("secondary-{n}")], "shared_keys": {format!("KS{n}"): format!("s-{n}")}}),
        );
    }
    let keys = SigningKeys::parse(&serde_json::Value::Object(document).to_string())
        .unwrap_or_else(|err| panic!("{err}"));
    KeyRing::from(keys)
}

/// Verifies with `ring` as the handler does: by the request's AccountSid (never waits: no re-read).
fn verified_by_account(ring: &KeyRing, sample: &Sample, params: &Params) -> bool {
    ring.verify(
        params.get("AccountSid"),
        None,
        &sample.url,
        params.pairs(),
        &sample.signature,
    )
    .now_or_never()
    .is_some_and(|result| result.is_ok())
}

// The allocator the Lambda binary uses: the per-callback work is allocation-heavy (item attributes).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Sample {
    url: String,
    body: Vec<u8>,
    signature: String,
}

fn samples() -> Vec<Sample> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut samples = Vec::new();
    for name in EventKind::DOCUMENTED {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json")))
            .unwrap_or_else(|err| panic!("events/{name}.json: {err}"));
        let event: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}"));
        let url = format!(
            "https://{}{}",
            event["requestContext"]["domainName"]
                .as_str()
                .unwrap_or_default(),
            event["rawPath"].as_str().unwrap_or_default()
        );
        let body = base64::engine::general_purpose::STANDARD
            .decode(event["body"].as_str().unwrap_or_default())
            .unwrap_or_else(|err| panic!("{err}"));
        let signature = event["headers"]["x-twilio-signature"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        samples.push(Sample {
            url,
            body,
            signature,
        });
    }
    samples
}

/// Everything the receiver does for one callback between reading the body and calling AWS.
fn process(
    verify: &dyn Fn(&Sample, &Params) -> bool,
    sample: &Sample,
    now: OffsetDateTime,
) -> (HashMap<String, AttributeValue>, Option<String>) {
    let params = Params::from_form(&sample.body);
    assert!(verify(sample, &params));
    let callback = Callback::parse(params).unwrap_or_else(|err| panic!("{err}"));
    let event = metrics::event_dimension(Some(callback.event.as_str()), true);
    let item = StoredEvent::new(callback, now, Some(30));
    let message = item
        .media_message()
        .map(|message| serde_json::to_string(&message).unwrap_or_else(|err| panic!("{err}")));
    let attributes = item.into_attributes();
    black_box(metrics::callback_document(
        metrics::DEFAULT_NAMESPACE,
        1_795_000_000_000,
        event,
        "stored",
        4.2,
    ));
    (attributes, message)
}

fn per_callback(c: &mut Criterion) {
    let samples = samples();
    assert_eq!(samples.len(), 17);
    let tokens = AuthTokens::parse(TOKEN).unwrap_or_else(|err| panic!("{err}"));
    let by_token = |sample: &Sample, params: &Params| {
        signature::is_valid(&tokens, &sample.url, params.pairs(), &sample.signature)
    };
    let ring = many_accounts();
    let by_account = |sample: &Sample, params: &Params| verified_by_account(&ring, sample, params);
    let now = OffsetDateTime::now_utc();
    let mut group = c.benchmark_group("per_callback");
    group.throughput(Throughput::Elements(samples.len() as u64));
    group.bench_function("verify_parse_item_message_17_samples", |b| {
        b.iter(|| {
            for sample in &samples {
                black_box(process(&by_token, black_box(sample), now));
            }
        })
    });
    group.bench_function("verify_parse_item_message_17_samples_1000_accounts", |b| {
        b.iter(|| {
            for sample in &samples {
                black_box(process(&by_account, black_box(sample), now));
            }
        })
    });
    // The same, stopping at our item type: without converting it into the SDK's attribute values
    // (the serialization step the SDK call would otherwise do itself).
    group.bench_function(
        "verify_parse_item_message_17_samples_without_sdk_conversion",
        |b| {
            b.iter(|| {
                for sample in &samples {
                    let params = Params::from_form(&sample.body);
                    assert!(signature::is_valid(
                        &tokens,
                        &sample.url,
                        params.pairs(),
                        &sample.signature
                    ));
                    let callback = Callback::parse(params).unwrap_or_else(|err| panic!("{err}"));
                    let item = StoredEvent::new(callback, now, Some(30));
                    let message = item.media_message().map(|message| {
                        serde_json::to_string(&message).unwrap_or_else(|err| panic!("{err}"))
                    });
                    black_box((item, message));
                }
            })
        },
    );
    group.finish();

    let mut stages = c.benchmark_group("stages_17_samples");
    stages.throughput(Throughput::Elements(samples.len() as u64));
    stages.bench_function("verify_signature", |b| {
        let parsed: Vec<Params> = samples.iter().map(|s| Params::from_form(&s.body)).collect();
        b.iter(|| {
            for (sample, params) in samples.iter().zip(&parsed) {
                black_box(signature::is_valid(
                    &tokens,
                    &sample.url,
                    params.pairs(),
                    &sample.signature,
                ));
            }
        })
    });
    stages.bench_function("verify_signature_1000_accounts", |b| {
        let parsed: Vec<Params> = samples.iter().map(|s| Params::from_form(&s.body)).collect();
        b.iter(|| {
            for (sample, params) in samples.iter().zip(&parsed) {
                black_box(verified_by_account(&ring, sample, params));
            }
        })
    });
    stages.bench_function("metrics_line", |b| {
        b.iter(|| {
            for name in EventKind::DOCUMENTED {
                black_box(metrics::callback_document(
                    metrics::DEFAULT_NAMESPACE,
                    1_795_000_000_000,
                    metrics::event_dimension(Some(name), true),
                    "stored",
                    4.2,
                ));
            }
        })
    });
    stages.bench_function("decode_and_parse", |b| {
        b.iter(|| {
            for sample in &samples {
                black_box(Callback::parse(Params::from_form(&sample.body)).ok());
            }
        })
    });
    let callbacks: Vec<Callback> = samples
        .iter()
        .filter_map(|s| Callback::parse(Params::from_form(&s.body)).ok())
        .collect();
    // Includes cloning the parsed callback, which the receiver does not do (it moves it).
    stages.bench_function("build_item", |b| {
        b.iter(|| {
            for callback in &callbacks {
                black_box(StoredEvent::new(black_box(callback.clone()), now, Some(30)));
            }
        })
    });
    let items: Vec<StoredEvent> = callbacks
        .iter()
        .map(|c| StoredEvent::new(c.clone(), now, Some(30)))
        .collect();
    // Includes cloning the item, which the receiver does not do (it moves it).
    stages.bench_function("item_to_attribute_values", |b| {
        b.iter(|| {
            for item in &items {
                black_box(black_box(item.clone()).into_attributes());
            }
        })
    });
    stages.bench_function("build_message_json", |b| {
        b.iter(|| {
            for item in &items {
                let message = item.media_message();
                black_box(message.map(|m| serde_json::to_string(&m).unwrap_or_default()));
            }
        })
    });
    stages.finish();
}

criterion_group!(benches, per_callback);
criterion_main!(benches);
