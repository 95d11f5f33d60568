//! A room's story, from the items of its timeline partition: pure functions from the items (as the table
//! holds them) to a model ([`Timeline`]), and from the model to a terminal table ([`table`]), JSON lines
//! (the [`Row`]s) and one self-contained HTML page with an inline SVG drawing ([`html`]).
//!
//! The page makes no network request: no script, stylesheet, font or image is referenced, and a
//! Content-Security-Policy of `default-src 'none'` says so to the browser. Every text from the table
//! (room names and identities are chosen by the customer's users) is escaped.

use std::collections::HashMap;
use std::fmt::Write as _;

use aws_sdk_dynamodb::types::AttributeValue;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde::Serialize;
use time::OffsetDateTime;

use crate::archiver::rules::ArchiveRecord;
use crate::receiver::item::StoredEvent;
use crate::twilio::callback::EventKind;
use crate::twilio::timestamp;

/// The event of the record `prune` writes when it deletes a file at Twilio.
pub const DELETED_AT_TWILIO: &str = "media-deleted-at-twilio";

/// One item of a room's partition, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A callback the receiver stored.
    Callback(Box<StoredEvent>),
    /// An outcome the archiver (or `prune`) recorded: `media-archived`, `media-archive-failed`,
    /// `media-deleted-at-twilio`.
    Outcome(Box<ArchiveRecord>),
    /// An item that is neither (its `sk`, `event` and why it could not be read): shown, marked.
    Unreadable {
        /// Its sort key.
        sk: String,
        /// Its `event` attribute, if any.
        event: String,
        /// Why it could not be read.
        error: String,
    },
}

impl Entry {
    /// Reads one item as the table holds it.
    pub fn from_item(item: HashMap<String, AttributeValue>) -> Entry {
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(value)) => value.clone(),
            _ => String::new(),
        };
        let (sk, event) = (text("sk"), text("event"));
        let read = if matches!(
            event.as_str(),
            "media-archived" | "media-archive-failed" | DELETED_AT_TWILIO
        ) {
            serde_dynamo::from_item::<_, ArchiveRecord>(item)
                .map(|record| Entry::Outcome(Box::new(record)))
        } else {
            serde_dynamo::from_item::<_, StoredEvent>(item)
                .map(|event| Entry::Callback(Box::new(event)))
        };
        read.unwrap_or_else(|err| Entry::Unreadable {
            sk,
            event,
            error: err.to_string(),
        })
    }

    fn sk(&self) -> &str {
        match self {
            Entry::Callback(event) => &event.sk,
            Entry::Outcome(record) => &record.sk,
            Entry::Unreadable { sk, .. } => sk,
        }
    }

    /// The story's order: by time (the start of the sort key); at equal times, callbacks (and unreadable
    /// items) before archive outcomes, which resolve a callback and so come after it; then by sort key.
    fn order(&self) -> (&str, bool, &str) {
        let sk = self.sk();
        (
            sk.split('#').next().unwrap_or_default(),
            matches!(self, Entry::Outcome(_)),
            sk,
        )
    }
}

/// Where a media file's archive stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ArchiveState {
    /// No outcome recorded (yet).
    None,
    /// `media-archived`.
    Archived {
        /// `copied`, `already_archived` or `external`.
        how: String,
        /// Where it is.
        uri: String,
    },
    /// `media-archive-failed`.
    Failed {
        /// Why.
        reason: String,
    },
}

impl ArchiveState {
    /// One word for classes and JSON: `none`, `archived`, `failed`.
    pub fn word(&self) -> &'static str {
        match self {
            ArchiveState::None => "none",
            ArchiveState::Archived { .. } => "archived",
            ArchiveState::Failed { .. } => "failed",
        }
    }
}

/// A recording or a composition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// `RT...`.
    Recording,
    /// `CJ...`.
    Composition,
}

/// One recording or composition, from its first callback to its last, with its archive outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Media {
    /// Recording or composition SID.
    pub sid: String,
    /// Which kind.
    pub kind: MediaKind,
    /// The lane (participant) of a recording, when known.
    #[serde(skip)]
    pub lane: Option<usize>,
    /// The recorded track's name, kind and codec (recordings).
    pub track: Option<String>,
    /// `recording-started` or `composition-enqueued` (else the first callback seen).
    #[serde(with = "time_opt")]
    pub started: Option<OffsetDateTime>,
    /// `recording-completed`/`-failed`, `composition-available`/`-failed`.
    #[serde(with = "time_opt")]
    pub finished: Option<OffsetDateTime>,
    /// The last status: `started`, `completed`, `failed`, `enqueued`, `processing`, `available`.
    pub status: String,
    /// Bytes.
    pub size: Option<u64>,
    /// Seconds.
    pub duration: Option<u64>,
    /// The last `PercentageDone` (compositions).
    pub progress: Option<u64>,
    /// Why it failed at Twilio.
    pub error: Option<String>,
    /// Its archive outcome.
    pub archive: ArchiveState,
    /// Whether `prune` deleted it at Twilio (the archive holds it).
    pub deleted_at_twilio: bool,
}

/// A span a participant was connected; an end is `None` when its callback is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// `participant-connected`.
    pub from: Option<OffsetDateTime>,
    /// `participant-disconnected`.
    pub to: Option<OffsetDateTime>,
}

/// A track event on a participant's lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackMark {
    /// When.
    pub at: OffsetDateTime,
    /// `track-added`, `track-removed`, `track-enabled`, `track-disabled`.
    pub event: String,
    /// `MT...`, with its kind.
    pub track: String,
}

/// One participant (by identity: a reconnect is a new participant SID with the same identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// `ParticipantIdentity`, else the participant SID.
    pub identity: String,
    /// Every participant SID seen for it.
    pub participant_sids: Vec<String>,
    /// When it was connected.
    pub spans: Vec<Span>,
    /// Its track events.
    pub tracks: Vec<TrackMark>,
}

/// A callback shown marked: malformed, spilled, or unreadable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// When (its sort key's time).
    #[serde(with = "time_opt")]
    pub at: Option<OffsetDateTime>,
    /// Its event.
    pub event: String,
    /// `malformed`, `spilled` or `unreadable`.
    pub kind: &'static str,
    /// The parse error, the spill reason, or the read error.
    pub detail: String,
}

/// One line of the story: what the terminal table and `--json` show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The item's time (its sort key's, UTC).
    pub time: String,
    /// The event.
    pub event: String,
    /// The participant's identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant: Option<String>,
    /// The track, recording or composition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Key facts: sizes, durations, statuses, errors.
    pub facts: String,
    /// For a media event: where its archive stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// `malformed: ...`, `spilled: ...`, `unreadable: ...`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<String>,
}

/// A room's story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// The partition read.
    pub room_sid: String,
    /// `RoomName`, from any callback that carries it.
    pub room_name: Option<String>,
    /// `AccountSid`.
    pub account_sid: Option<String>,
    /// `room-created`.
    pub created: Option<OffsetDateTime>,
    /// `room-ended`.
    pub ended: Option<OffsetDateTime>,
    /// `RoomDuration`, seconds.
    pub room_duration: Option<u64>,
    /// One per participant identity, in order of first appearance.
    pub lanes: Vec<Lane>,
    /// Recordings and compositions, in order of first appearance.
    pub media: Vec<Media>,
    /// Marked callbacks.
    pub flags: Vec<Flag>,
    /// Every item, in time order.
    pub rows: Vec<Row>,
}

mod time_opt {
    pub fn serialize<S: serde::Serializer>(
        time: &Option<time::OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => serializer.serialize_str(&crate::twilio::timestamp::format(*time)),
            None => serializer.serialize_none(),
        }
    }
}

