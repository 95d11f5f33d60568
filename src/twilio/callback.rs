//! The typed model of a Twilio Video status callback, and the rules that turn form parameters into it.
//!
//! Every event and parameter of Twilio's "Status Callbacks" page (Rooms, Recordings, Compositions) is
//! here. [`PARAMETER_RULES`] is that page's three parameter tables as data: which events carry which
//! parameter, and whether the page promises it ("All ..." rows, which are required) or only sometimes
//! sends it ("Only on ..." rows and lists of events, which are optional).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::twilio::open_enum::open_enum;

open_enum! {
    /// The `StatusCallbackEvent` parameter: which of the 17 documented events this is.
    pub enum EventKind {
        /// Room created.
        RoomCreated = "room-created",
        /// Room completed.
        RoomEnded = "room-ended",
        /// Participant joined the Room.
        ParticipantConnected = "participant-connected",
        /// Participant left the Room.
        ParticipantDisconnected = "participant-disconnected",
        /// Participant added a Track.
        TrackAdded = "track-added",
        /// Participant removed a Track.
        TrackRemoved = "track-removed",
        /// Participant unpaused a Track.
        TrackEnabled = "track-enabled",
        /// Participant paused a Track.
        TrackDisabled = "track-disabled",
        /// Recording for a Track began.
        RecordingStarted = "recording-started",
        /// Recording for a Track completed: its media can be fetched.
        RecordingCompleted = "recording-completed",
        /// Failure during a recording operation.
        RecordingFailed = "recording-failed",
        /// A Composition Hook created and enqueued a Composition.
        CompositionEnqueued = "composition-enqueued",
        /// A Composition Hook failed to create a Composition.
        CompositionHookFailed = "composition-hook-failed",
        /// The composition media task started.
        CompositionStarted = "composition-started",
        /// The composition completed: its media can be fetched.
        CompositionAvailable = "composition-available",
        /// Progress report, about every 10%.
        CompositionProgress = "composition-progress",
        /// The composition media task failed.
        CompositionFailed = "composition-failed",
    }
}

/// The group an event belongs to, which decides the parameters it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `room-created`, `room-ended`.
    Room,
    /// `participant-connected`, `participant-disconnected`.
    Participant,
    /// `track-*`.
    Track,
    /// `recording-*`.
    Recording,
    /// `composition-*`.
    Composition,
    /// A `StatusCallbackEvent` the specification does not list.
    Unknown,
}

impl EventKind {
    /// The family whose parameter table applies to this event.
    pub fn family(&self) -> Family {
        use EventKind::*;
        match self {
            RoomCreated | RoomEnded => Family::Room,
            ParticipantConnected | ParticipantDisconnected => Family::Participant,
            TrackAdded | TrackRemoved | TrackEnabled | TrackDisabled => Family::Track,
            RecordingStarted | RecordingCompleted | RecordingFailed => Family::Recording,
            CompositionEnqueued
            | CompositionHookFailed
            | CompositionStarted
            | CompositionAvailable
            | CompositionProgress
            | CompositionFailed => Family::Composition,
            Other(_) => Family::Unknown,
        }
    }

    /// Whether this event announces downloadable media, and so goes on the media queue.
    pub fn is_media(&self) -> bool {
        matches!(
            self,
            EventKind::RecordingCompleted | EventKind::CompositionAvailable
        )
    }
}

open_enum! {
    /// `RoomStatus`.
    pub enum RoomStatus {
        /// The room is live.
        InProgress = "in-progress",
        /// The room has ended.
        Completed = "completed",
        /// The room failed.
        Failed = "failed",
    }
}

open_enum! {
    /// `RoomType`.
    pub enum RoomType {
        /// Group room.
        Group = "group",
        /// Small group room.
        GroupSmall = "group-small",
        /// Peer-to-peer room.
        PeerToPeer = "peer-to-peer",
        /// WebRTC Go room.
        Go = "go",
    }
}

open_enum! {
    /// `ParticipantStatus`.
    pub enum ParticipantStatus {
        /// Connected to the room.
        Connected = "connected",
        /// Disconnected from the room.
        Disconnected = "disconnected",
    }
}

open_enum! {
    /// `TrackKind`, and a recording's `Type`.
    pub enum TrackKind {
        /// Data track.
        Data = "data",
        /// Audio track.
        Audio = "audio",
        /// Video track.
        Video = "video",
    }
}

