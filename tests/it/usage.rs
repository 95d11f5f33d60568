//! `usage` end to end against moto: rooms of two accounts stored by the real receiver from signed
//! callbacks (each delivered twice, one fact also sent again with a parameter changed), archive outcomes
//! recorded by the archiver's own writer, then the binary's report by account, day and room, filtered,
//! as CSV, as a page, at other prices, compared with sums computed here from the callbacks sent; and
//! every way the command can be used wrongly.

use std::collections::{BTreeMap, BTreeSet};

use twilio_video_callbacks::archiver::rules::{ArchiveRecord, Archived};

use crate::helpers::twilio::Callback;
use crate::helpers::*;
use crate::views::{binary, in_room, message_of, play, record};

const A: &str = "AC00000000000000000000000000000001";
const B: &str = "AC0000000000000000000000000000000b";
const FIGURES: [&str; 13] = [
    "rooms",
    "rooms_open",
    "room_seconds",
    "participant_sessions",
    "participants_open",
    "participant_seconds",
    "recordings",
    "recording_seconds",
    "recording_bytes",
    "compositions",
    "composition_seconds",
    "composition_bytes",
    "archived_bytes",
];

fn room(n: u32) -> String {
    format!("RM{n:032}")
}

fn connected(account: &str, room: &str, at: &str, pa: &str, who: &str) -> Callback {
    in_room(
        "participant-connected.json",
        account,
        room,
        at,
        &[
            ("ParticipantSid", Some(pa)),
            ("ParticipantIdentity", Some(who)),
        ],
    )
}

fn disconnected(account: &str, room: &str, at: &str, pa: &str, who: &str, secs: &str) -> Callback {
    in_room(
        "participant-disconnected.json",
        account,
        room,
        at,
        &[
            ("ParticipantSid", Some(pa)),
            ("ParticipantIdentity", Some(who)),
            ("ParticipantDuration", Some(secs)),
        ],
    )
}

fn media(
    sample: &str,
    sid: (&str, &str),
    account: &str,
    room: &str,
    at: &str,
    d: &str,
    s: &str,
) -> Callback {
    in_room(
        sample,
        account,
        room,
        at,
        &[
            (sid.0, Some(sid.1)),
            ("Duration", Some(d)),
            ("Size", Some(s)),
        ],
    )
}

fn created(account: &str, room: &str, at: &str) -> Callback {
    in_room("room-created.json", account, room, at, &[])
}

fn ended(account: &str, room: &str, at: &str, secs: &str) -> Callback {
    in_room(
        "room-ended.json",
        account,
        room,
        at,
        &[("RoomDuration", Some(secs))],
    )
}

/// What was sent: the callbacks (each delivered twice), and the archived files (room, SID, bytes).
struct Sent {
    callbacks: Vec<Callback>,
    archived: Vec<(String, String, u64)>,
}

