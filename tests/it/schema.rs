//! `schemas/media-message.v1.json`, the contract other teams write workers against, checked against the
//! Rust type that writes the messages with a complete JSON Schema validator (formats included): the
//! schema documents exactly the type's fields and required set, the messages the receiver really sends
//! for the samples satisfy it, and each rule of it rejects what it should.

use std::collections::BTreeSet;

use serde_json::Value;
use twilio_video_callbacks::message::MediaMessage;
use twilio_video_callbacks::receiver::item::StoredEvent;
use twilio_video_callbacks::twilio::callback::{Callback, Params};

use crate::helpers::media::recording;
use crate::helpers::sample_params;

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/media-message.v1.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("schema is not JSON: {err}"))
}

fn validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema())
        .unwrap_or_else(|err| panic!("the schema does not compile: {err}"))
}

/// The validator's complaints about `message`, one line each.
pub(crate) fn violations(message: &Value) -> Vec<String> {
    validator()
        .iter_errors(message)
        .map(|err| format!("{}: {err}", err.instance_path()))
        .collect()
}

/// Every field filled.
fn full() -> MediaMessage {
    MediaMessage {
        idempotency_key: "0123456789abcdef".repeat(4),
        composition_sid: Some("CJ00000000000000000000000000000001".into()),
        media_external_location: Some("s3://team-bucket/RT1.mka".into()),
        origin: Some("backfill".into()),
        ..recording("RT00000000000000000000000000000001", 2)
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn the_schema_documents_exactly_the_fields_the_type_writes() {
    let schema = schema();
    let written = serde_json::to_value(full()).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        keys(&schema["properties"]),
        keys(&written),
        "properties differ from MediaMessage's fields"
    );

    let minimal = MediaMessage {
        room_name: None,
        recording_sid: None,
        composition_sid: None,
        participant_sid: None,
        source_sid: None,
        track_name: None,
        media_type: None,
        container: None,
        codec: None,
        media_uri: None,
        media_url: None,
        media_external_location: None,
        duration: None,
        size: None,
        origin: None,
        ..full()
    };
    let always: BTreeSet<String> = keys(&serde_json::to_value(&minimal).unwrap_or_default());
    let required: BTreeSet<String> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        required, always,
        "required fields are the ones the type always writes"
    );
    assert_eq!(violations(&written), Vec::<String>::new());
    assert_eq!(
        violations(&serde_json::to_value(&minimal).unwrap_or_default()),
        Vec::<String>::new()
    );
}

#[test]
fn the_messages_sent_for_the_samples_satisfy_the_schema() {
    for name in ["recording-completed", "composition-available"] {
        let path = format!("{}/events/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
        let callback = Callback::parse(Params::new(sample_params(&text)))
            .unwrap_or_else(|err| panic!("{err}"));
        let item = StoredEvent::new(callback, time::OffsetDateTime::now_utc(), None);
        let message = item
            .media_message()
            .unwrap_or_else(|| panic!("{name} makes a message"));
        let json = serde_json::to_value(&message).unwrap_or_default();
        assert_eq!(violations(&json), Vec::<String>::new(), "{name}");
        assert!(
            json.as_object()
                .is_some_and(|o| o.values().all(|v| !v.is_null())),
            "absent, never null"
        );
    }
}

#[test]
fn each_rule_of_the_schema_rejects_what_it_should() {
    let good = serde_json::to_value(full()).unwrap_or_default();
    let cases: &[(&str, Value)] = &[
        ("schema_version", Value::from(2)),
        ("event", Value::from("room-ended")),
        ("idempotency_key", Value::from("0123456789ABCDEF".repeat(4))),
        ("idempotency_key", Value::from("abc")),
        ("size", Value::from("big")),
        ("size", Value::from(-1)),
        ("duration", Value::from(-5)),
        ("timestamp", Value::from("yesterday at nine")),
        ("media_url", Value::from("not a uri")),
        ("room_sid", Value::from(7)),
        ("origin", Value::from("somewhere")),
    ];
    for (field, value) in cases {
        let mut bad = good.clone();
        bad[*field] = value.clone();
        let found = violations(&bad);
        assert!(
            found.iter().any(|v| v.starts_with(&format!("/{field}"))),
            "{field} = {value} should be refused; the validator said {found:?}"
        );
    }
    for field in [
        "schema_version",
        "event",
        "idempotency_key",
        "account_sid",
        "room_sid",
        "timestamp",
    ] {
        let mut missing = good.clone();
        if let Some(object) = missing.as_object_mut() {
            object.remove(field);
        }
        assert!(!violations(&missing).is_empty(), "{field} is required");
    }
    let mut extra = good.clone();
    extra["backfill"] = Value::from(true);
    assert_eq!(
        violations(&extra),
        Vec::<String>::new(),
        "fields may be added within version 1"
    );
}
