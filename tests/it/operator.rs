//! The operator's jobs end to end: a fake Twilio REST API (pagination, the PageSize cap, 429s with and
//! without Retry-After, deleted, failed and processing media mixed in, recordings and compositions of many
//! rooms), moto for SQS, S3 and DynamoDB, the fake media server and the real archiver.
//!
//! backfill sends exactly one valid message per completed file, and the same keys the second time; the
//! archiver archives every one; reconcile then finds all archived, and exactly the object removed and the
//! object truncated when two are broken; prune deletes at Twilio exactly what is safely archived.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use tokio::task::JoinSet;
use twilio_video_callbacks::archiver::ApiKey;
use twilio_video_callbacks::aws::sdk::s3_client;
use twilio_video_callbacks::message::MediaMessage;
use twilio_video_callbacks::operator::catalog::backfill_key;
use twilio_video_callbacks::operator::rest::{Created, TwilioRest};
use twilio_video_callbacks::operator::tasks::{self, Context, What};

use crate::helpers::fake_rest::{self, FakeRest};
use crate::helpers::fake_twilio::{self, Media, KEY_SECRET, KEY_SID};
use crate::helpers::media::{self, batch, body};
use crate::helpers::*;

// 8 rooms of 40 files: 320, over three pages of recordings. Every message goes through one moto SQS
// queue, whose calls slow down with its depth: more rooms cost minutes and test nothing more.
const ROOMS: usize = 8;
const RECORDINGS_PER_ROOM: usize = 36;
const COMPOSITIONS_PER_ROOM: usize = 4;
const READ_RATE: f64 = 200.0;

fn sid(prefix: &str, room: usize, n: usize) -> String {
    format!("{prefix}{room:016x}{n:016x}")
}

struct Account {
    rest: FakeRest,
    media: fake_twilio::FakeTwilio,
    /// Completed, in range, with a room, stored by Twilio itself.
    archivable: BTreeSet<String>,
    /// Completed, in range, in the customer's own storage.
    external: BTreeSet<String>,
    /// Everything that must never be listed or deleted: processing, failed, deleted, out of range.
    untouchable: BTreeSet<String>,
}

async fn account() -> Account {
    let rest = fake_rest::start(2).await;
    let media = fake_twilio::start().await;
    let mut account = Account {
        rest,
        media,
        archivable: BTreeSet::new(),
        external: BTreeSet::new(),
        untouchable: BTreeSet::new(),
    };
    for room in 0..ROOMS {
        let room_sid = sid("RM", room, 0);
        let day = format!("2026-03-{:02}T10:00:00Z", 1 + room % 28);
        for n in 0..RECORDINGS_PER_ROOM + 3 {
            let sid = sid("RT", room, n);
            let size = 1_000 + (room * 97 + n * 13) as u64 % 4_000;
            let (status, created) = match n {
                n if n == RECORDINGS_PER_ROOM => ("processing", day.as_str()),
                n if n == RECORDINGS_PER_ROOM + 1 => ("deleted", day.as_str()),
                n if n == RECORDINGS_PER_ROOM + 2 => ("completed", "2025-12-31T23:59:59Z"),
                _ => ("completed", day.as_str()),
            };
            let mut resource = fake_rest::recording(&sid, &room_sid, status, created, size);
            if status == "completed" && created == day && n == 0 && room % 10 == 0 {
                resource["media_external_location"] =
                    format!("https://customer-bucket.s3.amazonaws.com/{sid}.mka").into();
                account.external.insert(sid.clone());
            } else if status == "completed" && created == day {
                account.archivable.insert(sid.clone());
                account.media.add(
                    &sid,
                    Media {
                        size,
                        content_type: "audio/x-matroska".into(),
                        ..Media::default()
                    },
                );
            } else {
                account.untouchable.insert(sid.clone());
            }
            account.rest.add("Recordings", resource);
        }
        for n in 0..COMPOSITIONS_PER_ROOM + 1 {
            let sid = sid("CJ", room, n);
            let size = 5_000 + (room * 31 + n) as u64;
            let status = if n == COMPOSITIONS_PER_ROOM {
                "failed"
            } else {
                "completed"
            };
            account.rest.add(
                "Compositions",
                fake_rest::composition(&sid, &room_sid, status, &day, size),
            );
            if status == "completed" {
                account.archivable.insert(sid.clone());
                account.media.add(
                    &sid,
                    Media {
                        size,
                        content_type: "video/mp4".into(),
                        ..Media::default()
                    },
                );
            } else {
                account.untouchable.insert(sid);
            }
        }
    }
    account
}

