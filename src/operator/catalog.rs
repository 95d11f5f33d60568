//! Twilio's media resources as the archive sees them: one [`MediaFile`] per completed recording or
//! composition, the schema-1 [`MediaMessage`] the receiver would have sent for its callback, and the key
//! the archiver writes it under.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::archiver::rules::{self, ArchiveError};
use crate::message::{MediaMessage, SCHEMA_VERSION};
use crate::operator::rest::{Composition, Recording};
use crate::twilio::callback::{Codec, Container, TrackKind};
use crate::twilio::timestamp;

/// The `origin` of messages the operator sends.
pub const BACKFILL: &str = "backfill";

/// Recording or composition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `RT...`, from `/v1/Recordings`.
    Recording,
    /// `CJ...`, from `/v1/Compositions`.
    Composition,
}

impl Kind {
    /// The REST collection (`Recordings`, `Compositions`).
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Recording => "Recordings",
            Kind::Composition => "Compositions",
        }
    }
}

/// One media file at Twilio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// Which kind.
    pub kind: Kind,
    /// A composition's `format` (mp4, webm): its archive extension.
    pub format: Option<String>,
    /// The message the receiver would have sent for its callback.
    pub message: MediaMessage,
}

impl MediaFile {
    /// The recording's or composition's SID.
    pub fn sid(&self) -> &str {
        rules::media_sid(&self.message).unwrap_or_default()
    }

    /// Twilio's size of it, in bytes.
    pub fn size(&self) -> Option<u64> {
        self.message.size
    }

    /// Where Twilio stored it when the account uses external storage.
    pub fn external(&self) -> Option<&str> {
        self.message
            .media_external_location
            .as_deref()
            .filter(|l| !l.is_empty())
    }

    /// The object key the archiver writes it under (`{prefix}{account}/{room}/{sid}.{ext}`).
    pub fn archive_key(&self, prefix: &str) -> Result<String, ArchiveError> {
        let ext = match self.kind {
            Kind::Recording => rules::extension(&self.message, None),
            Kind::Composition => match self.format.as_deref() {
                Some("webm") => "webm".to_owned(),
                _ => rules::extension(&self.message, Some("video/mp4")),
            },
        };
        rules::object_key(prefix, &self.message, &ext)
    }

    /// The key without its extension: what every object of this media's key starts with.
    pub fn archive_stem(&self, prefix: &str) -> Result<String, ArchiveError> {
        rules::object_key(prefix, &self.message, "")
    }
}

/// The idempotency key of a backfilled media file: SHA-256 (hex) of its SID, so every backfill of the
/// same file sends the same key (the schema's 64 lowercase hex digits).
pub fn backfill_key(sid: &str) -> String {
    hex::encode(Sha256::digest(format!(
        "twilio-video-callbacks backfill {sid}"
    )))
}

fn time(value: Option<&str>) -> Option<String> {
    value.and_then(timestamp::parse).map(timestamp::format)
}

/// `MediaUri`, relative to Twilio's Video API, from the absolute `links.media`.
fn media_uri(url: &str) -> String {
    url.parse::<hyper::Uri>()
        .ok()
        .and_then(|uri| uri.path_and_query().map(|pq| pq.as_str().to_owned()))
        .unwrap_or_else(|| url.to_owned())
}

impl MediaFile {
    /// A completed recording; `None` when it names no room (it could not be filed in the archive).
    pub fn from_recording(recording: Recording) -> Option<Self> {
        let grouping = recording.grouping_sids.unwrap_or_default();
        let room_sid = grouping.room_sid.filter(|sid| !sid.is_empty())?;
        let media_url = recording.links.and_then(|links| links.media);
        Some(MediaFile {
            kind: Kind::Recording,
            format: None,
            message: MediaMessage {
                schema_version: SCHEMA_VERSION,
                event: "recording-completed".into(),
                idempotency_key: backfill_key(&recording.sid),
                account_sid: recording.account_sid,
                room_sid,
                room_name: None,
                recording_sid: Some(recording.sid),
                composition_sid: None,
                participant_sid: grouping.participant_sid,
                source_sid: recording.source_sid,
                track_name: recording.track_name,
                media_type: recording.media_type.as_deref().map(TrackKind::from),
                container: recording.container_format.as_deref().map(Container::from),
                // The REST API writes codecs in lower case; callbacks (and the message) in upper case.
                codec: recording
                    .codec
                    .map(|codec| Codec::from(codec.to_ascii_uppercase().as_str())),
                media_uri: media_url.as_deref().map(media_uri),
                media_url,
                media_external_location: recording.media_external_location,
                duration: recording.duration,
                size: recording.size,
                timestamp: time(recording.date_created.as_deref()).unwrap_or_default(),
                origin: Some(BACKFILL.to_owned()),
            },
        })
    }

