//! The timeline's tests, one file per file they test (`model`, `table`, `svg`, `page`), and what they
//! share, here: callbacks as the receiver stores them, archive outcomes, and a whole room's items.

use time::OffsetDateTime;

use super::*;
use crate::archiver::rules::{ArchiveRecord, Archived};
use crate::receiver::item::StoredEvent;
use crate::twilio::callback::{Callback, Params};
use crate::twilio::timestamp;

mod model;
mod page;
mod svg;
mod table;

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

fn participant_with(event_name: &str, time: &str, n: usize, extra: &[(&str, &str)]) -> StoredEvent {
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

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}