/// The time at the start of a sort key (`{timestamp}#...`).
fn sk_time(sk: &str) -> Option<OffsetDateTime> {
    timestamp::parse(sk.split('#').next().unwrap_or_default())
}

/// `48.2 MB`.
pub fn bytes(size: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = size as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{size} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `1h 02m 03s`, `14m 53s`, `7s`.
pub fn seconds(total: u64) -> String {
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m {s:02}s"),
    }
}

fn media_index(
    media: &mut Vec<Media>,
    by_sid: &mut HashMap<String, usize>,
    sid: &str,
    kind: MediaKind,
) -> usize {
    if let Some(n) = by_sid.get(sid) {
        return *n;
    }
    media.push(Media {
        sid: sid.to_owned(),
        kind,
        lane: None,
        track: None,
        started: None,
        finished: None,
        status: String::new(),
        size: None,
        duration: None,
        progress: None,
        error: None,
        archive: ArchiveState::None,
        deleted_at_twilio: false,
    });
    by_sid.insert(sid.to_owned(), media.len() - 1);
    media.len() - 1
}

/// The story of `room_sid` from the items of its partition, in any order (sorted here by time, an
/// archive outcome after the callbacks of its time).
pub fn build(room_sid: &str, mut entries: Vec<Entry>) -> Timeline {
    entries.sort_by(|a, b| a.order().cmp(&b.order()));
    let mut timeline = Timeline {
        room_sid: room_sid.to_owned(),
        room_name: None,
        account_sid: None,
        created: None,
        ended: None,
        room_duration: None,
        lanes: Vec::new(),
        media: Vec::new(),
        flags: Vec::new(),
        rows: Vec::new(),
    };
    // Identities first, so a recording whose callback carries only the participant SID finds its lane.
    let mut identity_of: HashMap<String, String> = HashMap::new();
    for entry in &entries {
        if let Entry::Callback(event) = entry {
            if let (Some(sid), Some(identity)) = (
                &event.fields.participant_sid,
                &event.fields.participant_identity,
            ) {
                identity_of
                    .entry(sid.clone())
                    .or_insert_with(|| identity.clone());
            }
        }
    }
    let mut lane_of: HashMap<String, usize> = HashMap::new();
    let mut media_of: HashMap<String, usize> = HashMap::new();
    for entry in &entries {
        match entry {
            Entry::Callback(event) => {
                let lane = participant_lane(&mut timeline, &mut lane_of, &identity_of, event);
                apply(&mut timeline, &mut media_of, lane, event);
            }
            Entry::Outcome(record) => {
                let kind = if record.media_sid.starts_with("CJ") {
                    MediaKind::Composition
                } else {
                    MediaKind::Recording
                };
                let n = media_index(&mut timeline.media, &mut media_of, &record.media_sid, kind);
                let media = &mut timeline.media[n];
                let mut facts = Vec::new();
                match record.event.as_str() {
                    "media-archived" => {
                        let uri = record.s3_uri.clone().unwrap_or_default();
                        media.archive = ArchiveState::Archived {
                            how: record.how.clone().unwrap_or_default(),
                            uri: uri.clone(),
                        };
                        facts.push(format!(
                            "{} to {uri}",
                            record.how.as_deref().unwrap_or("archived")
                        ));
                    }
                    "media-archive-failed" => {
                        let reason = record.reason.clone().unwrap_or_default();
                        media.archive = ArchiveState::Failed {
                            reason: reason.clone(),
                        };
                        facts.push(reason);
                    }
                    _ => {
                        media.deleted_at_twilio = true;
                        facts.push(format!(
                            "the archive holds it at {}",
                            record.s3_uri.as_deref().unwrap_or("?")
                        ));
                    }
                }
                if let Some(size) = record.size {
                    facts.push(bytes(size));
                }
                facts.push(format!("at {}", record.archived_at));
                if let Some(n) = record.confirmations {
                    facts.push(format!("confirmed {n} more time(s)"));
                }
                timeline.rows.push(Row {
                    time: record.sk.split('#').next().unwrap_or_default().to_owned(),
                    event: record.event.clone(),
                    participant: None,
                    subject: Some(record.media_sid.clone()),
                    facts: facts.join(", "),
                    archive: None,
                    marks: Vec::new(),
                });
            }
            Entry::Unreadable { sk, event, error } => {
                timeline.flags.push(Flag {
                    at: sk_time(sk),
                    event: event.clone(),
                    kind: "unreadable",
                    detail: error.clone(),
                });
                timeline.rows.push(Row {
                    time: sk.split('#').next().unwrap_or_default().to_owned(),
                    event: event.clone(),
                    participant: None,
                    subject: None,
                    facts: String::new(),
                    archive: None,
                    marks: vec![format!("unreadable: {error}")],
                });
            }
        }
    }
    // The archive column of each media event, now that every outcome is known.
    for row in &mut timeline.rows {
        if matches!(
            row.event.as_str(),
            "recording-completed" | "composition-available"
        ) {
            if let Some(media) = row
                .subject
                .as_deref()
                .and_then(|sid| media_of.get(sid))
                .map(|n| &timeline.media[*n])
            {
                row.archive = Some(archive_text(media));
            }
        }
    }
    timeline
}

fn archive_text(media: &Media) -> String {
    let mut text = match &media.archive {
        ArchiveState::None => "not archived (no outcome recorded)".to_owned(),
        ArchiveState::Archived { how, uri } => format!("archived ({how}): {uri}"),
        ArchiveState::Failed { reason } => format!("archive failed: {reason}"),
    };
    if media.deleted_at_twilio {
        text.push_str("; deleted at Twilio");
    }
    text
}

fn participant_lane(
    timeline: &mut Timeline,
    lane_of: &mut HashMap<String, usize>,
    identity_of: &HashMap<String, String>,
    event: &StoredEvent,
) -> Option<usize> {
    let fields = &event.fields;
    let sid = fields.participant_sid.as_deref();
    let identity = fields
        .participant_identity
        .clone()
        .or_else(|| sid.and_then(|sid| identity_of.get(sid).cloned()))
        .or_else(|| sid.map(str::to_owned))?;
    let n = match lane_of.get(&identity) {
        Some(n) => *n,
        None => {
            timeline.lanes.push(Lane {
                identity: identity.clone(),
                participant_sids: Vec::new(),
                spans: Vec::new(),
                tracks: Vec::new(),
            });
            lane_of.insert(identity, timeline.lanes.len() - 1);
            timeline.lanes.len() - 1
        }
    };
    if let Some(sid) = sid {
        let sids = &mut timeline.lanes[n].participant_sids;
        if !sids.iter().any(|s| s == sid) {
            sids.push(sid.to_owned());
        }
    }
    Some(n)
}