/// Four rooms in [2026-11-27, 2026-11-29) (one across midnight, one still open, one of account B) and
/// two just outside it, played through the receiver; two archive outcomes recorded.
async fn fill(world: &World) -> Sent {
    let (r1, r2, r3, r4, before, after) = (
        room(0xa1),
        room(0xa2),
        room(0xb1),
        room(0xa3),
        room(0xa0),
        room(0xb9),
    );
    let rt1 = "RT000000000000000000000000000000a1";
    let rt2 = "RT000000000000000000000000000000b1";
    let callbacks = vec![
        // Account A, across midnight: two people, a recording, a composition.
        created(A, &r1, "2026-11-27T23:50:00.000Z"),
        connected(
            A,
            &r1,
            "2026-11-27T23:50:30.000Z",
            "PA000000000000000000000000000000a1",
            "alice",
        ),
        connected(
            A,
            &r1,
            "2026-11-27T23:55:00.000Z",
            "PA000000000000000000000000000000a2",
            "bob",
        ),
        disconnected(
            A,
            &r1,
            "2026-11-28T00:15:30.000Z",
            "PA000000000000000000000000000000a1",
            "alice",
            "1500",
        ),
        disconnected(
            A,
            &r1,
            "2026-11-28T00:19:00.000Z",
            "PA000000000000000000000000000000a2",
            "bob",
            "1440",
        ),
        ended(A, &r1, "2026-11-28T00:20:00.000Z", "1800"),
        media(
            "recording-completed.json",
            ("RecordingSid", rt1),
            A,
            &r1,
            "2026-11-28T00:20:05.000Z",
            "1700",
            "5000000",
        ),
        media(
            "composition-available.json",
            ("CompositionSid", "CJ000000000000000000000000000000a1"),
            A,
            &r1,
            "2026-11-28T00:40:00.000Z",
            "1790",
            "9000000",
        ),
        // Account A, still open: carol has not left.
        created(A, &r2, "2026-11-28T10:00:00.000Z"),
        connected(
            A,
            &r2,
            "2026-11-28T10:01:00.000Z",
            "PA000000000000000000000000000000b1",
            "carol",
        ),
        connected(
            A,
            &r2,
            "2026-11-28T10:02:00.000Z",
            "PA000000000000000000000000000000b2",
            "dave",
        ),
        disconnected(
            A,
            &r2,
            "2026-11-28T10:12:00.000Z",
            "PA000000000000000000000000000000b2",
            "dave",
            "600",
        ),
        // Account B.
        created(B, &r3, "2026-11-28T12:00:00.000Z"),
        connected(
            B,
            &r3,
            "2026-11-28T12:00:05.000Z",
            "PA000000000000000000000000000000c1",
            "eve",
        ),
        disconnected(
            B,
            &r3,
            "2026-11-28T12:05:05.000Z",
            "PA000000000000000000000000000000c1",
            "eve",
            "300",
        ),
        ended(B, &r3, "2026-11-28T12:05:10.000Z", "310"),
        media(
            "recording-completed.json",
            ("RecordingSid", rt2),
            B,
            &r3,
            "2026-11-28T12:05:12.000Z",
            "290",
            "700000",
        ),
        // Account A, the first day.
        created(A, &r4, "2026-11-27T08:00:00.000Z"),
        connected(
            A,
            &r4,
            "2026-11-27T08:00:01.000Z",
            "PA000000000000000000000000000000d1",
            "frank",
        ),
        disconnected(
            A,
            &r4,
            "2026-11-27T08:30:01.000Z",
            "PA000000000000000000000000000000d1",
            "frank",
            "1800",
        ),
        ended(A, &r4, "2026-11-27T08:30:05.000Z", "1805"),
        // Outside the range, by a millisecond on each side.
        created(A, &before, "2026-11-26T23:59:59.999Z"),
        connected(
            A,
            &before,
            "2026-11-27T00:00:01.000Z",
            "PA000000000000000000000000000000e1",
            "gus",
        ),
        disconnected(
            A,
            &before,
            "2026-11-27T00:01:41.000Z",
            "PA000000000000000000000000000000e1",
            "gus",
            "100",
        ),
        created(B, &after, "2026-11-29T00:00:00.000Z"),
        connected(
            B,
            &after,
            "2026-11-29T00:00:01.000Z",
            "PA000000000000000000000000000000f1",
            "hana",
        ),
        disconnected(
            B,
            &after,
            "2026-11-29T00:03:21.000Z",
            "PA000000000000000000000000000000f1",
            "hana",
            "200",
        ),
    ];
    // Twilio delivers each twice: the table keeps one item each.
    for callback in callbacks.iter().chain(&callbacks) {
        play(world, callback).await;
    }
    // The same facts sent again with a parameter changed (a different item each): counted once.
    let mut again = vec![
        disconnected(
            A,
            &r1,
            "2026-11-28T00:15:30.000Z",
            "PA000000000000000000000000000000a1",
            "alice",
            "1500",
        ),
        media(
            "recording-completed.json",
            ("RecordingSid", rt1),
            A,
            &r1,
            "2026-11-28T00:20:05.000Z",
            "1700",
            "5000000",
        ),
        ended(B, &r3, "2026-11-28T12:05:10.000Z", "310"),
    ];
    for callback in &mut again {
        callback.params.push(("SequenceNumber".into(), "99".into()));
        callback
            .params
            .retain(|(k, v)| k != "SequenceNumber" || v == "99");
        play(world, callback).await;
    }
    let items = scan(&world.sdk, &world.table).await;
    assert_eq!(
        items.len(),
        callbacks.len() + again.len(),
        "one item per distinct callback"
    );
    let file = |size| Archived::Copied {
        s3_uri: "s3://archive/x".into(),
        size,
        content_type: "video/webm".into(),
        sha256: "0".repeat(64),
        encrypted: None,
    };
    let archived = vec![
        (r1.clone(), rt1.to_owned(), 5_000_000),
        (r3.clone(), rt2.to_owned(), 700_000),
    ];
    for (n, (_, sid, size)) in archived.iter().enumerate() {
        let callback = &callbacks[if n == 0 { 6 } else { 16 }];
        assert_eq!(callback.get("RecordingSid"), sid);
        // Recorded twice (a redelivered media message): one record, its repeat counted on it.
        for _ in 0..2 {
            record(
                world,
                ArchiveRecord::archived(
                    &message_of(callback),
                    &file(*size),
                    "2026-11-28T01:00:00.000Z",
                ),
            )
            .await;
        }
    }
    Sent {
        callbacks,
        archived,
    }
}

