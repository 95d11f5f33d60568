//! Nothing acknowledged is ever lost: a thousand distinct callbacks through the real handler, while
//! a proxy fails a share of every DynamoDB and SQS call with 500s, throttling, resets and stalls, before
//! or after moto acts. Played two ways:
//!
//! - as Twilio plays them **with retries configured for 5xx** (the connection overrides the stack's
//!   output gives), without a spill queue: whatever did not get a 2xx is delivered again;
//! - as Twilio plays them **by default** (one retry, only when the connection fails, never after a 4xx
//!   or 5xx: in process, no connection ever fails, so one delivery each), with the spill queue, and with
//!   a stretch in the middle where every DynamoDB call fails; the spill queue is drained once the table
//!   is back.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::fault_proxy::{self, FaultProxy};
use crate::helpers::twilio::{callbacks, deliver, play_with_redelivery, Callback};
use crate::helpers::*;
use twilio_video_callbacks::message::MediaMessage;
use twilio_video_callbacks::receiver::item::StoredEvent;

// 1,000 callbacks: every fault kind is injected many times over. The outage spills a third of them into
// one moto SQS queue, whose calls slow down with its depth: twice as many cost minutes more.
const ROOMS: usize = 40;
const FAULT_SHARE: f64 = 0.15;
const DELIVERIES: usize = 8; // Twilio's first attempt and its retries

struct Bench {
    direct: aws_config::SdkConfig,
    table: String,
    queue_url: String,
    proxy: FaultProxy,
    through_proxy: aws_config::SdkConfig,
    callbacks: Arc<Vec<Callback>>,
}

impl Bench {
    async fn new(seed: u64) -> Self {
        let direct = moto_patient().await;
        let table = unique("events");
        create_table(&direct, &table).await;
        let queue_url = create_queue(&direct, &unique("media")).await;
        let proxy =
            fault_proxy::start(&moto_endpoint(), FAULT_SHARE, Duration::from_secs(2), seed).await;
        let through_proxy = sdk_at(&proxy.url).await;
        Bench {
            direct,
            table,
            queue_url,
            proxy,
            through_proxy,
            callbacks: Arc::new(callbacks(ROOMS)),
        }
    }

    fn assert_every_fault_injected(&self) {
        let tally = self.proxy.plan.tally();
        for fault in fault_proxy::FAULTS {
            assert!(
                tally.get(&fault).copied().unwrap_or(0) > 0,
                "{fault:?} was never injected"
            );
        }
    }

