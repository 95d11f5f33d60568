//! The archiver's decisions, with its three ports played in memory: which outcome is recorded, which
//! message is acknowledged and which is retried.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use sha2::{Digest, Sha256};

use super::media::{MediaSource, MediaStream};
use super::record::{OutcomeLog, Recorded};
use super::rules::{ArchiveError, ArchiveRecord};
use super::upload::{Expected, MediaSink, Uploaded};
use super::Archiver;
use crate::message::MediaMessage;
use crate::twilio::callback::Container;

/// What the fake Twilio answers for one URL.
#[derive(Clone)]
enum Served {
    File {
        content_type: &'static str,
        bytes: Vec<u8>,
        /// A `Content-Length` different from the bytes sent: a transfer that broke off.
        claimed_length: Option<u64>,
    },
    Fails(ArchiveError),
    /// Breaks off mid-transfer the first time it is opened, then serves the file.
    BreaksOnce(Vec<u8>),
    /// Waits until every open of the test's barrier is waiting, then serves the file: it can only be served
    /// when that many messages are being archived at the same time.
    Together(Vec<u8>),
}

#[derive(Default)]
struct FakeTwilio {
    served: HashMap<String, Served>,
    opened: Mutex<Vec<String>>,
    together: Option<std::sync::Arc<tokio::sync::Barrier>>,
}

fn stream_of(bytes: &[u8]) -> MediaStream {
    MediaStream {
        content_type: "audio/x-matroska".to_owned(),
        content_length: Some(bytes.len() as u64),
        metadata: Vec::new(),
        body: Full::new(Bytes::from(bytes.to_vec()))
            .map_err(|never| match never {})
            .boxed(),
    }
}

impl MediaSource for FakeTwilio {
    async fn open(&self, url: &str, _account: &str) -> Result<MediaStream, ArchiveError> {
        let times = {
            let mut opened = lock(&self.opened);
            opened.push(url.to_owned());
            opened.iter().filter(|u| *u == url).count()
        };
        match self.served.get(url) {
            Some(Served::BreaksOnce(bytes)) if times == 1 => {
                let half = Bytes::from(bytes[..bytes.len() / 2].to_vec());
                let broken = futures_util::stream::iter([
                    Ok(http_body::Frame::data(half)),
                    Err(std::io::Error::other("connection reset")),
                ]);
                Ok(MediaStream {
                    body: http_body_util::StreamBody::new(broken).boxed(),
                    ..stream_of(bytes)
                })
            }
            Some(Served::BreaksOnce(bytes)) => Ok(stream_of(bytes)),
            Some(Served::Together(bytes)) => {
                if let Some(barrier) = &self.together {
                    barrier.wait().await;
                }
                Ok(stream_of(bytes))
            }
            Some(Served::File {
                content_type,
                bytes,
                claimed_length,
            }) => Ok(MediaStream {
                content_type: (*content_type).to_owned(),
                content_length: Some(claimed_length.unwrap_or(bytes.len() as u64)),
                metadata: Vec::new(),
                body: Full::new(Bytes::from(bytes.clone()))
                    .map_err(|never| match never {})
                    .boxed(),
            }),
            Some(Served::Fails(err)) => Err(err.clone()),
            None => Err(ArchiveError::MediaGone(format!("404 for {url}"))),
        }
    }
}

#[derive(Default)]
struct FakeBucket {
    objects: Mutex<HashMap<String, Vec<u8>>>,
}

impl MediaSink for FakeBucket {
    async fn find(&self, stem: &str, size: u64) -> Result<Option<Uploaded>, ArchiveError> {
        Ok(lock(&self.objects)
            .iter()
            .find(|(key, bytes)| key.starts_with(stem) && bytes.len() as u64 == size)
            .map(|(key, bytes)| Uploaded {
                s3_uri: format!("s3://archive/{key}"),
                size,
                sha256: hex::encode(Sha256::digest(bytes)),
                encrypted: None,
            }))
    }

    async fn upload(
        &self,
        key: &str,
        media: MediaStream,
        _metadata: HashMap<String, String>,
        expected: Expected,
    ) -> Result<Uploaded, ArchiveError> {
        let bytes = media
            .body
            .collect()
            .await
            .map_err(|err| ArchiveError::Transient(err.to_string()))?
            .to_bytes();
        super::rules::check_length(
            bytes.len() as u64,
            media.content_length,
            expected.size,
            expected.encrypted,
        )?;
        lock(&self.objects).insert(key.to_owned(), bytes.to_vec());
        Ok(Uploaded {
            s3_uri: format!("s3://archive/{key}"),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
            encrypted: None,
        })
    }
}

#[derive(Default)]
struct FakeTable {
    records: Mutex<HashMap<(String, String), ArchiveRecord>>,
    down: bool,
}