open_enum! {
    /// A recording's `Container`.
    pub enum Container {
        /// Matroska audio, for audio recordings.
        Mka = "mka",
        /// Matroska video, for video recordings.
        Mkv = "mkv",
    }
}

open_enum! {
    /// A recording's `Codec`.
    pub enum Codec {
        /// G.711 µ-law audio.
        Pcmu = "PCMU",
        /// Opus audio.
        Opus = "OPUS",
        /// VP8 video.
        Vp8 = "VP8",
        /// H.264 video.
        H264 = "H264",
    }
}

open_enum! {
    /// `FailedOperation` (the recording values are documented; composition ones are kept as received).
    pub enum FailedOperation {
        /// Starting the recording failed.
        RecordingStart = "RecordingStart",
        /// Completing the recording failed.
        RecordingComplete = "RecordingComplete",
        /// Uploading the recording failed.
        RecordingUpload = "RecordingUpload",
    }
}

/// Which events a row of the specification's parameter tables covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every event, documented or not.
    Every,
    /// "All" in the Rooms table: the room, participant and track events. (The Rooms table also lists
    /// the recording events, but the Recordings table repeats every row it means for them.)
    RoomEvents,
    /// "All Participant and Track Events".
    ParticipantAndTrackEvents,
    /// "All Track events".
    TrackEvents,
    /// "All recording-* events".
    RecordingEvents,
    /// "All composition-* events".
    CompositionEvents,
    /// "All composition-* events except for composition-hook-failed".
    CompositionEventsExceptHookFailed,
    /// "Only on ..." or an explicit list of events: sent on those events when it applies.
    Only(&'static [&'static str]),
}

impl Scope {
    /// Whether the row covers `kind`.
    pub fn covers(self, kind: &EventKind) -> bool {
        let family = kind.family();
        match self {
            Scope::Every => true,
            Scope::RoomEvents => {
                matches!(family, Family::Room | Family::Participant | Family::Track)
            }
            Scope::ParticipantAndTrackEvents => {
                matches!(family, Family::Participant | Family::Track)
            }
            Scope::TrackEvents => family == Family::Track,
            Scope::RecordingEvents => family == Family::Recording,
            Scope::CompositionEvents => family == Family::Composition,
            Scope::CompositionEventsExceptHookFailed => {
                family == Family::Composition && *kind != EventKind::CompositionHookFailed
            }
            Scope::Only(events) => events.contains(&kind.as_str()),
        }
    }

    /// "All ..." rows are promised on every event they cover; the others are not.
    pub fn is_required(self) -> bool {
        !matches!(self, Scope::Only(_))
    }
}

/// One row of the specification's parameter tables.
#[derive(Debug, Clone, Copy)]
pub struct ParameterRule {
    /// The form parameter's name, as Twilio sends it.
    pub name: &'static str,
    /// The events that carry it.
    pub scope: Scope,
}

const fn rule(name: &'static str, scope: Scope) -> ParameterRule {
    ParameterRule { name, scope }
}