struct Aws {
    sdk: aws_config::SdkConfig,
    table: String,
    queue_url: String,
    bucket: String,
}

async fn aws() -> Aws {
    let sdk = moto_patient().await;
    let table = unique("events");
    create_table(&sdk, &table).await;
    let queue_url = create_queue(&sdk, &unique("media")).await;
    let bucket = unique("archive").to_lowercase();
    s3_client(&sdk)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    Aws {
        sdk,
        table,
        queue_url,
        bucket,
    }
}

fn context(account: &Account, aws: &Aws) -> Context {
    let twilio = TwilioRest::new(
        ApiKey::new(KEY_SID, KEY_SECRET),
        &account.rest.url,
        READ_RATE,
        500.0,
    )
    .unwrap_or_else(|err| panic!("{err}"))
    .with_backoff(Duration::from_millis(50));
    Context {
        twilio,
        queue: Some((aws_sdk_sqs::Client::new(&aws.sdk), aws.queue_url.clone())),
        bucket: Some((s3_client(&aws.sdk), aws.bucket.clone())),
        prefix: "twilio-video/".into(),
        table: Some((aws_sdk_dynamodb::Client::new(&aws.sdk), aws.table.clone())),
        account_sid: Some("AC00000000000000000000000000000001".into()),
        progress: indicatif::ProgressBar::hidden(),
    }
}

fn range() -> Created {
    Created {
        after: "2026-01-01T00:00:00Z".into(),
        before: Some("2026-04-01T00:00:00Z".into()),
    }
}

/// A backfill, with the queue drained as it fills: the messages it sent.
async fn backfill(ctx: &Context, aws: &Aws) -> (tasks::BackfillReport, Vec<MediaMessage>) {
    let drainer = Drainer::start(&aws.sdk, &aws.queue_url);
    let report = tasks::backfill(ctx, &range(), What::All, false)
        .await
        .unwrap_or_else(|err| panic!("backfill: {err}"));
    (report, drainer.finish().await)
}