impl OutcomeLog for FakeTable {
    async fn record(&self, record: ArchiveRecord) -> Result<Recorded, ArchiveError> {
        if self.down {
            return Err(ArchiveError::Transient("DynamoDB unavailable".into()));
        }
        let mut records = lock(&self.records);
        let key = (record.pk.clone(), record.sk.clone());
        match records.get_mut(&key) {
            Some(existing) => {
                existing.confirmed_at = Some(record.archived_at.clone());
                existing.confirmations = Some(existing.confirmations.unwrap_or(0) + 1);
                Ok(Recorded::Repeat)
            }
            None => {
                records.insert(key, record);
                Ok(Recorded::First)
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

const URL: &str = "https://video.twilio.com/v1/Recordings/RT1/Media";
const LOCAL: &str = "http://twilio.test/v1/Recordings/RT1/Media";

fn recording(sid: &str, size: u64) -> MediaMessage {
    MediaMessage {
        schema_version: 1,
        event: "recording-completed".into(),
        idempotency_key: format!("key-{sid}"),
        account_sid: "AC1".into(),
        room_sid: "RM1".into(),
        room_name: None,
        recording_sid: Some(sid.into()),
        composition_sid: None,
        participant_sid: Some("PA1".into()),
        source_sid: None,
        track_name: None,
        media_type: None,
        container: Some(Container::Mka),
        codec: None,
        media_uri: Some(format!("/v1/Recordings/{sid}/Media")),
        media_url: Some(format!(
            "https://video.twilio.com/v1/Recordings/{sid}/Media"
        )),
        media_external_location: None,
        duration: Some(1),
        size: Some(size),
        timestamp: "2026-11-27T09:00:00.000Z".into(),
        origin: None,
    }
}

fn file(bytes: &[u8]) -> Served {
    Served::File {
        content_type: "audio/x-matroska",
        bytes: bytes.to_vec(),
        claimed_length: None,
    }
}

fn archiver(twilio: FakeTwilio, table: FakeTable) -> Archiver<FakeTwilio, FakeBucket, FakeTable> {
    Archiver::new(
        twilio,
        FakeBucket::default(),
        table,
        "twilio-video/",
        "http://twilio.test",
    )
}

fn twilio(served: &[(&str, Served)]) -> FakeTwilio {
    FakeTwilio {
        served: served
            .iter()
            .map(|(sid, s)| {
                (
                    format!("http://twilio.test/v1/Recordings/{sid}/Media"),
                    s.clone(),
                )
            })
            .collect(),
        ..FakeTwilio::default()
    }
}

fn batch(messages: &[(&str, String)]) -> SqsEvent {
    SqsEvent {
        records: messages
            .iter()
            .map(|(id, body)| SqsMessage {
                message_id: Some((*id).to_owned()),
                body: Some(body.clone()),
                ..SqsMessage::default()
            })
            .collect(),
    }
}

fn json(message: &MediaMessage) -> String {
    serde_json::to_string(message).unwrap_or_default()
}

fn failed_ids(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<&str> {
    let mut ids: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    ids.sort_unstable();
    ids
}

fn records(archiver: &Archiver<FakeTwilio, FakeBucket, FakeTable>) -> Vec<ArchiveRecord> {
    let mut records: Vec<ArchiveRecord> = lock(&archiver.log.records).values().cloned().collect();
    records.sort_by(|a, b| a.sk.cmp(&b.sk));
    records
}

#[tokio::test]
async fn each_message_of_a_batch_gets_its_own_outcome() {
    let archiver = archiver(
        twilio(&[
            ("RT1", file(b"0123456789")),
            ("RT2", file(b"abcdef")),
            (
                "RT3",
                Served::File {
                    content_type: "audio/x-matroska",
                    bytes: b"01234".to_vec(),
                    claimed_length: Some(10),
                },
            ),
            (
                "RT5",
                Served::Fails(ArchiveError::Transient("Twilio answered 503".into())),
            ),
        ]),
        FakeTable::default(),
    );
    let response = archiver
        .handle(batch(&[
            ("good-1", json(&recording("RT1", 10))),
            ("good-2", json(&recording("RT2", 6))),
            ("truncated", json(&recording("RT3", 10))),
            ("deleted", json(&recording("RT4", 10))),
            ("twilio-down", json(&recording("RT5", 10))),
            ("not-json", "{".to_owned()),
        ]))
        .await;

    assert_eq!(
        failed_ids(&response),
        ["not-json", "truncated", "twilio-down"],
        "a broken transfer, an outage and an unreadable message are retried; a deleted media is not"
    );
    let objects = lock(&archiver.sink.objects).clone();
    let mut keys: Vec<&String> = objects.keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "twilio-video/AC1/RM1/RT1.mka",
            "twilio-video/AC1/RM1/RT2.mka"
        ]
    );
    assert_eq!(objects["twilio-video/AC1/RM1/RT1.mka"], b"0123456789");

    let records = records(&archiver);
    let summary: Vec<(&str, &str, Option<&str>)> = records
        .iter()
        .map(|r| (r.media_sid.as_str(), r.event.as_str(), r.how.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("RT4", "media-archive-failed", None),
            ("RT1", "media-archived", Some("copied")),
            ("RT2", "media-archived", Some("copied")),
        ],
        "only final outcomes are recorded"
    );
}

#[tokio::test]
async fn a_redelivery_keeps_the_first_record_and_only_adds_to_it() {
    let archiver = archiver(
        twilio(&[("RT1", file(b"0123456789"))]),
        FakeTable::default(),
    );
    let body = json(&recording("RT1", 10));
    let first = archiver.handle(batch(&[("m1", body.clone())])).await;
    assert!(first.batch_item_failures.is_empty());
    let before = records(&archiver);
    let second = archiver.handle(batch(&[("m2", body)])).await;
    assert!(second.batch_item_failures.is_empty());

    assert_eq!(
        lock(&archiver.media.opened).len(),
        1,
        "the second delivery found the object and downloaded nothing"
    );
    let after = records(&archiver);
    assert_eq!(after.len(), 1);
    let (first_record, kept) = (&before[0], &after[0]);
    assert_eq!(
        kept.how.as_deref(),
        Some("copied"),
        "not turned into already_archived"
    );
    assert_eq!(kept.content_type.as_deref(), Some("audio/x-matroska"));
    assert_eq!(kept.archived_at, first_record.archived_at);
    assert_eq!(kept.confirmations, Some(1));
    assert!(kept.confirmed_at.is_some());
}

#[tokio::test]
async fn media_in_external_storage_is_recorded_without_a_download() {
    let archiver = archiver(FakeTwilio::default(), FakeTable::default());
    let mut message = recording("RT1", 10);
    message.media_external_location = Some("s3://customer-bucket/RT1.mka".into());
    let response = archiver.handle(batch(&[("m", json(&message))])).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(lock(&archiver.media.opened).is_empty());
    let records = records(&archiver);
    assert_eq!(records[0].how.as_deref(), Some("external"));
    assert_eq!(
        records[0].s3_uri.as_deref(),
        Some("s3://customer-bucket/RT1.mka")
    );
}

#[tokio::test]
async fn the_media_url_is_rebased_onto_the_configured_twilio() {
    let archiver = archiver(
        twilio(&[("RT1", file(b"0123456789"))]),
        FakeTable::default(),
    );
    archiver
        .handle(batch(&[("m", json(&recording("RT1", 10)))]))
        .await;
    assert_eq!(*lock(&archiver.media.opened), [LOCAL]);
    assert_ne!(URL, LOCAL);
}

#[tokio::test]
async fn a_copy_whose_outcome_cannot_be_recorded_is_retried() {
    let table = FakeTable {
        down: true,
        ..FakeTable::default()
    };
    let archiver = archiver(twilio(&[("RT1", file(b"0123456789"))]), table);
    let response = archiver
        .handle(batch(&[("m", json(&recording("RT1", 10)))]))
        .await;
    assert_eq!(failed_ids(&response), ["m"]);
}

#[tokio::test]
async fn a_transfer_that_breaks_is_retried_from_a_fresh_media_url_within_the_delivery() {
    let bytes = b"0123456789abcdef".to_vec();
    let archiver = archiver(
        twilio(&[("RT1", Served::BreaksOnce(bytes.clone()))]),
        FakeTable::default(),
    );
    let response = archiver
        .handle(batch(&[("m", json(&recording("RT1", 16)))]))
        .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(
        *lock(&archiver.media.opened),
        [LOCAL, LOCAL],
        "the second attempt asked Twilio's /Media again (a new short-lived URL), not the old file URL"
    );
    assert_eq!(
        lock(&archiver.sink.objects)["twilio-video/AC1/RM1/RT1.mka"],
        bytes
    );
    let kept = records(&archiver);
    assert_eq!(kept.len(), 1);
    assert_eq!(
        kept[0].sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&bytes)).as_str())
    );

