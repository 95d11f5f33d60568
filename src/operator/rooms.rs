//! The events table as the operator reads it: one room's items ([`room_timeline`]), the rooms created on a
//! UTC day through the sparse index `rooms-by-day` ([`rooms_created_on`], [`room_summaries`]), the one-off
//! migration that indexes rooms stored before the index existed ([`index_rooms`]), and the replay of the
//! media messages stored callbacks produce ([`replay`]).
//!
//! Nothing here scans the table except [`index_rooms`], which is run once, paced and resumable.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use time::{Date, OffsetDateTime};

use crate::aws::error::BackendError;
use crate::aws::queue::{MediaQueue, SqsMediaQueue};
use crate::message::MediaMessage;
use crate::operator::timeline::{self, ArchiveState, Entry, MediaKind, Timeline};
use crate::receiver::item::{room_index_keys, ROOMS_INDEX, ROOM_DAY, ROOM_KEY};
use crate::twilio::timestamp;

/// Why a read, the migration or a replay could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// A DynamoDB call failed.
    #[error("DynamoDB {call} on table {table} failed: {detail}")]
    DynamoDb {
        /// Which call.
        call: &'static str,
        /// The table.
        table: String,
        /// What the SDK reported.
        detail: String,
    },
    /// The table has no rooms index.
    #[error(
        "table {table} has no index {ROOMS_INDEX}: deploy the template that adds it (or create it \
         locally: scripts/local_aws.py create), then run `index-rooms` once for the rooms stored before it"
    )]
    NoIndex {
        /// The table.
        table: String,
    },
    /// The resume key given to `index-rooms` is not one it printed.
    #[error("--start-key {0:?} is not a key index-rooms printed (expected {{\"pk\":\"...\",\"sk\":\"...\"}})")]
    StartKey(String),
    /// A media message could not be sent; those before it were.
    #[error("sending the media message of {sid} failed after {sent} were sent: {source}")]
    Send {
        /// The recording or composition.
        sid: String,
        /// Messages sent before it.
        sent: usize,
        /// Why.
        source: BackendError,
    },
}

fn dynamodb<'t, E, R>(
    call: &'static str,
    table: &'t str,
) -> impl FnOnce(aws_sdk_dynamodb::error::SdkError<E, R>) -> TableError + 't
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |err| {
        let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string();
        // DynamoDB: "The table does not have the specified index"; moto: "Invalid index".
        if call == "Query (index)"
            && (detail.contains("specified index") || detail.contains("Invalid index"))
        {
            TableError::NoIndex {
                table: table.to_owned(),
            }
        } else {
            TableError::DynamoDb {
                call,
                table: table.to_owned(),
                detail,
            }
        }
    }
}

/// Every item of `room`'s partition, read (one Query, paginated), in time order.
pub async fn room_entries(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    room: &str,
) -> Result<Vec<Entry>, TableError> {
    let mut entries = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :room")
            .expression_attribute_values(":room", AttributeValue::S(room.to_owned()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(dynamodb("Query", table))?;
        entries.extend(page.items().iter().cloned().map(Entry::from_item));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(entries);
        }
    }
}

/// The story of `room`.
pub async fn room_timeline(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    room: &str,
) -> Result<Timeline, TableError> {
    Ok(timeline::build(
        room,
        room_entries(client, table, room).await?,
    ))
}

/// A room found through the index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RoomRef {
    /// `AccountSid`.
    pub account_sid: String,
    /// When it was created (UTC, RFC 3339 with milliseconds).
    pub created: String,
    /// `RoomSid`.
    pub room_sid: String,
}

/// Reads a `room_key` (`{account}#{created}#{room}`).
pub fn parse_room_key(key: &str) -> Option<RoomRef> {
    let mut parts = key.splitn(3, '#');
    let (account_sid, created, room_sid) = (parts.next()?, parts.next()?, parts.next()?);
    if account_sid.is_empty() || room_sid.is_empty() || timestamp::parse(created).is_none() {
        return None;
    }
    Some(RoomRef {
        account_sid: account_sid.to_owned(),
        created: created.to_owned(),
        room_sid: room_sid.to_owned(),
    })
}