fn apply(
    timeline: &mut Timeline,
    media_of: &mut HashMap<String, usize>,
    lane: Option<usize>,
    event: &StoredEvent,
) {
    let fields = &event.fields;
    let at = fields.timestamp;
    let kind = event.event_kind();
    if timeline.room_name.is_none() {
        timeline.room_name = fields.room_name.clone();
    }
    if timeline.account_sid.is_none() && !fields.account_sid.is_empty() {
        timeline.account_sid = Some(fields.account_sid.clone());
    }
    let mut facts: Vec<String> = Vec::new();
    let mut subject = None;
    let track_text = || {
        let mut text = fields.track_sid.clone().unwrap_or_default();
        if let Some(kind) = &fields.track_kind {
            text = format!("{} {text}", kind.as_str());
        }
        text
    };
    match kind {
        EventKind::RoomCreated => {
            timeline.created.get_or_insert(at);
            if let Some(kind) = &fields.room_type {
                facts.push(format!("type {}", kind.as_str()));
            }
        }
        EventKind::RoomEnded => {
            timeline.ended = Some(at);
            timeline.room_duration = fields.room_duration.or(timeline.room_duration);
        }
        EventKind::ParticipantConnected => {
            if let Some(lane) = lane {
                timeline.lanes[lane].spans.push(Span {
                    from: Some(at),
                    to: None,
                });
            }
        }
        EventKind::ParticipantDisconnected => {
            if let Some(lane) = lane {
                let spans = &mut timeline.lanes[lane].spans;
                match spans.iter_mut().rev().find(|s| s.to.is_none()) {
                    Some(open) => open.to = Some(at),
                    None => spans.push(Span {
                        from: None,
                        to: Some(at),
                    }),
                }
            }
            if let Some(d) = fields.participant_duration {
                facts.push(format!("connected {}", seconds(d)));
            }
        }
        EventKind::TrackAdded
        | EventKind::TrackRemoved
        | EventKind::TrackEnabled
        | EventKind::TrackDisabled => {
            subject = Some(track_text());
            if let Some(lane) = lane {
                timeline.lanes[lane].tracks.push(TrackMark {
                    at,
                    event: event.event.clone(),
                    track: track_text(),
                });
            }
        }
        EventKind::RecordingStarted
        | EventKind::RecordingCompleted
        | EventKind::RecordingFailed => {
            let sid = fields.recording_sid.clone().unwrap_or_default();
            subject = Some(sid.clone());
            if !sid.is_empty() {
                let n = media_index(&mut timeline.media, media_of, &sid, MediaKind::Recording);
                let media = &mut timeline.media[n];
                media.lane = media.lane.or(lane);
                let mut track = Vec::new();
                track.extend(fields.track_name.clone());
                track.extend(fields.media_type.as_ref().map(|t| t.as_str().to_owned()));
                track.extend(fields.codec.as_ref().map(|c| c.as_str().to_owned()));
                if !track.is_empty() {
                    media.track = Some(track.join(" "));
                }
                match kind {
                    EventKind::RecordingStarted => {
                        media.started = Some(at);
                        media.status = "started".into();
                    }
                    EventKind::RecordingCompleted => {
                        media.finished = Some(at);
                        media.status = "completed".into();
                    }
                    _ => {
                        media.finished = Some(at);
                        media.status = "failed".into();
                        media.error = fields.error_message.clone();
                    }
                }
                media.size = fields.size.or(media.size);
                media.duration = fields.duration.or(media.duration);
                if let Some(track) = &media.track {
                    facts.push(track.clone());
                }
            }
        }
        EventKind::CompositionEnqueued
        | EventKind::CompositionHookFailed
        | EventKind::CompositionStarted
        | EventKind::CompositionAvailable
        | EventKind::CompositionProgress
        | EventKind::CompositionFailed => {
            // A hook that failed to create a composition names only the hook: a row, not a composition.
            let sid = fields.composition_sid.clone().unwrap_or_default();
            subject = Some(sid.clone())
                .filter(|sid| !sid.is_empty())
                .or_else(|| fields.hook_sid.as_ref().map(|hook| format!("hook {hook}")));
            if let Some(hook) = &fields.hook_friendly_name {
                facts.push(format!("hook {hook}"));
            }
            if !sid.is_empty() {
                let n = media_index(&mut timeline.media, media_of, &sid, MediaKind::Composition);
                let media = &mut timeline.media[n];
                match kind {
                    EventKind::CompositionEnqueued => {
                        media.started = Some(at);
                        media.status = "enqueued".into();
                    }
                    EventKind::CompositionStarted => {
                        media.started.get_or_insert(at);
                        media.status = "processing".into();
                    }
                    EventKind::CompositionProgress => {
                        media.started.get_or_insert(at);
                        media.progress = fields.percentage_done.or(media.progress);
                    }
                    EventKind::CompositionAvailable => {
                        media.finished = Some(at);
                        media.status = "available".into();
                        media.progress = Some(100);
                    }
                    _ => {
                        media.finished = Some(at);
                        media.status = "failed".into();
                        media.error = fields.error_message.clone();
                    }
                }
                media.size = fields.size.or(media.size);
                media.duration = fields.duration.or(media.duration);
            }
            if let Some(p) = fields.percentage_done {
                facts.push(format!("{p}% done"));
            }
            if let Some(s) = fields.seconds_remaining {
                facts.push(format!("{} remaining", seconds(s)));
            }
        }
        EventKind::Other(_) => {
            facts.push(format!(
                "undocumented event, {} parameters",
                event.params.len()
            ));
        }
    }
    if let Some(size) = fields.size {
        facts.push(bytes(size));
    }
    if let Some(duration) = fields.duration {
        facts.push(seconds(duration));
    }
    if kind == EventKind::RoomEnded {
        if let Some(d) = fields.room_duration {
            facts.push(format!("lasted {}", seconds(d)));
        }
    }
    if let Some(status) = &fields.room_status {
        if matches!(kind, EventKind::RoomCreated | EventKind::RoomEnded) {
            facts.push(format!("status {}", status.as_str()));
        }
    }
    if let Some(op) = &fields.failed_operation {
        facts.push(format!("failed operation {}", op.as_str()));
    }
    if let Some(err) = &fields.error_message {
        facts.push(format!("error: {err}"));
    }
    let mut marks = Vec::new();
    if let Some(problem) = &event.parse_error {
        marks.push(format!("malformed: {problem}"));
        timeline.flags.push(Flag {
            at: Some(at),
            event: event.event.clone(),
            kind: "malformed",
            detail: problem.clone(),
        });
    }
    if let Some(reason) = &event.spilled {
        marks.push(format!("spilled: {reason}"));
        timeline.flags.push(Flag {
            at: Some(at),
            event: event.event.clone(),
            kind: "spilled",
            detail: reason.clone(),
        });
    }
    timeline.rows.push(Row {
        time: event.sk.split('#').next().unwrap_or_default().to_owned(),
        event: if event.event.is_empty() {
            "(no StatusCallbackEvent)".to_owned()
        } else {
            event.event.clone()
        },
        participant: lane.map(|n| timeline.lanes[n].identity.clone()),
        subject,
        facts: facts.join(", "),
        archive: None,
        marks,
    });
}

impl Timeline {
    /// The drawing's time range: from the room's creation (or its first item) to the latest of its
    /// end and every item; never empty.
    pub fn bounds(&self) -> (OffsetDateTime, OffsetDateTime) {
        let mut times: Vec<OffsetDateTime> = self
            .rows
            .iter()
            .filter(|row| !row.event.starts_with("media-"))
            .filter_map(|row| timestamp::parse(&row.time))
            .collect();
        times.extend(self.created);
        times.extend(self.ended);
        let start = self
            .created
            .or_else(|| times.iter().min().copied())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let end = times.iter().max().copied().unwrap_or(start);
        // The latest time there is has no second after it: the span then ends a second earlier.
        match start.checked_add(time::Duration::SECOND) {
            Some(later) => (start, end.max(later)),
            None => match start.checked_sub(time::Duration::SECOND) {
                Some(earlier) => (earlier.min(end), start),
                None => (start, end),
            },
        }
    }

    /// Media files archived (a `media-archived` outcome).
    pub fn archived(&self) -> usize {
        self.media
            .iter()
            .filter(|m| matches!(m.archive, ArchiveState::Archived { .. }))
            .count()
    }

    /// Recordings and compositions.
    pub fn count(&self, kind: MediaKind) -> usize {
        self.media.iter().filter(|m| m.kind == kind).count()
    }
}

/// The story as a terminal table: time, event, participant, subject, facts, archive, marks.
pub fn table(timeline: &Timeline) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec![
            "time (UTC)",
            "event",
            "participant",
            "track / media",
            "facts",
            "archive",
            "marked",
        ]);
    for row in &timeline.rows {
        table.add_row(vec![
            cell(&row.time),
            cell(&row.event),
            cell(row.participant.as_deref().unwrap_or_default()),
            cell(row.subject.as_deref().unwrap_or_default()),
            cell(&row.facts),
            cell(row.archive.as_deref().unwrap_or_default()),
            cell(&row.marks.join("; ")),
        ]);
    }
    table
}

