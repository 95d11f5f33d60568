//! The usage model: a room's partition in ([`Entry`]), its figures out ([`room_usage`]); the rooms'
//! figures grouped by account, day or room, priced, with a total ([`report`]). Pure: no I/O, no output
//! format.
//!
//! Every stored callback counts once: the table already holds one item per distinct callback (a
//! redelivery has the same idempotency key, so the same sort key, and is not written again). Two items
//! can still describe one fact (Twilio sent the same event twice with a parameter changed, a backfill
//! message got a second archive record), so each figure is keyed by what it measures: a participant
//! session by its `ParticipantSid`, a recording by its `RecordingSid`, a composition by its
//! `CompositionSid`, an archived file by its media SID, the room's end once.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::operator::rooms::RoomRef;
use crate::operator::timeline::Entry;
use crate::twilio::callback::EventKind;

/// Twilio's list prices in USD, used unless `--prices` says otherwise (see docs/operator.md for their
/// source and date).
pub const LIST_PRICES: Prices = Prices {
    participant_minute: 0.004,
    recording_minute: 0.004,
    composition_minute: 0.01,
};

/// The prices the estimate uses, in USD per minute.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prices {
    /// A participant connected to a Group room for a minute.
    pub participant_minute: f64,
    /// A minute of recorded track (`Duration` of `recording-completed`).
    pub recording_minute: f64,
    /// A minute of composition (`Duration` of `composition-available`).
    pub composition_minute: f64,
}

/// What a prices file may hold: any of the three keys, nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PricesFile {
    participant_minute: Option<f64>,
    recording_minute: Option<f64>,
    composition_minute: Option<f64>,
}

impl Prices {
    /// Reads a prices file (`{"participant_minute": 0.004, ...}`): the keys it holds override
    /// [`LIST_PRICES`]; an unknown key, or a price that is not a finite number at or above 0, is refused.
    pub fn from_json(text: &str) -> Result<Prices, String> {
        let file: PricesFile = serde_json::from_str(text).map_err(|err| {
            format!(
                "{err}: expected a JSON object with any of participant_minute, recording_minute, \
                 composition_minute (USD per minute)"
            )
        })?;
        let mut prices = LIST_PRICES;
        for (name, value, slot) in [
            (
                "participant_minute",
                file.participant_minute,
                &mut prices.participant_minute,
            ),
            (
                "recording_minute",
                file.recording_minute,
                &mut prices.recording_minute,
            ),
            (
                "composition_minute",
                file.composition_minute,
                &mut prices.composition_minute,
            ),
        ] {
            if let Some(value) = value {
                if !value.is_finite() || value < 0.0 {
                    return Err(format!(
                        "{name} must be a number at or above 0, not {value}"
                    ));
                }
                *slot = value;
            }
        }
        Ok(prices)
    }

    /// The estimate for `figures`: each priced duration in minutes (unrounded) times its price, rounded
    /// to a millionth of a dollar.
    pub fn cost(&self, figures: &Figures) -> f64 {
        let minutes = |seconds: u64| seconds as f64 / 60.0;
        let cost = minutes(figures.participant_seconds) * self.participant_minute
            + minutes(figures.recording_seconds) * self.recording_minute
            + minutes(figures.composition_seconds) * self.composition_minute;
        (cost * 1e6).round() / 1e6
    }
}

/// How the rooms are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// By `AccountSid`.
    Account,
    /// By the UTC day the room was created (`YYYY-MM-DD`).
    Day,
    /// One group per room (`RoomSid`).
    Room,
}

impl By {
    /// `account`, `day` or `room`.
    pub fn word(self) -> &'static str {
        match self {
            By::Account => "account",
            By::Day => "day",
            By::Room => "room",
        }
    }
}

/// The figures of a room, a group of rooms or all of them. Seconds and bytes as Twilio reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Rooms created in the range.
    pub rooms: u64,
    /// Of which without a `room-ended`: their minutes are not all known yet.
    pub rooms_open: u64,
    /// `RoomDuration` of the ended rooms (else ended minus created).
    pub room_seconds: u64,
    /// `participant-connected` callbacks (one per `ParticipantSid`).
    pub participant_sessions: u64,
    /// Of which never disconnected: their minutes are not known yet.
    pub participants_open: u64,
    /// `ParticipantDuration` of every `participant-disconnected` (one per `ParticipantSid`).
    pub participant_seconds: u64,
    /// `recording-completed` (one per `RecordingSid`).
    pub recordings: u64,
    /// Their `Duration`.
    pub recording_seconds: u64,
    /// Their `Size`.
    pub recording_bytes: u64,
    /// `composition-available` (one per `CompositionSid`).
    pub compositions: u64,
    /// Their `Duration`.
    pub composition_seconds: u64,
    /// Their `Size`.
    pub composition_bytes: u64,
    /// The bytes of the `media-archived` records (one per recording or composition).
    pub archived_bytes: u64,
    /// [`Prices::cost`] of these figures, in USD.
    pub estimated_cost_usd: f64,
}

