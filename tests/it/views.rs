//! The operator's view of the table, end to end against moto: callbacks played through the real receiver
//! (and its spill queue), archive outcomes recorded by the archiver's own writer, then `timeline`, `rooms`,
//! `index-rooms` and `replay` through the library and the real binary.

use std::collections::BTreeMap;

use twilio_video_callbacks::archiver::record::{DynamoOutcomes, OutcomeLog};
use twilio_video_callbacks::archiver::rules::{ArchiveRecord, Archived};
use twilio_video_callbacks::message::MediaMessage;
use twilio_video_callbacks::operator::rooms::{self, IndexPlan};
use twilio_video_callbacks::operator::timeline::{self, ArchiveState, MediaKind};
use twilio_video_callbacks::receiver::gateway;
use twilio_video_callbacks::receiver::item::StoredEvent;

use crate::helpers::twilio::Callback;
use crate::helpers::*;

const ACCOUNT_A: &str = "AC00000000000000000000000000000001";
const ACCOUNT_B: &str = "AC0000000000000000000000000000000b";

/// The sample `name` (an event of room RM...01) with `changes` made (set, or removed when `None`).
pub(crate) fn callback(name: &str, changes: &[(&str, Option<&str>)]) -> Callback {
    let mut params = sample_params(&sample(name));
    for (key, value) in changes {
        match (params.iter_mut().find(|(k, _)| k == key), value) {
            (Some(param), Some(value)) => param.1 = value.to_string(),
            (Some(_), None) => params.retain(|(k, _)| k != key),
            (None, Some(value)) => params.push((key.to_string(), value.to_string())),
            (None, None) => {}
        }
    }
    Callback { params }
}

pub(crate) async fn play(world: &World, callback: &Callback) {
    let response = world.invoke(callback.event_json()).await;
    assert_eq!(response.status(), 200, "{}", response.body_text());
}

pub(crate) fn sdk_table(world: &World) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&world.sdk)
}

pub(crate) async fn record(world: &World, record: ArchiveRecord) {
    DynamoOutcomes::new(sdk_table(world), &world.table)
        .record(record)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
}

pub(crate) fn message_of(callback: &Callback) -> MediaMessage {
    let (parsed, _) = twilio_video_callbacks::twilio::callback::Callback::read(
        twilio_video_callbacks::twilio::callback::Params::new(callback.params.clone()),
        time::OffsetDateTime::now_utc(),
    );
    StoredEvent::new(parsed, time::OffsetDateTime::now_utc(), None)
        .media_message()
        .unwrap_or_else(|| panic!("a media callback"))
}

/// The item the receiver stores for `callback`.
fn stored_as_receiver(callback: &Callback) -> StoredEvent {
    let (parsed, _) = twilio_video_callbacks::twilio::callback::Callback::read(
        twilio_video_callbacks::twilio::callback::Params::new(callback.params.clone()),
        time::OffsetDateTime::now_utc(),
    );
    StoredEvent::new(parsed, time::OffsetDateTime::now_utc(), None)
}

fn instant(text: &str) -> time::OffsetDateTime {
    twilio_video_callbacks::twilio::timestamp::parse(text).unwrap_or_else(|| panic!("{text}"))
}

pub(crate) fn binary(world: &World, args: &[&str]) -> std::process::Output {
    operator_cli()
        .args(args)
        .env("EVENTS_TABLE", &world.table)
        .env("MEDIA_QUEUE_URL", &world.queue_url)
        .output()
        .unwrap_or_else(|err| panic!("{err}"))
}