/// Text for a terminal table cell: every control character (`char::is_control`: escape sequences,
/// carriage returns, newlines, ...) written as its Rust escape (`\u{1b}`, `\r`), so text from the table
/// (identities and room names are chosen by the customer's users) cannot move the cursor, recolour or
/// retitle the operator's terminal.
pub fn cell(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const WIDTH: f64 = 1280.0;
const LABEL: f64 = 230.0;
const RIGHT: f64 = 24.0;
const AXIS: f64 = 34.0;
const LANE: f64 = 24.0;
const SUBROW: f64 = 9.0;

/// A tick's label for ticks `step` seconds apart: `2026-11-27` (a day or more), `11-27 09:00` (hours),
/// `09:05` or `09:05:30`.
fn tick_label(time: OffsetDateTime, step: i64) -> String {
    if step >= 86400 {
        time.date().to_string()
    } else if step >= 3600 {
        format!(
            "{:02}-{:02} {}",
            u8::from(time.month()),
            time.day(),
            clock(time, false)
        )
    } else {
        clock(time, step < 60)
    }
}

/// `09:05` or `09:05:30` (UTC).
fn clock(time: OffsetDateTime, with_seconds: bool) -> String {
    if with_seconds {
        format!(
            "{:02}:{:02}:{:02}",
            time.hour(),
            time.minute(),
            time.second()
        )
    } else {
        format!("{:02}:{:02}", time.hour(), time.minute())
    }
}

/// Tick spacing in seconds: about a twelfth of the span, rounded up to a round value (1, 5, 10, 15, 30 s,
/// 1, 2, 5, 10, 15, 30 min, 1, 2, 6, 12 h, then 1, 2, 5 days times a power of ten, without end), so a
/// drawing has at most 12 intervals whatever its span.
pub fn tick_step(span_seconds: f64) -> i64 {
    const STEPS: [i64; 15] = [
        1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200,
    ];
    let wanted = if span_seconds.is_finite() {
        span_seconds.max(0.0) / 12.0
    } else {
        f64::MAX
    };
    if let Some(step) = STEPS.iter().copied().find(|step| *step as f64 >= wanted) {
        return step;
    }
    let mut days: i64 = 1;
    loop {
        for factor in [1, 2, 5] {
            let step = days.saturating_mul(factor).saturating_mul(86400);
            if step as f64 >= wanted || step == i64::MAX {
                return step;
            }
        }
        days = days.saturating_mul(10);
    }
}

struct Scale {
    start: OffsetDateTime,
    span: f64,
}

impl Scale {
    fn x(&self, time: OffsetDateTime) -> f64 {
        let offset = (time - self.start).as_seconds_f64() / self.span;
        LABEL + offset.clamp(0.0, 1.0) * (WIDTH - LABEL - RIGHT)
    }
}

fn media_title(media: &Media) -> String {
    let mut parts = vec![format!("{} {}", media.sid, media.status)];
    parts.extend(media.track.clone());
    if let Some(t) = media.started {
        parts.push(format!("from {}", clock(t, true)));
    }
    if let Some(t) = media.finished {
        parts.push(format!("to {}", clock(t, true)));
    }
    parts.extend(media.size.map(bytes));
    parts.extend(media.duration.map(seconds));
    if let Some(p) = media
        .progress
        .filter(|_| media.kind == MediaKind::Composition)
    {
        parts.push(format!("{p}% done"));
    }
    parts.extend(media.error.clone());
    parts.push(archive_text(media));
    parts.join(", ")
}

/// One media bar: from its start (or its end minus its duration) to its end (or `end` while open).
fn media_bar(out: &mut String, scale: &Scale, end: OffsetDateTime, media: &Media, y: f64) {
    let finished = media.finished.unwrap_or(end);
    let started = media.started.unwrap_or_else(|| {
        let duration = i64::try_from(media.duration.unwrap_or(0)).unwrap_or(i64::MAX);
        // A duration reaching before the earliest time there is starts the bar at the drawing's start.
        finished
            .checked_sub(time::Duration::seconds(duration))
            .unwrap_or(scale.start)
    });
    let (x1, x2) = (scale.x(started), scale.x(finished));
    let class = match (&media.archive, media.status.as_str()) {
        (_, "failed") => "m-failed",
        (ArchiveState::Archived { .. }, _) => "m-archived",
        (ArchiveState::Failed { .. }, _) => "m-archfail",
        (ArchiveState::None, "completed" | "available") => "m-done",
        _ => "m-open",
    };
    let kind = match media.kind {
        MediaKind::Recording => "recording",
        MediaKind::Composition => "composition",
    };
    let _ = write!(
        out,
        "<g class=\"{kind}\" data-sid=\"{}\" data-archive=\"{}\"><title>{}</title>\
         <rect class=\"{class}\" x=\"{x1:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"6\" rx=\"2\"/></g>",
        escape(&media.sid),
        media.archive.word(),
        escape(&media_title(media)),
        (x2 - x1).max(3.0),
    );
    if media.deleted_at_twilio {
        let _ = write!(
            out,
            "<circle class=\"deleted\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"><title>{} deleted at Twilio</title></circle>",
            x2.max(x1 + 3.0) + 4.0,
            y + 3.0,
            escape(&media.sid)
        );
    }
}

fn label(out: &mut String, y: f64, text: &str, class: &str) {
    let shown: String = if text.chars().count() > 30 {
        text.chars().take(29).chain(['…']).collect()
    } else {
        text.to_owned()
    };
    let _ = write!(
        out,
        "<text class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\"><title>{}</title>{}</text>",
        LABEL - 8.0,
        y,
        escape(text),
        escape(&shown)
    );
}

/// The SVG drawing: a time axis; the room's life; marked callbacks; one lane per participant with its
/// connected spans, track events and recordings; the compositions.
pub fn svg(timeline: &Timeline) -> String {
    let (start, end) = timeline.bounds();
    let span = (end - start).as_seconds_f64().max(1.0);
    let scale = Scale { start, span };
    let step = tick_step(span);
    let mut body = String::new();
    let mut y = AXIS;

    // Room lane.
    label(&mut body, y + 15.0, "room", "lane-label room-label");
    let room_from = timeline.created.unwrap_or(start);
    let room_to = timeline.ended.unwrap_or(end);
    let _ = write!(
        body,
        "<g class=\"lane room\"><title>room {} created {} ended {}</title>\
         <rect class=\"room-bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\" rx=\"3\"/></g>",
        escape(&timeline.room_sid),
        timeline.created.map(timestamp::format).unwrap_or("?".into()),
        timeline.ended.map(timestamp::format).unwrap_or("(not ended)".into()),
        scale.x(room_from),
        y + 6.0,
        (scale.x(room_to) - scale.x(room_from)).max(2.0),
    );
    y += LANE + 4.0;

    // Marked callbacks.
    if !timeline.flags.is_empty() {
        label(
            &mut body,
            y + 15.0,
            "marked callbacks",
            "lane-label flag-label",
        );
        for flag in &timeline.flags {
            let x = scale.x(flag.at.unwrap_or(start));
            let _ = write!(
                body,
                "<g class=\"flag\" data-kind=\"{}\"><title>{} {}: {}</title>\
                 <path class=\"flag-{}\" d=\"M{x:.1} {:.1} l6 6 l-6 6 l-6 -6 z\"/></g>",
                flag.kind,
                flag.kind,
                escape(&flag.event),
                escape(&flag.detail),
                flag.kind,
                y + 6.0,
            );
        }
        y += LANE + 4.0;
    }

    // Participants.
    for (n, lane) in timeline.lanes.iter().enumerate() {
        let recordings: Vec<&Media> = timeline
            .media
            .iter()
            .filter(|m| m.kind == MediaKind::Recording && m.lane == Some(n))
            .collect();
        let height = LANE + SUBROW * recordings.len() as f64 + 4.0;
        let _ = write!(
            body,
            "<g class=\"lane participant\" data-identity=\"{}\" data-participants=\"{}\">\
             <rect class=\"lane-bg{}\" x=\"0\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"{height:.1}\"/>",
            escape(&lane.identity),
            escape(&lane.participant_sids.join(" ")),
            if n % 2 == 0 { " even" } else { "" },
        );
        label(&mut body, y + 15.0, &lane.identity, "lane-label");
        for span in &lane.spans {
            let from = span.from.unwrap_or(room_from);
            let to = span.to.unwrap_or(room_to.max(from));
            let _ = write!(
                body,
                "<g class=\"connected\"><title>{} connected {} to {}</title>\
                 <rect class=\"span{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"10\" rx=\"3\"/></g>",
                escape(&lane.identity),
                clock(from, true),
                span.to.map(|t| clock(t, true)).unwrap_or("(no disconnect)".into()),
                if span.from.is_none() || span.to.is_none() { " open" } else { "" },
                scale.x(from),
                y + 7.0,
                (scale.x(to) - scale.x(from)).max(2.0),
            );
        }
        for mark in &lane.tracks {
            let x = scale.x(mark.at);
            let (shape, class) = match mark.event.as_str() {
                "track-added" => (format!("M{x:.1} {:.1} l4 7 h-8 z", y + 1.0), "t-added"),
                "track-removed" => (format!("M{x:.1} {:.1} l4 -7 h-8 z", y + 23.0), "t-removed"),
                "track-enabled" => (
                    format!("M{:.1} {:.1} h6 v6 h-6 z", x - 3.0, y + 9.0),
                    "t-enabled",
                ),
                _ => (
                    format!("M{:.1} {:.1} h6 v6 h-6 z", x - 3.0, y + 9.0),
                    "t-disabled",
                ),
            };
            let _ = write!(
                body,
                "<g class=\"track\" data-event=\"{}\"><title>{} {} at {}</title><path class=\"{class}\" d=\"{shape}\"/></g>",
                escape(&mark.event),
                escape(&mark.event),
                escape(&mark.track),
                clock(mark.at, true),
            );
        }
        for (k, media) in recordings.iter().enumerate() {
            // A recording still open ends with the room (no track outlives it).
            media_bar(
                &mut body,
                &scale,
                room_to,
                media,
                y + LANE + SUBROW * k as f64,
            );
        }
        body.push_str("</g>");
        y += height;
    }

    // Recordings without a participant, then compositions.
    let orphans: Vec<&Media> = timeline
        .media
        .iter()
        .filter(|m| m.kind == MediaKind::Recording && m.lane.is_none())
        .collect();
    let compositions: Vec<&Media> = timeline
        .media
        .iter()
        .filter(|m| m.kind == MediaKind::Composition)
        .collect();
    for (name, class, list) in [
        ("recordings (no participant)", "orphans", orphans),
        ("compositions", "compositions", compositions),
    ] {
        if list.is_empty() {
            continue;
        }
        let height = SUBROW * list.len() as f64 + 12.0;
        let _ = write!(body, "<g class=\"lane {class}\">");
        label(&mut body, y + 12.0, name, "lane-label");
        for (k, media) in list.iter().enumerate() {
            let open_until = if class == "compositions" {
                end
            } else {
                room_to
            };
            media_bar(
                &mut body,
                &scale,
                open_until,
                media,
                y + 4.0 + SUBROW * k as f64,
            );
        }
        body.push_str("</g>");
        y += height.max(LANE);
    }

    let height = y + 10.0;
    // Axis and grid, drawn first (behind).
    let mut grid = String::new();
    let first = start.unix_timestamp().div_euclid(step).saturating_mul(step);
    let mut tick = first;
    while tick <= end.unix_timestamp() {
        if let Ok(at) = OffsetDateTime::from_unix_timestamp(tick) {
            if at >= start {
                let x = scale.x(at);
                let _ = write!(
                    grid,
                    "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                     <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\">{}</text>",
                    AXIS - 6.0,
                    height - 6.0,
                    AXIS - 12.0,
                    tick_label(at, step)
                );
            }
        }
        match tick.checked_add(step) {
            Some(next) => tick = next,
            None => break,
        }
    }
    format!(
        "<svg class=\"timeline\" role=\"img\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" height=\"{height:.0}\">\
         <title>Timeline of room {}</title>{grid}{body}</svg>",
        escape(&timeline.room_sid)
    )
}

const STYLE: &str = "
body{font:13px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:16px;color:#1d2330;background:#fff}
h1{font-size:20px;margin:0 0 4px}
.facts{color:#4a5468;margin:0 0 10px}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:14px;height:8px;border-radius:2px;vertical-align:middle;margin-right:4px}
svg.timeline{display:block;margin:8px 0 18px;font-size:11px}
.lane-label{text-anchor:end;fill:#1d2330;font-size:12px}
.room-label,.flag-label{font-weight:600}
.tick{text-anchor:middle;fill:#6b7385;font-size:10px}
.grid{stroke:#e3e6ee;stroke-width:1}
.lane-bg{fill:#fff}.lane-bg.even{fill:#f5f7fb}
.room-bar{fill:#34495e}
.span{fill:#8fb8e8}.span.open{fill:#c9dcf3;stroke:#8fb8e8;stroke-dasharray:3 2}
.t-added{fill:#2e8b57}.t-removed{fill:#6b7385}.t-enabled{fill:#2e8b57}.t-disabled{fill:#e08a00}
.m-archived{fill:#2e9d5b}.m-done{fill:#7d8799}.m-open{fill:#b7bfcc}.m-failed{fill:#d64545}.m-archfail{fill:#e08a00}
.deleted{fill:#7b4fc9}
.flag-malformed{fill:#d64545}.flag-spilled{fill:#e08a00}.flag-unreadable{fill:#7b1f1f}
table{border-collapse:collapse;font-size:12px}
th,td{border-bottom:1px solid #e3e6ee;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f7fb;position:sticky;top:0}
tr.marked td{background:#fff3e0}
td.mark{color:#b23a3a}
";

/// The whole page: a header with the room's facts, a legend, the drawing, and every item as a table.
pub fn html(timeline: &Timeline) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = match &timeline.room_name {
        Some(name) => format!("{name} ({})", timeline.room_sid),
        None => timeline.room_sid.clone(),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>Room {}</title><style>{STYLE}</style></head><body>\n<h1>Room {}</h1>",
        escape(&title),
        escape(&title)
    );
    let duration = timeline
        .room_duration
        .or_else(|| {
            Some((timeline.ended? - timeline.created?).whole_seconds())
                .and_then(|s| u64::try_from(s).ok())
        })
        .map(seconds)
        .unwrap_or("?".into());
    let _ = write!(
        out,
        "<p class=\"facts\">account {} · created {} · ended {} · lasted {} · {} participants · {} recordings · \
         {} compositions · {} archived · {} marked callbacks</p>",
        escape(timeline.account_sid.as_deref().unwrap_or("?")),
        timeline.created.map(timestamp::format).unwrap_or("?".into()),
        timeline.ended.map(timestamp::format).unwrap_or("(not ended)".into()),
        duration,
        timeline.lanes.len(),
        timeline.count(MediaKind::Recording),
        timeline.count(MediaKind::Composition),
        timeline.archived(),
        timeline.flags.len(),
    );
    out.push_str(
        "<p class=\"legend\"><span><i class=\"sw\" style=\"background:#8fb8e8\"></i>connected</span>\
         <span><i class=\"sw\" style=\"background:#2e8b57\"></i>track added / enabled</span>\
         <span><i class=\"sw\" style=\"background:#e08a00\"></i>track disabled</span>\
         <span><i class=\"sw\" style=\"background:#6b7385\"></i>track removed</span>\
         <span><i class=\"sw\" style=\"background:#2e9d5b\"></i>media archived</span>\
         <span><i class=\"sw\" style=\"background:#7d8799\"></i>completed, no archive outcome</span>\
         <span><i class=\"sw\" style=\"background:#e08a00\"></i>archive failed</span>\
         <span><i class=\"sw\" style=\"background:#d64545\"></i>failed at Twilio / malformed</span>\
         <span><i class=\"sw\" style=\"background:#7b4fc9\"></i>deleted at Twilio</span>\
         <span>times in UTC; hover for details</span></p>\n",
    );
    out.push_str(&svg(timeline));
    out.push_str(
        "\n<table><thead><tr><th>time (UTC)</th><th>event</th><th>participant</th><th>track / media</th>\
         <th>facts</th><th>archive</th><th>marked</th></tr></thead><tbody>\n",
    );
    for row in &timeline.rows {
        let _ = writeln!(
            out,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"mark\">{}</td></tr>",
            if row.marks.is_empty() { "" } else { " class=\"marked\"" },
            escape(&row.time),
            escape(&row.event),
            escape(row.participant.as_deref().unwrap_or_default()),
            escape(row.subject.as_deref().unwrap_or_default()),
            escape(&row.facts),
            escape(row.archive.as_deref().unwrap_or_default()),
            escape(&row.marks.join("; ")),
        );
    }
    out.push_str("</tbody></table>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archiver::rules::{ArchiveRecord, Archived};
    use crate::twilio::callback::{Callback, Params};

    const ROOM: &str = "RM00000000000000000000000000000001";

    fn at(text: &str) -> OffsetDateTime {
        timestamp::parse(text).unwrap_or_else(|| panic!("{text}"))
    }

    fn stored(pairs: &[(&str, &str)]) -> StoredEvent {
        let mut all: Vec<(String, String)> = vec![
            ("AccountSid".into(), "AC01".into()),
            ("RoomSid".into(), ROOM.into()),
            ("RoomName".into(), "standup <b>&".into()),
            ("RoomType".into(), "group".into()),
        ];
        all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let (callback, problems) = Callback::read(Params::new(all), at("2026-11-27T12:00:00Z"));
        StoredEvent::new(callback, at("2026-11-27T12:00:00Z"), None).with_problems(&problems)
    }

    /// A well-formed callback: the parameters its family requires, then `extra`.
    fn event(event: &str, time: &str, extra: &[(&str, &str)]) -> StoredEvent {
        let mut pairs = vec![("StatusCallbackEvent", event), ("Timestamp", time)];
        let has = |name: &str| extra.iter().any(|(k, _)| *k == name);
        if ["room-", "participant-", "track-"]
            .iter()
            .any(|p| event.starts_with(p))
        {
            pairs.push(("SequenceNumber", "1"));
            if !has("RoomStatus") {
                pairs.push(("RoomStatus", "in-progress"));
            }
        }
        if event.starts_with("track-") {
            pairs.push(("TrackKind", "audio"));
        }
        if event.starts_with("recording-") {
            pairs.push(("RecordingUri", "/v1/Recordings/x"));
            pairs.push(("OffsetFromTwilioVideoEpoch", "0"));
        }
        if event.starts_with("composition-") {
            pairs.push(("CompositionUri", "/v1/Compositions/x"));
        }
        pairs.extend_from_slice(extra);
        stored(&pairs)
    }

    fn participant_with(
        event_name: &str,
        time: &str,
        n: usize,
        extra: &[(&str, &str)],
    ) -> StoredEvent {
        let (sid, identity) = (format!("PA{n:032}"), format!("user-{n}"));
        let mut pairs = vec![
            ("ParticipantSid", sid.as_str()),
            ("ParticipantIdentity", identity.as_str()),
            ("ParticipantStatus", "connected"),
        ];
        pairs.extend_from_slice(extra);
        event(event_name, time, &pairs)
    }

    fn participant(event_name: &str, time: &str, n: usize) -> StoredEvent {
        participant_with(event_name, time, n, &[])
    }

    fn recording(event_name: &str, time: &str, sid: &str, participant: usize) -> StoredEvent {
        let psid = format!("PA{participant:032}");
        let identity = format!("user-{participant}");
        event(
            event_name,
            time,
            &[
                ("RecordingSid", sid),
                ("ParticipantSid", &psid),
                ("ParticipantIdentity", &identity),
                ("SourceSid", "MT01"),
                ("TrackName", "mic"),
                ("Type", "audio"),
                ("Container", "mka"),
                ("Codec", "OPUS"),
                ("MediaUri", "/v1/Recordings/x/Media"),
                ("Size", "2048000"),
                ("Duration", "300"),
            ],
        )
    }

    fn archived(item: &StoredEvent) -> Entry {
        let message = item.media_message().unwrap_or_else(|| panic!("media"));
        Entry::Outcome(Box::new(ArchiveRecord::archived(
            &message,
            &Archived::Copied {
                s3_uri: format!(
                    "s3://archive/{}.mka",
                    item.fields.recording_sid.clone().unwrap_or_default()
                ),
                size: 2_048_000,
                content_type: "audio/x-matroska".into(),
                sha256: "0".repeat(64),
            },
            "2026-11-27T09:20:00.000Z",
        )))
    }

    fn callback(item: StoredEvent) -> Entry {
        Entry::Callback(Box::new(item))
    }

    /// A room with two participants (one reconnecting), track events, two recordings (one archived,
    /// one whose archive failed), a composition, a malformed and a spilled callback.
    fn room() -> Vec<Entry> {
        let done1 = recording("recording-completed", "2026-11-27T09:10:00Z", "RT01", 1);
        let done2 = recording("recording-completed", "2026-11-27T09:11:00Z", "RT02", 2);
        let message2 = done2.media_message().unwrap_or_else(|| panic!("media"));
        let track = |e: &str, t: &str| participant_with(e, t, 1, &[("TrackSid", "MT01")]);
        vec![
            archived(&done1),
            callback(event(
                "room-created",
                "2026-11-27T09:00:00Z",
                &[("RoomStatus", "in-progress")],
            )),
            callback(participant(
                "participant-connected",
                "2026-11-27T09:00:05Z",
                1,
            )),
            callback(track("track-added", "2026-11-27T09:00:06Z")),
            callback(track("track-disabled", "2026-11-27T09:03:00Z")),
            callback(track("track-enabled", "2026-11-27T09:04:00Z")),
            callback(recording(
                "recording-started",
                "2026-11-27T09:00:07Z",
                "RT01",
                1,
            )),
            callback(participant(
                "participant-connected",
                "2026-11-27T09:01:00Z",
                2,
            )),
            callback(done1),
            callback(done2),
            Entry::Outcome(Box::new(ArchiveRecord::failed(
                &message2,
                "media gone",
                "2026-11-27T09:21:00.000Z",
            ))),
            callback(track("track-removed", "2026-11-27T09:11:30Z")),
            callback(participant(
                "participant-disconnected",
                "2026-11-27T09:12:00Z",
                1,
            )),
            callback(participant(
                "participant-connected",
                "2026-11-27T09:13:00Z",
                1,
            )),
            callback(event(
                "room-ended",
                "2026-11-27T09:20:00Z",
                &[("RoomStatus", "completed"), ("RoomDuration", "1200")],
            )),
            callback(event(
                "composition-enqueued",
                "2026-11-27T09:20:10Z",
                &[("CompositionSid", "CJ01")],
            )),
            callback(event(
                "composition-progress",
                "2026-11-27T09:21:00Z",
                &[("CompositionSid", "CJ01"), ("PercentageDone", "50")],
            )),
            callback(event(
                "composition-available",
                "2026-11-27T09:22:00Z",
                &[
                    ("CompositionSid", "CJ01"),
                    ("Size", "99"),
                    ("Duration", "1200"),
                ],
            )),
            callback(stored(&[
                ("StatusCallbackEvent", "participant-connected"),
                ("Timestamp", "2026-11-27T09:05:00Z"),
            ])),
            callback(
                participant("participant-connected", "2026-11-27T09:06:00Z", 3)
                    .spilled_because("DynamoDB throttled"),
            ),
        ]
    }

    #[test]
    fn the_model_tells_the_rooms_story() {
        let timeline = build(ROOM, room());
        assert_eq!(timeline.room_name.as_deref(), Some("standup <b>&"));
        assert_eq!(timeline.created, Some(at("2026-11-27T09:00:00Z")));
        assert_eq!(timeline.ended, Some(at("2026-11-27T09:20:00Z")));
        assert_eq!(timeline.room_duration, Some(1200));
        let identities: Vec<&str> = timeline.lanes.iter().map(|l| l.identity.as_str()).collect();
        assert_eq!(identities, ["user-1", "user-2", "user-3"]);
        let alice = &timeline.lanes[0];
        assert_eq!(alice.spans.len(), 2, "disconnected, then reconnected");
        assert_eq!(alice.spans[0].to, Some(at("2026-11-27T09:12:00Z")));
        assert_eq!(alice.spans[1].to, None);
        let events: Vec<&str> = alice.tracks.iter().map(|t| t.event.as_str()).collect();
        assert_eq!(
            events,
            [
                "track-added",
                "track-disabled",
                "track-enabled",
                "track-removed"
            ]
        );
        let rt01 = &timeline.media[0];
        assert_eq!((rt01.sid.as_str(), rt01.lane), ("RT01", Some(0)));
        assert_eq!(rt01.started, Some(at("2026-11-27T09:00:07Z")));
        assert!(matches!(&rt01.archive, ArchiveState::Archived { how, .. } if how == "copied"));
        let rt02 = timeline
            .media
            .iter()
            .find(|m| m.sid == "RT02")
            .unwrap_or_else(|| panic!("RT02"));
        assert_eq!(rt02.lane, Some(1));
        assert_eq!(
            rt02.archive,
            ArchiveState::Failed {
                reason: "media gone".into()
            }
        );
        let cj = timeline
            .media
            .iter()
            .find(|m| m.sid == "CJ01")
            .unwrap_or_else(|| panic!("CJ01"));
        assert_eq!(
            (cj.kind, cj.status.as_str(), cj.progress),
            (MediaKind::Composition, "available", Some(100))
        );
        assert_eq!(timeline.archived(), 1);
        let kinds: Vec<&str> = timeline.flags.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, ["malformed", "spilled"], "{:#?}", timeline.flags);
        // Rows in time order (the entries were given shuffled), each archive outcome after the callback
        // it resolves although both have the same time, the archive outcome beside each media event.
        let events: Vec<&str> = timeline.rows.iter().map(|r| r.event.as_str()).collect();
        assert_eq!(
            events,
            [
                "room-created",
                "participant-connected",
                "track-added",
                "recording-started",
                "participant-connected",
                "track-disabled",
                "track-enabled",
                "participant-connected",
                "participant-connected",
                "recording-completed",
                "media-archived",
                "recording-completed",
                "media-archive-failed",
                "track-removed",
                "participant-disconnected",
                "participant-connected",
                "room-ended",
                "composition-enqueued",
                "composition-progress",
                "composition-available",
            ]
        );
        assert_eq!(timeline.rows[10].time, timeline.rows[9].time);
        let done = timeline
            .rows
            .iter()
            .find(|r| r.event == "recording-completed")
            .unwrap_or_else(|| panic!("row"));
        assert_eq!(
            done.archive.as_deref(),
            Some("archived (copied): s3://archive/RT01.mka")
        );
        let spilled = timeline
            .rows
            .iter()
            .find(|r| !r.marks.is_empty() && r.marks[0].starts_with("spilled"))
            .unwrap_or_else(|| panic!("spilled row"));
        assert_eq!(spilled.marks, ["spilled: DynamoDB throttled"]);
        assert!(timeline.rows.iter().any(|r| r
            .marks
            .iter()
            .any(|m| m.starts_with("malformed: missing required parameter"))));
    }

    fn count(html: &str, needle: &str) -> usize {
        html.matches(needle).count()
    }

    #[test]
    fn the_page_has_one_lane_per_participant_and_every_recording_and_no_resource_reference() {
        let timeline = build(ROOM, room());
        let page = html(&timeline);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert_eq!(count(&page, "<g class=\"lane participant\""), 3);
        for identity in ["user-1", "user-2", "user-3"] {
            assert_eq!(
                count(&page, &format!("data-identity=\"{identity}\"")),
                1,
                "{identity}"
            );
        }
        for sid in ["RT01", "RT02"] {
            assert_eq!(
                count(&page, &format!("<g class=\"recording\" data-sid=\"{sid}\"")),
                1,
                "{sid}"
            );
        }
        assert_eq!(
            count(
                &page,
                "<g class=\"composition\" data-sid=\"CJ01\" data-archive=\"none\""
            ),
            1
        );
        assert_eq!(
            count(&page, "data-sid=\"RT01\" data-archive=\"archived\""),
            1
        );
        assert_eq!(count(&page, "data-sid=\"RT02\" data-archive=\"failed\""), 1);
        assert_eq!(count(&page, "<g class=\"flag\" data-kind=\"malformed\""), 1);
        assert_eq!(count(&page, "<g class=\"flag\" data-kind=\"spilled\""), 1);
        assert_eq!(count(&page, "<g class=\"track\""), 4);
        assert_eq!(
            count(&page, "<tr"),
            room().len() + 1,
            "one table row per item"
        );
        // Nothing to fetch: no scripts, links, images, imports or URLs.
        for forbidden in [
            "http://", "https://", "<script", "<link", "<img", "src=", "href=", "url(", "@import",
        ] {
            assert!(!page.contains(forbidden), "{forbidden}");
        }
        assert!(page.contains("default-src 'none'"));
        // Text from the table is escaped.
        assert!(!page.contains("<b>&"));
        assert!(page.contains("standup &lt;b&gt;&amp;"));
    }

    const HOSTILE: &str = "\"'><svg onload=x>";
    const HOSTILE_ESCAPED: &str = "&quot;&#39;&gt;&lt;svg onload=x&gt;";

    #[test]
    fn hostile_identities_and_details_are_escaped_in_attributes_titles_and_flags() {
        let sid = format!("PA{:032}", 7);
        let entries = vec![
            callback(event("room-created", "2026-11-27T09:00:00Z", &[])),
            callback(
                event(
                    "participant-connected",
                    "2026-11-27T09:00:05Z",
                    &[
                        ("ParticipantSid", sid.as_str()),
                        ("ParticipantIdentity", HOSTILE),
                        ("ParticipantStatus", "connected"),
                    ],
                )
                .spilled_because(HOSTILE),
            ),
        ];
        let page = html(&build(ROOM, entries));
        assert!(!page.contains("<svg onload"), "unescaped markup");
        assert!(!page.contains(HOSTILE));
        assert_eq!(
            count(&page, &format!("data-identity=\"{HOSTILE_ESCAPED}\"")),
            1,
            "the lane's data attribute"
        );
        assert!(
            page.contains(&format!("<title>{HOSTILE_ESCAPED}</title>")),
            "the lane label's title"
        );
        assert!(
            page.contains(&format!("<title>{HOSTILE_ESCAPED} connected 09:00:05")),
            "the span's title"
        );
        assert!(
            page.contains(&format!(
                "<title>spilled participant-connected: {HOSTILE_ESCAPED}</title>"
            )),
            "the flag's detail"
        );
        assert!(page.contains(&format!("<td>{HOSTILE_ESCAPED}</td>")));
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(cell("alice"), "alice");
        assert_eq!(
            cell("a\u{1b}]0;pwned\u{7}b\r\n\u{9b}c"),
            "a\\u{1b}]0;pwned\\u{7}b\\r\\n\\u{9b}c"
        );
        let sid = format!("PA{:032}", 7);
        let hostile = "eve\u{1b}[2J\u{1b}[31m";
        let timeline = build(
            ROOM,
            vec![
                callback(event("room-created", "2026-11-27T09:00:00Z", &[])),
                callback(
                    event(
                        "participant-connected",
                        "2026-11-27T09:00:05Z",
                        &[
                            ("ParticipantSid", sid.as_str()),
                            ("ParticipantIdentity", hostile),
                            ("ParticipantStatus", "connected"),
                        ],
                    )
                    .spilled_because("throttled\r\nfake line"),
                ),
            ],
        );
        let text = table(&timeline).to_string();
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(text.contains("eve\\u{1b}[2J"), "{text}");
        assert!(text.contains("throttled\\r\\nfake line"), "{text}");
    }

    #[test]
    fn huge_durations_and_the_last_instant_draw_without_panicking() {
        // A recording whose only callback says it lasted u64::MAX seconds: the bar starts with the drawing.
        let mut done = recording("recording-completed", "2026-11-27T09:10:00Z", "RT01", 1);
        done.fields.duration = Some(u64::MAX);
        let timeline = build(
            ROOM,
            vec![
                callback(event("room-created", "2026-11-27T09:00:00Z", &[])),
                callback(done),
            ],
        );
        assert_eq!(timeline.media[0].duration, Some(u64::MAX));
        assert_eq!(count(&svg(&timeline), "<g class=\"recording\""), 1);
        // A room created at the last instant the clock knows: no second after it.
        let last = event("room-created", "9999-12-31T23:59:59.999Z", &[]);
        let mut old = recording("recording-completed", "9999-12-31T23:59:59.999Z", "RT02", 1);
        old.fields.duration = Some(i64::MAX as u64);
        let timeline = build(ROOM, vec![callback(last), callback(old)]);
        let (start, end) = timeline.bounds();
        assert!(start < end);
        assert!(html(&timeline).contains("RT02"));
    }

    #[test]
    fn ticks_stay_few_over_any_span() {
        for span in [
            1.0,
            59.0,
            3600.0,
            86_400.0 * 3.0,
            1e7,
            3.2e8,
            // 10,000 years: the widest span a timeline can have.
            3.2e11,
        ] {
            let step = tick_step(span) as f64;
            assert!(span / step <= 12.0, "{span}: step {step}");
        }
        // Beyond anything drawable, the step saturates rather than overflowing.
        assert_eq!(tick_step(1e300), i64::MAX);
        assert_eq!(tick_step(f64::INFINITY), i64::MAX);
        assert_eq!(tick_step(f64::NAN), i64::MAX);
        assert_eq!(tick_step(86_400.0 * 30.0), 5 * 86_400);
        assert_eq!(tick_step(86_400.0 * 365.0 * 10.0), 500 * 86_400);
        // A room whose items span ten years: a dozen ticks, labelled with days.
        let timeline = build(
            ROOM,
            vec![
                callback(event("room-created", "2016-11-27T09:00:00Z", &[])),
                callback(event("room-ended", "2026-11-27T09:00:00Z", &[])),
            ],
        );
        let drawing = svg(&timeline);
        let ticks = count(&drawing, "<text class=\"tick\"");
        assert!((5..=13).contains(&ticks), "{ticks}");
        assert!(drawing.contains(">2019-04-14<"), "day labels");
    }

    #[test]
    fn fifty_participants_and_hundreds_of_tracks_stay_in_one_readable_drawing() {
        let mut entries = vec![callback(event("room-created", "2026-11-27T09:00:00Z", &[]))];
        for n in 0..50 {
            let minute = n % 40;
            entries.push(callback(participant(
                "participant-connected",
                &format!("2026-11-27T09:{minute:02}:00Z"),
                n,
            )));
            for t in 0..6 {
                let track = format!("MT{n:02}{t:02}");
                let time = format!("2026-11-27T09:{minute:02}:{:02}Z", 10 + t);
                entries.push(callback(participant_with(
                    "track-added",
                    &time,
                    n,
                    &[("TrackSid", &track)],
                )));
            }
            entries.push(callback(recording(
                "recording-completed",
                &format!("2026-11-27T09:{:02}:00Z", minute + 10),
                &format!("RT{n:032}"),
                n,
            )));
            entries.push(callback(participant(
                "participant-disconnected",
                &format!("2026-11-27T09:{:02}:00Z", minute + 15),
                n,
            )));
        }
        entries.push(callback(event("room-ended", "2026-11-27T10:00:00Z", &[])));
        let timeline = build(ROOM, entries);
        assert_eq!(timeline.lanes.len(), 50);
        let drawing = svg(&timeline);
        assert_eq!(count(&drawing, "<g class=\"lane participant\""), 50);
        assert_eq!(count(&drawing, "<g class=\"track\""), 300);
        assert_eq!(count(&drawing, "<g class=\"recording\""), 50);
        // Every lane at least 24 px high, the whole drawing short enough to scroll through.
        let height: f64 = drawing
            .split("height=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|h| h.parse().ok())
            .unwrap_or_else(|| panic!("height"));
        assert!((50.0 * 24.0..4000.0).contains(&height), "{height}");
        // A lane label is never longer than 30 characters.
        let mut long = timeline.clone();
        long.lanes[0].identity = "x".repeat(80);
        assert!(svg(&long).contains(&format!("{}…", "x".repeat(29))));
    }

    #[test]
    fn unreadable_items_are_shown_marked() {
        let mut item = HashMap::new();
        item.insert("pk".to_owned(), AttributeValue::S(ROOM.into()));
        item.insert(
            "sk".to_owned(),
            AttributeValue::S("2026-11-27T09:00:00.000Z#odd#x".into()),
        );
        item.insert("event".to_owned(), AttributeValue::S("odd".into()));
        let entry = Entry::from_item(item);
        assert!(matches!(&entry, Entry::Unreadable { event, .. } if event == "odd"));
        let timeline = build(ROOM, vec![entry]);
        assert_eq!(timeline.flags.len(), 1);
        assert!(timeline.rows[0].marks[0].starts_with("unreadable: "));
    }

    #[test]
    fn stored_items_read_back_as_entries() {
        let item = recording("recording-completed", "2026-11-27T09:10:00Z", "RT01", 1);
        let entry = Entry::from_item(item.clone().into_attributes());
        assert_eq!(entry, callback(item.clone()));
        let Entry::Outcome(record) = archived(&item) else {
            panic!("outcome")
        };
        let attributes: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&record).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(Entry::from_item(attributes), Entry::Outcome(record));
    }

    #[test]
    fn units_and_ticks() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(48_213_399), "48.2 MB");
        assert_eq!(seconds(7), "7s");
        assert_eq!(seconds(893), "14m 53s");
        assert_eq!(seconds(3723), "1h 02m 03s");
        assert_eq!(tick_step(60.0), 5);
        assert_eq!(tick_step(1200.0), 120);
        assert_eq!(tick_step(3600.0), 300);
        assert_eq!(tick_step(43200.0 * 12.0), 43200);
        assert_eq!(tick_step(1e9), 1000 * 86400);
    }
}
