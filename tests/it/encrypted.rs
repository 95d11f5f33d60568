//! Encrypted stored media and subaccounts through the real archiver (moto's S3 and DynamoDB, a fake
//! Twilio serving ciphertext with Twilio's envelope headers): the archived object keeps the envelope and
//! decrypts with the private key alone (RustCrypto directly, not the project's code); half an envelope or
//! a wrong size archives nothing; each account's media is read with its own key.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::archiver::Bench;
use crate::helpers::crypto::{self, Envelope};
use crate::helpers::fake_twilio::{Media, KEY_SECRET, KEY_SID};
use crate::helpers::media::{self, batch, body, failed_ids, recording};
use twilio_video_callbacks::archiver::{ApiKeys, KeySource};
use twilio_video_callbacks::aws::sdk::s3_client;
use twilio_video_callbacks::twilio::envelope::Version;

const MIB: usize = 1024 * 1024;
const STEM: &str =
    "twilio-video/AC00000000000000000000000000000001/RM00000000000000000000000000000001";

fn plaintext(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Serves `plain` encrypted with `envelope` under `sid`; returns the ciphertext.
fn serve(bench: &Bench, sid: &str, plain: &[u8], envelope: Envelope) -> Vec<u8> {
    let (ciphertext, headers) = crypto::encrypt(plain, envelope);
    bench.twilio.add(
        sid,
        Media {
            size: plain.len() as u64,
            content_type: "audio/x-matroska".into(),
            bytes: Some(Bytes::from(ciphertext.clone())),
            headers,
            ..Media::default()
        },
    );
    ciphertext
}

#[tokio::test]
async fn encrypted_media_keeps_its_envelope_and_decrypts_with_the_private_key_alone() {
    let bench = Bench::new().await;
    // (sid, plaintext, envelope, whether the message's size is the ciphertext's rather than the plaintext's)
    let cases = [
        (
            "RT000000000000000000000000000000e1",
            plaintext(1000, 1),
            Envelope::V1,
            false,
        ),
        (
            "RT000000000000000000000000000000e2",
            plaintext(4096, 2),
            Envelope::V2,
            true,
        ),
        (
            "RT000000000000000000000000000000e3",
            plaintext(11 * MIB + 5, 3),
            Envelope::V1,
            false,
        ),
        (
            "RT000000000000000000000000000000e4",
            plaintext(77, 4),
            Envelope::V2,
            false,
        ),
    ];
    let mut messages = Vec::new();
    let mut ciphertexts = HashMap::new();
    for (sid, plain, envelope, size_is_ciphertext) in &cases {
        let ciphertext = serve(&bench, sid, plain, *envelope);
        let size = if *size_is_ciphertext {
            ciphertext.len()
        } else {
            plain.len()
        };
        messages.push((*sid, body(&recording(sid, size as u64))));
        ciphertexts.insert(*sid, ciphertext);
    }
    let response = bench.archiver().await.handle(batch(&messages)).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let records = bench.records().await;
    assert_eq!(records.len(), cases.len());
    for (sid, plain, envelope, _) in &cases {
        let key = format!("{STEM}/{sid}.mka");
        let object = bench
            .object(&key)
            .await
            .unwrap_or_else(|| panic!("{key} not archived"));
        let metadata = object.metadata().cloned().unwrap_or_default();
        let served: HashMap<String, String> = crypto::encrypt(b"", *envelope)
            .1
            .into_iter()
            .map(|(name, value)| (name.trim_start_matches("x-amz-meta-").to_owned(), value))
            .collect();
        for name in served.keys() {
            assert!(
                metadata.contains_key(name),
                "{sid}: {name} kept in {metadata:?}"
            );
        }
        let stored = object
            .body
            .collect()
            .await
            .unwrap_or_else(|err| panic!("{err}"))
            .into_bytes();
        assert_eq!(
            stored.as_ref(),
            ciphertexts[sid].as_slice(),
            "{sid}: the ciphertext, byte for byte"
        );
        assert_eq!(
            &crypto::decrypt(&stored, &metadata),
            plain,
            "{sid} decrypts"
        );
        let record = records
            .iter()
            .find(|r| r.media_sid == *sid)
            .unwrap_or_else(|| panic!("{sid}: no record"));
        assert_eq!(record.encrypted, Some(true));
        let version = match envelope {
            Envelope::V1 => Version::V1,
            Envelope::V2 => Version::V2,
        };
        assert_eq!(record.envelope_version, Some(version));
        assert_eq!(record.sha256_of.as_deref(), Some("ciphertext"));
        let sha256 = hex::encode(Sha256::digest(&stored));
        assert_eq!(record.sha256.as_deref(), Some(sha256.as_str()));
        assert_eq!(bench.sha256_tag(&key).await, Some(sha256));
        assert_eq!(
            bench.s3_crc64(&key).await.0,
            Some(crate::archiver::crc64(&stored))
        );
        assert_eq!(bench.versions(&key).await, 1);
    }
    // Already archived: found by its tag and its padded length, with its envelope; nothing downloaded.
    let again = bench.archiver().await.handle(batch(&messages)).await;
    assert!(again.batch_item_failures.is_empty(), "{again:?}");
    assert_eq!(
        bench
            .twilio
            .state
            .file_requests
            .load(std::sync::atomic::Ordering::SeqCst),
        cases.len()
    );
}

#[tokio::test]
async fn half_an_envelope_or_a_wrong_size_archives_nothing_and_is_retried() {
    let bench = Bench::new().await;
    let plain = plaintext(6 * MIB, 9);
    let (ciphertext, headers) = crypto::encrypt(&plain, Envelope::V1);
    let without = |name: &str| -> Vec<(String, String)> {
        headers
            .iter()
            .filter(|(n, _)| n != &format!("x-amz-meta-{name}"))
            .cloned()
            .collect()
    };
    let served = [
        (
            "RT000000000000000000000000000000h1",
            without("x-amz-iv"),
            plain.len(),
        ),
        (
            "RT000000000000000000000000000000h2",
            without("x-amz-key"),
            plain.len(),
        ),
        // A size neither the plaintext's nor the ciphertext's.
        (
            "RT000000000000000000000000000000h3",
            headers.clone(),
            plain.len() + 100,
        ),
    ];
    let mut messages = Vec::new();
    for (sid, headers, size) in &served {
        bench.twilio.add(
            sid,
            Media {
                size: *size as u64,
                content_type: "audio/x-matroska".into(),
                bytes: Some(Bytes::from(ciphertext.clone())),
                headers: headers.clone(),
                ..Media::default()
            },
        );
        messages.push((*sid, body(&recording(sid, *size as u64))));
    }
    let response = bench.archiver().await.handle(batch(&messages)).await;
    let mut sids: Vec<&str> = served.iter().map(|s| s.0).collect();
    sids.sort();
    assert_eq!(failed_ids(&response), sids);
    for (sid, ..) in &served {
        assert!(
            bench.object(&format!("{STEM}/{sid}.mka")).await.is_none(),
            "{sid}"
        );
    }
    assert_eq!(bench.open_uploads().await, 0, "nothing left in S3");
    assert!(bench.records().await.is_empty());
}

#[tokio::test]
async fn each_account_is_read_with_its_own_key_and_an_account_without_one_is_retried() {
    let bench = Bench::new().await;
    let sub = "AC00000000000000000000000000000002";
    let stranger = "AC00000000000000000000000000000003";
    bench.twilio.add(
        "RT000000000000000000000000000000a1",
        Media {
            size: 1000,
            content_type: "audio/x-matroska".into(),
            ..Media::default()
        },
    );
    bench.twilio.add(
        "RT000000000000000000000000000000a2",
        Media {
            size: 2000,
            content_type: "audio/x-matroska".into(),
            key: Some(("SKsub".into(), "sub-secret".into())),
            ..Media::default()
        },
    );
    bench.twilio.add(
        "RT000000000000000000000000000000a3",
        Media {
            size: 3000,
            content_type: "audio/x-matroska".into(),
            ..Media::default()
        },
    );
    let document = format!(
        r#"{{"AC00000000000000000000000000000001": "{}:{}", "{sub}": "SKsub:sub-secret"}}"#,
        crate::helpers::fake_twilio::KEY_SID,
        crate::helpers::fake_twilio::KEY_SECRET
    );
    let keys = ApiKeys::parse_document(&document).unwrap_or_else(|err| panic!("{err}"));
    let archiver = media::archiver_with(
        &bench.sdk,
        &bench.bucket,
        &bench.table,
        &bench.twilio.url,
        KeySource::Document(keys),
        5 * MIB,
        Duration::from_secs(2),
    )
    .await;
    let own = recording("RT000000000000000000000000000000a1", 1000);
    let mut of_sub = recording("RT000000000000000000000000000000a2", 2000);
    of_sub.account_sid = sub.into();
    let mut of_stranger = recording("RT000000000000000000000000000000a3", 3000);
    of_stranger.account_sid = stranger.into();
    let response = archiver
        .handle(batch(&[
            ("own", body(&own)),
            ("sub", body(&of_sub)),
            ("stranger", body(&of_stranger)),
        ]))
        .await;
    assert_eq!(failed_ids(&response), ["stranger"]);
    assert!(bench
        .object(&format!("{STEM}/RT000000000000000000000000000000a1.mka"))
        .await
        .is_some());
    assert!(bench
        .object(&format!(
            "twilio-video/{sub}/RM00000000000000000000000000000001/RT000000000000000000000000000000a2.mka"
        ))
        .await
        .is_some());
    let records = bench.records().await;
    assert_eq!(
        records.len(),
        2,
        "nothing recorded for the account without a key"
    );
}

#[tokio::test]
async fn decrypt_round_trips_and_refuses_a_wrong_key_and_an_unencrypted_object() {
    let bench = Bench::new().await;
    let plain = plaintext(6 * MIB + 3, 7);
    let sid = "RT000000000000000000000000000000d1";
    serve(&bench, sid, &plain, Envelope::V2);
    bench.twilio.add(
        "RT000000000000000000000000000000d2",
        Media {
            size: 100,
            content_type: "audio/x-matroska".into(),
            ..Media::default()
        },
    );
    let response = bench
        .archiver()
        .await
        .handle(batch(&[
            ("e", body(&recording(sid, plain.len() as u64))),
            (
                "p",
                body(&recording("RT000000000000000000000000000000d2", 100)),
            ),
        ]))
        .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let dir = std::env::temp_dir().join(crate::helpers::unique("decrypt"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("{err}"));
    let right = dir.join("private.pem");
    let wrong = dir.join("other.pem");
    std::fs::write(&right, crypto::pkcs8_pem(crypto::private_key()))
        .unwrap_or_else(|err| panic!("{err}"));
    std::fs::write(&wrong, crypto::pkcs8_pem(crypto::other_private_key()))
        .unwrap_or_else(|err| panic!("{err}"));
    let run = |key: &std::path::Path, source: String, output: &std::path::Path| {
        crate::helpers::operator_cli()
            .args(["--json", "decrypt", "--private-key"])
            .arg(key)
            .arg(source)
            .arg("--output")
            .arg(output)
            .output()
            .unwrap_or_else(|err| panic!("{err}"))
    };
    let uri = |sid: &str| format!("s3://{}/{STEM}/{sid}.mka", bench.bucket);

    let out = dir.join("plain.mka");
    let done = run(&right, uri(sid), &out);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(std::fs::read(&out).unwrap_or_default(), plain);
    let report: serde_json::Value =
        serde_json::from_slice(&done.stdout).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(report["sha256"], hex::encode(Sha256::digest(&plain)));
    assert_eq!(report["size"], plain.len() as u64);

    // By its RecordingSid: a paged Scan for its media-archived record, or one Query with --room.
    for room in [None, Some("RM00000000000000000000000000000001")] {
        let by_sid = dir.join(format!("by-sid-{}.mka", room.is_some()));
        let mut command = crate::helpers::operator_cli();
        command
            .env("EVENTS_TABLE", &bench.table)
            .args(["--json", "decrypt", "--private-key"])
            .arg(&right)
            .arg(sid)
            .arg("--output")
            .arg(&by_sid);
        if let Some(room) = room {
            command.args(["--room", room]);
        }
        let done = command.output().unwrap_or_else(|err| panic!("{err}"));
        assert!(
            done.status.success(),
            "{room:?}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        assert_eq!(std::fs::read(&by_sid).unwrap_or_default(), plain);
    }
    let unknown = crate::helpers::operator_cli()
        .env("EVENTS_TABLE", &bench.table)
        .args(["decrypt", "--private-key"])
        .arg(&right)
        .arg("RT000000000000000000000000000000ff")
        .arg("--output")
        .arg(dir.join("unknown.mka"))
        .output()
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no media-archived record"));

    let refused = dir.join("wrong.mka");
    let done = run(&wrong, uri(sid), &refused);
    assert_eq!(done.status.code(), Some(1));
    assert!(!refused.exists(), "no output for a wrong key");

    let unencrypted = dir.join("unencrypted.mka");
    let done = run(
        &right,
        uri("RT000000000000000000000000000000d2"),
        &unencrypted,
    );
    assert_eq!(done.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&done.stderr).contains("not encrypted"));
    assert!(!unencrypted.exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{err}"))
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Two accounts, each with its own key at the fake REST API (which answers 401 to any other and shows a
/// key only its own account's media), read by the operator CLI from one key document. Account 1 has an
/// encrypted recording archived whole and one whose archived object lost its envelope; account 2 a plain
/// one. reconcile reports each account, counts the encrypted archive and names the envelope-less one;
/// prune --delete deletes the two safe ones, keeps the envelope-less one at Twilio, and exits 1; prune
/// of account 2 alone, with nothing left unsafe, exits 0.
// Multi-threaded: the fake REST API runs on this runtime while the test waits for the CLI's process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_reads_each_account_with_its_own_key_and_never_prunes_an_envelope_less_archive() {
    let bench = Bench::new().await;
    let (own, sub) = (
        "AC00000000000000000000000000000001",
        "AC00000000000000000000000000000002",
    );
    let (whole, stripped, plain_sid) = (
        "RT000000000000000000000000000000b1",
        "RT000000000000000000000000000000b2",
        "RT000000000000000000000000000000b3",
    );
    let rest = crate::helpers::fake_rest::start(0).await;
    rest.key(own, KEY_SID, KEY_SECRET);
    rest.key(sub, "SKsub", "sub-secret");
    let room = "RM00000000000000000000000000000001";
    let mut messages = Vec::new();
    for (sid, account, encrypted) in [
        (whole, own, true),
        (stripped, own, true),
        (plain_sid, sub, false),
    ] {
        let plain = plaintext(3000, 9);
        if encrypted {
            serve(&bench, sid, &plain, Envelope::V1);
        } else {
            bench.twilio.add(
                sid,
                Media {
                    size: 3000,
                    content_type: "audio/x-matroska".into(),
                    key: Some(("SKsub".into(), "sub-secret".into())),
                    ..Media::default()
                },
            );
        }
        let mut resource = crate::helpers::fake_rest::recording(
            sid,
            room,
            "completed",
            "2026-03-01T10:00:00Z",
            3000,
        );
        resource["account_sid"] = account.into();
        rest.add("Recordings", resource);
        let mut message = recording(sid, 3000);
        message.account_sid = account.into();
        messages.push((sid, body(&message)));
    }
    let document = format!(r#"{{"{own}": "{KEY_SID}:{KEY_SECRET}", "{sub}": "SKsub:sub-secret"}}"#);
    let archiver = media::archiver_with(
        &bench.sdk,
        &bench.bucket,
        &bench.table,
        &bench.twilio.url,
        KeySource::Document(
            ApiKeys::parse_document(&document).unwrap_or_else(|err| panic!("{err}")),
        ),
        5 * MIB,
        Duration::from_secs(2),
    )
    .await;
    let response = archiver.handle(batch(&messages)).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    // The archived object of `stripped` loses its envelope (its record still says encrypted: true).
    let key = format!("{STEM}/{stripped}.mka");
    s3_client(&bench.sdk)
        .copy_object()
        .bucket(&bench.bucket)
        .key(&key)
        .copy_source(format!("{}/{key}", bench.bucket))
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));

    let cli = |args: &[&str]| {
        let done = crate::helpers::operator_cli()
            .env("TWILIO_API_KEYS", &document)
            .env("TWILIO_VIDEO_BASE_URL", &rest.url)
            .env("ARCHIVE_BUCKET", &bench.bucket)
            .env("EVENTS_TABLE", &bench.table)
            .arg("--json")
            .args(args)
            .args(["--since", "2026-01-01", "--until", "2026-04-01"])
            .output()
            .unwrap_or_else(|err| panic!("{err}"));
        let report: serde_json::Value = serde_json::from_slice(&done.stdout)
            .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&done.stderr)));
        (done.status.code(), report)
    };
    let (code, report) = cli(&["reconcile"]);
    assert_eq!(code, Some(1), "{report}");
    let accounts = report["accounts"].as_array().cloned().unwrap_or_default();
    assert_eq!(accounts.len(), 2, "{report}");
    assert_eq!(accounts[0]["account"], own);
    assert_eq!(
        (
            &accounts[0]["total"],
            &accounts[0]["archived"],
            &accounts[0]["encrypted"]
        ),
        (&2.into(), &1.into(), &1.into()),
        "{report}"
    );
    assert_eq!(accounts[0]["envelope_missing"], 1);
    assert_eq!(accounts[0]["not_archived"][0]["sid"], stripped);
    assert_eq!(accounts[0]["not_archived"][0]["reason"], "envelope_missing");
    assert_eq!(accounts[1]["account"], sub);
    assert_eq!(
        (&accounts[1]["total"], &accounts[1]["archived"]),
        (&1.into(), &1.into())
    );

    let (code, report) = cli(&["prune", "--delete"]);
    assert_eq!(code, Some(1), "something is not safely archived: {report}");
    assert_eq!(report["accounts"][0]["kept_files"][0]["sid"], stripped);
    assert_eq!(report["accounts"][0]["envelope_missing"], 1);
    let deleted: Vec<String> = rest
        .state
        .deleted
        .lock()
        .map(|d| d.clone())
        .unwrap_or_default();
    assert_eq!(deleted.len(), 2, "{deleted:?}");
    assert!(deleted.contains(&whole.to_owned()) && deleted.contains(&plain_sid.to_owned()));
    assert_eq!(
        rest.status("Recordings", stripped).as_deref(),
        Some("completed")
    );

    let (code, report) = cli(&["--account", sub, "prune", "--delete"]);
    assert_eq!(code, Some(0), "nothing unsafe left in account 2: {report}");
    assert_eq!(report["account"], sub);
    assert_eq!(report["kept"], 0);
}