/// The names of a usage line, in order: the CSV header and the JSON keys.
pub const COLUMNS: [&str; 15] = [
    "group",
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
    "estimated_cost_usd",
];

impl Figures {
    /// Adds `other`'s counts to these (the cost is computed afterwards, from the sums).
    fn add(&mut self, other: &Figures) {
        self.rooms += other.rooms;
        self.rooms_open += other.rooms_open;
        self.room_seconds += other.room_seconds;
        self.participant_sessions += other.participant_sessions;
        self.participants_open += other.participants_open;
        self.participant_seconds += other.participant_seconds;
        self.recordings += other.recordings;
        self.recording_seconds += other.recording_seconds;
        self.recording_bytes += other.recording_bytes;
        self.compositions += other.compositions;
        self.composition_seconds += other.composition_seconds;
        self.composition_bytes += other.composition_bytes;
        self.archived_bytes += other.archived_bytes;
    }

    /// Whether a room or a participant is still open: the durations are then a lower bound.
    pub fn is_lower_bound(&self) -> bool {
        self.rooms_open > 0 || self.participants_open > 0
    }
}

/// One line of the report: a group (account SID, day or room SID, or `total`) and its figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// The account SID, the day (`YYYY-MM-DD`), the room SID, or `total`.
    pub group: String,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

impl Line {
    /// The line's values under [`COLUMNS`], as text (the cost with six decimals), not yet escaped.
    pub fn cells(&self) -> [String; 15] {
        let f = &self.figures;
        [
            self.group.clone(),
            f.rooms.to_string(),
            f.rooms_open.to_string(),
            f.room_seconds.to_string(),
            f.participant_sessions.to_string(),
            f.participants_open.to_string(),
            f.participant_seconds.to_string(),
            f.recordings.to_string(),
            f.recording_seconds.to_string(),
            f.recording_bytes.to_string(),
            f.compositions.to_string(),
            f.composition_seconds.to_string(),
            f.composition_bytes.to_string(),
            f.archived_bytes.to_string(),
            format!("{:.6}", f.estimated_cost_usd),
        ]
    }
}

/// One room's figures (unpriced), and what it is grouped by.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomUsage {
    /// `RoomSid`.
    pub room_sid: String,
    /// `AccountSid`.
    pub account_sid: String,
    /// The UTC day it was created, `YYYY-MM-DD`.
    pub day: String,
    /// Its figures.
    pub figures: Figures,
}

/// The report: one line per group (in order of the group's name), the total, and the prices used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    /// How the rooms were grouped.
    pub by: By,
    /// The prices of the estimate.
    pub prices: Prices,
    /// One line per group.
    pub groups: Vec<Line>,
    /// The sums of every room, `group` = `total`.
    pub total: Line,
}

