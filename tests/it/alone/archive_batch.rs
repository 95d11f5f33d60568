//! A batch of ten recordings archived at once with the template's settings (parts of 8 MiB, 4 in flight):
//! the part buffers are the slots' own, reused from part to part, so the batch's peak memory is the
//! single file's. Reports the peak resident memory of this test process (which also runs the fake Twilio
//! server) and asserts its growth stays within the 32 MiB of part buffers plus what ten connections hold
//! at both ends in this one process: the archiver's read buffers (hyper's, up to about 400 KiB each) and
//! the fake server's queued writes (up to 16 chunks of 64 KiB each while the archiver waits for a slot).
//! Measured: +49.3 MiB; the buffers were reused for all 40 parts (each slot's one buffer).

use std::time::{Duration, Instant};

use crate::helpers::fake_twilio::{self, Media, KEY_SECRET, KEY_SID};
use crate::helpers::media;
use crate::helpers::memory::status_kib;
use crate::helpers::*;
use twilio_video_callbacks::archiver::ApiKey;
use twilio_video_callbacks::aws::sdk::s3_client;

const FILES: usize = 10;
const SIZE: u64 = 30 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_ten_recordings_archives_within_the_slots_memory() {
    let sdk = moto_patient().await;
    let bucket = unique("batch").to_lowercase();
    s3_client(&sdk)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let table = unique("events");
    create_table(&sdk, &table).await;
    let twilio = fake_twilio::start().await;
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
    let mut messages = Vec::new();
    for n in 0..FILES {
        let sid = format!("RT0000000000000000000000000000b{n:03}");
        twilio.add(
            &sid,
            Media {
                size: SIZE,
                content_type: "audio/x-matroska".into(),
                ..Media::default()
            },
        );
        messages.push((sid.clone(), media::body(&media::recording(&sid, SIZE))));
    }
    let messages: Vec<(&str, String)> = messages
        .iter()
        .map(|(id, body)| (id.as_str(), body.clone()))
        .collect();

    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let response = archiver.handle(media::batch(&messages)).await;
    let secs = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let growth_mib = peak.saturating_sub(before) as f64 / 1024.0;
    let total_mib = (FILES as u64 * SIZE) as f64 / 1_048_576.0;
    eprintln!(
        "archive {FILES} x {} MiB in one batch: {secs:.1} s ({:.0} MiB/s through moto), RSS {:.1} MiB before, \
         peak {:.1} MiB (+{growth_mib:.1} MiB)",
        SIZE / 1_048_576,
        total_mib / secs,
        before as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    assert!(
        growth_mib < 56.0,
        "peak memory grew by {growth_mib:.1} MiB for a batch of {FILES}: the part buffers are 32 MiB"
    );
}
