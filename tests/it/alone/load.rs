//! Load: ten thousand distinct callbacks, then redeliveries of a quarter of them (every media event among
//! them, so each media key is delivered twice), 64 in flight, through the real
//! handler against moto, while a consumer keeps the media queue drained (as the archiver does in
//! production). Twilio is played with retries on 5xx, as the fault test plays it, so a slow moment of the
//! machine costs a retry, not the test. The end state is asserted: exactly ten thousand items, every
//! media event on the queue (at least once per acknowledged delivery, never a stray key), and the
//! process's memory flat. The 5xx answers seen and the throughput are printed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use crate::helpers::memory::rss_kib;
use crate::helpers::twilio::{callbacks, play_with_redelivery};
use crate::helpers::*;

const ROOMS: usize = 400; // 400 rooms x 25 callbacks = 10,000
const IN_FLIGHT: usize = 64;
const ROUNDS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_callbacks_and_their_redeliveries() {
    let direct = moto_patient().await;
    let table = unique("events");
    create_table(&direct, &table).await;
    let queue_url = create_queue(&direct, &unique("media")).await;
    let drainer = Drainer::start(&direct, &queue_url);
    let sdk = moto().await;
    let receiver = Arc::new(receiver_split(&sdk, &sdk, &table, &queue_url));

    let callbacks = Arc::new(callbacks(ROOMS));
    assert_eq!(callbacks.len(), 10_000);
    let all: Vec<usize> = (0..callbacks.len()).collect();

    // Warm up (connection pools, allocator) before the memory baseline.
    let started = Instant::now();
    let first = play_with_redelivery(&receiver, &callbacks, &all[..1_000], IN_FLIGHT, ROUNDS).await;
    let baseline = rss_kib();
    let rest = play_with_redelivery(&receiver, &callbacks, &all[1_000..], IN_FLIGHT, ROUNDS).await;
    let after_distinct = rss_kib();
    let distinct_secs = started.elapsed().as_secs_f64();
    // Every media event and every fourth callback again (about 3,100 redeliveries): enough to show that
    // duplicates leave memory and the table where they were, at a quarter of the time of all 10,000.
    let again_which: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| i % 4 == 0 || callbacks[i].is_media())
        .collect();
    let again = Instant::now();
    let redelivered =
        play_with_redelivery(&receiver, &callbacks, &again_which, IN_FLIGHT, ROUNDS).await;
    let after_redelivery = rss_kib();
    let redelivery_secs = again.elapsed().as_secs_f64();
    let messages = drainer.finish().await;

    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for played in [&first, &rest, &redelivered] {
        for (status, count) in &played.statuses {
            *statuses.entry(*status).or_default() += count;
        }
    }
    eprintln!(
        "load: 10000 distinct in {distinct_secs:.1} s ({:.0}/s), {} redeliveries in {redelivery_secs:.1} s \
         ({:.0}/s), {IN_FLIGHT} in flight; answers {statuses:?} (5xx redelivered, as Twilio does with \
         retries on 5xx); RSS {baseline} KiB after 1000, {after_distinct} KiB after 10000, \
         {after_redelivery} KiB after the redeliveries",
        10_000.0 / distinct_secs,
        again_which.len(),
        again_which.len() as f64 / redelivery_secs,
    );
    let acknowledged: HashSet<usize> = first
        .acknowledged
        .union(&rest.acknowledged)
        .copied()
        .collect();
    assert_eq!(
        acknowledged.len(),
        10_000,
        "every distinct callback acknowledged within {ROUNDS} deliveries"
    );
    assert_eq!(
        redelivered.acknowledged.len(),
        again_which.len(),
        "every redelivery acknowledged"
    );

    let items = scan(&direct, &table).await;
    assert_eq!(
        items.len(),
        10_000,
        "exactly one item per distinct callback"
    );
    let keys: HashSet<String> = items
        .iter()
        .map(|item| item.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), 10_000);

    let media: HashSet<String> = callbacks
        .iter()
        .filter(|c| c.is_media())
        .map(|c| c.idempotency_key())
        .collect();
    assert_eq!(media.len(), 2 * ROOMS);
    let sent: HashSet<String> = messages.iter().map(|m| m.idempotency_key.clone()).collect();
    assert_eq!(
        sent, media,
        "every distinct media event is on the queue, and nothing else"
    );
    // Each media event was acknowledged twice (its first delivery, its redelivery), and each acknowledged
    // delivery had sent its message: at least two per key. A 5xx delivery may have sent one too, and an
    // SDK retry of a send that timed out after SQS took it sends it twice: delivery is at least once.
    let mut per_key: HashMap<&str, usize> = HashMap::new();
    for message in &messages {
        *per_key.entry(message.idempotency_key.as_str()).or_default() += 1;
    }
    assert!(
        per_key.values().all(|&count| count >= 2),
        "a message for every acknowledged delivery of a media event"
    );
    // Flat: the redeliveries (all duplicates) and the last 9,000 leave the heap where it was; a leak of
    // even 2 KiB per callback would show as 23 MiB here.
    let growth_kib = after_redelivery.saturating_sub(baseline);
    assert!(
        growth_kib < 16 * 1024,
        "RSS grew by {growth_kib} KiB over {} callbacks",
        9_000 + again_which.len()
    );
}
