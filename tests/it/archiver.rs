//! The real media archiver against moto's S3 and DynamoDB and a fake Twilio media server on loopback.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::helpers::fake_twilio::{self, pattern_byte, FakeTwilio, Media, KEY_SECRET, KEY_SID};
use crate::helpers::media::{self, batch, body, composition, failed_ids, recording};
use crate::helpers::*;
use sha2::{Digest, Sha256};
use twilio_video_callbacks::archiver::rules::ArchiveRecord;
use twilio_video_callbacks::archiver::{ApiKey, AwsArchiver};
use twilio_video_callbacks::aws::sdk::s3_client;
use twilio_video_callbacks::message::MediaMessage;

const MIB: u64 = 1024 * 1024;

pub(crate) struct Bench {
    pub(crate) sdk: aws_config::SdkConfig,
    pub(crate) bucket: String,
    pub(crate) table: String,
    pub(crate) twilio: FakeTwilio,
}

impl Bench {
    pub(crate) async fn new() -> Self {
        let sdk = moto_patient().await;
        let bucket = unique("archive").to_lowercase();
        s3_client(&sdk)
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap_or_else(|err| panic!("create bucket: {err:?}"));
        // Versioned, as deployed: a second write of an object would leave a noncurrent version.
        s3_client(&sdk)
            .put_bucket_versioning()
            .bucket(&bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|err| panic!("versioning: {err:?}"));
        let table = unique("events");
        create_table(&sdk, &table).await;
        Bench {
            sdk,
            bucket,
            table,
            twilio: fake_twilio::start().await,
        }
    }

    pub(crate) async fn archiver_with_key(&self, key: ApiKey) -> AwsArchiver {
        media::archiver(
            &self.sdk,
            &self.bucket,
            &self.table,
            &self.twilio.url,
            key,
            5 * MIB as usize,
            Duration::from_secs(2),
        )
        .await
    }

    pub(crate) async fn archiver(&self) -> AwsArchiver {
        self.archiver_with_key(ApiKey::new(KEY_SID, KEY_SECRET))
            .await
    }

    pub(crate) async fn object(
        &self,
        key: &str,
    ) -> Option<aws_sdk_s3::operation::get_object::GetObjectOutput> {
        s3_client(&self.sdk)
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()
    }

    /// The object's `sha256` tag.
    pub(crate) async fn sha256_tag(&self, key: &str) -> Option<String> {
        let tagging = s3_client(&self.sdk)
            .get_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        tagging
            .tag_set()
            .iter()
            .find(|t| t.key() == "sha256")
            .map(|t| t.value().to_owned())
    }

    /// The full-object CRC64NVME S3 (here moto) computed of the stored object, and its checksum type.
    pub(crate) async fn s3_crc64(&self, key: &str) -> (Option<String>, Option<String>) {
        let head = s3_client(&self.sdk)
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
        (
            head.checksum_crc64_nvme().map(str::to_owned),
            head.checksum_type().map(|t| t.as_str().to_owned()),
        )
    }

    /// How many versions of `key` the bucket holds (1: written once).
    pub(crate) async fn versions(&self, key: &str) -> usize {
        s3_client(&self.sdk)
            .list_object_versions()
            .bucket(&self.bucket)
            .prefix(key)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"))
            .versions()
            .len()
    }

    pub(crate) async fn open_uploads(&self) -> usize {
        s3_client(&self.sdk)
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"))
            .uploads()
            .len()
    }

    pub(crate) async fn records(&self) -> Vec<ArchiveRecord> {
        let client = aws_sdk_dynamodb::Client::new(&self.sdk);
        let page = client
            .scan()
            .table_name(&self.table)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
        let mut records: Vec<ArchiveRecord> = page
            .items()
            .iter()
            .map(|item| serde_dynamo::from_item(item.clone()).unwrap_or_else(|err| panic!("{err}")))
            .collect();
        records.sort_by(|a, b| a.media_sid.cmp(&b.media_sid));
        records
    }
}

