//! Writes the timeline page of a made-up but realistic room (twelve participants, their audio, video and
//! screen tracks, per-track recordings with their archive outcomes, a composition, one malformed and one
//! spilled callback) to the file named on the command line, through the same library functions the
//! `timeline --html` subcommand uses. `scripts/screenshot.sh` renders it with headless Chromium for the
//! README's picture. Prints the drawing's height in pixels.
//!
//! cargo run --features operator --example timeline_sample -- .local/sample-room.html

use time::{Duration, OffsetDateTime};
use twilio_video_callbacks::archiver::rules::{ArchiveRecord, Archived};
use twilio_video_callbacks::operator::timeline::{self, Entry};
use twilio_video_callbacks::receiver::item::StoredEvent;
use twilio_video_callbacks::twilio::callback::{Callback, Params};
use twilio_video_callbacks::twilio::timestamp;

const ACCOUNT: &str = "AC00000000000000000000000000000001";
const ROOM: &str = "RM000000000000000000000000000000a7";
const PEOPLE: [&str; 12] = [
    "ana.silva",
    "ben.okafor",
    "chen.wei",
    "dana.kowalski",
    "eli.haddad",
    "fatima.noor",
    "gus.lindqvist",
    "hana.sato",
    "ivan.petrov",
    "jules.martin",
    "kofi.mensah",
    "lea.dubois",
];

struct Room {
    start: OffsetDateTime,
    entries: Vec<Entry>,
    next: u32,
}

impl Room {
    fn at(&self, seconds: i64) -> String {
        timestamp::format(self.start + Duration::seconds(seconds))
    }

