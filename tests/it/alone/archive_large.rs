//! A 200 MiB recording archived with the production part size: the archiver's memory stays bounded
//! whatever the file's size. Reports the peak resident memory of this test process (which also runs the
//! fake Twilio server); the figure is in the README.

use std::time::{Duration, Instant};

use crate::helpers::fake_twilio::{self, Media, KEY_SECRET, KEY_SID};
use crate::helpers::media;
use crate::helpers::memory::status_kib;
use crate::helpers::*;
use twilio_video_callbacks::archiver::ApiKey;
use twilio_video_callbacks::aws::sdk::s3_client;
use twilio_video_callbacks::message::MediaMessage;
use twilio_video_callbacks::twilio::callback::Container;

const SIZE: u64 = 200 * 1024 * 1024;

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

    let archiver = media::archiver(
        &sdk,
        &bucket,
        &table,
        &twilio.url,
        ApiKey::new(KEY_SID, KEY_SECRET),
        8 * 1024 * 1024,
        Duration::from_secs(60),
    )
    .await;
    let message = MediaMessage {
        idempotency_key: "large".into(),
        container: Some(Container::Mkv),
        ..media::recording(sid, SIZE)
    };
    let event = media::batch(&[("large", media::body(&message))]);

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
