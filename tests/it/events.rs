//! Every file in `events/` through the real handler, with the settings `sam local invoke --env-vars
//! events/env.json` would give the function: each gives the outcome its name promises.
//!
//! A name ending in `-NNN.json` promises status NNN; every other sample promises 200. The table and the
//! queue are this test's own on moto (env.json points at `host.docker.internal`, for SAM's container).

use std::collections::HashMap;

use crate::helpers::*;

fn env_json() -> HashMap<String, String> {
    let path = events_dir().join("env.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("env.json: {err}"));
    let function = value
        .get("CallbackReceiver")
        .and_then(|v| v.as_object())
        .unwrap_or_else(|| {
            panic!("env.json has no CallbackReceiver section (the template's function name)")
        });
    function
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

fn promised_status(file: &str) -> u16 {
    file.trim_end_matches(".json")
        .rsplit_once('-')
        .and_then(|(_, code)| code.parse::<u16>().ok())
        .filter(|code| (100..600).contains(code))
        .unwrap_or(200)
}

#[tokio::test]
async fn every_sample_gives_the_outcome_its_name_promises() {
    let sdk = moto().await;
    let table = unique("events");
    create_table(&sdk, &table).await;
    let queue_url = create_queue(&sdk, &unique("media")).await;

    let env = env_json();
    assert!(
        env.contains_key("TWILIO_AUTH_TOKEN"),
        "env.json sets the fake local token"
    );
    let settings: Vec<(&str, &str)> = env
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "EVENTS_TABLE" | "MEDIA_QUEUE_URL" | "AWS_ENDPOINT_URL"
            )
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let receiver = receiver_for(&sdk, &table, &queue_url, &settings).await;

    let files = sample_files();
    assert!(
        files.len() >= 17 + 3,
        "17 event samples and negative samples, found {}",
        files.len()
    );
    let mut accepted = 0;
    for (name, json) in &files {
        let event = lambda_event(json);
        let response =
            twilio_video_callbacks::receiver::gateway::invoke(&receiver, event, Default::default())
                .await;
        assert_eq!(
            response.status(),
            promised_status(name),
            "{name}: {}",
            response.body_text()
        );
        let body: serde_json::Value = serde_json::from_str(&response.body_text())
            .unwrap_or_else(|err| panic!("{name}: the body is JSON ({err})"));
        if response.status() == 200 {
            accepted += 1;
        } else {
            assert!(
                body["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{name}: {body}"
            );
        }
    }
    let items = scan(&sdk, &table).await;
    // The 17 events, the unknown event, the signed one without a RoomSid; the REST API sample is
    // room-created again (a duplicate).
    assert_eq!(accepted, 20);
    assert_eq!(items.len(), 19);
    assert!(items
        .iter()
        .any(|item| item.event == "room-recording-paused"));
    let malformed: Vec<_> = items.iter().filter(|i| i.parse_error.is_some()).collect();
    assert_eq!(
        malformed.len(),
        1,
        "only missing-room-sid breaks the tables"
    );
    assert_eq!(malformed[0].event, "room-created");
    assert_eq!(
        malformed[0].pk, malformed[0].fields.account_sid,
        "filed under its account"
    );
    assert!(malformed[0]
        .parse_error
        .as_deref()
        .is_some_and(|e| e.contains("RoomSid")));
    assert_eq!(drain(&sdk, &queue_url).await.len(), 2);
}

#[test]
fn names_promise_statuses() {
    assert_eq!(promised_status("bad-signature-403.json"), 403);
    assert_eq!(promised_status("room-created.json"), 200);
    assert_eq!(promised_status("composition-hook-failed.json"), 200);
}
