//! The media queue's message contract (schema version 1).
//!
//! One message is sent for every delivery of a `recording-completed` or `composition-available` callback,
//! at the same time as its item is written (the receiver builds it from the item with
//! `StoredEvent::media_message`). It is JSON; the SQS message also
//! carries a String attribute `event` with the same value as the body's `event`, so subscriptions and
//! filters need not parse the body. Delivery is at least once (Twilio's redeliveries are sent again): a
//! worker must treat two messages with the same `idempotency_key` as one. The message is self-contained; it
//! may be read before its item is, so a worker should not look the item up.
//!
//! Compatibility: fields may be added within version 1 (ignore what you do not know); removing or
//! changing the meaning of a field raises `schema_version`.

use serde::{Deserialize, Serialize};

use crate::twilio::callback::{Codec, Container, TrackKind};

/// The version of [`MediaMessage`] this crate writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Where Twilio serves the relative `MediaUri` of recordings and compositions.
pub const TWILIO_VIDEO_BASE_URL: &str = "https://video.twilio.com";

/// A media file is ready at Twilio (or in the team's external storage): fetch or record it.
///
/// Optional fields are left out of the JSON when the callback did not carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaMessage {
    /// Always [`SCHEMA_VERSION`] for this type.
    pub schema_version: u32,
    /// `recording-completed` or `composition-available`.
    pub event: String,
    /// The stored callback's idempotency key (also the FIFO deduplication id, but for an operator's
    /// replay: `{key}:replay:{run id}`): equal for duplicates.
    pub idempotency_key: String,
    /// The Twilio account.
    pub account_sid: String,
    /// The room the media comes from.
    pub room_sid: String,
    /// The room's UniqueName.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_name: Option<String>,
    /// For `recording-completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_sid: Option<String>,
    /// For `composition-available`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composition_sid: Option<String>,
    /// The recorded participant (recordings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_sid: Option<String>,
    /// The recorded track, `MT...` (recordings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sid: Option<String>,
    /// The recorded track's name (recordings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_name: Option<String>,
    /// `audio` or `video` (recordings).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<TrackKind>,
    /// `mka` or `mkv` (recordings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// `PCMU`, `OPUS`, `VP8`, `H264`, or another value as Twilio sent it (recordings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<Codec>,
    /// `MediaUri` exactly as received (relative to `https://video.twilio.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_uri: Option<String>,
    /// The absolute URL to GET (with Twilio credentials) for the media: answers a redirect to the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
    /// Where Twilio wrote the media when the account uses external storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_external_location: Option<String>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// Bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The callback's `Timestamp`, UTC, RFC 3339 with milliseconds (for a backfill, when Twilio created
    /// the recording, or completed the composition).
    pub timestamp: String,
    /// Absent for a message sent for a callback; `backfill` for one the operator's `backfill` (or
    /// `reconcile --enqueue-missing`) sent for media listed from Twilio's REST API. Added within version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl MediaMessage {
    /// The SQS FIFO message group: one room's media in order.
    pub fn group_id(&self) -> &str {
        &self.room_sid
    }
}