/// The one JSON document the binary prints for `args` (with `--json`), which must succeed.
pub(crate) fn binary_json(world: &World, args: &[&str]) -> serde_json::Value {
    let out = binary(world, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{err}"))
}

#[tokio::test]
async fn timeline_of_a_room_played_with_every_event_type_in_order_with_archive_outcomes() {
    let world = World::new().await;
    let room = "RM00000000000000000000000000000001";
    for (name, _) in event_samples() {
        play(&world, &callback(&name, &[])).await;
    }
    // A callback that breaks the tables (no ParticipantIdentity): stored, marked.
    play(
        &world,
        &callback(
            "participant-connected.json",
            &[
                ("ParticipantIdentity", None),
                ("ParticipantSid", Some("PA000000000000000000000000000000bb")),
                ("Timestamp", Some("2026-11-27T09:05:00.000Z")),
            ],
        ),
    )
    .await;
    // One that the table could not take at once: spilled, then stored by the spill consumer.
    let spill_url = create_queue(&world.sdk, &unique("spill")).await;
    let dead = sdk_at(&dead_endpoint()).await;
    let down = receiver_spilling(
        &dead,
        &world.sdk,
        &world.table,
        &world.queue_url,
        &spill_url,
    );
    let late = callback(
        "participant-connected.json",
        &[
            ("ParticipantIdentity", Some("bob")),
            ("ParticipantSid", Some("PA00000000000000000000000000000002")),
            ("Timestamp", Some("2026-11-27T09:06:00.000Z")),
        ],
    );
    let answer = gateway::invoke(&down, late.event_json(), Default::default()).await;
    assert_eq!(answer.status(), 202, "{}", answer.body_text());
    let drained = world
        .receiver
        .drain_spill(receive_as_event(&world.sdk, &spill_url).await)
        .await;
    assert!(drained.batch_item_failures.is_empty(), "{drained:?}");
    // The archiver's outcomes: the recording archived, the composition failed.
    let recording = message_of(&callback("recording-completed.json", &[]));
    let composition = message_of(&callback("composition-available.json", &[]));
    record(
        &world,
        ArchiveRecord::archived(
            &recording,
            &Archived::Copied {
                s3_uri: "s3://archive/RT.mkv".into(),
                size: 48_213_399,
                content_type: "video/x-matroska".into(),
                sha256: "0".repeat(64),
                encrypted: None,
            },
            "2026-11-27T09:16:00.000Z",
        ),
    )
    .await;
    record(
        &world,
        ArchiveRecord::failed(
            &composition,
            "media not found at Twilio",
            "2026-11-27T09:24:00.000Z",
        ),
    )
    .await;

    let timeline = rooms::room_timeline(&sdk_table(&world), &world.table, room)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    // Every documented event, in the order of the samples' timestamps (read off events/*.json), the
    // malformed and the spilled callback at their times, and each archive outcome right after the
    // callback it resolves (an outcome's sort key has its media callback's time).
    let events: Vec<&str> = timeline.rows.iter().map(|row| row.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "room-created",             // 09:00:00.000
            "participant-connected",    // 09:00:04.120
            "track-added",              // 09:00:04.870
            "recording-started",        // 09:00:05.010
            "track-disabled",           // 09:03:10.500
            "track-enabled",            // 09:03:42.250
            "recording-failed",         // 09:04:00.000
            "participant-connected",    // 09:05:00.000 malformed
            "participant-connected",    // 09:06:00.000 spilled
            "track-removed",            // 09:14:58.400
            "participant-disconnected", // 09:15:00.000
            "recording-completed",      // 09:15:02.300
            "media-archived",           // 09:15:02.300, its outcome
            "room-ended",               // 09:20:00.000
            "composition-enqueued",     // 09:20:01.000
            "composition-started",      // 09:20:03.000
            "composition-progress",     // 09:21:03.000
            "composition-available",    // 09:23:30.000
            "media-archive-failed",     // 09:23:30.000, its outcome
            "composition-failed",       // 09:24:00.000
            "composition-hook-failed",  // 09:24:30.000
        ]
    );
    for documented in twilio_video_callbacks::twilio::callback::EventKind::DOCUMENTED {
        assert!(events.contains(documented), "{documented}");
    }
    let row = |event: &str| {
        timeline
            .rows
            .iter()
            .find(|r| r.event == event)
            .unwrap_or_else(|| panic!("no {event} row"))
    };
    assert_eq!(
        row("recording-completed").archive.as_deref(),
        Some("archived (copied): s3://archive/RT.mkv")
    );
    assert_eq!(
        row("composition-available").archive.as_deref(),
        Some("archive failed: media not found at Twilio")
    );
    assert_eq!(
        row("media-archived").subject.as_deref(),
        recording.recording_sid.as_deref()
    );
    assert!(row("recording-completed").facts.contains("48.2 MB"));
    let marks: Vec<&String> = timeline.rows.iter().flat_map(|r| &r.marks).collect();
    assert_eq!(marks.len(), 2, "{marks:?}");
    assert!(marks[0].starts_with("malformed: missing required parameter ParticipantIdentity"));
    assert!(
        marks[1].starts_with("spilled: ") && marks[1].contains("DynamoDB unavailable"),
        "{}",
        marks[1]
    );
    assert_eq!(timeline.room_name.as_deref(), Some("daily-standup"));
    assert!(timeline.created.is_some() && timeline.ended.is_some());
    let mut identities: Vec<&str> = timeline.lanes.iter().map(|l| l.identity.as_str()).collect();
    identities.sort();
    assert_eq!(
        identities,
        ["PA000000000000000000000000000000bb", "alice", "bob"]
    );
    // The samples' recordings: RT...1 started, RT...2 completed (archived), RT...3 failed at Twilio;
    // compositions CJ...1 (available, its archive failed) and CJ...2 (failed); the failed hook is a row.
    let state = |sid: &str| {
        timeline
            .media
            .iter()
            .find(|m| m.sid == sid)
            .map(|m| (m.kind, m.status.clone(), m.archive.word()))
            .unwrap_or_else(|| panic!("no {sid}"))
    };
    assert_eq!(timeline.count(MediaKind::Recording), 3);
    assert_eq!(timeline.count(MediaKind::Composition), 2);
    let rt = |n: u32| format!("RT{n:032}");
    let cj = |n: u32| format!("CJ{n:032}");
    assert_eq!(
        state(&rt(1)),
        (MediaKind::Recording, "started".into(), "none")
    );
    assert_eq!(
        state(&rt(2)),
        (MediaKind::Recording, "completed".into(), "archived")
    );
    assert_eq!(
        state(&rt(3)),
        (MediaKind::Recording, "failed".into(), "none")
    );
    assert_eq!(
        state(&cj(1)),
        (MediaKind::Composition, "available".into(), "failed")
    );
    assert_eq!(
        state(&cj(2)),
        (MediaKind::Composition, "failed".into(), "none")
    );
    assert!(matches!(
        &timeline.media.iter().find(|m| m.sid == rt(2)).map(|m| m.archive.clone()),
        Some(ArchiveState::Archived { how, .. }) if how == "copied"
    ));

    // The page: one lane per participant, every recording, nothing fetched.
    let page = timeline::html(&timeline);
    assert_eq!(page.matches("<g class=\"lane participant\"").count(), 3);
    for (n, archive) in [(1, "none"), (2, "archived"), (3, "none")] {
        let bar = format!(
            "<g class=\"recording\" data-sid=\"{}\" data-archive=\"{archive}\"",
            rt(n)
        );
        assert_eq!(page.matches(&bar).count(), 1, "{bar}");
    }
    assert_eq!(page.matches("<g class=\"composition\"").count(), 2);
    assert_eq!(page.matches("<g class=\"flag\"").count(), 2);
    for forbidden in ["http://", "https://", "src=", "href=", "url("] {
        assert!(!page.contains(forbidden), "{forbidden}");
    }

    // The binary: JSON lines, the page written, exit 0; a room with nothing stored: exit 1.
    let html_path = std::env::temp_dir().join(format!("{}.html", unique("timeline")));
    let html_arg = html_path.to_string_lossy().into_owned();
    let out = binary(&world, &["timeline", room, "--json", "--html", &html_arg]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect();
    assert_eq!(lines.len(), timeline.rows.len());
    assert_eq!(lines[0]["event"], "room-created");
    let written = std::fs::read_to_string(&html_path).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(written, page);
    let _ = std::fs::remove_file(&html_path);
    let table = binary(&world, &["timeline", room]);
    assert_eq!(table.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&table.stdout).contains("recording-completed"));
    let missing = binary(&world, &["timeline", "RM000000000000000000000000000000ff"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("holds nothing"));
}

fn day(n: u8) -> time::Date {
    time::Date::from_calendar_date(2026, time::Month::November, n)
        .unwrap_or_else(|err| panic!("{err}"))
}

/// A room of `account` created at `created`; returns its SID.
pub(crate) async fn room_created(world: &World, account: &str, n: u32, created: &str) -> String {
    let room = format!("RM{n:032}");
    play(
        world,
        &callback(
            "room-created.json",
            &[
                ("AccountSid", Some(account)),
                ("RoomSid", Some(&room)),
                ("RoomName", Some(&format!("room-{n}"))),
                ("Timestamp", Some(created)),
            ],
        ),
    )
    .await;
    room
}

/// `sample` for `room` of `account` at `at`, with `changes`.
pub(crate) fn in_room(
    sample: &str,
    account: &str,
    room: &str,
    at: &str,
    changes: &[(&str, Option<&str>)],
) -> Callback {
    let mut all: Vec<(&str, Option<&str>)> = vec![
        ("AccountSid", Some(account)),
        ("RoomSid", Some(room)),
        ("Timestamp", Some(at)),
    ];
    all.extend_from_slice(changes);
    callback(sample, &all)
}

#[tokio::test]
async fn rooms_of_a_day_across_two_accounts_and_a_day_boundary_and_the_migration() {
    let world = World::new().await;
    let client = sdk_table(&world);
    let today = day(27);
    let before = room_created(&world, ACCOUNT_A, 1, "2026-11-26T23:59:59.999Z").await;
    let first = room_created(&world, ACCOUNT_A, 2, "2026-11-27T00:00:00.000Z").await;
    let b_room = room_created(&world, ACCOUNT_B, 3, "2026-11-27T12:00:00.000Z").await;
    let last = room_created(&world, ACCOUNT_A, 4, "2026-11-27T23:59:59.999Z").await;
    let after = room_created(&world, ACCOUNT_B, 5, "2026-11-28T00:00:00.000Z").await;
    // The first room's life: two people (one reconnects), two recordings, a composition, one archived.
    let at = |t: &str| format!("2026-11-27T00:{t}.000Z");
    for (sample, time, changes) in [
        ("participant-connected.json", "01:00", vec![]),
        (
            "participant-connected.json",
            "02:00",
            vec![
                ("ParticipantIdentity", Some("bob")),
                ("ParticipantSid", Some("PA00000000000000000000000000000002")),
            ],
        ),
        ("participant-disconnected.json", "10:00", vec![]),
        (
            "participant-connected.json",
            "11:00",
            vec![("ParticipantSid", Some("PA00000000000000000000000000000003"))],
        ),
        ("recording-completed.json", "20:00", vec![]),
        (
            "recording-completed.json",
            "20:01",
            vec![("RecordingSid", Some("RT00000000000000000000000000000009"))],
        ),
        (
            "room-ended.json",
            "30:00",
            vec![("RoomDuration", Some("1800"))],
        ),
        ("composition-available.json", "40:00", vec![]),
    ] {
        play(
            &world,
            &in_room(sample, ACCOUNT_A, &first, &at(time), &changes),
        )
        .await;
    }
    let archived = message_of(&in_room(
        "recording-completed.json",
        ACCOUNT_A,
        &first,
        &at("20:00"),
        &[],
    ));
    record(
        &world,
        ArchiveRecord::archived(
            &archived,
            &Archived::AlreadyThere {
                s3_uri: "s3://archive/x.mkv".into(),
                size: 1,
                sha256: "0".repeat(64),
                encrypted: None,
            },
            "2026-11-27T00:21:00.000Z",
        ),
    )
    .await;

    // A second, different room-created callback for the first room (five minutes later): listed once,
    // at the earlier.
    play(
        &world,
        &in_room(
            "room-created.json",
            ACCOUNT_A,
            &first,
            "2026-11-27T00:05:00.000Z",
            &[("RoomName", Some("room-2"))],
        ),
    )
    .await;

    let sids = |summaries: &[rooms::RoomSummary]| -> Vec<String> {
        summaries.iter().map(|s| s.room_sid.clone()).collect()
    };
    let all = rooms::room_summaries(&client, &world.table, today, None)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(sids(&all), [first.clone(), b_room.clone(), last.clone()]);
    // Two index entries a page: the Query loops, and finds the same rooms (the first room once).
    let paged = rooms::rooms_created_on_paged(&client, &world.table, today, None, Some(2))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        paged.iter().map(|r| r.room_sid.clone()).collect::<Vec<_>>(),
        [first.clone(), last.clone(), b_room.clone()],
        "account A's rooms in order of creation, then account B's"
    );
    assert_eq!(paged[0].created, "2026-11-27T00:00:00.000Z");
    // Two items a page of the room's partition: all of them (the room has 11 items).
    let whole = rooms::room_entries(&client, &world.table, &first)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let by_two = rooms::room_entries_paged(&client, &world.table, &first, Some(2))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(whole.len(), 11);
    assert_eq!(by_two, whole);
    let a = rooms::room_summaries(&client, &world.table, today, Some(ACCOUNT_A))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(sids(&a), [first.clone(), last.clone()]);
    let b = rooms::room_summaries(&client, &world.table, today, Some(ACCOUNT_B))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(sids(&b), [b_room.as_str()]);
    let prev = rooms::room_summaries(&client, &world.table, day(26), None)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(sids(&prev), [before.as_str()]);
    let next = rooms::room_summaries(&client, &world.table, day(28), None)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(sids(&next), [after.as_str()]);

    let summary = &all[0];
    assert_eq!(summary.name.as_deref(), Some("room-2"));
    assert_eq!(summary.account_sid, ACCOUNT_A);
    assert_eq!(summary.created, "2026-11-27T00:00:00.000Z");
    assert_eq!(summary.ended.as_deref(), Some("2026-11-27T00:30:00.000Z"));
    assert_eq!(summary.duration_seconds, Some(1800));
    assert_eq!(summary.participants, 2, "alice (twice) and bob");
    assert_eq!(
        (summary.recordings, summary.compositions, summary.archived),
        (2, 1, 1)
    );
    assert_eq!(
        (all[1].participants, all[1].recordings, all[1].ended.clone()),
        (0, 0, None)
    );

    // A room stored before the index existed: invisible until the migration indexes it.
    let mut old = StoredEvent::new(
        twilio_video_callbacks::twilio::callback::Callback::read(
            twilio_video_callbacks::twilio::callback::Params::new(
                in_room(
                    "room-created.json",
                    ACCOUNT_B,
                    "RM000000000000000000000000000000a1",
                    "2026-11-27T06:00:00.000Z",
                    &[],
                )
                .params,
            ),
            time::OffsetDateTime::now_utc(),
        )
        .0,
        time::OffsetDateTime::now_utc(),
        None,
    );
    old.room_day = None;
    old.room_key = None;
    client
        .put_item()
        .table_name(&world.table)
        .set_item(Some(old.into_attributes()))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let unindexed = rooms::rooms_created_on(&client, &world.table, today, Some(ACCOUNT_B))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(unindexed.len(), 1);
    // And a recording of that room stored before media were indexed: invisible to replay's range.
    let mut old_media = stored_as_receiver(&in_room(
        "recording-completed.json",
        ACCOUNT_B,
        "RM000000000000000000000000000000a1",
        "2026-11-27T06:30:00.000Z",
        &[("RecordingSid", Some("RT000000000000000000000000000000a1"))],
    ));
    assert!(old_media.room_day.is_some(), "the receiver indexes it now");
    old_media.room_day = None;
    old_media.room_key = None;
    let old_media_sk = old_media.sk.clone();
    client
        .put_item()
        .table_name(&world.table)
        .set_item(Some(old_media.into_attributes()))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let (since, until) = (
        instant("2026-11-27T06:00:00Z"),
        instant("2026-11-27T07:00:00Z"),
    );
    let media = rooms::media_between(&client, &world.table, since, until, None, None)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(media.is_empty(), "{media:?}");

    // Two items a page, one page a run: resumed with the printed key until the whole table is read.
    let mut plan = IndexPlan {
        start_key: None,
        page_size: 2,
        items_per_second: 0.0,
        max_pages: Some(1),
    };
    let mut indexed = 0;
    let mut runs = 0;
    loop {
        let mut pages = 0;
        let report = rooms::index_rooms(&client, &world.table, &plan, |_| pages += 1)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        runs += 1;
        assert_eq!((report.pages, pages), (1, 1));
        indexed += report.indexed;
        match report.next_start_key {
            Some(key) => plan.start_key = Some(key),
            None => break,
        }
        assert!(runs < 100, "the scan must end");
    }
    assert!(runs > 1, "resumed at least once");
    assert_eq!(
        indexed, 2,
        "only the old room and its old recording needed it"
    );
    let b = rooms::rooms_created_on(&client, &world.table, today, Some(ACCOUNT_B))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        b.iter().map(|r| r.room_sid.as_str()).collect::<Vec<_>>(),
        ["RM000000000000000000000000000000a1", b_room.as_str()]
    );
    let media = rooms::media_between(&client, &world.table, since, until, None, None)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        media.iter().map(|m| m.sk.as_str()).collect::<Vec<_>>(),
        [old_media_sk.as_str()]
    );
    // A second run finds nothing left to do.
    let again = rooms::index_rooms(
        &client,
        &world.table,
        &IndexPlan {
            start_key: None,
            page_size: 100,
            items_per_second: 0.0,
            max_pages: None,
        },
        |_| {},
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!((again.indexed, again.next_start_key), (0, None));

    // The binary: the same rooms as JSON; a bad resume key, a page size out of 1..=1000, a rate that is
    // not above 0 and a bad day are usage errors (exit 2).
    let json = binary_json(
        &world,
        &[
            "rooms",
            "--date",
            "2026-11-27",
            "--account",
            ACCOUNT_A,
            "--json",
        ],
    );
    let listed: Vec<&str> = json["rooms"]
        .as_array()
        .map(|rooms| {
            rooms
                .iter()
                .filter_map(|r| r["room_sid"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(listed, [first.as_str(), last.as_str()]);
    assert_eq!(json["rooms"][0]["archived"], 1);
    // TWILIO_ACCOUNT_SID in the environment filters too, and the terminal output says so.
    let filtered = operator_cli()
        .args(["rooms", "--date", "2026-11-27"])
        .env("EVENTS_TABLE", &world.table)
        .env("TWILIO_ACCOUNT_SID", ACCOUNT_B)
        .output()
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(filtered.status.code(), Some(0));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&filtered.stdout),
        String::from_utf8_lossy(&filtered.stderr),
    );
    assert!(
        stdout.contains(&b_room) && !stdout.contains(&first),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("of account {ACCOUNT_B}")),
        "{stderr}"
    );
    let bad_key = binary(&world, &["index-rooms", "--start-key", "RM1"]);
    assert_eq!(bad_key.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_key.stderr).contains("--start-key"));
    for bad in [
        ["--page-size", "0"],
        ["--page-size", "1001"],
        ["--items-per-second", "0"],
        ["--items-per-second", "NaN"],
        ["--items-per-second", "inf"],
    ] {
        let out = binary(&world, &["index-rooms", bad[0], bad[1]]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    assert_eq!(
        binary(&world, &["rooms", "--date", "2026-11-27T10:00:00Z"])
            .status
            .code(),
        Some(2)
    );

    // A table without the index (a stack not yet updated): exit 1, saying what to do.
    let plain = unique("no-index");
    let key = |name: &str, kind| {
        aws_sdk_dynamodb::types::KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap_or_else(|err| panic!("{err}"))
    };
    let string = |name: &str| {
        aws_sdk_dynamodb::types::AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
            .build()
            .unwrap_or_else(|err| panic!("{err}"))
    };
    client
        .create_table()
        .table_name(&plain)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .key_schema(key("pk", aws_sdk_dynamodb::types::KeyType::Hash))
        .key_schema(key("sk", aws_sdk_dynamodb::types::KeyType::Range))
        .attribute_definitions(string("pk"))
        .attribute_definitions(string("sk"))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let no_index = operator_cli()
        .args(["rooms", "--date", "2026-11-27", "--table", &plain])
        .output()
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(no_index.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&no_index.stderr);
    assert!(
        stderr.contains("has no index rooms-by-day") && stderr.contains("index-rooms"),
        "{stderr}"
    );
}

/// What a queue holds, by idempotency key: (body, `event` attribute, FIFO deduplication id).
fn by_key(messages: &[aws_sdk_sqs::types::Message]) -> BTreeMap<String, (String, String, String)> {
    messages
        .iter()
        .map(|message| {
            let body = message.body().unwrap_or_default().to_owned();
            let parsed: MediaMessage =
                serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}"));
            let attribute = message
                .message_attributes()
                .and_then(|a| a.get("event"))
                .and_then(|v| v.string_value())
                .unwrap_or_default()
                .to_owned();
            let dedup = message
                .attributes()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageDeduplicationId)
                })
                .cloned()
                .unwrap_or_default();
            (parsed.idempotency_key, (body, attribute, dedup))
        })
        .collect()
}