/// The CRC64NVME of `bytes`, base64, as S3 names it.
pub(crate) fn crc64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let mut crc = aws_smithy_checksums::ChecksumAlgorithm::Crc64Nvme.into_impl();
    crc.update(bytes);
    base64::engine::general_purpose::STANDARD.encode(crc.finalize())
}

fn pattern(size: u64) -> Vec<u8> {
    (0..size).map(pattern_byte).collect()
}

fn pattern_sha256(size: u64) -> Vec<u8> {
    let mut hasher = Sha256::new();
    let chunk = 64 * 1024;
    let mut at = 0;
    while at < size {
        let n = chunk.min(size - at);
        let bytes: Vec<u8> = (at..at + n).map(pattern_byte).collect();
        hasher.update(&bytes);
        at += n;
    }
    hasher.finalize().to_vec()
}

#[tokio::test]
async fn a_recording_is_archived_byte_for_byte_with_its_key_type_and_metadata() {
    let bench = Bench::new().await;
    let size = 12 * MIB + 12_345; // three parts of 5 MiB, the last one short
    bench.twilio.add(
        "RT00000000000000000000000000000001",
        Media {
            size,
            content_type: "audio/x-matroska".into(),
            ..Media::default()
        },
    );
    let message = recording("RT00000000000000000000000000000001", size);
    let response = bench
        .archiver()
        .await
        .handle(batch(&[("m1", body(&message))]))
        .await;
    assert!(response.batch_item_failures.is_empty());

    let key = "twilio-video/AC00000000000000000000000000000001/RM00000000000000000000000000000001/RT00000000000000000000000000000001.mka";
    let object = bench
        .object(key)
        .await
        .unwrap_or_else(|| panic!("{key} not archived"));
    assert_eq!(object.content_type(), Some("audio/x-matroska"));
    let metadata = object.metadata().cloned().unwrap_or_default();
    assert_eq!(
        metadata.get("room-sid").map(String::as_str),
        Some("RM00000000000000000000000000000001")
    );
    assert_eq!(
        metadata.get("recording-sid").map(String::as_str),
        Some("RT00000000000000000000000000000001")
    );
    assert_eq!(
        metadata.get("participant-sid").map(String::as_str),
        Some("PA00000000000000000000000000000001")
    );
    assert_eq!(metadata.get("codec").map(String::as_str), Some("OPUS"));
    assert_eq!(metadata.get("duration").map(String::as_str), Some("61"));
    let bytes = object
        .body
        .collect()
        .await
        .unwrap_or_else(|err| panic!("{err}"))
        .into_bytes();
    assert_eq!(bytes.len() as u64, size);
    assert_eq!(
        Sha256::digest(&bytes).to_vec(),
        pattern_sha256(size),
        "exact bytes"
    );

    assert_eq!(
        bench.twilio.state.leaked_credentials.load(Ordering::SeqCst),
        0,
        "no credentials past the redirect"
    );
    assert_eq!(bench.twilio.state.file_requests.load(Ordering::SeqCst), 1);
    assert_eq!(bench.open_uploads().await, 0);

    let records = bench.records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].event, "media-archived");
    assert_eq!(records[0].pk, "RM00000000000000000000000000000001");
    assert_eq!(
        records[0].s3_uri.as_deref(),
        Some(format!("s3://{}/{key}", bench.bucket).as_str())
    );
    assert_eq!(records[0].size, Some(size));
    assert_eq!(records[0].content_type.as_deref(), Some("audio/x-matroska"));
    // The SHA-256 recorded is the SHA-256 of what Twilio served, in the table and in the object's tag;
    // the object's full-object CRC64NVME, as S3 (here moto) computed it of the stored bytes, is that of
    // what Twilio served. Written once: one version in the versioned bucket, no in-place copy.
    let served_sha256 = hex::encode(pattern_sha256(size));
    assert_eq!(records[0].sha256.as_deref(), Some(served_sha256.as_str()));
    assert_eq!(records[0].encrypted, None);
    assert_eq!(bench.sha256_tag(key).await, Some(served_sha256.clone()));
    assert!(!metadata.contains_key("sha256"));
    assert_eq!(
        bench.s3_crc64(key).await,
        (Some(crc64(&pattern(size))), Some("FULL_OBJECT".to_owned()))
    );
    assert_eq!(bench.versions(key).await, 1, "written once");

    // A second delivery of the same message downloads nothing.
    let again = bench
        .archiver()
        .await
        .handle(batch(&[("m1-again", body(&message))]))
        .await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(bench.twilio.state.file_requests.load(Ordering::SeqCst), 1);
    assert_eq!(bench.twilio.state.api_requests.load(Ordering::SeqCst), 1);
    // The first archive's record survives in DynamoDB; the repeat only adds to it.
    let after = bench.records().await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].how.as_deref(), Some("copied"));
    assert_eq!(after[0].content_type.as_deref(), Some("audio/x-matroska"));
    assert_eq!(after[0].archived_at, records[0].archived_at);
    assert_eq!(after[0].confirmations, Some(1));
    assert!(after[0].confirmed_at.as_deref() >= Some(records[0].archived_at.as_str()));
}