/// `MediaUri` is relative to Twilio's Video API; an absolute URI is kept as it is.
pub fn absolute_media_url(media_uri: &str) -> String {
    if media_uri.starts_with("https://") || media_uri.starts_with("http://") {
        media_uri.to_owned()
    } else if media_uri.starts_with('/') {
        format!("{TWILIO_VIDEO_BASE_URL}{media_uri}")
    } else {
        format!("{TWILIO_VIDEO_BASE_URL}/{media_uri}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twilio::callback::{Callback, EventKind, Params};

    fn message(callback: Callback) -> Option<MediaMessage> {
        let now = time::OffsetDateTime::now_utc();
        crate::receiver::item::StoredEvent::new(callback, now, None).media_message()
    }

    fn parse(pairs: &[(&str, &str)]) -> Callback {
        let params = Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        Callback::parse(params).unwrap_or_else(|err| panic!("{err}"))
    }

    fn recording_completed() -> Callback {
        parse(&[
            ("AccountSid", "AC01"),
            ("StatusCallbackEvent", "recording-completed"),
            ("Timestamp", "2026-11-27T09:00:00Z"),
            ("RoomSid", "RM01"),
            ("RoomName", "standup"),
            ("RoomType", "group"),
            ("RecordingSid", "RT01"),
            ("ParticipantSid", "PA01"),
            ("ParticipantIdentity", "alice"),
            ("SourceSid", "MT01"),
            ("RecordingUri", "/v1/Recordings/RT01"),
            ("MediaUri", "/v1/Recordings/RT01/Media"),
            ("Duration", "61"),
            ("Size", "1048576"),
            ("Container", "mka"),
            ("Codec", "OPUS"),
            ("TrackName", "mic"),
            ("OffsetFromTwilioVideoEpoch", "1000"),
            ("Type", "audio"),
        ])
    }

    #[test]
    fn recording_message_has_the_documented_body() {
        let message = message(recording_completed())
            .unwrap_or_else(|| panic!("recording-completed must produce a message"));
        let key = crate::receiver::item::idempotency_key(&recording_completed().params);
        let json = serde_json::to_value(&message).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(
            json,
            serde_json::json!({
                "schema_version": 1,
                "event": "recording-completed",
                "idempotency_key": key,
                "account_sid": "AC01",
                "room_sid": "RM01",
                "room_name": "standup",
                "recording_sid": "RT01",
                "participant_sid": "PA01",
                "source_sid": "MT01",
                "track_name": "mic",
                "type": "audio",
                "container": "mka",
                "codec": "OPUS",
                "media_uri": "/v1/Recordings/RT01/Media",
                "media_url": "https://video.twilio.com/v1/Recordings/RT01/Media",
                "duration": 61,
                "size": 1048576,
                "timestamp": "2026-11-27T09:00:00.000Z"
            })
        );
        let back: MediaMessage = serde_json::from_value(json).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(back, message);
        assert_eq!(back.group_id(), "RM01");
    }

    #[test]
    fn composition_message_names_the_composition() {
        let callback = parse(&[
            ("AccountSid", "AC01"),
            ("StatusCallbackEvent", "composition-available"),
            ("Timestamp", "2026-11-27T09:00:00Z"),
            ("RoomSid", "RM01"),
            ("CompositionSid", "CJ01"),
            ("CompositionUri", "/v1/Compositions/CJ01"),
            ("MediaUri", "/v1/Compositions/CJ01/Media"),
            (
                "MediaExternalLocation",
                "https://bucket.s3.amazonaws.com/CJ01.mp4",
            ),
            ("Duration", "600"),
            ("Size", "99"),
        ]);
        let message = message(callback)
            .unwrap_or_else(|| panic!("composition-available must produce a message"));
        assert_eq!(message.composition_sid.as_deref(), Some("CJ01"));
        assert_eq!(message.recording_sid, None);
        assert_eq!(message.container, None);
        assert_eq!(
            message.media_external_location.as_deref(),
            Some("https://bucket.s3.amazonaws.com/CJ01.mp4")
        );
        assert_eq!(
            message.media_url.as_deref(),
            Some("https://video.twilio.com/v1/Compositions/CJ01/Media")
        );
    }

    #[test]
    fn other_events_produce_no_message() {
        let mut callback = recording_completed();
        callback.event = EventKind::RecordingStarted;
        assert_eq!(message(callback.clone()), None);
        callback.event = EventKind::Other("recording-archived".into());
        assert_eq!(message(callback), None);
    }

    #[test]
    fn media_url_is_absolute_on_twilio() {
        assert_eq!(
            absolute_media_url("/v1/x/Media"),
            "https://video.twilio.com/v1/x/Media"
        );
        assert_eq!(
            absolute_media_url("v1/x/Media"),
            "https://video.twilio.com/v1/x/Media"
        );
        assert_eq!(
            absolute_media_url("https://video.twilio.com/v1/x"),
            "https://video.twilio.com/v1/x"
        );
    }
}
