//! `schemas/media-message.v1.json`, the contract other teams write workers against, checked against the
//! Rust type that writes the messages: same fields, same required set, same JSON types, and the
//! messages the receiver really sends for the samples satisfy it.

use std::collections::BTreeSet;

use serde_json::Value;
use twilio_video_callbacks::callback::{Callback, Codec, Container, Params, TrackKind};
use twilio_video_callbacks::item::StoredEvent;
use twilio_video_callbacks::message::MediaMessage;

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/media-message.v1.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("schema is not JSON: {err}"))
}

fn full() -> MediaMessage {
    MediaMessage {
        schema_version: 1,
        event: "recording-completed".into(),
        idempotency_key: "0".repeat(64),
        account_sid: "AC1".into(),
        room_sid: "RM1".into(),
        room_name: Some("r".into()),
        recording_sid: Some("RT1".into()),
        composition_sid: Some("CJ1".into()),
        participant_sid: Some("PA1".into()),
        source_sid: Some("MT1".into()),
        track_name: Some("t".into()),
        media_type: Some(TrackKind::Audio),
        container: Some(Container::Mka),
        codec: Some(Codec::Opus),
        media_uri: Some("/m".into()),
        media_url: Some("https://video.twilio.com/m".into()),
        media_external_location: Some("s3://x".into()),
        duration: Some(1),
        size: Some(2),
        timestamp: "2026-11-27T09:00:00.000Z".into(),
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The subset of JSON Schema this contract uses: required, type, const, enum, pattern (hex key).
fn violations(schema: &Value, message: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for name in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if message.get(name).is_none() {
            found.push(format!("missing {name}"));
        }
    }
    for (name, value) in message.as_object().into_iter().flatten() {
        let Some(rule) = schema["properties"].get(name) else {
            continue;
        };
        let typed = match rule["type"].as_str() {
            Some("string") => value.is_string(),
            Some("integer") => value.is_u64() || value.is_i64(),
            other => panic!("unexpected type {other:?} for {name}"),
        };
        if !typed {
            found.push(format!("{name} is not a {}", rule["type"]));
        }
        if let Some(constant) = rule.get("const") {
            if constant != value {
                found.push(format!("{name} is not {constant}"));
            }
        }
        if let Some(options) = rule["enum"].as_array() {
            if !options.contains(value) {
                found.push(format!("{name} {value} is not one of {options:?}"));
            }
        }
        if rule.get("pattern").is_some() {
            let text = value.as_str().unwrap_or_default();
            if text.len() != 64
                || !text
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            {
                found.push(format!("{name} is not 64 lowercase hex digits"));
            }
        }
    }
    found
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
        ..full()
    };
    let always: BTreeSet<String> = keys(&serde_json::to_value(minimal).unwrap_or_default());
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
    assert_eq!(violations(&schema, &written), Vec::<String>::new());
}

#[test]
fn the_messages_sent_for_the_samples_satisfy_the_schema() {
    let schema = schema();
    for name in ["recording-completed", "composition-available"] {
        let path = format!("{}/events/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let event: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default())
                .unwrap_or_else(|err| panic!("{path}: {err}"));
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD
            .decode(event["body"].as_str().unwrap_or_default())
            .unwrap_or_default();
        let callback =
            Callback::parse(Params::from_form(&body)).unwrap_or_else(|err| panic!("{err}"));
        let item = StoredEvent::new(callback, time::OffsetDateTime::now_utc(), None);
        let message =
            MediaMessage::for_item(&item).unwrap_or_else(|| panic!("{name} makes a message"));
        let json = serde_json::to_value(&message).unwrap_or_default();
        assert_eq!(violations(&schema, &json), Vec::<String>::new(), "{name}");
        assert!(
            json.as_object()
                .is_some_and(|o| o.values().all(|v| !v.is_null())),
            "absent, never null"
        );
    }
    // And the checker does catch a bad message.
    let mut bad = serde_json::to_value(full()).unwrap_or_default();
    bad["schema_version"] = Value::from(2);
    bad["size"] = Value::from("big");
    assert_eq!(violations(&schema, &bad).len(), 2);
}