    // With one attempt a delivery, the broken transfer is left to SQS to deliver again.
    let once = super::Archiver::new(
        twilio(&[("RT1", Served::BreaksOnce(bytes))]),
        FakeBucket::default(),
        FakeTable::default(),
        "twilio-video/",
        "http://twilio.test",
    )
    .with_attempts(1);
    let response = once
        .handle(batch(&[("m", json(&recording("RT1", 16)))]))
        .await;
    assert_eq!(failed_ids(&response), ["m"]);
    assert!(lock(&once.sink.objects).is_empty() && records(&once).is_empty());
}

#[tokio::test]
async fn the_messages_of_a_batch_are_archived_at_the_same_time() {
    let mut twilio = twilio(&[
        ("RT1", Served::Together(b"one".to_vec())),
        ("RT2", Served::Together(b"two".to_vec())),
        ("RT3", Served::Together(b"three".to_vec())),
    ]);
    // Each open waits for the other two: one after the other, the first would wait forever.
    twilio.together = Some(std::sync::Arc::new(tokio::sync::Barrier::new(3)));
    let archiver = archiver(twilio, FakeTable::default());
    let handled = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        archiver.handle(batch(&[
            ("a", json(&recording("RT1", 3))),
            ("b", json(&recording("RT2", 3))),
            ("c", json(&recording("RT3", 5))),
        ])),
    )
    .await;
    let Ok(response) = handled else {
        panic!("the batch's messages were archived one after the other")
    };
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(records(&archiver).len(), 3);
}