/// The specification's three parameter tables, row by row, plus the three parameters every callback
/// needs to be stored at all (`AccountSid`, `StatusCallbackEvent`, `Timestamp`).
pub const PARAMETER_RULES: &[ParameterRule] = &[
    rule("AccountSid", Scope::Every),
    rule("StatusCallbackEvent", Scope::Every),
    rule("Timestamp", Scope::Every),
    // Rooms.
    rule("RoomName", Scope::RoomEvents),
    rule("RoomSid", Scope::RoomEvents),
    rule("RoomStatus", Scope::RoomEvents),
    rule("RoomType", Scope::RoomEvents),
    rule("SequenceNumber", Scope::RoomEvents),
    rule("ParticipantSid", Scope::ParticipantAndTrackEvents),
    rule("ParticipantStatus", Scope::ParticipantAndTrackEvents),
    rule("ParticipantIdentity", Scope::ParticipantAndTrackEvents),
    rule(
        "ParticipantDuration",
        Scope::Only(&["participant-disconnected"]),
    ),
    rule("RoomDuration", Scope::Only(&["room-ended"])),
    rule("TrackSid", Scope::TrackEvents),
    rule("TrackKind", Scope::TrackEvents),
    // Recordings.
    rule("RecordingSid", Scope::RecordingEvents),
    rule("RoomSid", Scope::RecordingEvents),
    rule("RoomName", Scope::RecordingEvents),
    rule("RoomType", Scope::RecordingEvents),
    rule("ParticipantSid", Scope::RecordingEvents),
    rule("SourceSid", Scope::RecordingEvents),
    rule("RecordingUri", Scope::RecordingEvents),
    rule(
        "MediaUri",
        Scope::Only(&["recording-completed", "composition-available"]),
    ),
    rule(
        "Duration",
        Scope::Only(&["recording-completed", "composition-available"]),
    ),
    rule(
        "Size",
        Scope::Only(&["recording-completed", "composition-available"]),
    ),
    rule(
        "MediaExternalLocation",
        Scope::Only(&["recording-completed", "composition-available"]),
    ),
    rule("Container", Scope::RecordingEvents),
    rule("Codec", Scope::RecordingEvents),
    rule("ParticipantIdentity", Scope::RecordingEvents),
    rule("TrackName", Scope::RecordingEvents),
    rule("OffsetFromTwilioVideoEpoch", Scope::RecordingEvents),
    rule("Type", Scope::RecordingEvents),
    rule(
        "FailedOperation",
        Scope::Only(&[
            "recording-failed",
            "composition-failed",
            "composition-hook-failed",
        ]),
    ),
    // Compositions.
    rule("RoomSid", Scope::CompositionEvents),
    rule(
        "HookSid",
        Scope::Only(&["composition-enqueued", "composition-hook-failed"]),
    ),
    rule(
        "HookUri",
        Scope::Only(&["composition-enqueued", "composition-hook-failed"]),
    ),
    rule(
        "HookFriendlyName",
        Scope::Only(&["composition-enqueued", "composition-hook-failed"]),
    ),
    rule("CompositionSid", Scope::CompositionEventsExceptHookFailed),
    rule("CompositionUri", Scope::CompositionEventsExceptHookFailed),
    rule("PercentageDone", Scope::Only(&["composition-progress"])),
    rule("SecondsRemaining", Scope::Only(&["composition-progress"])),
    rule(
        "ErrorMessage",
        Scope::Only(&["composition-failed", "composition-hook-failed"]),
    ),
];

/// The parameters the specification promises on `kind`, in table order, without repeats.
pub fn required_parameters(kind: &EventKind) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for rule in PARAMETER_RULES {
        if rule.scope.is_required() && rule.scope.covers(kind) && !names.contains(&rule.name) {
            names.push(rule.name);
        }
    }
    names
}

/// Whether `name` is a parameter the specification documents (for any event).
pub fn is_documented_parameter(name: &str) -> bool {
    PARAMETER_RULES.iter().any(|rule| rule.name == name)
}

/// Why a callback's parameters could not be read. Each names the parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A parameter the specification promises for this event is absent.
    #[error("missing required parameter {name} for {event}")]
    Missing {
        /// The parameter.
        name: &'static str,
        /// The `StatusCallbackEvent`, or "callback" when that is what is missing.
        event: String,
    },
    /// A parameter is present but not of its documented form.
    #[error("parameter {name} is malformed: {expected}")]
    Malformed {
        /// The parameter.
        name: &'static str,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// A documented parameter appears more than once, so its value is ambiguous.
    #[error("parameter {name} appears more than once")]
    Repeated {
        /// The parameter.
        name: String,
    },
    /// None of `RoomSid`, `CompositionSid`, `HookSid` is present, so the callback belongs to no timeline.
    #[error(
        "missing RoomSid (or CompositionSid, HookSid): the callback names no room to file it under"
    )]
    NoTimeline,
}

/// The form parameters exactly as received: every name and value, repeats included, ordered by name
/// (a stable sort, so a repeated name keeps its values in the order received). Sorting once here serves
/// the signature, the idempotency key and the repeat check, which all need name order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

/// One parameter's value(s) in the stored `params` map: a string, or a list when the name repeated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// The name appeared once.
    Single(String),
    /// The name appeared more than once; values in the order received.
    Repeated(Vec<String>),
}

impl Params {
    /// Wraps pairs given in the order received.
    pub fn new(mut pairs: Vec<(String, String)>) -> Self {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        Params(pairs)
    }