    fn sid(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:032x}", self.next)
    }

    /// Stores one callback as the receiver would; returns the item.
    fn callback(&mut self, event: &str, seconds: i64, extra: &[(&str, &str)]) -> StoredEvent {
        let at = self.at(seconds);
        let mut params: Vec<(String, String)> = [
            ("AccountSid", ACCOUNT),
            ("RoomSid", ROOM),
            ("RoomName", "weekly-all-hands"),
            ("RoomType", "group"),
            ("StatusCallbackEvent", event),
            ("Timestamp", at.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        if ["room-", "participant-", "track-"]
            .iter()
            .any(|p| event.starts_with(p))
        {
            if !extra.iter().any(|(k, _)| *k == "RoomStatus") {
                params.push(("RoomStatus".into(), "in-progress".into()));
            }
            params.push(("SequenceNumber".into(), self.next.to_string()));
        }
        params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let (callback, problems) = Callback::read(Params::new(params), self.start);
        let item = StoredEvent::new(callback, self.start, None).with_problems(&problems);
        self.entries.push(Entry::Callback(Box::new(item.clone())));
        item
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: timeline_sample FILE.html")?;
    let start = timestamp::parse("2026-11-27T14:00:00Z").ok_or("start time")?;
    let mut room = Room {
        start,
        entries: Vec::new(),
        next: 0,
    };
    let end = 47 * 60 + 30;
    room.callback("room-created", 0, &[]);
    // A small linear congruential generator: the same picture every run.
    let mut seed: u64 = 7;
    let mut roll = |n: i64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) % n.max(1) as u64) as i64
    };
    let mut completed = Vec::new();
    for (n, who) in PEOPLE.iter().enumerate() {
        let participant = room.sid("PA");
        let joined = 5 + roll(420) + if n == 11 { 900 } else { 0 };
        let left = if n == 4 { 1500 } else { end - 60 + roll(50) };
        let person = [
            ("ParticipantSid", participant.as_str()),
            ("ParticipantIdentity", *who),
            ("ParticipantStatus", "connected"),
        ];
        room.callback("participant-connected", joined, &person);
        let mut tracks = vec![("audio", "microphone"), ("video", "camera")];
        if n == 2 || n == 7 {
            tracks.push(("video", "screen"));
        }
        for (k, (kind, name)) in tracks.iter().enumerate() {
            let track = room.sid("MT");
            let added = joined
                + 2
                + k as i64
                + if *name == "screen" {
                    600 + roll(300)
                } else {
                    0
                };
            let removed = if *name == "screen" {
                added + 300 + roll(400)
            } else {
                left - 1
            };
            let mut with_track = person.to_vec();
            with_track.extend([("TrackSid", track.as_str()), ("TrackKind", *kind)]);
            room.callback("track-added", added, &with_track);
            if *name == "camera" && n % 3 == 1 {
                let off = added + 200 + roll(600);
                room.callback("track-disabled", off, &with_track);
                room.callback("track-enabled", off + 120 + roll(240), &with_track);
            }
            let recording = room.sid("RT");
            let media_uri = format!("/v1/Recordings/{recording}/Media");
            let duration = (removed - added).to_string();
            let size =
                ((removed - added) * if *kind == "audio" { 5_000 } else { 60_000 }).to_string();
            let (container, codec) = if *kind == "audio" {
                ("mka", "OPUS")
            } else {
                ("mkv", "VP8")
            };
            let recorded = [
                ("RecordingSid", recording.as_str()),
                ("ParticipantSid", participant.as_str()),
                ("ParticipantIdentity", *who),
                ("SourceSid", track.as_str()),
                ("TrackName", *name),
                ("Type", *kind),
                ("Container", container),
                ("Codec", codec),
                ("RecordingUri", "/v1/Recordings/x"),
                ("OffsetFromTwilioVideoEpoch", "0"),
                ("MediaUri", media_uri.as_str()),
            ];
            room.callback("recording-started", added + 1, &recorded);
            if *name != "screen" {
                room.callback("track-removed", removed, &with_track);
            }
            let mut done = recorded.to_vec();
            done.extend([("Duration", duration.as_str()), ("Size", size.as_str())]);
            completed.push(room.callback("recording-completed", removed + 2, &done));
        }
        if n == 4 {
            room.callback("participant-disconnected", left, &person);
            let again = room.sid("PA");
            let back = [
                ("ParticipantSid", again.as_str()),
                ("ParticipantIdentity", *who),
                ("ParticipantStatus", "connected"),
            ];
            room.callback("participant-connected", left + 240, &back);
            room.callback("participant-disconnected", end - 30, &back);
        } else {
            room.callback("participant-disconnected", left, &person);
        }
    }
    // One callback that broke the tables, one the table could not take at once.
    room.callback(
        "participant-connected",
        1260,
        &[("ParticipantStatus", "connected")],
    );
    if let Some(Entry::Callback(item)) = room
        .entries
        .iter_mut()
        .rev()
        .find(|e| matches!(e, Entry::Callback(item) if item.event == "track-disabled"))
    {
        item.spilled = Some("could not store the callback: DynamoDB throttled".into());
    }
    room.callback(
        "room-ended",
        end,
        &[
            ("RoomStatus", "completed"),
            ("RoomDuration", &end.to_string()),
        ],
    );
    // The archiver's outcomes: all archived but one failure and two still waiting.
    for (n, item) in completed.iter().enumerate() {
        let Some(message) = item.media_message() else {
            continue;
        };
        let at = room.at(end + 30 + n as i64 * 3);
        let record = match n {
            5 => ArchiveRecord::failed(
                &message,
                "media not found at Twilio (404): it was deleted",
                &at,
            ),
            9 | 17 => continue,
            _ => ArchiveRecord::archived(
                &message,
                &Archived::Copied {
                    s3_uri: format!(
                        "s3://video-archive/twilio-video/{ACCOUNT}/{ROOM}/{}.{}",
                        message.recording_sid.clone().unwrap_or_default(),
                        if message.container.as_ref().map(|c| c.as_str()) == Some("mka") {
                            "mka"
                        } else {
                            "mkv"
                        }
                    ),
                    size: message.size.unwrap_or_default(),
                    content_type: "video/x-matroska".into(),
                    sha256: "0".repeat(64),
                    encrypted: None,
                },
                &at,
            ),
        };
        room.entries.push(Entry::Outcome(Box::new(record)));
    }
    let composition = room.sid("CJ");
    let composed = [
        ("CompositionSid", composition.as_str()),
        ("CompositionUri", "/v1/Compositions/x"),
    ];
    room.callback("composition-enqueued", end + 20, &composed);
    room.callback("composition-started", end + 40, &composed);
    for (k, percent) in ["25", "50", "75"].iter().enumerate() {
        let mut progress = composed.to_vec();
        progress.push(("PercentageDone", percent));
        room.callback("composition-progress", end + 100 + 90 * k as i64, &progress);
    }
    let media_uri = format!("/v1/Compositions/{composition}/Media");
    let mut available = composed.to_vec();
    available.extend([
        ("MediaUri", media_uri.as_str()),
        ("Duration", "2850"),
        ("Size", "734003200"),
    ]);
    let item = room.callback("composition-available", end + 420, &available);
    if let Some(message) = item.media_message() {
        room.entries
            .push(Entry::Outcome(Box::new(ArchiveRecord::archived(
                &message,
                &Archived::Copied {
                    s3_uri: format!(
                        "s3://video-archive/twilio-video/{ACCOUNT}/{ROOM}/{composition}.mp4"
                    ),
                    size: 734_003_200,
                    content_type: "video/mp4".into(),
                    sha256: "0".repeat(64),
                    encrypted: None,
                },
                &room.at(end + 600),
            ))));
    }

    let story = timeline::build(ROOM, room.entries);
    let page = timeline::html(&story);
    std::fs::write(&path, &page)?;
    let height = timeline::svg(&story)
        .split("height=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|h| h.parse::<u32>().ok())
        .unwrap_or(900);
    println!("{height}");
    Ok(())
}
