//! Fills an events table with ROOMS rooms spread over DAYS UTC days from 2026-11-01 (two accounts), each
//! room as the receiver stores it: its room-created (indexed by day), three participants connected and
//! disconnected, two recordings completed, its room-ended and a composition: eleven items, built by the
//! receiver's own `StoredEvent::new`, written with BatchWriteItem. For scripts/bench_usage.sh, which
//! then times `usage` over the month. Prints the items written and their size a room.
//!
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 cargo run --features operator --example usage_fill -- TABLE 3000 30

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use time::{Duration, OffsetDateTime};
use twilio_video_callbacks::aws::sdk;
use twilio_video_callbacks::receiver::item::StoredEvent;
use twilio_video_callbacks::twilio::callback::{Callback, Params};
use twilio_video_callbacks::twilio::timestamp;

type Item = HashMap<String, AttributeValue>;

/// An item's size as DynamoDB counts it, near enough: each attribute's name and value in bytes (a
/// number as its digits, a map or list as its members plus 3 bytes).
fn size(item: &Item) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
            AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + value(v)).sum::<usize>(),
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value(v)).sum::<usize>(),
            _ => 1,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

fn item(
    account: &str,
    room: &str,
    event: &str,
    at: OffsetDateTime,
    extra: &[(&str, String)],
) -> Item {
    let mut pairs = vec![
        ("AccountSid".to_owned(), account.to_owned()),
        ("RoomSid".to_owned(), room.to_owned()),
        ("RoomName".to_owned(), format!("consultation-{room}")),
        ("RoomType".to_owned(), "group".to_owned()),
        ("RoomStatus".to_owned(), "in-progress".to_owned()),
        ("StatusCallbackEvent".to_owned(), event.to_owned()),
        ("Timestamp".to_owned(), timestamp::format(at)),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let (callback, _) = Callback::read(Params::new(pairs), at);
    StoredEvent::new(callback, at, None).into_attributes()
}

fn room_items(n: u64, days: u64) -> Vec<Item> {
    let account = if n % 3 == 0 {
        "AC0000000000000000000000000000000b"
    } else {
        "AC00000000000000000000000000000001"
    };
    let room = format!("RM{n:032x}");
    let start = OffsetDateTime::new_utc(
        time::Date::from_calendar_date(2026, time::Month::November, 1).unwrap_or(time::Date::MIN),
        time::Time::MIDNIGHT,
    );
    let created =
        start + Duration::days((n % days) as i64) + Duration::seconds((n * 37 % 80_000) as i64);
    let mut items = vec![item(account, &room, "room-created", created, &[])];
    for p in 0..3u64 {
        let who = [
            ("ParticipantSid", format!("PA{n:016x}{p:016x}")),
            ("ParticipantIdentity", format!("user-{p}")),
            ("ParticipantStatus", "connected".to_owned()),
        ];
        items.push(item(
            account,
            &room,
            "participant-connected",
            created + Duration::seconds(5 + p as i64),
            &who,
        ));
        let mut left = who.to_vec();
        left[2].1 = "disconnected".into();
        left.push(("ParticipantDuration", (1200 + p * 60).to_string()));
        items.push(item(
            account,
            &room,
            "participant-disconnected",
            created + Duration::seconds(1400),
            &left,
        ));
    }
    let end = created + Duration::seconds(1500);
    for t in 0..2u64 {
        let extra = [
            ("RecordingSid", format!("RT{n:016x}{t:016x}")),
            ("SourceSid", format!("MT{n:016x}{t:016x}")),
            ("Duration", "1390".to_owned()),
            ("Size", "12000000".to_owned()),
            ("Container", "mka".to_owned()),
            ("Codec", "opus".to_owned()),
            ("Type", "audio".to_owned()),
            (
                "MediaUri",
                format!("/v1/Recordings/RT{n:016x}{t:016x}/Media"),
            ),
        ];
        items.push(item(account, &room, "recording-completed", end, &extra));
    }
    items.push(item(
        account,
        &room,
        "room-ended",
        end,
        &[("RoomDuration", "1500".to_owned())],
    ));
    let extra = [
        ("CompositionSid", format!("CJ{n:032x}")),
        ("Duration", "1500".to_owned()),
        ("Size", "90000000".to_owned()),
        ("MediaUri", format!("/v1/Compositions/CJ{n:032x}/Media")),
    ];
    items.push(item(
        account,
        &room,
        "composition-available",
        end + Duration::minutes(4),
        &extra,
    ));
    items
}

async fn write(
    client: aws_sdk_dynamodb::Client,
    table: String,
    batch: Vec<Item>,
) -> Result<(), String> {
    let mut requests: Vec<WriteRequest> = batch
        .into_iter()
        .filter_map(|item| PutRequest::builder().set_item(Some(item)).build().ok())
        .map(|put| WriteRequest::builder().put_request(put).build())
        .collect();
    while !requests.is_empty() {
        let out = client
            .batch_write_item()
            .request_items(&table, requests)
            .send()
            .await
            .map_err(|err| aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string())?;
        requests = out
            .unprocessed_items()
            .and_then(|left| left.get(&table).cloned())
            .unwrap_or_default();
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(table), Some(rooms)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: usage_fill TABLE ROOMS [DAYS]");
        std::process::exit(2);
    };
    let days = args
        .get(2)
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(30)
        .max(1);
    let config = sdk::sdk_loader()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(std::time::Duration::from_secs(60))
                .build(),
        )
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let items: Vec<Item> = (1..=rooms).flat_map(|n| room_items(n, days)).collect();
    let written = items.len();
    let bytes: usize = items.iter().map(size).sum();
    let mut writes = tokio::task::JoinSet::new();
    let mut batches = items.chunks(25).map(<[Item]>::to_vec);
    loop {
        while writes.len() < 8 {
            match batches.next() {
                Some(batch) => {
                    writes.spawn(write(client.clone(), table.clone(), batch));
                }
                None => break,
            }
        }
        match writes.join_next().await {
            Some(Ok(Ok(()))) => {}
            Some(Ok(Err(err))) => {
                eprintln!("BatchWriteItem failed: {err}");
                std::process::exit(1);
            }
            Some(Err(err)) => {
                eprintln!("{err}");
                std::process::exit(1);
            }
            None => break,
        }
    }
    println!(
        "{written} items, {:.0} bytes a room ({:.0} an item)",
        bytes as f64 / rooms.max(1) as f64,
        bytes as f64 / written.max(1) as f64
    );
}
