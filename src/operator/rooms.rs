//! The events table as the operator reads it: one room's items ([`room_timeline`]), the rooms created on a
//! UTC day through the sparse index `rooms-by-day` ([`rooms_created_on`], [`room_summaries`]), the media
//! items whose callbacks arrived in a time range through the same index's `media#DAY` partitions
//! ([`media_between`]), the one-off migration that indexes rooms and media stored before the index existed
//! ([`index_rooms`]), and the replay of the media messages stored callbacks produce ([`replay`]).
//!
//! Nothing here scans the table except [`index_rooms`], which is run once, paced and resumable.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use time::{Date, OffsetDateTime};

use crate::aws::error::BackendError;
use crate::aws::queue::SqsMediaQueue;
use crate::message::MediaMessage;
use crate::operator::timeline::{self, ArchiveState, Entry, MediaKind, Timeline};
use crate::receiver::item::{
    media_index_keys, room_index_keys, MEDIA_DAY_PREFIX, ROOMS_INDEX, ROOM_DAY, ROOM_KEY,
};
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
    /// `replay --room` of a room the table holds nothing for.
    #[error(
        "table {table} holds nothing for {room}: check the SID (rooms --date DAY lists a day's rooms) \
         and the table (--table, EVENTS_TABLE or --stack)"
    )]
    NothingStored {
        /// The table.
        table: String,
        /// The room asked for.
        room: String,
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
    room_entries_paged(client, table, room, None).await
}

/// [`room_entries`] with at most `page_limit` items a page (DynamoDB's 1 MB pages when `None`).
pub async fn room_entries_paged(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    room: &str,
    page_limit: Option<i32>,
) -> Result<Vec<Entry>, TableError> {
    let mut entries = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :room")
            .expression_attribute_values(":room", AttributeValue::S(room.to_owned()))
            .set_limit(page_limit)
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
/// A room with two `room-created` items (two different callbacks) is listed once, at the earlier.
pub async fn rooms_created_on(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    day: Date,
    account: Option<&str>,
) -> Result<Vec<RoomRef>, TableError> {
    rooms_created_on_paged(client, table, day, account, None).await
}

/// [`rooms_created_on`] with at most `page_limit` index entries a page.
pub async fn rooms_created_on_paged(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    day: Date,
    account: Option<&str>,
    page_limit: Option<i32>,
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
            .set_limit(page_limit)
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
            return Ok(earliest_per_room(rooms));
        }
    }
}

/// One entry per room SID, the earliest created (then the smallest account), in the index's order
/// (account, created, room).
pub fn earliest_per_room(mut rooms: Vec<RoomRef>) -> Vec<RoomRef> {
    rooms.sort_by(|a, b| {
        (&a.created, &a.account_sid, &a.room_sid).cmp(&(&b.created, &b.account_sid, &b.room_sid))
    });
    let mut seen = HashSet::new();
    rooms.retain(|room| seen.insert(room.room_sid.clone()));
    rooms.sort();
    rooms
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

/// A media item (`recording-completed`, `composition-available`) found through the index's `media#DAY`
/// partitions: the table key to read it by, and its callback's time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct MediaRef {
    /// When its callback says it happened (UTC, RFC 3339 with milliseconds: the start of `sk`).
    pub timestamp: String,
    /// The item's partition (its room).
    pub pk: String,
    /// The item's sort key.
    pub sk: String,
}