/// The figures of `room` from the items of its partition (in any order). A figure whose callback is
/// missing counts nothing; a room without `room-ended` is open, a participant connected and never
/// disconnected is open.
pub fn room_usage(room: &RoomRef, entries: &[Entry]) -> RoomUsage {
    // The partition's items in sort-key order (time first), so the first of two items about the same
    // fact is the same on every run.
    let mut events: Vec<_> = entries
        .iter()
        .filter_map(|entry| match entry {
            Entry::Callback(event) => Some(event.as_ref()),
            _ => None,
        })
        .collect();
    events.sort_by(|a, b| a.sk.cmp(&b.sk));
    let mut created = None;
    let mut ended: Option<(Option<u64>, time::OffsetDateTime)> = None;
    let mut connected: HashMap<String, time::OffsetDateTime> = HashMap::new();
    let mut disconnected: HashMap<String, u64> = HashMap::new();
    let mut recordings: HashMap<String, (u64, u64)> = HashMap::new();
    let mut compositions: HashMap<String, (u64, u64)> = HashMap::new();
    // A key for an item that lacks the SID its fact is keyed by: the item itself.
    let key = |sid: &Option<String>, idempotency_key: &str| {
        sid.clone()
            .filter(|sid| !sid.is_empty())
            .unwrap_or_else(|| format!("#{idempotency_key}"))
    };
    for event in &events {
        let fields = &event.fields;
        match event.event_kind() {
            EventKind::RoomCreated => {
                created.get_or_insert(fields.timestamp);
            }
            EventKind::RoomEnded => {
                ended.get_or_insert((fields.room_duration, fields.timestamp));
            }
            EventKind::ParticipantConnected => {
                connected
                    .entry(key(&fields.participant_sid, &event.idempotency_key))
                    .or_insert(fields.timestamp);
            }
            EventKind::ParticipantDisconnected => {
                let sid = key(&fields.participant_sid, &event.idempotency_key);
                // Without ParticipantDuration: from its connection, when that was stored.
                let seconds = fields.participant_duration.or_else(|| {
                    let from = connected.get(&sid)?;
                    u64::try_from((fields.timestamp - *from).whole_seconds()).ok()
                });
                disconnected.entry(sid).or_insert(seconds.unwrap_or(0));
            }
            EventKind::RecordingCompleted => {
                recordings
                    .entry(key(&fields.recording_sid, &event.idempotency_key))
                    .or_insert((fields.duration.unwrap_or(0), fields.size.unwrap_or(0)));
            }
            EventKind::CompositionAvailable => {
                compositions
                    .entry(key(&fields.composition_sid, &event.idempotency_key))
                    .or_insert((fields.duration.unwrap_or(0), fields.size.unwrap_or(0)));
            }
            _ => {}
        }
    }
    let mut archived: BTreeMap<&str, u64> = BTreeMap::new();
    for entry in entries {
        if let Entry::Outcome(record) = entry {
            if record.event == "media-archived" {
                let size = record.size.unwrap_or(0);
                let kept = archived.entry(record.media_sid.as_str()).or_insert(size);
                *kept = (*kept).max(size);
            }
        }
    }
    let room_seconds = ended.and_then(|(duration, at)| {
        duration.or_else(|| u64::try_from((at - created?).whole_seconds()).ok())
    });
    let sum = |media: &HashMap<String, (u64, u64)>| {
        media
            .values()
            .fold((0, 0), |(s, b), (seconds, bytes)| (s + seconds, b + bytes))
    };
    let (recording_seconds, recording_bytes) = sum(&recordings);
    let (composition_seconds, composition_bytes) = sum(&compositions);
    let figures = Figures {
        rooms: 1,
        rooms_open: u64::from(ended.is_none()),
        room_seconds: room_seconds.unwrap_or(0),
        participant_sessions: connected.len() as u64,
        participants_open: connected
            .keys()
            .filter(|sid| !disconnected.contains_key(*sid))
            .count() as u64,
        participant_seconds: disconnected.values().sum(),
        recordings: recordings.len() as u64,
        recording_seconds,
        recording_bytes,
        compositions: compositions.len() as u64,
        composition_seconds,
        composition_bytes,
        archived_bytes: archived.values().sum(),
        estimated_cost_usd: 0.0,
    };
    RoomUsage {
        room_sid: room.room_sid.clone(),
        account_sid: room.account_sid.clone(),
        day: room.created.get(..10).unwrap_or_default().to_owned(),
        figures,
    }
}

/// The report of `rooms`, grouped `by`, priced at `prices`: one line per group in order of its name,
/// then the total. Each line's cost is computed from its own sums.
pub fn report(rooms: impl IntoIterator<Item = RoomUsage>, by: By, prices: Prices) -> Usage {
    let mut groups: BTreeMap<String, Figures> = BTreeMap::new();
    let mut total = Figures::default();
    let mut seen = HashSet::new();
    for room in rooms {
        // A room read twice (listed on two days) counts once.
        if !seen.insert(room.room_sid.clone()) {
            continue;
        }
        let group = match by {
            By::Account => room.account_sid,
            By::Day => room.day,
            By::Room => room.room_sid,
        };
        groups.entry(group).or_default().add(&room.figures);
        total.add(&room.figures);
    }
    let priced = |group: String, mut figures: Figures| {
        figures.estimated_cost_usd = prices.cost(&figures);
        Line { group, figures }
    };
    Usage {
        by,
        prices,
        groups: groups
            .into_iter()
            .map(|(group, figures)| priced(group, figures))
            .collect(),
        total: priced("total".to_owned(), total),
    }
}