    /// Decodes an `application/x-www-form-urlencoded` body (`+` and percent-encoding; bytes that do not
    /// decode to UTF-8 become U+FFFD, so such a value never matches what Twilio signed). This is what
    /// `serde_urlencoded` reads for a list of pairs, without its serde layer: it never fails.
    pub fn from_form(body: &[u8]) -> Self {
        Params::new(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The pairs, by name.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every parameter as a map, for storage: repeated names become lists.
    pub fn to_map(&self) -> BTreeMap<String, ParamValue> {
        self.clone().into_map()
    }

    /// [`Params::to_map`], moving the names and values.
    pub fn into_map(self) -> BTreeMap<String, ParamValue> {
        let mut map: BTreeMap<String, ParamValue> = BTreeMap::new();
        for (key, value) in self.0 {
            if let Some(existing) = map.get_mut(&key) {
                let values = match std::mem::replace(existing, ParamValue::Repeated(Vec::new())) {
                    ParamValue::Single(first) => vec![first, value],
                    ParamValue::Repeated(mut values) => {
                        values.push(value);
                        values
                    }
                };
                *existing = ParamValue::Repeated(values);
            } else {
                map.insert(key, ParamValue::Single(value));
            }
        }
        map
    }
}

/// Every parameter the specification documents, typed, with snake_case names. Absent ones are `None`
/// and are left out when serialized, so a stored item or a JSON document carries only what Twilio sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackFields {
    /// `AccountSid`.
    pub account_sid: String,
    /// `Timestamp`, in UTC.
    #[serde(with = "crate::twilio::timestamp")]
    pub timestamp: OffsetDateTime,
    /// `RoomSid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_sid: Option<String>,
    /// `RoomName` (the room's UniqueName).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_name: Option<String>,
    /// `RoomStatus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_status: Option<RoomStatus>,
    /// `RoomType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_type: Option<RoomType>,
    /// `RoomDuration`, seconds (room-ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_duration: Option<u64>,
    /// `SequenceNumber` (internal to Twilio; order by `timestamp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<u64>,
    /// `ParticipantSid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_sid: Option<String>,
    /// `ParticipantStatus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_status: Option<ParticipantStatus>,
    /// `ParticipantIdentity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_identity: Option<String>,
    /// `ParticipantDuration`, seconds (participant-disconnected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_duration: Option<u64>,
    /// `TrackSid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_sid: Option<String>,
    /// `TrackKind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_kind: Option<TrackKind>,
    /// `RecordingSid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_sid: Option<String>,
    /// `RecordingUri`, relative to `https://video.twilio.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_uri: Option<String>,
    /// `SourceSid`: the recorded track (`MT...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sid: Option<String>,
    /// `TrackName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_name: Option<String>,
    /// `Type`: audio or video.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<TrackKind>,
    /// `Container`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// `Codec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<Codec>,
    /// `OffsetFromTwilioVideoEpoch`, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_from_twilio_video_epoch: Option<u64>,
    /// `MediaUri`, relative to `https://video.twilio.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_uri: Option<String>,
    /// `MediaExternalLocation`: where Twilio wrote the media when external storage is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_external_location: Option<String>,
    /// `Duration`, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// `Size`, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// `FailedOperation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_operation: Option<FailedOperation>,
    /// `ErrorMessage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// `HookSid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_sid: Option<String>,
    /// `HookUri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_uri: Option<String>,
    /// `HookFriendlyName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_friendly_name: Option<String>,
    /// `CompositionSid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composition_sid: Option<String>,
    /// `CompositionUri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composition_uri: Option<String>,
    /// `PercentageDone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage_done: Option<u64>,
    /// `SecondsRemaining`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_remaining: Option<u64>,
}

/// A verified, parsed callback: the event, its typed fields, and every parameter as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// `StatusCallbackEvent`.
    pub event: EventKind,
    /// The documented parameters, typed.
    pub fields: CallbackFields,
    /// Every parameter as received, documented or not.
    pub params: Params,
}