/// The media items whose callback's `Timestamp` is at or after `since` and before `until` (of `account`
/// only when given), through the index: one Query of `media#DAY` per UTC day of the range, in time order.
/// Which room they belong to, and when it was created, does not matter.
pub async fn media_between(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    since: OffsetDateTime,
    until: OffsetDateTime,
    account: Option<&str>,
    page_limit: Option<i32>,
) -> Result<Vec<MediaRef>, TableError> {
    let mut found = Vec::new();
    for day in days(since, until) {
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut query = client
                .query()
                .table_name(table)
                .index_name(ROOMS_INDEX)
                .expression_attribute_names("#day", ROOM_DAY)
                .expression_attribute_values(
                    ":day",
                    AttributeValue::S(format!("{MEDIA_DAY_PREFIX}{day}")),
                )
                .set_limit(page_limit)
                .set_exclusive_start_key(start.take());
            query = match account {
                Some(account) => query
                    .key_condition_expression("#day = :day AND begins_with(#key, :account)")
                    .expression_attribute_names("#key", ROOM_KEY)
                    .expression_attribute_values(
                        ":account",
                        AttributeValue::S(format!("{account}#")),
                    ),
                None => query.key_condition_expression("#day = :day"),
            };
            let page = query
                .send()
                .await
                .map_err(dynamodb("Query (index)", table))?;
            for item in page.items() {
                let text = |name: &str| match item.get(name) {
                    Some(AttributeValue::S(value)) => Some(value.clone()),
                    _ => None,
                };
                let (Some(pk), Some(sk)) = (text("pk"), text("sk")) else {
                    continue;
                };
                let timestamp = sk.split('#').next().unwrap_or_default().to_owned();
                if timestamp::parse(&timestamp).is_some_and(|at| at >= since && at < until) {
                    found.push(MediaRef { timestamp, pk, sk });
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// The items `refs` name, read one GetItem each, in the order given; an item gone meanwhile (its TTL)
/// is left out.
pub async fn media_entries(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    refs: &[MediaRef],
) -> Result<Vec<Entry>, TableError> {
    let mut entries = Vec::with_capacity(refs.len());
    for media in refs {
        let read = client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(media.pk.clone()))
            .key("sk", AttributeValue::S(media.sk.clone()))
            .send()
            .await
            .map_err(dynamodb("GetItem", table))?;
        if let Some(item) = read.item {
            entries.push(Entry::from_item(item));
        }
    }
    Ok(entries)
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
    /// Most items scanned a second (each read item costs read capacity, matched or not); 0 or less:
    /// no pacing (the command line accepts only finite rates above 0).
    pub items_per_second: f64,
    /// Stop after this many pages (resume later with the printed key).
    pub max_pages: Option<u64>,
}

/// What `index-rooms` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexReport {
    /// Items the Scan read.
    pub scanned: u64,
    /// `room-created`, `recording-completed` and `composition-available` items given the index
    /// attributes now.
    pub indexed: u64,
    /// Of which media items (`recording-completed`, `composition-available`).
    pub media_indexed: u64,
    /// Items found indexed meanwhile (by the receiver or a concurrent run).
    pub already_indexed: u64,
    /// Items that cannot be indexed (no account, room or day, or a key over DynamoDB's limit).
    pub skipped: u64,
    /// Scan pages read.
    pub pages: u64,
    /// Where to resume (`--start-key`); `null` once the whole table was read.
    pub next_start_key: Option<String>,
}

/// The one-off migration: a Scan of the whole table (paced, resumable) for `room-created`,
/// `recording-completed` and `composition-available` items without the index attributes, each given them
/// by a conditional UpdateItem (never overwriting), exactly as the receiver writes them now. `on_page` is
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
            .filter_expression(
                "#event IN (:created, :recording, :composition) AND attribute_not_exists(#day)",
            )
            .projection_expression("pk, sk, account_sid, room_sid, #event")
            .expression_attribute_names("#event", "event")
            .expression_attribute_names("#day", ROOM_DAY)
            .expression_attribute_values(":created", AttributeValue::S("room-created".into()))
            .expression_attribute_values(
                ":recording",
                AttributeValue::S("recording-completed".into()),
            )
            .expression_attribute_values(
                ":composition",
                AttributeValue::S("composition-available".into()),
            )
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
            let is_media = text("event") != "room-created";
            let keys = if is_media {
                media_index_keys(text("account_sid"), text("sk"))
            } else {
                let created = text("sk").split('#').next().unwrap_or_default();
                room_index_keys(text("account_sid"), created, text("room_sid"))
            };
            let Some((day, key)) = keys else {
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
                Ok(_) => {
                    report.indexed += 1;
                    report.media_indexed += u64::from(is_media);
                }
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
            // A rate so small that the wait does not fit a Duration waits "forever" (tokio caps it).
            let due = Duration::try_from_secs_f64(report.scanned as f64 / plan.items_per_second)
                .unwrap_or(Duration::MAX);
            if let Some(wait) = due.checked_sub(began.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// What `replay` sent, or would send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// Rooms whose media items were read.
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
    /// This run's id: on a FIFO queue, the deduplication ids are `{idempotency_key}:replay:{run_id}`.
    pub run_id: String,
}

/// The messages the stored media callbacks of `entries` produce: exactly those the receiver sent, built
/// by the same function ([`StoredEvent::media_message`]) from the same item. Returns them and how many media
/// callbacks produce none.
pub fn media_messages(entries: &[Entry]) -> (Vec<MediaMessage>, usize) {
    let mut messages = Vec::new();
    let mut unbuildable = 0;
    for entry in entries {
        if let Entry::Callback(event) = entry {
            if event.event_kind().is_media() {
                match event.media_message() {
                    Some(message) => messages.push(message),
                    None => unbuildable += 1,
                }
            }
        }
    }
    (messages, unbuildable)
}

/// The rooms (partitions) of the media callbacks among `entries`.
pub fn media_rooms(entries: &[Entry]) -> usize {
    entries
        .iter()
        .filter_map(|entry| match entry {
            Entry::Callback(event) if event.event_kind().is_media() => Some(event.pk.as_str()),
            _ => None,
        })
        .collect::<BTreeSet<_>>()
        .len()
}

/// Sends again, through the receiver's own queue adapter, the media messages the stored media callbacks
/// among `entries` produce (none with `dry_run`, which only counts). `run_id` names this run: on a FIFO
/// queue it makes the deduplication ids differ from the receiver's
/// ([`crate::aws::queue::replay_deduplication_id`]), so SQS does not drop a replay sent within 5 minutes
/// of the original; bodies, attributes and idempotency keys are the receiver's.
pub async fn replay(
    queue: Option<&SqsMediaQueue>,
    rooms: usize,
    entries: &[Entry],
    dry_run: bool,
    run_id: &str,
) -> Result<ReplayReport, TableError> {
    let mut report = ReplayReport {
        rooms,
        dry_run,
        run_id: run_id.to_owned(),
        ..ReplayReport::default()
    };
    let (messages, unbuildable) = media_messages(entries);
    report.unbuildable = unbuildable;
    for message in messages {
        report.messages += 1;
        *report.by_event.entry(message.event.clone()).or_default() += 1;
        if let (Some(queue), false) = (queue, dry_run) {
            queue
                .send_replay(&message, run_id)
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
    Ok(report)
}

/// `replay --room`: the room's partition, or [`TableError::NothingStored`] when it is empty.
pub async fn replay_room(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    queue: Option<&SqsMediaQueue>,
    room: &str,
    dry_run: bool,
    run_id: &str,
) -> Result<ReplayReport, TableError> {
    let entries = room_entries(client, table, room).await?;
    if entries.is_empty() {
        return Err(TableError::NothingStored {
            table: table.to_owned(),
            room: room.to_owned(),
        });
    }
    replay(queue, 1, &entries, dry_run, run_id).await
}

/// `replay --since/--until`: the media items whose callbacks arrived in `[since, until)`
/// ([`media_between`]), each read and sent as the receiver sent it.
#[allow(clippy::too_many_arguments)]
pub async fn replay_between(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    queue: Option<&SqsMediaQueue>,
    since: OffsetDateTime,
    until: OffsetDateTime,
    account: Option<&str>,
    dry_run: bool,
    run_id: &str,
) -> Result<ReplayReport, TableError> {
    let refs = media_between(client, table, since, until, account, None).await?;
    let entries = media_entries(client, table, &refs).await?;
    replay(queue, media_rooms(&entries), &entries, dry_run, run_id).await
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

    fn room(account: &str, created: &str, sid: &str) -> RoomRef {
        RoomRef {
            account_sid: account.into(),
            created: created.into(),
            room_sid: sid.into(),
        }
    }

    #[test]
    fn a_room_with_two_room_created_items_is_listed_once_at_the_earlier() {
        let rooms = earliest_per_room(vec![
            room("AC1", "2026-11-27T09:00:05.000Z", "RM1"),
            room("AC1", "2026-11-27T08:00:00.000Z", "RM2"),
            room("AC1", "2026-11-27T09:00:00.000Z", "RM1"),
            room("AC1", "2026-11-27T09:00:00.000Z", "RM1"),
        ]);
        assert_eq!(
            rooms,
            [
                room("AC1", "2026-11-27T08:00:00.000Z", "RM2"),
                room("AC1", "2026-11-27T09:00:00.000Z", "RM1"),
            ]
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