#[tokio::test]
async fn a_composition_takes_the_extension_of_what_twilio_serves() {
    let bench = Bench::new().await;
    bench.twilio.add(
        "CJ00000000000000000000000000000001",
        Media {
            size: 1000,
            content_type: "video/webm".into(),
            ..Media::default()
        },
    );
    let response = bench
        .archiver()
        .await
        .handle(batch(&[(
            "c1",
            body(&composition("CJ00000000000000000000000000000001", 1000)),
        )]))
        .await;
    assert!(response.batch_item_failures.is_empty());
    let key = "twilio-video/AC00000000000000000000000000000001/RM00000000000000000000000000000001/CJ00000000000000000000000000000001.webm";
    assert!(bench.object(key).await.is_some(), "{key}");
}

#[tokio::test]
async fn in_a_mixed_batch_only_what_can_succeed_later_is_retried_and_no_upload_stays_open() {
    let bench = Bench::new().await;
    let ok = "RT0000000000000000000000000000000a";
    let flaky = "RT0000000000000000000000000000000b";
    let truncated = "RT0000000000000000000000000000000c";
    let stalled = "RT0000000000000000000000000000000d";
    let gone = "RT0000000000000000000000000000000e";
    let media = |size| Media {
        size,
        content_type: "audio/x-matroska".into(),
        ..Media::default()
    };
    bench.twilio.add(ok, media(6 * MIB));
    bench.twilio.add(
        flaky,
        Media {
            fail_first: 1,
            ..media(1000)
        },
    );
    bench.twilio.add(
        truncated,
        Media {
            truncate_at: Some(6 * MIB),
            ..media(7 * MIB)
        },
    );
    bench.twilio.add(
        stalled,
        Media {
            stall_at: Some(MIB),
            ..media(2 * MIB)
        },
    );
    let external = MediaMessage {
        media_external_location: Some("https://team-bucket.s3.amazonaws.com/RTf.mka".into()),
        ..recording("RT0000000000000000000000000000000f", 5)
    };
    let future_schema =
        body(&recording(ok, 6 * MIB)).replace("\"schema_version\":1", "\"schema_version\":2");
    let archiver = bench.archiver().await;
    let response = archiver
        .handle(batch(&[
            ("ok", body(&recording(ok, 6 * MIB))),
            ("flaky", body(&recording(flaky, 1000))),
            ("truncated", body(&recording(truncated, 7 * MIB))),
            ("stalled", body(&recording(stalled, 2 * MIB))),
            ("gone", body(&recording(gone, 10))),
            ("external", body(&external)),
            ("not-json", "{oops".into()),
            ("future", future_schema),
        ]))
        .await;
    assert_eq!(
        failed_ids(&response),
        ["future", "not-json", "stalled", "truncated"],
        "the flaky one succeeded on its second attempt within the delivery"
    );
    assert_eq!(bench.open_uploads().await, 0, "failed uploads were aborted");

    let records = bench.records().await;
    let by_sid = |sid: &str| records.iter().find(|r| r.media_sid == sid).cloned();
    assert_eq!(by_sid(ok).map(|r| r.event), Some("media-archived".into()));
    let gone_record = by_sid(gone).unwrap_or_else(|| panic!("a deleted media is recorded"));
    assert_eq!(gone_record.event, "media-archive-failed");
    assert!(gone_record.reason.unwrap_or_default().contains("404"));
    let external_record =
        by_sid("RT0000000000000000000000000000000f").unwrap_or_else(|| panic!("external recorded"));
    assert_eq!(external_record.how.as_deref(), Some("external"));
    assert_eq!(
        external_record.s3_uri.as_deref(),
        Some("https://team-bucket.s3.amazonaws.com/RTf.mka")
    );
    assert!(by_sid(truncated).is_none() && by_sid(stalled).is_none());
    assert_eq!(
        by_sid(flaky).map(|r| r.event),
        Some("media-archived".into())
    );
    for (sid, size) in [(ok, 6 * MIB), (flaky, 1000)] {
        assert_eq!(
            by_sid(sid).and_then(|r| r.sha256),
            Some(hex::encode(pattern_sha256(size))),
            "{sid}"
        );
    }
    for sid in [truncated, stalled] {
        let stem = format!(
            "twilio-video/AC00000000000000000000000000000001/RM00000000000000000000000000000001/{sid}"
        );
        assert!(
            bench.object(&format!("{stem}.mka")).await.is_none(),
            "{sid}"
        );
    }
    assert_eq!(
        bench.twilio.state.leaked_credentials.load(Ordering::SeqCst),
        0
    );
}