/// The figures of each group, computed from the callbacks sent (not from the table): the rooms whose
/// room-created falls in [2026-11-27, 2026-11-29), each fact once by its SID.
fn expected(
    sent: &Sent,
    by: &str,
    account: Option<&str>,
) -> BTreeMap<String, BTreeMap<&'static str, u64>> {
    let mut rooms: BTreeMap<String, (String, String)> = BTreeMap::new();
    for c in &sent.callbacks {
        let day = &c.get("Timestamp")[..10];
        if c.get("StatusCallbackEvent") == "room-created"
            && ("2026-11-27".."2026-11-29").contains(&day)
            && account.is_none_or(|a| a == c.get("AccountSid"))
        {
            rooms.insert(
                c.get("RoomSid").to_owned(),
                (c.get("AccountSid").to_owned(), day.to_owned()),
            );
        }
    }
    let mut groups: BTreeMap<String, BTreeMap<&'static str, u64>> = BTreeMap::new();
    for (sid, (account, day)) in &rooms {
        let of = |event: &str| -> Vec<&Callback> {
            sent.callbacks
                .iter()
                .filter(|c| c.get("RoomSid") == sid && c.get("StatusCallbackEvent") == event)
                .collect()
        };
        let num =
            |c: &Callback, name: &str| c.get(name).parse::<u64>().unwrap_or_else(|e| panic!("{e}"));
        let sids = |event: &str| -> BTreeSet<String> {
            of(event)
                .iter()
                .map(|c| c.get("ParticipantSid").to_owned())
                .collect()
        };
        let (on, off) = (
            sids("participant-connected"),
            sids("participant-disconnected"),
        );
        let recordings = of("recording-completed");
        let compositions = of("composition-available");
        let figures = [
            ("rooms", 1),
            ("rooms_open", u64::from(of("room-ended").is_empty())),
            (
                "room_seconds",
                of("room-ended")
                    .iter()
                    .map(|c| num(c, "RoomDuration"))
                    .sum(),
            ),
            ("participant_sessions", on.len() as u64),
            ("participants_open", on.difference(&off).count() as u64),
            (
                "participant_seconds",
                of("participant-disconnected")
                    .iter()
                    .map(|c| num(c, "ParticipantDuration"))
                    .sum(),
            ),
            ("recordings", recordings.len() as u64),
            (
                "recording_seconds",
                recordings.iter().map(|c| num(c, "Duration")).sum(),
            ),
            (
                "recording_bytes",
                recordings.iter().map(|c| num(c, "Size")).sum(),
            ),
            ("compositions", compositions.len() as u64),
            (
                "composition_seconds",
                compositions.iter().map(|c| num(c, "Duration")).sum(),
            ),
            (
                "composition_bytes",
                compositions.iter().map(|c| num(c, "Size")).sum(),
            ),
            (
                "archived_bytes",
                sent.archived
                    .iter()
                    .filter(|(r, _, _)| r == sid)
                    .map(|(_, _, s)| s)
                    .sum(),
            ),
        ];
        let group = match by {
            "account" => account.clone(),
            "day" => day.clone(),
            _ => sid.clone(),
        };
        for key in [group, "total".to_owned()] {
            let line = groups.entry(key).or_default();
            for (name, value) in figures {
                *line.entry(name).or_default() += value;
            }
        }
    }
    groups
}

fn cost(figures: &BTreeMap<&str, u64>, prices: (f64, f64, f64)) -> f64 {
    let minutes = |name: &str| figures[name] as f64 / 60.0;
    minutes("participant_seconds") * prices.0
        + minutes("recording_seconds") * prices.1
        + minutes("composition_seconds") * prices.2
}