impl Callback {
    /// Reads `params` strictly: the first way they break the specification's tables is an error.
    pub fn parse(params: Params) -> Result<Self, ParseError> {
        let (callback, problems) = Callback::read(params, OffsetDateTime::UNIX_EPOCH);
        match problems.into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(callback),
        }
    }

    /// Reads `params` as far as they go and never refuses them: a signed callback is Twilio's record of
    /// what happened. Every way they break the specification's tables is returned, in the order found;
    /// the typed field of a malformed value is left empty, and a `Timestamp` that is absent or does not
    /// parse is replaced by `received_at`.
    pub fn read(params: Params, received_at: OffsetDateTime) -> (Self, Vec<ParseError>) {
        let mut problems = Vec::new();
        let mut last_repeated = None;
        for pair in params.pairs().windows(2) {
            let name = &pair[0].0;
            if *name == pair[1].0 && is_documented_parameter(name) && last_repeated != Some(name) {
                problems.push(ParseError::Repeated { name: name.clone() });
                last_repeated = Some(name);
            }
        }
        let get = |name: &str| params.get(name);
        let event = match get("StatusCallbackEvent") {
            Some(event) => EventKind::from(event),
            None => {
                problems.push(ParseError::Missing {
                    name: "StatusCallbackEvent",
                    event: "callback".to_owned(),
                });
                EventKind::from("")
            }
        };
        for rule in PARAMETER_RULES
            .iter()
            .filter(|rule| rule.scope.is_required() && rule.scope.covers(&event))
        {
            if get(rule.name).is_none() && rule.name != "StatusCallbackEvent" {
                let event = match event.as_str() {
                    "" => "callback",
                    event => event,
                };
                problems.push(ParseError::Missing {
                    name: rule.name,
                    event: event.to_owned(),
                });
            }
        }

        let timestamp = match get("Timestamp").map(crate::twilio::timestamp::parse) {
            Some(Some(timestamp)) => timestamp,
            Some(None) => {
                problems.push(ParseError::Malformed {
                    name: "Timestamp",
                    expected: "an ISO 8601 (RFC 3339) date and time with an offset",
                });
                received_at
            }
            None => received_at,
        };
        let text = |name: &str| get(name).map(str::to_owned);
        let mut number = |name: &'static str| -> Option<u64> {
            let value = get(name)?;
            let parsed = value.trim().parse::<u64>().ok();
            if parsed.is_none() {
                problems.push(ParseError::Malformed {
                    name,
                    expected: "a non-negative integer",
                });
            }
            parsed
        };
        let room_duration = number("RoomDuration");
        let sequence_number = number("SequenceNumber");
        let participant_duration = number("ParticipantDuration");
        let offset_from_twilio_video_epoch = number("OffsetFromTwilioVideoEpoch");
        let duration = number("Duration");
        let size = number("Size");
        let percentage_done = number("PercentageDone");
        let seconds_remaining = number("SecondsRemaining");
        let fields = CallbackFields {
            account_sid: text("AccountSid").unwrap_or_default(),
            timestamp,
            room_sid: text("RoomSid"),
            room_name: text("RoomName"),
            room_status: get("RoomStatus").map(From::from),
            room_type: get("RoomType").map(From::from),
            room_duration,
            sequence_number,
            participant_sid: text("ParticipantSid"),
            participant_status: get("ParticipantStatus").map(From::from),
            participant_identity: text("ParticipantIdentity"),
            participant_duration,
            track_sid: text("TrackSid"),
            track_kind: get("TrackKind").map(From::from),
            recording_sid: text("RecordingSid"),
            recording_uri: text("RecordingUri"),
            source_sid: text("SourceSid"),
            track_name: text("TrackName"),
            media_type: get("Type").map(From::from),
            container: get("Container").map(From::from),
            codec: get("Codec").map(From::from),
            offset_from_twilio_video_epoch,
            media_uri: text("MediaUri"),
            media_external_location: text("MediaExternalLocation"),
            duration,
            size,
            failed_operation: get("FailedOperation").map(From::from),
            error_message: text("ErrorMessage"),
            hook_sid: text("HookSid"),
            hook_uri: text("HookUri"),
            hook_friendly_name: text("HookFriendlyName"),
            composition_sid: text("CompositionSid"),
            composition_uri: text("CompositionUri"),
            percentage_done,
            seconds_remaining,
        };
        let callback = Callback {
            event,
            fields,
            params,
        };
        if callback.documented_timeline_sid().is_none() {
            problems.push(ParseError::NoTimeline);
        }
        (callback, problems)
    }

    /// The SID the specification files this callback under: `RoomSid`, else `CompositionSid`, else
    /// `HookSid`.
    fn documented_timeline_sid(&self) -> Option<&str> {
        let fields = &self.fields;
        [&fields.room_sid, &fields.composition_sid, &fields.hook_sid]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .find(|sid| !sid.is_empty())
    }

    /// The SID whose timeline this callback belongs to: `RoomSid`, else `CompositionSid`, else `HookSid`,
    /// and for a callback that breaks the specification by carrying none of those, `RecordingSid`, else
    /// `AccountSid`.
    pub fn timeline_sid(&self) -> Option<&str> {
        let fields = &self.fields;
        self.documented_timeline_sid().or_else(|| {
            [
                fields.recording_sid.as_deref(),
                Some(fields.account_sid.as_str()),
            ]
            .into_iter()
            .flatten()
            .find(|sid| !sid.is_empty())
        })
    }
}

#[cfg(test)]
mod tests;
