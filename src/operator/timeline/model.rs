//! The model of a room's story: the items of its timeline partition in ([`Entry`]), a [`Timeline`] out
//! ([`build`]): the room's life, one [`Lane`] per participant, every recording and composition
//! ([`Media`]) with its archive outcome, the marked callbacks ([`Flag`]) and one [`Row`] per item. Pure:
//! no I/O, no output format; the terminal table, the JSON lines and the page are drawn from it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
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

/// The headers of the story's table, in the terminal and on the page: one per [`Row::cells`].
pub(super) const COLUMNS: [&str; 7] = [
    "time (UTC)",
    "event",
    "participant",
    "track / media",
    "facts",
    "archive",
    "marked",
];

impl Row {
    /// The row's text under each of [`COLUMNS`] (an absent value empty, the marks joined by `; `), not
    /// yet made safe: the terminal table passes each through `cell`, the page through `escape`.
    pub(super) fn cells(&self) -> [String; 7] {
        [
            self.time.clone(),
            self.event.clone(),
            self.participant.clone().unwrap_or_default(),
            self.subject.clone().unwrap_or_default(),
            self.facts.clone(),
            self.archive.clone().unwrap_or_default(),
            self.marks.join("; "),
        ]
    }
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

/// Where a media file's archive stands, in words: the table's archive column and the drawing's titles.
pub(super) fn archive_text(media: &Media) -> String {
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