#[tokio::test]
async fn refused_credentials_and_unknown_schema_versions_are_retried_until_dead_lettered() {
    let archiver = archiver(
        twilio(&[(
            "RT1",
            Served::Fails(ArchiveError::Unauthorized {
                status: 401,
                url: LOCAL.into(),
            }),
        )]),
        FakeTable::default(),
    );
    let future = json(&recording("RT2", 1)).replace("\"schema_version\":1", "\"schema_version\":2");
    let response = archiver
        .handle(batch(&[
            ("unauthorized", json(&recording("RT1", 10))),
            ("future", future),
        ]))
        .await;
    assert_eq!(failed_ids(&response), ["future", "unauthorized"]);
    assert!(records(&archiver).is_empty(), "nothing final happened");
}

#[tokio::test]
async fn no_second_attempt_when_the_invocation_is_about_to_end() {
    let archiver = archiver(
        twilio(&[("RT1", Served::BreaksOnce(b"0123456789abcdef".to_vec()))]),
        FakeTable::default(),
    );
    let almost_over = std::time::Instant::now() + super::RETRY_MARGIN / 2;
    let response = archiver
        .handle_until(
            batch(&[("m", json(&recording("RT1", 16)))]),
            Some(almost_over),
        )
        .await;
    assert_eq!(
        failed_ids(&response),
        ["m"],
        "left to SQS, not cut by the timeout"
    );
    assert_eq!(lock(&archiver.media.opened).len(), 1);
}

#[tokio::test]
async fn a_file_twilio_announces_at_another_length_is_not_downloaded() {
    let archiver = archiver(
        twilio(&[(
            "RT1",
            Served::File {
                content_type: "audio/x-matroska",
                bytes: b"0123456789ab".to_vec(),
                claimed_length: None,
            },
        )]),
        FakeTable::default(),
    );
    let response = archiver
        .handle(batch(&[("m", json(&recording("RT1", 10)))]))
        .await;
    assert_eq!(failed_ids(&response), ["m"]);
    assert!(lock(&archiver.sink.objects).is_empty());
    assert!(records(&archiver).is_empty());
}

#[test]
fn every_result_has_its_metric_outcome() {
    let handled = |outcome| {
        Ok(super::Handled {
            message: recording("RT1", 1),
            outcome,
            recorded: Recorded::First,
        })
    };
    let cases: Vec<(Result<super::Handled, ArchiveError>, &str)> = vec![
        (
            handled(super::Archived::Copied {
                s3_uri: "s3://b/k".into(),
                size: 1,
                content_type: "audio/x-matroska".into(),
                sha256: "0".repeat(64),
                encrypted: None,
            }),
            "copied",
        ),
        (
            handled(super::Archived::AlreadyThere {
                s3_uri: "s3://b/k".into(),
                size: 1,
                sha256: "0".repeat(64),
                encrypted: None,
            }),
            "already_archived",
        ),
        (
            handled(super::Archived::External {
                location: "s3://team/x".into(),
            }),
            "external",
        ),
        (Err(ArchiveError::MediaGone("404".into())), "gone"),
        (
            Err(ArchiveError::Unauthorized {
                status: 401,
                url: LOCAL.into(),
            }),
            "unauthorized",
        ),
        (
            Err(ArchiveError::InvalidMessage("x".into())),
            "invalid_message",
        ),
        (
            Err(ArchiveError::NoKey {
                account: "AC2".into(),
            }),
            "no_key",
        ),
        (
            Err(ArchiveError::Envelope("half".into())),
            "envelope_incomplete",
        ),
        (Err(ArchiveError::Transient("x".into())), "failed"),
    ];
    for (result, word) in &cases {
        assert_eq!(super::metric_outcome(result), *word);
        let line = crate::metrics::archive_document("N", 1, word, 5, 0.5);
        crate::metrics::tests::assert_no_identifying_dimension(&line);
    }
}