#[tokio::test]
async fn refused_credentials_fail_the_message_for_the_dead_letter_queue() {
    let bench = Bench::new().await;
    bench.twilio.add(
        "RT00000000000000000000000000000009",
        Media {
            size: 10,
            content_type: "audio/x-matroska".into(),
            ..Media::default()
        },
    );
    let archiver = bench
        .archiver_with_key(ApiKey::new(KEY_SID, "wrong-secret"))
        .await;
    let response = archiver
        .handle(batch(&[(
            "m",
            body(&recording("RT00000000000000000000000000000009", 10)),
        )]))
        .await;
    assert_eq!(failed_ids(&response), ["m"]);
    assert!(bench.records().await.is_empty());
    assert_eq!(bench.twilio.state.file_requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_part_upload_that_fails_mid_file_aborts_the_upload_and_the_file_is_copied_again_whole() {
    let proxy =
        crate::helpers::fault_proxy::start(&moto_endpoint(), 0.0, Duration::from_secs(1), 7).await;
    let through_proxy = patient_at(&proxy.url).await;
    let bench = Bench::new().await;
    let sid = "RT00000000000000000000000000000021";
    let size = 17 * MIB + 3; // four parts of 5 MiB
    bench.twilio.add(
        sid,
        Media {
            size,
            content_type: "audio/x-matroska".into(),
            ..Media::default()
        },
    );
    // Part 2 fails on every one of the SDK's attempts in the first copy, and only then.
    proxy.plan.fail_part(2, 3);
    let archiver = media::archiver(
        &through_proxy,
        &bench.bucket,
        &bench.table,
        &bench.twilio.url,
        ApiKey::new(KEY_SID, KEY_SECRET),
        5 * MIB as usize,
        Duration::from_secs(5),
    )
    .await;
    let response = archiver
        .handle(batch(&[("m", body(&recording(sid, size)))]))
        .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    assert_eq!(
        bench.twilio.state.api_requests.load(Ordering::SeqCst),
        2,
        "the second copy started again from Twilio's /Media"
    );
    assert_eq!(bench.twilio.state.file_requests.load(Ordering::SeqCst), 2);
    assert_eq!(
        bench.open_uploads().await,
        0,
        "the failed upload was aborted"
    );
    let key = format!(
        "twilio-video/AC00000000000000000000000000000001/RM00000000000000000000000000000001/{sid}.mka"
    );
    let object = bench
        .object(&key)
        .await
        .unwrap_or_else(|| panic!("{key} not archived"));
    let bytes = object
        .body
        .collect()
        .await
        .unwrap_or_else(|err| panic!("{err}"))
        .into_bytes();
    assert_eq!(Sha256::digest(&bytes).to_vec(), pattern_sha256(size));
    let records = bench.records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].sha256, Some(hex::encode(pattern_sha256(size))));
}