/// The rooms created on `day` (UTC), of `account` only when given: one Query of the index (a key
/// condition on the day, and on the account's prefix of the sort key), in order of creation per account.
pub async fn rooms_created_on(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    day: Date,
    account: Option<&str>,
) -> Result<Vec<RoomRef>, TableError> {
    let mut rooms = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let mut query = client
            .query()
            .table_name(table)
            .index_name(ROOMS_INDEX)
            .expression_attribute_names("#day", ROOM_DAY)
            .expression_attribute_values(":day", AttributeValue::S(day.to_string()))
            .set_exclusive_start_key(start.take());
        query = match account {
            Some(account) => query
                .key_condition_expression("#day = :day AND begins_with(#key, :account)")
                .expression_attribute_names("#key", ROOM_KEY)
                .expression_attribute_values(":account", AttributeValue::S(format!("{account}#"))),
            None => query.key_condition_expression("#day = :day"),
        };
        let page = query
            .send()
            .await
            .map_err(dynamodb("Query (index)", table))?;
        for item in page.items() {
            if let Some(room) = match item.get(ROOM_KEY) {
                Some(AttributeValue::S(key)) => parse_room_key(key),
                _ => None,
            } {
                rooms.push(room);
            }
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            rooms.sort();
            rooms.dedup();
            return Ok(rooms);
        }
    }
}

/// The UTC days from `since`'s to the day of the last instant before `until`.
pub fn days(since: OffsetDateTime, until: OffsetDateTime) -> Vec<Date> {
    let mut days = Vec::new();
    if until <= since {
        return days;
    }
    let last = (until - time::Duration::nanoseconds(1)).date();
    let mut day = since.date();
    while day <= last {
        days.push(day);
        match day.next_day() {
            Some(next) => day = next,
            None => break,
        }
    }
    days
}

/// The rooms created at or after `since` and before `until`, through the index (one Query per day).
pub async fn rooms_created_between(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    since: OffsetDateTime,
    until: OffsetDateTime,
    account: Option<&str>,
) -> Result<Vec<RoomRef>, TableError> {
    let mut rooms = Vec::new();
    for day in days(since, until) {
        for room in rooms_created_on(client, table, day, account).await? {
            if timestamp::parse(&room.created).is_some_and(|at| at >= since && at < until) {
                rooms.push(room);
            }
        }
    }
    Ok(rooms)
}

/// One room of `rooms --date`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomSummary {
    /// `RoomSid`.
    pub room_sid: String,
    /// `AccountSid`.
    pub account_sid: String,
    /// `RoomName`.
    pub name: Option<String>,
    /// `room-created` (UTC).
    pub created: String,
    /// `room-ended` (UTC), when it has ended.
    pub ended: Option<String>,
    /// `RoomDuration`, else ended minus created, in seconds.
    pub duration_seconds: Option<u64>,
    /// Distinct participant identities.
    pub participants: usize,
    /// Recordings seen in its callbacks.
    pub recordings: usize,
    /// Compositions seen in its callbacks.
    pub compositions: usize,
    /// Recordings and compositions with a `media-archived` outcome.
    pub archived: usize,
    /// ... with a `media-archive-failed` outcome.
    pub archive_failed: usize,
    /// Malformed, spilled or unreadable items.
    pub marked: usize,
}

/// A room's line in `rooms`, from its story.
pub fn summarize(room: &RoomRef, timeline: &Timeline) -> RoomSummary {
    let duration_seconds = timeline
        .room_duration
        .or_else(|| u64::try_from((timeline.ended? - timeline.created?).whole_seconds()).ok());
    RoomSummary {
        room_sid: room.room_sid.clone(),
        account_sid: room.account_sid.clone(),
        name: timeline.room_name.clone(),
        created: timeline
            .created
            .map(timestamp::format)
            .unwrap_or_else(|| room.created.clone()),
        ended: timeline.ended.map(timestamp::format),
        duration_seconds,
        participants: timeline.lanes.len(),
        recordings: timeline.count(MediaKind::Recording),
        compositions: timeline.count(MediaKind::Composition),
        archived: timeline.archived(),
        archive_failed: timeline
            .media
            .iter()
            .filter(|m| matches!(m.archive, ArchiveState::Failed { .. }))
            .count(),
        marked: timeline.flags.len(),
    }
}

/// The rooms created on `day` (of `account` when given), each summarized from its timeline (eight
/// timelines read at a time).
pub async fn room_summaries(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    day: Date,
    account: Option<&str>,
) -> Result<Vec<RoomSummary>, TableError> {
    let rooms = rooms_created_on(client, table, day, account).await?;
    let mut summaries = Vec::with_capacity(rooms.len());
    for chunk in rooms.chunks(8) {
        let mut reads = tokio::task::JoinSet::new();
        for (n, room) in chunk.iter().enumerate() {
            let (client, table, sid) = (client.clone(), table.to_owned(), room.room_sid.clone());
            reads.spawn(async move { (n, room_timeline(&client, &table, &sid).await) });
        }
        let mut read: Vec<(usize, Timeline)> = Vec::with_capacity(chunk.len());
        while let Some(joined) = reads.join_next().await {
            let (n, timeline) = joined.map_err(|err| TableError::DynamoDb {
                call: "Query",
                table: table.to_owned(),
                detail: err.to_string(),
            })?;
            read.push((n, timeline?));
        }
        read.sort_by_key(|(n, _)| *n);
        summaries.extend(read.iter().map(|(n, t)| summarize(&chunk[*n], t)));
    }
    summaries.sort_by(|a, b| (&a.created, &a.room_sid).cmp(&(&b.created, &b.room_sid)));
    Ok(summaries)
}

