use super::*;
use crate::archiver::rules::{ArchiveRecord, Archived};
use crate::operator::rooms::RoomRef;
use crate::operator::timeline::Entry;
use crate::receiver::item::StoredEvent;
use crate::twilio::callback::{Callback, Params};

const ACCOUNT: &str = "AC00000000000000000000000000000001";
const ROOM: &str = "RM00000000000000000000000000000001";

fn stored(event: &str, at: &str, extra: &[(&str, &str)]) -> StoredEvent {
    let mut pairs = vec![
        ("AccountSid".to_owned(), ACCOUNT.to_owned()),
        ("RoomSid".to_owned(), ROOM.to_owned()),
        ("RoomName".to_owned(), "standup".to_owned()),
        ("StatusCallbackEvent".to_owned(), event.to_owned()),
        ("Timestamp".to_owned(), at.to_owned()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let (callback, _) = Callback::read(Params::new(pairs), time::OffsetDateTime::UNIX_EPOCH);
    StoredEvent::new(callback, time::OffsetDateTime::UNIX_EPOCH, None)
}

fn entry(event: &str, at: &str, extra: &[(&str, &str)]) -> Entry {
    Entry::Callback(Box::new(stored(event, at, extra)))
}

fn room_ref() -> RoomRef {
    RoomRef {
        account_sid: ACCOUNT.into(),
        created: "2026-11-27T09:00:00.000Z".into(),
        room_sid: ROOM.into(),
    }
}

fn archived(recording: &StoredEvent, size: u64, at: &str) -> Entry {
    let message = recording
        .media_message()
        .unwrap_or_else(|| panic!("a media callback"));
    Entry::Outcome(Box::new(ArchiveRecord::archived(
        &message,
        &Archived::Copied {
            s3_uri: "s3://a/b".into(),
            size,
            content_type: "video/webm".into(),
            sha256: "0".repeat(64),
            encrypted: None,
        },
        at,
    )))
}

/// A room with two people (alice twice: a reconnect is a new session), two recordings (one archived),
/// a composition, ended.
fn full_room() -> Vec<Entry> {
    let recording = stored(
        "recording-completed",
        "2026-11-27T09:20:00.000Z",
        &[
            ("RecordingSid", "RT00000000000000000000000000000001"),
            ("Duration", "600"),
            ("Size", "1000"),
        ],
    );
    vec![
        entry("room-created", "2026-11-27T09:00:00.000Z", &[]),
        entry(
            "participant-connected",
            "2026-11-27T09:00:10.000Z",
            &[("ParticipantSid", "PA1"), ("ParticipantIdentity", "alice")],
        ),
        entry(
            "participant-connected",
            "2026-11-27T09:00:20.000Z",
            &[("ParticipantSid", "PA2"), ("ParticipantIdentity", "bob")],
        ),
        entry(
            "participant-disconnected",
            "2026-11-27T09:10:10.000Z",
            &[
                ("ParticipantSid", "PA1"),
                ("ParticipantIdentity", "alice"),
                ("ParticipantDuration", "600"),
            ],
        ),
        entry(
            "participant-connected",
            "2026-11-27T09:11:00.000Z",
            &[("ParticipantSid", "PA3"), ("ParticipantIdentity", "alice")],
        ),
        entry(
            "participant-disconnected",
            "2026-11-27T09:20:20.000Z",
            &[
                ("ParticipantSid", "PA2"),
                ("ParticipantIdentity", "bob"),
                ("ParticipantDuration", "1200"),
            ],
        ),
        // No ParticipantDuration: from its connection (09:11:00 to 09:21:00).
        entry(
            "participant-disconnected",
            "2026-11-27T09:21:00.000Z",
            &[("ParticipantSid", "PA3"), ("ParticipantIdentity", "alice")],
        ),
        Entry::Callback(Box::new(recording.clone())),
        archived(&recording, 1000, "2026-11-27T09:21:00.000Z"),
        entry(
            "recording-completed",
            "2026-11-27T09:20:01.000Z",
            &[
                ("RecordingSid", "RT00000000000000000000000000000002"),
                ("Duration", "30"),
                ("Size", "50"),
            ],
        ),
        entry(
            "room-ended",
            "2026-11-27T09:30:00.000Z",
            &[("RoomDuration", "1800")],
        ),
        entry(
            "composition-available",
            "2026-11-27T09:40:00.000Z",
            &[
                ("CompositionSid", "CJ00000000000000000000000000000001"),
                ("Duration", "1790"),
                ("Size", "9000"),
            ],
        ),
    ]
}

#[test]
fn a_room_figures_come_from_its_callbacks() {
    let usage = room_usage(&room_ref(), &full_room());
    assert_eq!(usage.day, "2026-11-27");
    assert_eq!(
        usage.figures,
        Figures {
            rooms: 1,
            rooms_open: 0,
            room_seconds: 1800,
            participant_sessions: 3,
            participants_open: 0,
            participant_seconds: 600 + 1200 + 600,
            recordings: 2,
            recording_seconds: 630,
            recording_bytes: 1050,
            compositions: 1,
            composition_seconds: 1790,
            composition_bytes: 9000,
            archived_bytes: 1000,
            estimated_cost_usd: 0.0,
        }
    );
}

#[test]
fn the_same_fact_in_two_items_counts_once() {
    let mut entries = full_room();
    // Each stored again as a different item (a parameter changed: a different idempotency key), and the
    // archive record written a second time under another callback time (a backfill's message).
    let again = full_room();
    let recording = stored(
        "recording-completed",
        "2026-11-27T09:20:00.500Z",
        &[
            ("RecordingSid", "RT00000000000000000000000000000001"),
            ("Duration", "600"),
            ("Size", "1000"),
        ],
    );
    let mut changed: Vec<Entry> = again
        .into_iter()
        .map(|entry| match entry {
            Entry::Callback(mut event) => {
                event.sk.push_str("-other");
                event.idempotency_key.push('x');
                Entry::Callback(event)
            }
            other => other,
        })
        .collect();
    changed.push(archived(&recording, 1000, "2026-11-28T00:00:00.000Z"));
    entries.extend(changed);
    let once = room_usage(&room_ref(), &full_room()).figures;
    assert_eq!(room_usage(&room_ref(), &entries).figures, once);
}

#[test]
fn an_open_room_and_participant_are_counted_and_make_a_lower_bound() {
    let entries = vec![
        entry("room-created", "2026-11-27T09:00:00.000Z", &[]),
        entry(
            "participant-connected",
            "2026-11-27T09:00:10.000Z",
            &[("ParticipantSid", "PA1"), ("ParticipantIdentity", "alice")],
        ),
    ];
    let usage = room_usage(&room_ref(), &entries);
    assert_eq!(
        (
            usage.figures.rooms_open,
            usage.figures.participants_open,
            usage.figures.participant_seconds,
            usage.figures.room_seconds
        ),
        (1, 1, 0, 0)
    );
    let report = report([usage], By::Account, LIST_PRICES);
    assert!(report.total.figures.is_lower_bound());
    assert!(notes(&report)
        .iter()
        .any(|n| n.starts_with("a lower bound")));
    let closed = report_of(By::Account);
    assert!(!closed.total.figures.is_lower_bound());
    assert!(!notes(&closed)
        .iter()
        .any(|n| n.starts_with("a lower bound")));
}

fn other_room(n: u32, account: &str, created: &str) -> RoomUsage {
    RoomUsage {
        room_sid: format!("RM{n:032}"),
        account_sid: account.into(),
        day: created[..10].into(),
        figures: Figures {
            rooms: 1,
            participant_sessions: 2,
            participant_seconds: 60 * u64::from(n),
            ..Figures::default()
        },
    }
}

fn report_of(by: By) -> Usage {
    let first = room_usage(&room_ref(), &full_room());
    report(
        [
            first.clone(),
            other_room(
                7,
                "AC0000000000000000000000000000000b",
                "2026-11-28T01:00:00Z",
            ),
            other_room(8, ACCOUNT, "2026-11-28T02:00:00Z"),
            // Listed twice (on two days): once.
            first,
        ],
        by,
        LIST_PRICES,
    )
}

#[test]
fn groups_by_account_day_or_room_each_sum_to_the_total() {
    for (by, groups) in [
        (
            By::Account,
            vec![ACCOUNT, "AC0000000000000000000000000000000b"],
        ),
        (By::Day, vec!["2026-11-27", "2026-11-28"]),
        (
            By::Room,
            vec![
                ROOM,
                "RM00000000000000000000000000000007",
                "RM00000000000000000000000000000008",
            ],
        ),
    ] {
        let usage = report_of(by);
        let names: Vec<&str> = usage.groups.iter().map(|l| l.group.as_str()).collect();
        assert_eq!(names, groups, "{by:?}");
        assert_eq!(usage.total.group, "total");
        assert_eq!(usage.total.figures.rooms, 3);
        let seconds: u64 = usage
            .groups
            .iter()
            .map(|l| l.figures.participant_seconds)
            .sum();
        assert_eq!(seconds, usage.total.figures.participant_seconds);
        assert_eq!(usage.total.figures.participant_seconds, 2400 + 420 + 480);
    }
}

#[test]
fn the_cost_is_each_priced_duration_in_minutes_times_its_price() {
    let usage = report_of(By::Account);
    let t = &usage.total.figures;
    let expected = t.participant_seconds as f64 / 60.0 * 0.004
        + t.recording_seconds as f64 / 60.0 * 0.004
        + t.composition_seconds as f64 / 60.0 * 0.01;
    assert!((t.estimated_cost_usd - expected).abs() < 1e-6);
    // 3300 s = 55 min × 0.004 + 630 s = 10.5 min × 0.004 + 1790 s × 0.01 / 60.
    assert!((t.estimated_cost_usd - (0.22 + 0.042 + 0.298_333)).abs() < 1e-6);
    let custom =
        Prices::from_json(r#"{"participant_minute": 1}"#).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (custom.recording_minute, custom.composition_minute),
        (0.004, 0.01),
        "the keys not given keep the list price"
    );
    let priced = report([room_usage(&room_ref(), &full_room())], By::Day, custom);
    assert!((priced.total.figures.estimated_cost_usd - (40.0 + 0.042 + 0.298_333)).abs() < 1e-6);
}

#[test]
fn a_prices_file_with_an_unknown_key_or_a_bad_price_is_refused() {
    for bad in [
        r#"{"participant_minutes": 0.004}"#,
        r#"{"participant_minute": -1}"#,
        r#"{"participant_minute": "0.004"}"#,
        "[]",
        "",
    ] {
        assert!(Prices::from_json(bad).is_err(), "{bad}");
    }
    assert_eq!(Prices::from_json("{}"), Ok(LIST_PRICES));
}

#[test]
fn json_csv_and_the_table_carry_every_group_then_the_total() {
    let usage = report_of(By::Day);
    let text = json_lines(&usage).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["group"], "total");
    for line in &lines {
        let keys: Vec<&str> = line
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut expected = COLUMNS.to_vec();
        expected.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, expected);
    }
    assert_eq!(lines[0]["participant_seconds"], 2400);
    let csv_text = csv(&usage);
    let rows: Vec<&str> = csv_text.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(rows[0], COLUMNS.join(","));
    assert_eq!(rows.len(), 4);
    assert!(rows[3].starts_with("total,3,0,1800,7,0,3300,"));
    let table = table(&usage).to_string();
    assert!(table.contains("2026-11-28") && table.contains("total"));
}