#[tokio::test]
async fn a_transfer_broken_with_its_short_lived_url_is_not_a_success_and_the_retry_asks_for_a_new_url(
) {
    let bench = Bench::new().await;
    let sid = "RT00000000000000000000000000000022";
    let size = 11 * MIB;
    bench.twilio.add(
        sid,
        Media {
            size,
            content_type: "audio/x-matroska".into(),
            break_first_at: Some(7 * MIB),
            ..Media::default()
        },
    );
    let message = recording(sid, size);

    // One attempt a delivery: the broken transfer is not recorded, nothing stays open or half-written.
    let once = bench.archiver().await.with_attempts(1);
    let response = once.handle(batch(&[("m", body(&message))])).await;
    assert_eq!(failed_ids(&response), ["m"]);
    assert!(bench.records().await.is_empty());
    assert_eq!(bench.open_uploads().await, 0);
    let key = format!(
        "twilio-video/AC00000000000000000000000000000001/RM00000000000000000000000000000001/{sid}.mka"
    );
    assert!(bench.object(&key).await.is_none());

    // SQS delivers it again: a new /Media request, a new URL; the expired one is never asked for.
    let again = bench
        .archiver()
        .await
        .handle(batch(&[("m", body(&message))]))
        .await;
    assert!(again.batch_item_failures.is_empty(), "{again:?}");
    assert_eq!(bench.twilio.state.api_requests.load(Ordering::SeqCst), 2);
    assert_eq!(
        bench.twilio.state.expired_requests.load(Ordering::SeqCst),
        0
    );
    let records = bench.records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].size, Some(size));
    assert_eq!(records[0].sha256, Some(hex::encode(pattern_sha256(size))));
    assert_eq!(bench.sha256_tag(&key).await, records[0].sha256);
    assert_eq!(bench.s3_crc64(&key).await.0, Some(crc64(&pattern(size))));
}

#[tokio::test]
async fn an_empty_file_is_archived_as_one_empty_part_with_the_sha256_of_nothing() {
    let bench = Bench::new().await;
    let sid = "RT00000000000000000000000000000023";
    bench.twilio.add(
        sid,
        Media {
            size: 0,
            content_type: "audio/x-matroska".into(),
            ..Media::default()
        },
    );
    let response = bench
        .archiver()
        .await
        .handle(batch(&[("m", body(&recording(sid, 0)))]))
        .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let key = format!(
        "twilio-video/AC00000000000000000000000000000001/RM00000000000000000000000000000001/{sid}.mka"
    );
    let object = bench
        .object(&key)
        .await
        .unwrap_or_else(|| panic!("{key} not archived"));
    assert_eq!(object.content_length(), Some(0));
    let empty = hex::encode(Sha256::digest(b""));
    assert_eq!(bench.records().await[0].sha256, Some(empty.clone()));
    assert_eq!(bench.sha256_tag(&key).await, Some(empty));
    assert_eq!(bench.open_uploads().await, 0);
}