/// The binary's JSON lines for `args`, which must succeed.
fn lines(world: &World, args: &[&str]) -> Vec<serde_json::Value> {
    let out = binary(world, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect()
}

/// The report's lines equal the expected figures, group by group, in order, then the total; and each
/// cost is its figures priced at `prices`.
fn assert_report(
    got: &[serde_json::Value],
    want: &BTreeMap<String, BTreeMap<&str, u64>>,
    prices: (f64, f64, f64),
) {
    let groups: Vec<&str> = got.iter().filter_map(|l| l["group"].as_str()).collect();
    let mut order: Vec<&str> = want
        .keys()
        .map(String::as_str)
        .filter(|g| *g != "total")
        .collect();
    order.push("total");
    assert_eq!(groups, order);
    for line in got {
        let group = line["group"].as_str().unwrap_or_default();
        for name in FIGURES {
            assert_eq!(
                line[name].as_u64(),
                Some(want[group][name]),
                "{group} {name}"
            );
        }
        let estimated = line["estimated_cost_usd"].as_f64().unwrap_or(f64::NAN);
        assert!(
            (estimated - cost(&want[group], prices)).abs() < 1e-5,
            "{group}: {estimated}"
        );
    }
}

const RANGE: [&str; 5] = ["usage", "--since", "2026-11-27", "--until", "2026-11-29"];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    RANGE.iter().copied().chain(extra.iter().copied()).collect()
}