/// The text `index-rooms` prints for a scan position, and reads back with `--start-key`.
pub fn encode_start_key(key: &HashMap<String, AttributeValue>) -> Option<String> {
    let text = |name: &str| match key.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    serde_json::to_string(&BTreeMap::from([("pk", text("pk")?), ("sk", text("sk")?)])).ok()
}

/// Reads a key [`encode_start_key`] printed.
pub fn decode_start_key(text: &str) -> Result<HashMap<String, AttributeValue>, TableError> {
    let key: BTreeMap<String, String> =
        serde_json::from_str(text).map_err(|_| TableError::StartKey(text.to_owned()))?;
    match (key.get("pk"), key.get("sk"), key.len()) {
        (Some(pk), Some(sk), 2) => Ok(HashMap::from([
            ("pk".to_owned(), AttributeValue::S(pk.clone())),
            ("sk".to_owned(), AttributeValue::S(sk.clone())),
        ])),
        _ => Err(TableError::StartKey(text.to_owned())),
    }
}

/// How `index-rooms` is paced and where it starts.
#[derive(Debug, Clone)]
pub struct IndexPlan {
    /// A key it printed before: resume after it.
    pub start_key: Option<String>,
    /// Items read per Scan page.
    pub page_size: i32,
    /// Most items scanned a second (each read item costs read capacity, matched or not).
    pub items_per_second: f64,
    /// Stop after this many pages (resume later with the printed key).
    pub max_pages: Option<u64>,
}

/// What `index-rooms` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexReport {
    /// Items the Scan read.
    pub scanned: u64,
    /// `room-created` items given the index attributes now.
    pub indexed: u64,
    /// `room-created` items found indexed meanwhile (by the receiver or a concurrent run).
    pub already_indexed: u64,
    /// `room-created` items that cannot be indexed (no account, room or day).
    pub skipped: u64,
    /// Scan pages read.
    pub pages: u64,
    /// Where to resume (`--start-key`); `null` once the whole table was read.
    pub next_start_key: Option<String>,
}