fn media_sid(message: &MediaMessage) -> String {
    message
        .recording_sid
        .clone()
        .or(message.composition_sid.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_archive_reconcile_and_prune_a_whole_account() {
    let account = account().await;
    let aws = aws().await;
    let ctx = context(&account, &aws);
    let listed = account.archivable.len() + account.external.len();
    assert_eq!(
        account.archivable.len() + account.external.len(),
        ROOMS * 40
    );

    // Backfill: one message per completed file, valid against the contract, keyed by its SID.
    let (first, messages) = backfill(&ctx, &aws).await;
    assert_eq!(first.listed, listed, "{first:?}");
    assert_eq!(first.enqueued, listed);
    assert_eq!(first.failed, 0);
    assert_eq!(messages.len(), listed, "exactly one message per file");
    let sids: BTreeSet<String> = messages.iter().map(media_sid).collect();
    let expected: BTreeSet<String> = account
        .archivable
        .union(&account.external)
        .cloned()
        .collect();
    assert_eq!(
        sids, expected,
        "every completed file in the range, nothing else"
    );
    for message in &messages {
        assert_eq!(message.idempotency_key, backfill_key(&media_sid(message)));
        assert_eq!(message.origin.as_deref(), Some("backfill"));
        let json = serde_json::to_value(message).unwrap_or_default();
        assert_eq!(crate::schema::violations(&json), Vec::<String>::new());
    }
    // Twilio's limits: never more than 100 a page, throttled calls retried, reads paced.
    let state = &account.rest.state;
    assert!(lock(&state.page_sizes).iter().all(|size| *size == 100));
    assert!(state.throttled.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    assert!(
        state
            .throttled_with_retry_after
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 1
    );
    assert_rate_never_exceeded(&lock(&state.arrivals), READ_RATE);

    // A second backfill sends the same keys.
    let (_, again) = backfill(&ctx, &aws).await;
    let keys = |m: &[MediaMessage]| {
        m.iter()
            .map(|m| m.idempotency_key.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(keys(&again), keys(&messages));
    assert_eq!(again.len(), messages.len());

    // The media archiver, run on those messages, archives every one.
    let archiver = media::archiver(
        &aws.sdk,
        &aws.bucket,
        &aws.table,
        &account.media.url,
        ApiKey::new(KEY_SID, KEY_SECRET),
        5 * 1024 * 1024,
        Duration::from_secs(30),
    )
    .await;
    let archiver = std::sync::Arc::new(archiver);
    let mut batches = JoinSet::new();
    for (n, chunk) in messages.chunks(10).enumerate() {
        let records: Vec<(String, String)> = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("{n}-{i}"), body(m)))
            .collect();
        let archiver = archiver.clone();
        batches.spawn(async move {
            let refs: Vec<(&str, String)> = records
                .iter()
                .map(|(id, b)| (id.as_str(), b.clone()))
                .collect();
            archiver.handle(batch(&refs)).await
        });
        if batches.len() >= 4 {
            if let Some(done) = batches.join_next().await {
                let response = done.unwrap_or_else(|err| panic!("{err}"));
                assert!(response.batch_item_failures.is_empty(), "{response:?}");
            }
        }
    }
    while let Some(done) = batches.join_next().await {
        let response = done.unwrap_or_else(|err| panic!("{err}"));
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }

    // Reconcile: all archived (the external ones counted apart).
    let all_good = tasks::reconcile(&ctx, &range(), false)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(all_good.total, listed);
    assert_eq!(all_good.archived, account.archivable.len());
    assert_eq!(all_good.external, account.external.len());
    assert_eq!((all_good.missing, all_good.size_mismatch), (0, 0));

    // One object removed, one truncated: reconcile names exactly those, and enqueues exactly those.
    let s3 = s3_client(&aws.sdk);
    let removed = "RT00000000000000030000000000000005";
    let truncated = "CJ00000000000000070000000000000001";
    let key = |sid: &str, ext: &str, room: usize| {
        format!(
            "twilio-video/AC00000000000000000000000000000001/RM{room:016x}{:016x}/{sid}.{ext}",
            0
        )
    };
    s3.delete_object()
        .bucket(&aws.bucket)
        .key(key(removed, "mka", 3))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    s3.put_object()
        .bucket(&aws.bucket)
        .key(key(truncated, "mp4", 7))
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"cut short",
        ))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let drainer = Drainer::start(&aws.sdk, &aws.queue_url);
    let broken = tasks::reconcile(&ctx, &range(), true)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let requeued = drainer.finish().await;
    assert_eq!(
        (broken.missing, broken.size_mismatch),
        (1, 1),
        "{:?}",
        broken.not_archived
    );
    let named: Vec<(&str, &str)> = broken
        .not_archived
        .iter()
        .map(|n| (n.sid.as_str(), n.reason))
        .collect();
    assert_eq!(named, [(truncated, "size_mismatch"), (removed, "missing")]);
    assert_eq!(broken.archived, account.archivable.len() - 2);
    let requeued: BTreeSet<String> = requeued.iter().map(media_sid).collect();
    assert_eq!(
        requeued,
        BTreeSet::from([removed.to_owned(), truncated.to_owned()])
    );

    // One archived file whose media-archived record is gone: not safe to delete.
    let no_record = "RT00000000000000050000000000000002";
    forget_record(&aws, no_record).await;

    // Prune, first as a report, then for real.
    let report = tasks::prune(&ctx, &range(), false)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let safe: BTreeSet<String> = account
        .archivable
        .iter()
        .filter(|sid| ![removed, truncated, no_record].contains(&sid.as_str()))
        .cloned()
        .collect();
    assert_eq!(report.deletable, safe.len());
    assert_eq!(report.deleted, 0);
    assert_eq!(
        (
            report.missing,
            report.size_mismatch,
            report.unrecorded,
            report.kept
        ),
        (1, 1, 1, 3),
        "{:?}",
        report.kept_files
    );
    assert!(
        !report.complete(),
        "prune exits 1: something is not safely archived"
    );
    assert!(
        lock(&state.deleted).is_empty(),
        "nothing deleted without --delete"
    );
    let pruned = tasks::prune(&ctx, &range(), true)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(pruned.deleted, safe.len());
    let deleted: BTreeSet<String> = lock(&state.deleted).iter().cloned().collect();
    assert_eq!(deleted, safe, "exactly the safely archived files");
    for sid in account.external.iter().chain(&account.untouchable) {
        assert!(
            !deleted.contains(sid),
            "{sid} is external, processing, failed or out of range"
        );
    }
    assert_eq!(
        account.rest.status("Recordings", removed).as_deref(),
        Some("completed")
    );
    // Each deletion is in its room's timeline.
    let recorded = deletion_records(&aws).await;
    assert_eq!(recorded, safe);
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// No window of one second saw more than `rate` requests (plus the one that opens it).
fn assert_rate_never_exceeded(arrivals: &[std::time::Instant], rate: f64) {
    let mut sorted = arrivals.to_vec();
    sorted.sort();
    let limit = rate as usize + 1;
    for (i, start) in sorted.iter().enumerate() {
        let within = sorted[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < Duration::from_secs(1))
            .count();
        assert!(
            within <= limit,
            "{within} requests within one second (limit {rate}/s)"
        );
    }
}

async fn forget_record(aws: &Aws, sid: &str) {
    let client = aws_sdk_dynamodb::Client::new(&aws.sdk);
    let items = client
        .scan()
        .table_name(&aws.table)
        .filter_expression("media_sid = :sid")
        .expression_attribute_values(":sid", AttributeValue::S(sid.to_owned()))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let items = items.items();
    assert_eq!(items.len(), 1, "{sid} has its media-archived record");
    for item in items {
        client
            .delete_item()
            .table_name(&aws.table)
            .key("pk", item["pk"].clone())
            .key("sk", item["sk"].clone())
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
    }
}

async fn deletion_records(aws: &Aws) -> BTreeSet<String> {
    let client = aws_sdk_dynamodb::Client::new(&aws.sdk);
    let mut sids = BTreeSet::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(&aws.table)
            .filter_expression("#e = :deleted")
            .expression_attribute_names("#e", "event")
            .expression_attribute_values(
                ":deleted",
                AttributeValue::S("media-deleted-at-twilio".into()),
            )
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
        for item in page.items() {
            if let Some(AttributeValue::S(sid)) = item.get("media_sid") {
                sids.insert(sid.clone());
            }
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return sids;
        }
    }
}

#[test]
fn usage_errors_exit_2_and_every_subcommand_has_help() {
    let run = |args: &[&str]| {
        operator_cli()
            .args(args)
            .output()
            .unwrap_or_else(|err| panic!("{err}"))
    };
    for sub in ["backfill", "reconcile", "prune"] {
        let help = run(&[sub, "--help"]);
        assert_eq!(help.status.code(), Some(0));
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(
            text.contains("--since") && text.contains("Example"),
            "{text}"
        );
    }
    assert_eq!(
        run(&["backfill"]).status.code(),
        Some(2),
        "--since is required"
    );
    assert_eq!(
        run(&["backfill", "--since", "yesterday-ish"]).status.code(),
        Some(2)
    );
    let no_key = run(&["backfill", "--since", "2026-01-01"]);
    assert_eq!(no_key.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("TWILIO_API_KEY_SID"));
}

/// The benchmark behind the backfill figure (`bash scripts/bench.sh` runs it): 1,000 files
/// listed from the fake API without its rate limit or throttling, and enqueued on moto's SQS (drained as
/// it fills). Prints files per second; asserts only that every file was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by scripts/bench.sh"]
async fn backfill_throughput() {
    const FILES: usize = 1_000;
    let rest = fake_rest::start(0).await;
    for n in 0..FILES {
        let room = sid("RM", n / 100, 0);
        rest.add(
            "Recordings",
            fake_rest::recording(
                &sid("RT", n / 100, n),
                &room,
                "completed",
                "2026-03-01T10:00:00Z",
                1000,
            ),
        );
    }
    let aws = aws().await;
    let twilio = TwilioRest::new(ApiKey::new(KEY_SID, KEY_SECRET), &rest.url, 0.0, 0.0)
        .unwrap_or_else(|err| panic!("{err}"));
    let ctx = Context {
        twilio,
        queue: Some((aws_sdk_sqs::Client::new(&aws.sdk), aws.queue_url.clone())),
        bucket: None,
        prefix: "twilio-video/".into(),
        table: None,
        account_sid: None,
        progress: indicatif::ProgressBar::hidden(),
    };
    let listing = std::time::Instant::now();
    let dry = tasks::backfill(&ctx, &range(), What::All, true)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let list_secs = listing.elapsed().as_secs_f64();
    assert_eq!(dry.listed, FILES);
    let started = std::time::Instant::now();
    let (report, messages) = backfill(&ctx, &aws).await;
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(
        (report.listed, report.enqueued, messages.len()),
        (FILES, FILES, FILES)
    );
    let pages = FILES.div_ceil(100);
    eprintln!(
        "backfill: {FILES} files ({pages} pages): listed alone (--dry-run) in {list_secs:.2} s ({:.0} files/s \
         against the fake API without its rate limit); listed and enqueued on moto's SQS in {secs:.1} s \
         ({:.0} files/s: moto's SQS is the bottleneck). A 100,000-file backfill is 1,000 pages: {:.1} s of \
         listing at Twilio's default 80 reads/s ({:.1} s at this program's default 40/s), and 10,000 \
         SendMessageBatch calls, ten in flight",
        FILES as f64 / list_secs,
        FILES as f64 / secs,
        1_000.0 / 80.0,
        1_000.0 / 40.0,
    );
}