#[tokio::test]
async fn usage_by_account_day_and_room_is_the_sum_of_the_callbacks_sent() {
    let world = World::new().await;
    let sent = fill(&world).await;
    let list = (0.004, 0.004, 0.01);
    for by in ["account", "day", "room"] {
        let got = lines(&world, &args(&["--by", by, "--json"]));
        assert_report(&got, &expected(&sent, by, None), list);
    }
    // The default is by account; the figures a reader can check by hand.
    let by_account = lines(&world, &args(&["--json"]));
    assert_report(&by_account, &expected(&sent, "account", None), list);
    let total = &by_account[2];
    assert_eq!(total["rooms"], 4);
    assert_eq!(total["participant_seconds"], 1500 + 1440 + 600 + 300 + 1800);
    assert_eq!(
        (
            total["rooms_open"].as_u64(),
            total["participants_open"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(total["recordings"], 2);
    assert_eq!(total["archived_bytes"], 5_700_000);
    let by_day = lines(&world, &args(&["--by", "day", "--json"]));
    assert_eq!(
        by_day[0]["group"], "2026-11-27",
        "the room across midnight is its creation's day"
    );
    assert_eq!(by_day[0]["participant_seconds"], 1500 + 1440 + 1800);

    // One account (--account, or TWILIO_ACCOUNT_SID).
    let b = lines(&world, &args(&["--by", "room", "--account", B, "--json"]));
    assert_report(&b, &expected(&sent, "room", Some(B)), list);
    assert_eq!(b.len(), 2);

    // CSV: the header, then the same rows as the JSON.
    let out = binary(&world, &args(&["--by", "day", "--csv"]));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<Vec<&str>> = text
        .split("\r\n")
        .filter(|r| !r.is_empty())
        .map(|r| r.split(',').collect())
        .collect();
    let header = rows[0].clone();
    assert_eq!(header[0], "group");
    assert_eq!(header[1..14], FIGURES);
    assert_eq!(header[14], "estimated_cost_usd");
    assert_eq!(rows.len(), by_day.len() + 1);
    for (row, json) in rows[1..].iter().zip(&by_day) {
        for (name, value) in header.iter().zip(row) {
            match json[*name].as_u64() {
                Some(n) => assert_eq!(value.parse::<u64>().ok(), Some(n), "{name}"),
                None => assert_eq!(
                    json[*name]
                        .as_str()
                        .map(str::to_owned)
                        .or(json[*name].as_f64().map(|f| format!("{f:.6}")))
                        .as_deref(),
                    Some(*value),
                    "{name}"
                ),
            }
        }
    }
    // A lower bound while a room is open: said on stderr.
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("a lower bound: 1 room(s) and 1 participant(s)"));

    // Other prices: only the given key changes.
    let prices = std::env::temp_dir().join(format!("{}.json", unique("prices")));
    std::fs::write(&prices, r#"{"participant_minute": 0.5}"#).unwrap_or_else(|e| panic!("{e}"));
    let prices_arg = prices.to_string_lossy().into_owned();
    let priced = lines(
        &world,
        &args(&["--by", "day", "--json", "--prices", &prices_arg]),
    );
    assert_report(&priced, &expected(&sent, "day", None), (0.5, 0.004, 0.01));
    let _ = std::fs::remove_file(&prices);

    // The terminal table and the page.
    let page = std::env::temp_dir().join(format!("{}.html", unique("usage")));
    let page_arg = page.to_string_lossy().into_owned();
    let out = binary(&world, &args(&["--by", "room", "--html", &page_arg]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&room(0xa1)) && stdout.contains("total") && stdout.contains("(1 open)"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("An estimate, not an invoice")
            && stderr.contains("4 rooms created from 2026-11-27"),
        "{stderr}"
    );
    let html = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{e}"));
    assert!(html.contains("default-src 'none'"));
    assert_eq!(html.matches("<g class=\"group\"").count(), 4);
    assert_eq!(html.matches("<tr class=\"total\">").count(), 1);
    for forbidden in ["http://", "https://", "src=", "href=", "url(", "<script"] {
        assert!(!html.contains(forbidden), "{forbidden}");
    }
    if let Some(dom) = chromium_dom(&page) {
        // What the browser built from it: the chart's groups, the table's rows, nothing else loaded.
        assert_eq!(dom.matches("class=\"group\"").count(), 4, "{dom}");
        assert_eq!(dom.matches("<tr").count(), 1 + 4 + 1);
        assert!(dom.contains(&room(0xb1)));
    }
    let _ = std::fs::remove_file(&page);
}

/// The page as headless Chromium parsed it (`--dump-dom`), when Chromium is installed.
fn chromium_dom(page: &std::path::Path) -> Option<String> {
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|name| {
        std::process::Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })?;
    let profile = std::env::temp_dir().join(unique("chromium-profile"));
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn usage_refuses_wrong_use_with_exit_2_and_a_missing_index_or_table_with_exit_1() {
    let world = World::new().await;
    let bad_prices = std::env::temp_dir().join(format!("{}.json", unique("prices")));
    std::fs::write(&bad_prices, r#"{"participant_minutes": 0.5}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let bad_prices = bad_prices.to_string_lossy().into_owned();
    for (args, says) in [
        (
            vec!["usage", "--since", "2026-11-31", "--until", "2026-12-01"],
            "is neither a day",
        ),
        (
            vec![
                "usage",
                "--since",
                "2026-11-27T10:00:00Z",
                "--until",
                "2026-12-01",
            ],
            "is not a day",
        ),
        (
            vec!["usage", "--since", "2026-11-27", "--until", "2026-11-27"],
            "must be after --since",
        ),
        (
            vec!["usage", "--since", "2026-11-28", "--until", "2026-11-27"],
            "must be after --since",
        ),
        (vec!["usage", "--since", "2026-11-27"], "--until"),
        (args(&["--csv", "--json"]), "exclude each other"),
        (args(&["--by", "week"]), "possible values"),
        (
            args(&["--prices", "/nonexistent/prices.json"]),
            "could not read",
        ),
        (args(&["--prices", &bad_prices]), "unknown field"),
        (args(&["--rooms-per-second", "0"]), "not a number above 0"),
    ] {
        let out = binary(&world, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let _ = std::fs::remove_file(&bad_prices);

    // A table without the index: exit 1, saying to deploy it and run index-rooms (also as JSON).
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
    aws_sdk_dynamodb::Client::new(&world.sdk)
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
        .args(args(&["--table", &plain, "--json"]))
        .output()
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(no_index.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&no_index.stderr);
    assert!(
        stderr.contains("has no index rooms-by-day") && stderr.contains("index-rooms"),
        "{stderr}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&no_index.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert!(json["error"]
        .as_str()
        .is_some_and(|e| e.contains("index-rooms")));
    // No table at all: exit 1, naming the settings.
    let no_table = operator_cli()
        .args(RANGE)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(no_table.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_table.stderr).contains("EVENTS_TABLE"));
    // An empty range of an empty table: every figure 0, exit 0.
    let empty = binary(&world, &args(&["--json"]));
    assert_eq!(empty.status.code(), Some(0));
    let total: serde_json::Value =
        serde_json::from_slice(&empty.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (total["group"].as_str(), total["rooms"].as_u64()),
        (Some("total"), Some(0))
    );
    // The help: every option and examples.
    let help = operator_cli()
        .args(["usage", "--help"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&help.stdout);
    for needle in [
        "--since",
        "--until",
        "--by",
        "--csv",
        "--html",
        "--prices",
        "Examples",
        "participant_minute",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}