#[test]
fn csv_fields_are_quoted_and_formulas_defused() {
    assert_eq!(csv_field("RM1"), "RM1");
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    assert_eq!(csv_field("-1,2"), "\"'-1,2\"");
}

#[test]
fn the_page_is_self_contained_escaped_and_draws_every_group() {
    let mut usage = report_of(By::Room);
    usage.groups[0].group = "<script>alert('x')</script>".into();
    let page = html(&usage, "2026-11-27 to 2026-11-29 & <b>");
    assert!(page.contains("default-src 'none'"));
    for forbidden in [
        "<script", "http://", "https://", "src=", "href=", "url(", "<b>",
    ] {
        assert!(!page.contains(forbidden), "{forbidden}");
    }
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert_eq!(page.matches("<g class=\"group\"").count(), 3);
    assert_eq!(page.matches("<rect class=\"minutes\"").count(), 3);
    assert_eq!(page.matches("<tr class=\"total\">").count(), 1);
    assert!(page.contains(DISCLAIMER.split(':').next().unwrap_or_default()));
}

#[test]
fn the_chart_draws_at_most_its_limit_the_groups_with_most_minutes() {
    let rooms =
        (1..=CHART_GROUPS as u32 + 5).map(|n| other_room(n, ACCOUNT, "2026-11-27T00:00:00Z"));
    let usage = report(rooms, By::Room, LIST_PRICES);
    let drawn = chart(&usage);
    assert_eq!(drawn.matches("<g class=\"group\"").count(), CHART_GROUPS);
    // Rooms 1 to 5 have the fewest minutes: not drawn.
    assert!(!drawn.contains("RM00000000000000000000000000000005\""));
    assert!(drawn.contains("RM00000000000000000000000000000006\""));
    assert!(drawn.contains(&format!(
        "the {CHART_GROUPS} of {} groups",
        CHART_GROUPS + 5
    )));
}