    /// A completed composition; `None` when it names no room.
    pub fn from_composition(composition: Composition) -> Option<Self> {
        let room_sid = composition.room_sid.filter(|sid| !sid.is_empty())?;
        let media_url = composition.links.and_then(|links| links.media);
        let completed = time(composition.date_completed.as_deref())
            .or_else(|| time(composition.date_created.as_deref()));
        Some(MediaFile {
            kind: Kind::Composition,
            format: composition.format.map(|f| f.to_ascii_lowercase()),
            message: MediaMessage {
                schema_version: SCHEMA_VERSION,
                event: "composition-available".into(),
                idempotency_key: backfill_key(&composition.sid),
                account_sid: composition.account_sid,
                room_sid,
                room_name: None,
                recording_sid: None,
                composition_sid: Some(composition.sid),
                participant_sid: None,
                source_sid: None,
                track_name: None,
                media_type: None,
                container: None,
                codec: None,
                media_uri: media_url.as_deref().map(media_uri),
                media_url,
                media_external_location: composition.media_external_location,
                duration: composition.duration,
                size: composition.size,
                timestamp: completed.unwrap_or_default(),
                origin: Some(BACKFILL.to_owned()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::rest::{GroupingSids, Links};

    fn recording() -> Recording {
        serde_json::from_value(serde_json::json!({
            "account_sid": "AC00000000000000000000000000000001",
            "status": "completed",
            "date_created": "2026-03-01T10:00:00Z",
            "sid": "RT00000000000000000000000000000001",
            "source_sid": "MT00000000000000000000000000000001",
            "size": 23,
            "type": "audio",
            "duration": 10,
            "container_format": "mka",
            "codec": "opus",
            "track_name": "microphone",
            "offset": 10,
            "grouping_sids": {
                "room_sid": "RM00000000000000000000000000000001",
                "participant_sid": "PA00000000000000000000000000000001"
            },
            "media_external_location": null,
            "url": "https://video.twilio.com/v1/Recordings/RT00000000000000000000000000000001",
            "links": {"media": "https://video.twilio.com/v1/Recordings/RT00000000000000000000000000000001/Media"}
        }))
        .unwrap_or_else(|err| panic!("{err}"))
    }

    #[test]
    fn a_recording_makes_the_message_its_callback_would_have() {
        let Some(file) = MediaFile::from_recording(recording()) else {
            panic!("a room")
        };
        let m = &file.message;
        assert_eq!(m.event, "recording-completed");
        assert_eq!(m.room_sid, "RM00000000000000000000000000000001");
        assert_eq!(
            m.participant_sid.as_deref(),
            Some("PA00000000000000000000000000000001")
        );
        assert_eq!(
            m.media_uri.as_deref(),
            Some("/v1/Recordings/RT00000000000000000000000000000001/Media")
        );
        assert_eq!(m.codec, Some(Codec::Opus));
        assert_eq!(m.container, Some(Container::Mka));
        assert_eq!(m.media_type, Some(TrackKind::Audio));
        assert_eq!(m.timestamp, "2026-03-01T10:00:00.000Z");
        assert_eq!(m.origin.as_deref(), Some(BACKFILL));
        assert_eq!(
            m.idempotency_key,
            backfill_key("RT00000000000000000000000000000001")
        );
        assert_eq!(m.idempotency_key.len(), 64);
        assert_eq!(
            file.archive_key("twilio-video/").ok().as_deref(),
            Some("twilio-video/AC00000000000000000000000000000001/RM00000000000000000000000000000001/RT00000000000000000000000000000001.mka")
        );
    }

    #[test]
    fn the_key_depends_on_the_sid_alone() {
        assert_eq!(backfill_key("RT1"), backfill_key("RT1"));
        assert_ne!(backfill_key("RT1"), backfill_key("RT2"));
    }

    #[test]
    fn media_without_a_room_cannot_be_filed() {
        let mut orphan = recording();
        orphan.grouping_sids = Some(GroupingSids::default());
        assert!(MediaFile::from_recording(orphan).is_none());
        let composition = Composition {
            sid: "CJ1".into(),
            account_sid: "AC1".into(),
            status: Some("completed".into()),
            date_created: Some("2026-03-01T10:00:00Z".into()),
            date_completed: Some("2026-03-01T10:05:00Z".into()),
            room_sid: Some("RM1".into()),
            format: Some("webm".into()),
            size: Some(5),
            duration: Some(1),
            media_external_location: None,
            links: Some(Links {
                media: Some("https://video.twilio.com/v1/Compositions/CJ1/Media".into()),
            }),
        };
        let Some(file) = MediaFile::from_composition(composition) else {
            panic!("a room")
        };
        assert_eq!(file.message.timestamp, "2026-03-01T10:05:00.000Z");
        assert_eq!(
            file.archive_key("p/").ok().as_deref(),
            Some("p/AC1/RM1/CJ1.webm")
        );
    }
}
