//! A 200 MiB recording archived with the production part size: the archiver's memory stays bounded
//! whatever the file's size. Reports the peak resident memory of this test process (which also runs the
//! fake Twilio server); the figure is in the README.

mod common;

use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use common::fake_twilio::{self, Media, KEY_SECRET, KEY_SID};
use common::*;
use twilio_video_callbacks::archiver::{s3_client, ApiKey, Archiver, ArchiverSettings};
use twilio_video_callbacks::callback::Container;
use twilio_video_callbacks::message::MediaMessage;

const SIZE: u64 = 200 * 1024 * 1024;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mib_recording_archives_in_bounded_memory() {
    let sdk = moto_patient().await;
    let bucket = unique("large").to_lowercase();
    s3_client(&sdk)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let table = unique("events");
    create_table(&sdk, &table).await;
    let twilio = fake_twilio::start().await;
    let sid = "RT000000000000000000000000000000ff";
    twilio.add(
        sid,
        Media {
            size: SIZE,
            content_type: "video/x-matroska".into(),
            ..Media::default()
        },
    );

    let mut settings = ArchiverSettings::new(&bucket, &table);
    settings.media_base_url = twilio.url.clone();
    settings.read_timeout = Duration::from_secs(60);
    let archiver = Archiver::new(
        s3_client(&sdk),
        aws_sdk_dynamodb::Client::new(&sdk),
        ApiKey::new(KEY_SID, KEY_SECRET),
        settings,
    )
    .unwrap_or_else(|err| panic!("{err}"));
    let message = MediaMessage {
        schema_version: 1,
        event: "recording-completed".into(),
        idempotency_key: "large".into(),
        account_sid: "AC00000000000000000000000000000001".into(),
        room_sid: "RM00000000000000000000000000000001".into(),
        room_name: None,
        recording_sid: Some(sid.into()),
        composition_sid: None,
        participant_sid: None,
        source_sid: None,
        track_name: None,
        media_type: None,
        container: Some(Container::Mkv),
        codec: None,
        media_uri: None,
        media_url: Some(format!(
            "https://video.twilio.com/v1/Recordings/{sid}/Media"
        )),
        media_external_location: None,
        duration: None,
        size: Some(SIZE),
        timestamp: "2026-11-27T09:00:00.000Z".into(),
    };
    let event = SqsEvent {
        records: vec![SqsMessage {
            message_id: Some("large".into()),
            body: Some(serde_json::to_string(&message).unwrap_or_default()),
            ..SqsMessage::default()
        }],
    };

    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let response = archiver.handle(event).await;
    let secs = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let head = s3_client(&sdk)
        .head_object()
        .bucket(&bucket)
        .key(format!("twilio-video/AC00000000000000000000000000000001/RM00000000000000000000000000000001/{sid}.mkv"))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(head.content_length(), Some(SIZE as i64));
    let growth_mib = peak.saturating_sub(before) as f64 / 1024.0;
    eprintln!(
        "archive 200 MiB: {secs:.1} s ({:.0} MiB/s through moto), RSS {:.1} MiB before, peak {:.1} MiB (+{growth_mib:.1} MiB)",
        200.0 / secs,
        before as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    assert!(
        growth_mib < 64.0,
        "peak memory grew by {growth_mib:.1} MiB for a 200 MiB file"
    );
}
