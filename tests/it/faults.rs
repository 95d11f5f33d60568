//! Nothing acknowledged is ever lost: a few thousand distinct callbacks played as Twilio plays them
//! (redelivering whatever did not get a 2xx) through the real handler, while a proxy fails a share of
//! every DynamoDB and SQS call with 500s, throttling, resets and stalls, before or after moto acts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::fault_proxy;
use crate::helpers::twilio::{callbacks, play_with_redelivery};
use crate::helpers::*;
use twilio_video_callbacks::message::MediaMessage;

const ROOMS: usize = 120; // 3000 callbacks
const FAULT_SHARE: f64 = 0.15;
const DELIVERIES: usize = 8; // Twilio's first attempt and its retries

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_callback_is_stored_once_and_every_acknowledged_media_event_enqueued() {
    let direct = moto_patient().await;
    let table = unique("events");
    create_table(&direct, &table).await;
    let queue_url = create_queue(&direct, &unique("media")).await;

    let proxy = fault_proxy::start(
        &moto_endpoint(),
        FAULT_SHARE,
        Duration::from_secs(2),
        20261127,
    )
    .await;
    let through_proxy = sdk_at(&proxy.url).await;
    let receiver = Arc::new(receiver_split(
        &through_proxy,
        &through_proxy,
        &table,
        &queue_url,
    ));

    let callbacks = Arc::new(callbacks(ROOMS));
    let all: Vec<usize> = (0..callbacks.len()).collect();
    let played = play_with_redelivery(&receiver, &callbacks, &all, 32, DELIVERIES).await;
    let (acknowledged, statuses, rounds) = (&played.acknowledged, &played.statuses, played.rounds);
    let tally = proxy.plan.tally();
    eprintln!(
        "faults: {tally:?}; answers: {statuses:?}; acknowledged {} of {} in {rounds} deliveries",
        acknowledged.len(),
        callbacks.len()
    );
    for fault in fault_proxy::FAULTS {
        assert!(
            tally.get(&fault).copied().unwrap_or(0) > 0,
            "{fault:?} was never injected"
        );
    }
    assert!(
        statuses.keys().any(|s| *s >= 500),
        "the faults reached Twilio at least once"
    );

    // What is really in the table and on the queue, read from moto directly.
    let items = scan(&direct, &table).await;
    let mut by_key: HashMap<&str, Vec<&twilio_video_callbacks::receiver::item::StoredEvent>> =
        HashMap::new();
    for item in &items {
        by_key
            .entry(item.idempotency_key.as_str())
            .or_default()
            .push(item);
    }
    let messages: Vec<MediaMessage> = drain_media_messages(&direct, &queue_url).await;
    let enqueued: HashSet<&str> = messages
        .iter()
        .map(|m| m.idempotency_key.as_str())
        .collect();

    let keys: Vec<String> = callbacks.iter().map(|c| c.idempotency_key()).collect();
    let ours: HashSet<&str> = keys.iter().map(String::as_str).collect();
    assert!(
        items
            .iter()
            .all(|item| ours.contains(item.idempotency_key.as_str())),
        "no stray items"
    );
    assert!(
        by_key.values().all(|same| same.len() == 1),
        "no callback stored twice"
    );
    for &index in acknowledged {
        let key = keys[index].as_str();
        let stored = by_key.get(key).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            stored.len(),
            1,
            "acknowledged callback {index} is stored exactly once"
        );
        let expected =
            twilio_video_callbacks::twilio::callback::Params::new(callbacks[index].params.clone())
                .to_map();
        assert_eq!(
            stored[0].params, expected,
            "callback {index} stored with its exact parameters"
        );
        if callbacks[index].is_media() {
            assert!(
                enqueued.contains(key),
                "acknowledged media callback {index} is on the queue"
            );
        }
    }
    let media_keys: HashSet<&str> = callbacks
        .iter()
        .zip(&keys)
        .filter(|(c, _)| c.is_media())
        .map(|(_, k)| k.as_str())
        .collect();
    assert!(
        enqueued.is_subset(&media_keys),
        "only media events are enqueued"
    );
    // The system copes with the faults: Twilio's retries get (nearly) everything through.
    assert!(
        acknowledged.len() * 100 >= callbacks.len() * 99,
        "only {} of {} acknowledged after {DELIVERIES} deliveries",
        acknowledged.len(),
        callbacks.len()
    );
}
