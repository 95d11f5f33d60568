//! The archiver's whole-process memory: the real `media-archiver` binary, run as Lambda runs it (a local
//! Runtime API hands it one SQS event), with the template's settings (its environment: part size, parts
//! in flight, mimalloc's; its batch size), archives a batch of media larger than its part buffers; the
//! fake Twilio and the Runtime API run in this test process, outside the archiver's. The process's peak
//! resident memory (VmHWM: everything it ever held at once, binary, runtime, SDK, connections, allocator
//! included) must stay under the bound docs/archiver.md promises.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::fake_twilio::{self, Media, KEY_SECRET, KEY_SID};
use crate::helpers::{lambda_runtime, media, *};
use twilio_video_callbacks::aws::sdk::s3_client;

/// Each file: five parts of 8 MiB, so every slot is reused and the batch is five times its part buffers.
const SIZE: u64 = 40 * 1024 * 1024;
/// The bound of docs/archiver.md ("Memory"), for any batch and any file size with the template's settings.
const BOUND_MIB: f64 = 64.0;

/// The archiver's environment in template.yaml (`NAME: "value"` lines of its function) and the batch size
/// of its event source (the `BatchSize` after them).
fn template_settings() -> (HashMap<String, String>, usize) {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .unwrap_or_else(|err| panic!("template.yaml: {err}"));
    let start = template
        .find("ARCHIVE_PART_SIZE_MIB")
        .unwrap_or_else(|| panic!("template.yaml sets no ARCHIVE_PART_SIZE_MIB"));
    let function = &template[..start];
    let function = &template[function.rfind("Environment:").unwrap_or(0)..];
    let mut settings = HashMap::new();
    for line in function.lines().skip(1) {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(": ") else {
            continue;
        };
        if name == "Variables" {
            continue;
        }
        if !name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            break;
        }
        if let Some(value) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            settings.insert(name.to_owned(), value.to_owned());
        }
    }
    let batch = function
        .lines()
        .find_map(|line| line.trim().strip_prefix("BatchSize: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no BatchSize for the archiver in template.yaml"));
    (settings, batch)
}

/// One `kB` field of a process's `/proc/PID/status`.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|err| panic!("/proc/{pid}/status: {err}"))
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("/proc/{pid}/status has no {field}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archiver_process_peaks_under_its_bound_for_a_batch() {
    let (settings, files) = template_settings();
    for name in [
        "ARCHIVE_PART_SIZE_MIB",
        "ARCHIVE_PARTS_IN_FLIGHT",
        "MIMALLOC_ARENA_EAGER_COMMIT",
    ] {
        assert!(settings.contains_key(name), "{name} in {settings:?}");
    }
    let sdk = moto_patient().await;
    let bucket = unique("memory").to_lowercase();
    s3_client(&sdk)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let table = unique("events");
    create_table(&sdk, &table).await;
    let twilio = fake_twilio::start().await;
    let mut messages = Vec::new();
    for n in 0..files {
        let sid = format!("RT0000000000000000000000000000m{n:03}");
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
    let event = serde_json::to_string(&media::batch(&messages)).unwrap_or_else(|e| panic!("{e}"));
    let runtime = lambda_runtime::serve(event).await;

    let log = std::env::temp_dir().join(format!("{}.log", unique("media-archiver")));
    let output = std::fs::File::create(&log).unwrap_or_else(|err| panic!("{err}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_media-archiver"))
        .env_clear()
        .envs(&settings)
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", runtime.address.as_str()),
            ("AWS_ENDPOINT_URL", moto_endpoint().as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_LAMBDA_FUNCTION_NAME", "media-archiver"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            ("ARCHIVE_BUCKET", bucket.as_str()),
            ("EVENTS_TABLE", table.as_str()),
            ("TWILIO_API_KEY_SID", KEY_SID),
            ("TWILIO_API_KEY_SECRET", KEY_SECRET),
            ("TWILIO_MEDIA_BASE_URL", twilio.url.as_str()),
        ])
        .stdout(Stdio::null())
        .stderr(output)
        .spawn()
        .unwrap_or_else(|err| panic!("media-archiver: {err}"));
    let pid = child.id();

    runtime.handed_out(Duration::from_secs(60)).await;
    let at_init = status_kib(pid, "VmHWM:");
    let started = Instant::now();
    let answer = runtime.answer(Duration::from_secs(600)).await;
    let secs = started.elapsed().as_secs_f64();
    let peak = status_kib(pid, "VmHWM:");
    // What is resident at the end: the binary's pages (file) and everything it allocated (anonymous).
    let (anon, file) = (status_kib(pid, "RssAnon:"), status_kib(pid, "RssFile:"));
    // This test's own child: stopped by its id.
    let _ = child.kill();
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let (path, body) = answer.unwrap_or_else(|| panic!("no answer from the archiver\n{logged}"));
    assert!(path.ends_with("/response"), "{path}: {body}\n{logged}");
    let response: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}: {body}"));
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([]),
        "{body}\n{logged}"
    );
    for (sid, _) in &messages {
        let head = s3_client(&sdk)
            .head_object()
            .bucket(&bucket)
            .key(format!(
                "twilio-video/AC00000000000000000000000000000001/RM00000000000000000000000000000001/{sid}.mka"
            ))
            .send()
            .await
            .unwrap_or_else(|err| panic!("{err:?}"));
        assert_eq!(head.content_length(), Some(SIZE as i64));
    }

    let peak_mib = peak as f64 / 1024.0;
    eprintln!(
        "media-archiver process, batch of {files} x {} MiB ({} MiB parts, {} in flight): {secs:.1} s, \
         VmHWM {:.1} MiB at init, {peak_mib:.1} MiB at the end (bound {BOUND_MIB} MiB; resident at the end: \
         {:.1} MiB allocated, {:.1} MiB of the binary and libraries)",
        SIZE / 1_048_576,
        settings["ARCHIVE_PART_SIZE_MIB"],
        settings["ARCHIVE_PARTS_IN_FLIGHT"],
        at_init as f64 / 1024.0,
        anon as f64 / 1024.0,
        file as f64 / 1024.0,
    );
    assert!(
        peak_mib < BOUND_MIB,
        "the archiver process peaked at {peak_mib:.1} MiB for a batch of {files} x {} MiB",
        SIZE / 1_048_576
    );
}