/// The one-off migration: a Scan of the whole table (paced, resumable) for `room-created` items without
/// the index attributes, each given them by a conditional UpdateItem (never overwriting). `on_page` is
/// told after every page, with the key to resume from.
pub async fn index_rooms(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    plan: &IndexPlan,
    mut on_page: impl FnMut(&IndexReport),
) -> Result<IndexReport, TableError> {
    let mut start = plan
        .start_key
        .as_deref()
        .map(decode_start_key)
        .transpose()?;
    let mut report = IndexReport::default();
    let began = Instant::now();
    loop {
        let page = client
            .scan()
            .table_name(table)
            .limit(plan.page_size.max(1))
            .filter_expression("#event = :created AND attribute_not_exists(#day)")
            .projection_expression("pk, sk, account_sid, room_sid")
            .expression_attribute_names("#event", "event")
            .expression_attribute_names("#day", ROOM_DAY)
            .expression_attribute_values(":created", AttributeValue::S("room-created".into()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(dynamodb("Scan", table))?;
        report.pages += 1;
        report.scanned += u64::try_from(page.scanned_count()).unwrap_or_default();
        for item in page.items() {
            let text = |name: &str| match item.get(name) {
                Some(AttributeValue::S(value)) => value.as_str(),
                _ => "",
            };
            let created = text("sk").split('#').next().unwrap_or_default();
            let Some((day, key)) = room_index_keys(text("account_sid"), created, text("room_sid"))
            else {
                report.skipped += 1;
                continue;
            };
            let updated = client
                .update_item()
                .table_name(table)
                .key("pk", AttributeValue::S(text("pk").to_owned()))
                .key("sk", AttributeValue::S(text("sk").to_owned()))
                .update_expression("SET #day = :day, #key = :key")
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(#day)")
                .expression_attribute_names("#day", ROOM_DAY)
                .expression_attribute_names("#key", ROOM_KEY)
                .expression_attribute_values(":day", AttributeValue::S(day))
                .expression_attribute_values(":key", AttributeValue::S(key))
                .send()
                .await;
            match updated {
                Ok(_) => report.indexed += 1,
                Err(err)
                    if matches!(
                        err.as_service_error(),
                        Some(UpdateItemError::ConditionalCheckFailedException(_))
                    ) =>
                {
                    report.already_indexed += 1
                }
                Err(err) => return Err(dynamodb("UpdateItem", table)(err)),
            }
        }
        start = page.last_evaluated_key().cloned();
        report.next_start_key = start.as_ref().and_then(encode_start_key);
        on_page(&report);
        if start.is_none() || plan.max_pages.is_some_and(|max| report.pages >= max) {
            return Ok(report);
        }
        if plan.items_per_second > 0.0 {
            let due = Duration::from_secs_f64(report.scanned as f64 / plan.items_per_second);
            if let Some(wait) = due.checked_sub(began.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// What `replay` sent, or would send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// Rooms read.
    pub rooms: usize,
    /// Messages built from stored `recording-completed` and `composition-available` items.
    pub messages: usize,
    /// Of which sent now (0 with `--dry-run`).
    pub sent: usize,
    /// Per event.
    pub by_event: BTreeMap<String, usize>,
    /// Stored media callbacks that carry too little for a message (the receiver sent none for them).
    pub unbuildable: usize,
    /// Whether nothing was sent.
    pub dry_run: bool,
}

/// The messages the stored media callbacks of `entries` produce: exactly those the receiver sent, built
/// by the same function ([`MediaMessage::for_item`]) from the same item. Returns them and how many media
/// callbacks produce none.
pub fn media_messages(entries: &[Entry]) -> (Vec<MediaMessage>, usize) {
    let mut messages = Vec::new();
    let mut unbuildable = 0;
    for entry in entries {
        if let Entry::Callback(event) = entry {
            if event.event_kind().is_media() {
                match MediaMessage::for_item(event) {
                    Some(message) => messages.push(message),
                    None => unbuildable += 1,
                }
            }
        }
    }
    (messages, unbuildable)
}

/// Sends again, through the receiver's own queue adapter, the media messages of every room in `rooms`
/// (none with `dry_run`, which only counts).
pub async fn replay(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    queue: Option<&SqsMediaQueue>,
    rooms: &[String],
    dry_run: bool,
) -> Result<ReplayReport, TableError> {
    let mut report = ReplayReport {
        dry_run,
        ..ReplayReport::default()
    };
    for room in rooms {
        let entries = room_entries(client, table, room).await?;
        let (messages, unbuildable) = media_messages(&entries);
        report.rooms += 1;
        report.unbuildable += unbuildable;
        for message in messages {
            report.messages += 1;
            *report.by_event.entry(message.event.clone()).or_default() += 1;
            if let (Some(queue), false) = (queue, dry_run) {
                queue
                    .send(&message)
                    .await
                    .map_err(|source| TableError::Send {
                        sid: message
                            .recording_sid
                            .clone()
                            .or(message.composition_sid.clone())
                            .unwrap_or_default(),
                        sent: report.sent,
                        source,
                    })?;
                report.sent += 1;
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> OffsetDateTime {
        timestamp::parse(text).unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn room_keys_read_back_and_reject_what_is_not_one() {
        assert_eq!(
            parse_room_key("AC1#2026-11-27T09:00:00.000Z#RM1"),
            Some(RoomRef {
                account_sid: "AC1".into(),
                created: "2026-11-27T09:00:00.000Z".into(),
                room_sid: "RM1".into()
            })
        );
        assert_eq!(parse_room_key("AC1#not-a-time#RM1"), None);
        assert_eq!(parse_room_key("AC1#2026-11-27T09:00:00.000Z"), None);
        assert_eq!(parse_room_key("#2026-11-27T09:00:00.000Z#RM1"), None);
    }

    #[test]
    fn days_cover_the_range_and_stop_before_until() {
        let d = |text: &str| days(at(text), at("2026-11-28T00:00:00Z"));
        assert_eq!(
            d("2026-11-26T23:59:59Z")
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["2026-11-26", "2026-11-27"]
        );
        assert!(days(at("2026-11-28T00:00:00Z"), at("2026-11-28T00:00:00Z")).is_empty());
        assert_eq!(
            days(at("2026-11-28T00:00:00Z"), at("2026-11-28T00:00:00.001Z")).len(),
            1
        );
    }

    #[test]
    fn start_keys_round_trip_and_bad_ones_are_refused() {
        let key = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("RM1".into())),
            (
                "sk".to_owned(),
                AttributeValue::S("2026#room-created#ab".into()),
            ),
        ]);
        let text = encode_start_key(&key).unwrap_or_else(|| panic!("encodes"));
        assert_eq!(text, r#"{"pk":"RM1","sk":"2026#room-created#ab"}"#);
        assert_eq!(decode_start_key(&text).ok(), Some(key));
        for bad in [
            "",
            "RM1",
            r#"{"pk":"RM1"}"#,
            r#"{"pk":"a","sk":"b","x":"c"}"#,
        ] {
            assert!(
                matches!(decode_start_key(bad), Err(TableError::StartKey(_))),
                "{bad}"
            );
        }
    }
}