/// (body, attribute) of each message: what must be byte-identical.
fn contents(
    messages: &BTreeMap<String, (String, String, String)>,
) -> BTreeMap<String, (String, String)> {
    messages
        .iter()
        .map(|(key, (body, attribute, _))| (key.clone(), (body.clone(), attribute.clone())))
        .collect()
}

#[tokio::test]
async fn replay_by_time_range_sends_the_media_whose_callbacks_arrived_in_it_whatever_the_rooms_age()
{
    let world = World::new().await;
    let client = sdk_table(&world);
    // Range [2026-11-27, 2026-11-28).
    let today = room_created(&world, ACCOUNT_A, 7, "2026-11-27T09:00:00.000Z").await;
    let other_account = room_created(&world, ACCOUNT_B, 8, "2026-11-27T10:00:00.000Z").await;
    let yesterday = room_created(&world, ACCOUNT_A, 9, "2026-11-26T23:00:00.000Z").await;
    // A room created a week before, whose room-created was never stored: only its composition is.
    let older = "RM00000000000000000000000000000010".to_owned();
    let recording = |room: &str, account: &str, at: &str, n: u32| {
        in_room(
            "recording-completed.json",
            account,
            room,
            at,
            &[("RecordingSid", Some(&format!("RT{n:032}")))],
        )
    };
    let composition = |room: &str, account: &str, at: &str, n: u32| {
        in_room(
            "composition-available.json",
            account,
            room,
            at,
            &[("CompositionSid", Some(&format!("CJ{n:032}")))],
        )
    };
    let inside = [
        recording(&today, ACCOUNT_A, "2026-11-27T09:10:00.000Z", 10),
        recording(&today, ACCOUNT_A, "2026-11-27T09:11:00.000Z", 11),
        composition(&today, ACCOUNT_A, "2026-11-27T09:30:00.000Z", 10),
        recording(&other_account, ACCOUNT_B, "2026-11-27T10:10:00.000Z", 20),
        composition(&other_account, ACCOUNT_B, "2026-11-27T10:30:00.000Z", 20),
        // Created the day before, recording completed in range (the first instant of it).
        recording(&yesterday, ACCOUNT_A, "2026-11-27T00:00:00.000Z", 30),
        // An older room's composition, available in range.
        composition(&older, ACCOUNT_A, "2026-11-27T23:59:59.999Z", 40),
    ];
    let outside = [
        // Yesterday's room's first recording, completed yesterday.
        recording(&yesterday, ACCOUNT_A, "2026-11-26T23:59:59.999Z", 31),
        // Today's room's composition, available tomorrow (at --until exactly).
        composition(&today, ACCOUNT_A, "2026-11-28T00:00:00.000Z", 11),
    ];
    for callback in inside.iter().chain(&outside) {
        play(&world, callback).await;
    }
    // Not media: never replayed.
    play(
        &world,
        &in_room(
            "recording-started.json",
            ACCOUNT_A,
            &today,
            "2026-11-27T09:01:00.000Z",
            &[],
        ),
    )
    .await;
    let sent_by_receiver = by_key(&world.messages().await);
    assert_eq!(sent_by_receiver.len(), 9);
    let key_of = |callback: &Callback| message_of(callback).idempotency_key;
    let expected = |callbacks: &[&Callback]| -> BTreeMap<String, (String, String)> {
        let keys: Vec<String> = callbacks.iter().map(|c| key_of(c)).collect();
        contents(&sent_by_receiver)
            .into_iter()
            .filter(|(key, _)| keys.contains(key))
            .collect()
    };
    let in_range = expected(&inside.iter().collect::<Vec<_>>());
    assert_eq!(in_range.len(), 7);

    // The index's media entries of the range, a page of two at a time.
    let (since, until) = (
        instant("2026-11-27T00:00:00Z"),
        instant("2026-11-28T00:00:00Z"),
    );
    let found = rooms::media_between(&client, &world.table, since, until, None, Some(2))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(found.len(), 7, "{found:?}");
    assert_eq!(
        found,
        rooms::media_between(&client, &world.table, since, until, None, None)
            .await
            .unwrap_or_else(|err| panic!("{err}"))
    );

    // Dry run: counts, sends nothing.
    let queue = twilio_video_callbacks::aws::queue::SqsMediaQueue::new(
        aws_sdk_sqs::Client::new(&world.sdk),
        &world.queue_url,
    );
    let dry = rooms::replay_between(
        &client,
        &world.table,
        Some(&queue),
        since,
        until,
        None,
        true,
        "run-1",
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!((dry.rooms, dry.messages, dry.sent), (4, 7, 0));
    assert!(world.messages().await.is_empty(), "a dry run sends nothing");

    // For real: exactly the receiver's messages of the range, byte for byte, and nothing else.
    let report = rooms::replay_between(
        &client,
        &world.table,
        Some(&queue),
        since,
        until,
        None,
        false,
        "run-2",
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        (
            report.rooms,
            report.messages,
            report.sent,
            report.unbuildable
        ),
        (4, 7, 7, 0)
    );
    assert_eq!(
        report.by_event,
        BTreeMap::from([
            ("composition-available".to_owned(), 3),
            ("recording-completed".to_owned(), 4)
        ])
    );
    assert_eq!(contents(&by_key(&world.messages().await)), in_range);

    // The binary: one account's media of the range; --room alone; exit statuses.
    let json = binary_json(
        &world,
        &[
            "replay",
            "--since",
            "2026-11-27",
            "--until",
            "2026-11-28",
            "--account",
            ACCOUNT_A,
            "--json",
        ],
    );
    assert_eq!(
        (json["rooms"].as_u64(), json["sent"].as_u64()),
        (Some(3), Some(5))
    );
    let account_a: Vec<&Callback> = inside
        .iter()
        .filter(|c| {
            c.params
                .iter()
                .any(|(k, v)| k == "AccountSid" && v == ACCOUNT_A)
        })
        .collect();
    assert_eq!(
        contents(&by_key(&world.messages().await)),
        expected(&account_a)
    );
    let json = binary_json(
        &world,
        &["replay", "--room", &yesterday, "--dry-run", "--json"],
    );
    assert_eq!(
        (json["messages"].as_u64(), json["sent"].as_u64()),
        (Some(2), Some(0)),
        "the room's two recordings, whenever they completed"
    );
    assert!(world.messages().await.is_empty());
    // A room the table holds nothing for: exit 1, saying so.
    let missing = binary(
        &world,
        &["replay", "--room", "RM000000000000000000000000000000ff"],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("holds nothing"));
    // Usage: --room and --since together, neither, or --until not after --since: exit 2.
    for args in [
        vec!["replay", "--room", today.as_str(), "--since", "2026-11-27"],
        vec!["replay"],
        vec!["replay", "--since", "2026-11-28", "--until", "2026-11-27"],
        vec!["replay", "--since", "2026-11-27", "--until", "2026-11-27"],
    ] {
        let out = binary(&world, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    assert!(world.messages().await.is_empty());
}

#[tokio::test]
async fn a_replay_to_a_fifo_queue_within_its_deduplication_window_is_delivered() {
    let world = World::with_queue_name(&format!("{}.fifo", unique("media"))).await;
    let room = room_created(&world, ACCOUNT_A, 50, "2026-11-27T09:00:00.000Z").await;
    for n in 0..2 {
        play(
            &world,
            &in_room(
                "recording-completed.json",
                ACCOUNT_A,
                &room,
                &format!("2026-11-27T09:1{n}:00.000Z"),
                &[("RecordingSid", Some(&format!("RT{:032}", 50 + n)))],
            ),
        )
        .await;
    }
    // The receiver's two messages stay on the queue (moto, like SQS, deduplicates against them): the
    // replay comes well within SQS's 5-minute window, twice by the same run (a retried run).
    let queue = twilio_video_callbacks::aws::queue::SqsMediaQueue::new(
        aws_sdk_sqs::Client::new(&world.sdk),
        &world.queue_url,
    );
    for _ in 0..2 {
        let report = rooms::replay_room(
            &sdk_table(&world),
            &world.table,
            Some(&queue),
            &room,
            false,
            "42",
        )
        .await
        .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(report.sent, 2);
    }
    // On the queue: the receiver's two and the replay's two (its second send deduplicated), the
    // replayed ones byte-identical to the receiver's but for their deduplication id.
    let messages = world.messages().await;
    assert_eq!(messages.len(), 4, "{messages:?}");
    let (original, replayed): (Vec<_>, Vec<_>) = messages.into_iter().partition(|m| {
        m.attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageDeduplicationId)
            })
            .is_some_and(|dedup| !dedup.contains(":replay:"))
    });
    let (original, replayed) = (by_key(&original), by_key(&replayed));
    assert_eq!(original.len(), 2);
    assert!(original.iter().all(|(key, (_, _, dedup))| dedup == key));
    assert_eq!(contents(&replayed), contents(&original));
    for (key, (_, _, dedup)) in &replayed {
        assert_eq!(dedup, &format!("{key}:replay:42"));
    }
}

#[test]
fn the_table_subcommands_have_help_with_examples_and_need_no_twilio_key() {
    let run = |args: &[&str]| {
        operator_cli()
            .args(args)
            .output()
            .unwrap_or_else(|err| panic!("{err}"))
    };
    for (sub, option) in [
        ("timeline", "--html"),
        ("rooms", "--date"),
        ("index-rooms", "--start-key"),
        ("replay", "--dry-run"),
    ] {
        let help = run(&[sub, "--help"]);
        assert_eq!(help.status.code(), Some(0), "{sub}");
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(text.contains(option) && text.contains("Example"), "{text}");
    }
    assert_eq!(
        run(&["timeline"]).status.code(),
        Some(2),
        "the room is required"
    );
    assert_eq!(run(&["rooms"]).status.code(), Some(2), "--date is required");
    assert_eq!(run(&["rooms", "--date", "tomorrow"]).status.code(), Some(2));
    // No table: exit 1 with what to do, and no word about a Twilio key.
    let no_table = run(&["rooms", "--date", "2026-11-27"]);
    assert_eq!(no_table.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&no_table.stderr);
    assert!(
        stderr.contains("EVENTS_TABLE") && !stderr.contains("TWILIO_API_KEY"),
        "{stderr}"
    );
}