    /// What is really in the table and on the queue, read from moto directly, against what Twilio was
    /// told: every acknowledged callback stored exactly once with its exact parameters, every
    /// acknowledged media callback on the queue; nothing stored twice, nothing stray.
    async fn assert_nothing_acknowledged_lost(
        &self,
        acknowledged: &HashSet<usize>,
        messages: &[MediaMessage],
    ) {
        let items = scan(&self.direct, &self.table).await;
        let mut by_key: HashMap<&str, Vec<&StoredEvent>> = HashMap::new();
        for item in &items {
            by_key
                .entry(item.idempotency_key.as_str())
                .or_default()
                .push(item);
        }
        let enqueued: HashSet<&str> = messages
            .iter()
            .map(|m| m.idempotency_key.as_str())
            .collect();
        let keys: Vec<String> = self.callbacks.iter().map(|c| c.idempotency_key()).collect();
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
            let expected = twilio_video_callbacks::twilio::callback::Params::new(
                self.callbacks[index].params.clone(),
            )
            .to_map();
            assert_eq!(
                stored[0].params, expected,
                "callback {index} stored with its exact parameters"
            );
            if self.callbacks[index].is_media() {
                assert!(
                    enqueued.contains(key),
                    "acknowledged media callback {index} is on the queue"
                );
            }
        }
        let media_keys: HashSet<&str> = self
            .callbacks
            .iter()
            .zip(&keys)
            .filter(|(c, _)| c.is_media())
            .map(|(_, k)| k.as_str())
            .collect();
        assert!(
            enqueued.is_subset(&media_keys),
            "only media events are enqueued"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retries_on_5xx_every_acknowledged_callback_is_stored_once_and_enqueued() {
    let bench = Bench::new(20261127).await;
    let drainer = Drainer::start(&bench.direct, &bench.queue_url);
    let receiver = Arc::new(receiver_split(
        &bench.through_proxy,
        &bench.through_proxy,
        &bench.table,
        &bench.queue_url,
    ));
    let all: Vec<usize> = (0..bench.callbacks.len()).collect();
    let played = play_with_redelivery(&receiver, &bench.callbacks, &all, 32, DELIVERIES).await;
    let messages = drainer.finish().await;
    eprintln!(
        "faults (Twilio retrying 5xx, no spill queue): {:?}; answers: {:?}; acknowledged {} of {} in {} \
         deliveries",
        bench.proxy.plan.tally(),
        played.statuses,
        played.acknowledged.len(),
        bench.callbacks.len(),
        played.rounds
    );
    bench.assert_every_fault_injected();
    assert!(
        played.statuses.keys().any(|s| *s >= 500),
        "the faults reached Twilio at least once"
    );
    bench
        .assert_nothing_acknowledged_lost(&played.acknowledged, &messages)
        .await;
    // The system copes with the faults: Twilio's retries get (nearly) everything through.
    assert!(
        played.acknowledged.len() * 100 >= bench.callbacks.len() * 99,
        "only {} of {} acknowledged after {DELIVERIES} deliveries",
        played.acknowledged.len(),
        bench.callbacks.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_twilios_default_delivery_a_table_outage_is_spilled_and_nothing_acknowledged_is_lost()
{
    let bench = Bench::new(20261128).await;
    let spill_url = create_queue(&bench.direct, &unique("spill")).await;
    let drainer = Drainer::start(&bench.direct, &bench.queue_url);
    let receiver = Arc::new(receiver_spilling(
        &bench.through_proxy,
        &bench.through_proxy,
        &bench.table,
        &bench.queue_url,
        &spill_url,
    ));

    // One delivery each (Twilio's default never retries an answer), in three stretches: the table
    // answers, the table is down, the table answers again.
    let n = bench.callbacks.len();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut answered: Vec<(usize, u16)> = Vec::with_capacity(n);
    for (stretch, range) in [(0, 0..n / 3), (1, n / 3..2 * n / 3), (2, 2 * n / 3..n)] {
        bench.proxy.plan.set_table_down(stretch == 1);
        let which: Vec<usize> = range.collect();
        for (index, status) in deliver(&receiver, &bench.callbacks, &which, 32).await {
            assert!(
                (200..300).contains(&status) || status >= 500,
                "callback {index}: {status}; a signed callback is never refused"
            );
            *statuses.entry(status).or_default() += 1;
            answered.push((index, status));
        }
    }
    bench.proxy.plan.set_table_down(false);
    let spilled = statuses.get(&202).copied().unwrap_or(0);
    let failed: usize = statuses
        .iter()
        .filter(|(s, _)| **s >= 500)
        .map(|(_, c)| c)
        .sum();

    // The table is back: the spill consumer (the same receiver, still behind the faulty proxy) drains
    // the spill queue as Lambda's event source would, redelivering what it reports as failed.
    let mut rounds = 0;
    let mut consumer_failures = 0;
    loop {
        let batch = receive_as_event(&bench.direct, &spill_url).await;
        if batch.records.is_empty() {
            break;
        }
        rounds += 1;
        assert!(rounds < 2_000, "the spill queue does not drain");
        let handles: Vec<(String, String)> = batch
            .records
            .iter()
            .map(|r| {
                (
                    r.message_id.clone().unwrap_or_default(),
                    r.receipt_handle.clone().unwrap_or_default(),
                )
            })
            .collect();
        let response = receiver.drain_spill(batch).await;
        let retry: HashSet<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        consumer_failures += retry.len();
        for (id, handle) in handles {
            if !retry.contains(&id) {
                delete(&bench.direct, &spill_url, &handle).await;
            }
        }
    }
    let messages = drainer.finish().await;
    eprintln!(
        "faults (Twilio's default delivery, spill queue, table down for the middle third): {:?}; DynamoDB \
         calls refused by the outage: {}; answers: {statuses:?}: {spilled} spilled (202), {failed} 5xx \
         (the spill failed too); spill consumer: {rounds} batches, {consumer_failures} retried",
        bench.proxy.plan.tally(),
        bench.proxy.plan.refused_while_down(),
    );
    bench.assert_every_fault_injected();
    assert!(
        spilled >= (n / 3).saturating_sub(failed),
        "the outage's callbacks were spilled ({spilled})"
    );
    let acknowledged: HashSet<usize> = answered
        .iter()
        .filter(|(_, status)| (200..300).contains(status))
        .map(|(index, _)| *index)
        .collect();
    assert_eq!(acknowledged.len() + failed, n);
    bench
        .assert_nothing_acknowledged_lost(&acknowledged, &messages)
        .await;
}

async fn delete(sdk: &aws_config::SdkConfig, queue_url: &str, handle: &str) {
    aws_sdk_sqs::Client::new(sdk)
        .delete_message()
        .queue_url(queue_url)
        .receipt_handle(handle)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
}
