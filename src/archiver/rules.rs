//! The media archiver's rules, without I/O: where a recording or composition goes in S3, what is
//! recorded in the room's timeline, and which failures are worth a retry.

use serde::{Deserialize, Serialize};

use crate::message::{MediaMessage, SCHEMA_VERSION};
use crate::twilio::envelope::{self, Version};

/// Where archived media goes when `ARCHIVE_PREFIX` is not set.
pub const DEFAULT_PREFIX: &str = "twilio-video/";

/// Why one message could not be archived (now, or ever).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    /// The body is not a media message this archiver understands. Retried, then dead-lettered.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// Twilio no longer has the media (404): it cannot succeed later; recorded and acknowledged.
    #[error("media not found at Twilio ({0}): it was deleted; nothing to archive")]
    MediaGone(String),
    /// Twilio refused the credentials: a configuration error, retried (and dead-lettered) until fixed.
    #[error(
        "Twilio answered {status} for {url}: check TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET (or the \
         TWILIO_API_KEY_PARAMETER they come from): the key must exist in this account and be allowed to \
         read Video media"
    )]
    Unauthorized {
        /// 401 or 403.
        status: u16,
        /// The URL asked for (never with credentials).
        url: String,
    },
    /// The archiver holds no API key for the message's account (`TWILIO_API_KEYS` names it not): retried,
    /// then dead-lettered, until the account's key is added.
    #[error(
        "no Twilio API key for account {account}: add \"{account}\": \"SK...:secret\" to TWILIO_API_KEYS \
         (or the TWILIO_API_KEYS_PARAMETER document); the message is retried, then dead-lettered"
    )]
    NoKey {
        /// The message's account SID.
        account: String,
    },
    /// Twilio served half an encryption envelope (a wrapped key without its IV, or the reverse) or an
    /// unreadable one: the file could never be decrypted, so nothing is archived; retried.
    #[error("not archived: {0}; the file could never be decrypted from this copy")]
    Envelope(String),
    /// Anything that may succeed later: Twilio 5xx or 429, timeouts, connection errors, truncated
    /// bodies, size mismatches, S3 or DynamoDB errors.
    #[error("transient failure: {0}")]
    Transient(String),
}

impl ArchiveError {
    /// Whether SQS should deliver the message again (a failure reported in `batchItemFailures`).
    pub fn retry(&self) -> bool {
        !matches!(self, ArchiveError::MediaGone(_))
    }
}

/// What archiving one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Archived {
    /// Streamed into S3 now.
    Copied {
        /// `s3://bucket/key`.
        s3_uri: String,
        /// Bytes written.
        size: u64,
        /// As Twilio served it.
        content_type: String,
        /// The SHA-256 of every byte Twilio served (lowercase hex), computed as they streamed: the
        /// ciphertext's when the media is encrypted.
        sha256: String,
        /// The envelope's version when Twilio served the media encrypted (kept in the object's metadata).
        encrypted: Option<Version>,
    },
    /// The object was already there with the expected size and its SHA-256: nothing downloaded.
    AlreadyThere {
        /// `s3://bucket/key`.
        s3_uri: String,
        /// Its size.
        size: u64,
        /// The SHA-256 in its `sha256` tag (lowercase hex).
        sha256: String,
        /// The envelope's version when the archived object carries one.
        encrypted: Option<Version>,
    },
    /// Twilio wrote the media to the team's own storage (`media_external_location`): nothing to copy.
    External {
        /// Where Twilio put it.
        location: String,
    },
}

impl Archived {
    /// Bytes copied now (0 when nothing was downloaded).
    pub fn copied_bytes(&self) -> u64 {
        match self {
            Archived::Copied { size, .. } => *size,
            _ => 0,
        }
    }

    /// The SHA-256 recorded for the media, when the archive holds it.
    pub fn sha256(&self) -> Option<&str> {
        match self {
            Archived::Copied { sha256, .. } | Archived::AlreadyThere { sha256, .. } => Some(sha256),
            Archived::External { .. } => None,
        }
    }

    /// The envelope's version when the archived media is encrypted.
    pub fn encrypted(&self) -> Option<Version> {
        match self {
            Archived::Copied { encrypted, .. } | Archived::AlreadyThere { encrypted, .. } => {
                *encrypted
            }
            Archived::External { .. } => None,
        }
    }

    /// The word for this outcome in logs and in the record's `how`.
    pub fn word(&self) -> &'static str {
        match self {
            Archived::Copied { .. } => "copied",
            Archived::AlreadyThere { .. } => "already_archived",
            Archived::External { .. } => "external",
        }
    }
}

/// Whether `count` bytes fit the message's `size`: equal, or for an encrypted file (AES-CBC pads the
/// plaintext to a multiple of 16 bytes) equal to `size` or its padded length.
pub fn fits_size(count: u64, size: u64, encrypted: bool) -> bool {
    if encrypted {
        envelope::ciphertext_fits(count, size)
    } else {
        count == size
    }
}

/// Whether `count` bytes received is the whole file: it must equal the response's `Content-Length`, and
/// fit the message's `size` ([`fits_size`]), wherever either is known. Anything else is a broken
/// transfer, retried.
pub fn check_length(
    count: u64,
    content_length: Option<u64>,
    size: Option<u64>,
    encrypted: bool,
) -> Result<(), ArchiveError> {
    if let Some(expected) = content_length.filter(|expected| *expected != count) {
        return Err(ArchiveError::Transient(format!(
            "received {count} bytes but Content-Length says {expected}"
        )));
    }
    if let Some(expected) = size.filter(|size| !fits_size(count, *size, encrypted)) {
        let padded = if encrypted {
            format!(" (or {} padded)", envelope::padded_length(expected))
        } else {
            String::new()
        };
        return Err(ArchiveError::Transient(format!(
            "received {count} bytes but the message's size says {expected}{padded}"
        )));
    }
    Ok(())
}

/// S3's limits on a multipart upload: at most 10,000 parts, each (but the last) of 5 MiB to 5 GiB.
pub const MAX_PARTS: u64 = 10_000;
/// The smallest part S3 accepts (every part but the last).
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// The largest part S3 accepts.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
const MIB: u64 = 1024 * 1024;

/// The size of part `number` (from 1) of a file of `length` bytes, with `base` the configured part size.
///
/// A known length gets one size for every part: `base`, or for a file too large for 10,000 parts of
/// `base`, the smallest whole number of MiB that fits it in 10,000 parts. An unknown length (no
/// `Content-Length` and no `size` in the message) doubles the size every 1,000 parts, which reaches
/// S3's 5 TiB object limit within 10,000 parts. Memory holds only the parts in flight, so a larger part
/// means proportionally more memory: a 100 GiB file takes 11 MiB parts with the default 8 MiB.
pub fn part_size(base: u64, length: Option<u64>, number: u64) -> u64 {
    let base = base.clamp(MIN_PART_SIZE, MAX_PART_SIZE);
    let size = match length {
        Some(length) => base.max(length.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB),
        None => base.saturating_mul(1 << (number.saturating_sub(1) / 1_000).min(20)),
    };
    size.min(MAX_PART_SIZE)
}

/// Before any byte is read: Twilio's `Content-Length` must fit the message's `size` ([`fits_size`]) when
/// both are known, or the file is not downloaded at all (it could never be marked archived).
pub fn check_announced(
    content_length: Option<u64>,
    size: Option<u64>,
    encrypted: bool,
) -> Result<(), ArchiveError> {
    match (content_length, size) {
        (Some(served), Some(expected)) if !fits_size(served, expected, encrypted) => {
            Err(ArchiveError::Transient(format!(
            "Twilio serves {served} bytes (Content-Length) but the message's size says {expected}: \
             nothing downloaded"
        )))
        }
        _ => Ok(()),
    }
}

/// Reads a queue message: the library's type, and only the schema version this archiver knows.
pub fn read_message(body: &str) -> Result<MediaMessage, ArchiveError> {
    let version: serde_json::Value = serde_json::from_str(body)
        .map_err(|err| ArchiveError::InvalidMessage(format!("not JSON: {err}")))?;
    match version
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(ArchiveError::InvalidMessage(format!(
                "schema_version {v} is not supported (this archiver reads {SCHEMA_VERSION})"
            )))
        }
        None => return Err(ArchiveError::InvalidMessage("no schema_version".into())),
    }
    serde_json::from_value(version).map_err(|err| ArchiveError::InvalidMessage(err.to_string()))
}

/// The file extension of the archived object: the recording's container, or for a composition the
/// format Twilio serves (from the response's content type when known; compositions default to mp4).
pub fn extension(message: &MediaMessage, content_type: Option<&str>) -> String {
    if let Some(container) = &message.container {
        return container.as_str().to_ascii_lowercase();
    }
    match content_type.map(|t| {
        t.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }) {
        Some(t) if t == "video/webm" || t == "audio/webm" => "webm".into(),
        Some(t) if t == "audio/mp4" => "m4a".into(),
        Some(t) if t == "audio/x-matroska" => "mka".into(),
        Some(t) if t == "video/x-matroska" => "mkv".into(),
        _ => "mp4".into(),
    }
}

/// The S3 key: `{prefix}{account_sid}/{room_sid}/{recording_sid or composition_sid}.{ext}`.
pub fn object_key(prefix: &str, message: &MediaMessage, ext: &str) -> Result<String, ArchiveError> {
    let sid = media_sid(message)?;
    for (name, value) in [
        ("account_sid", &message.account_sid),
        ("room_sid", &message.room_sid),
    ] {
        if value.is_empty() || value.contains('/') {
            return Err(ArchiveError::InvalidMessage(format!(
                "{name} {value:?} cannot name an object"
            )));
        }
    }
    Ok(format!(
        "{prefix}{}/{}/{sid}.{ext}",
        message.account_sid, message.room_sid
    ))
}

/// The recording or composition SID the message is about.
pub fn media_sid(message: &MediaMessage) -> Result<&str, ArchiveError> {
    message
        .recording_sid
        .as_deref()
        .or(message.composition_sid.as_deref())
        .filter(|sid| !sid.is_empty() && !sid.contains('/'))
        .ok_or_else(|| ArchiveError::InvalidMessage("no recording_sid or composition_sid".into()))
}

/// Replaces the scheme and host of `media_url` with `base` (`TWILIO_MEDIA_BASE_URL`).
pub fn rebase(media_url: &str, base: &str) -> Result<String, ArchiveError> {
    let uri: hyper::Uri = media_url
        .parse()
        .map_err(|err| ArchiveError::InvalidMessage(format!("media_url {media_url:?}: {err}")))?;
    let path = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    Ok(format!("{}{path}", base.trim_end_matches('/')))
}

/// The timeline item recording where a room's media went (`media-archived` or `media-archive-failed`),
/// in the same table and partition as the room's callbacks, sorted just after the media event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveRecord {
    /// The room SID (the timeline).
    pub pk: String,
    /// `{callback timestamp}#{event}#{recording or composition SID}`: one item per outcome per media.
    pub sk: String,
    /// `media-archived` or `media-archive-failed`.
    pub event: String,
    /// The recording or composition SID.
    pub media_sid: String,
    /// The queue message's idempotency key (the media callback's).
    pub idempotency_key: String,
    /// Where the media is: `s3://bucket/key`, or Twilio's external location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_uri: Option<String>,
    /// Bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// As served by Twilio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The SHA-256 of the archived bytes (lowercase hex): computed while they streamed from Twilio, also in
    /// the object's `sha256` tag (S3 itself verifies the object's full CRC64NVME checksum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// What `sha256` is the hash of: `ciphertext` for an encrypted media (the stored bytes, not the
    /// plaintext); absent for an unencrypted one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256_of: Option<String>,
    /// `true` when Twilio served the media encrypted; the archived object keeps its envelope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// The envelope's version (`v1` or `v2`) of an encrypted media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope_version: Option<Version>,
    /// `copied`, `already_archived` or `external`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how: Option<String>,
    /// Why archiving failed for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the outcome was reached (UTC, RFC 3339): for a copy, when the upload completed.
    pub archived_at: String,
    /// When a later delivery of the same message last found this outcome already recorded (never set
    /// by the first write; added by repeats, which leave every other attribute as the first wrote it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<String>,
    /// How many later deliveries found this outcome already recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmations: Option<u64>,
}

impl ArchiveRecord {
    fn new(message: &MediaMessage, event: &str, at: &str) -> Self {
        let sid = media_sid(message).unwrap_or_default().to_owned();
        ArchiveRecord {
            pk: message.room_sid.clone(),
            sk: format!("{}#{event}#{sid}", message.timestamp),
            event: event.to_owned(),
            media_sid: sid,
            idempotency_key: message.idempotency_key.clone(),
            s3_uri: None,
            size: None,
            content_type: None,
            sha256: None,
            sha256_of: None,
            encrypted: None,
            envelope_version: None,
            how: None,
            reason: None,
            archived_at: at.to_owned(),
            confirmed_at: None,
            confirmations: None,
        }
    }

    /// The record of a success.
    pub fn archived(message: &MediaMessage, outcome: &Archived, at: &str) -> Self {
        let mut record = ArchiveRecord::new(message, "media-archived", at);
        record.how = Some(outcome.word().to_owned());
        if let Some(version) = outcome.encrypted() {
            record.encrypted = Some(true);
            record.envelope_version = Some(version);
            record.sha256_of = Some("ciphertext".to_owned());
        }
        match outcome {
            Archived::Copied {
                s3_uri,
                size,
                content_type,
                sha256,
                ..
            } => {
                record.s3_uri = Some(s3_uri.clone());
                record.size = Some(*size);
                record.content_type = Some(content_type.clone());
                record.sha256 = Some(sha256.clone());
            }
            Archived::AlreadyThere {
                s3_uri,
                size,
                sha256,
                ..
            } => {
                record.s3_uri = Some(s3_uri.clone());
                record.size = Some(*size);
                record.sha256 = Some(sha256.clone());
            }
            Archived::External { location } => {
                record.s3_uri = Some(location.clone());
                record.size = message.size;
            }
        }
        record
    }

    /// The record of a failure that will not be retried.
    pub fn failed(message: &MediaMessage, reason: &str, at: &str) -> Self {
        let mut record = ArchiveRecord::new(message, "media-archive-failed", at);
        record.reason = Some(reason.to_owned());
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twilio::callback::Container;

    fn recording() -> MediaMessage {
        MediaMessage {
            schema_version: 1,
            event: "recording-completed".into(),
            idempotency_key: "k".into(),
            account_sid: "AC1".into(),
            room_sid: "RM1".into(),
            room_name: None,
            recording_sid: Some("RT1".into()),
            composition_sid: None,
            participant_sid: Some("PA1".into()),
            source_sid: None,
            track_name: None,
            media_type: None,
            container: Some(Container::Mka),
            codec: None,
            media_uri: Some("/v1/Recordings/RT1/Media".into()),
            media_url: Some("https://video.twilio.com/v1/Recordings/RT1/Media".into()),
            media_external_location: None,
            duration: Some(1),
            size: Some(10),
            timestamp: "2026-11-27T09:00:00.000Z".into(),
            origin: None,
        }
    }

    fn composition() -> MediaMessage {
        MediaMessage {
            event: "composition-available".into(),
            recording_sid: None,
            composition_sid: Some("CJ1".into()),
            container: None,
            ..recording()
        }
    }

    #[test]
    fn keys_follow_account_room_and_media() {
        let rec = recording();
        assert_eq!(extension(&rec, Some("audio/x-matroska")), "mka");
        assert_eq!(
            object_key(DEFAULT_PREFIX, &rec, "mka").ok().as_deref(),
            Some("twilio-video/AC1/RM1/RT1.mka")
        );
        let comp = composition();
        assert_eq!(extension(&comp, Some("video/mp4")), "mp4");
        assert_eq!(extension(&comp, Some("video/webm")), "webm");
        assert_eq!(extension(&comp, Some("audio/mp4")), "m4a");
        assert_eq!(extension(&comp, None), "mp4");
        assert_eq!(
            object_key("x/", &comp, "webm").ok().as_deref(),
            Some("x/AC1/RM1/CJ1.webm")
        );
    }

    #[test]
    fn messages_are_read_by_schema_version() {
        let json = serde_json::to_string(&recording()).unwrap_or_default();
        assert_eq!(read_message(&json), Ok(recording()));
        let future = json.replace("\"schema_version\":1", "\"schema_version\":2");
        assert!(
            matches!(read_message(&future), Err(ArchiveError::InvalidMessage(m)) if m.contains("schema_version 2"))
        );
        assert!(matches!(
            read_message("{"),
            Err(ArchiveError::InvalidMessage(_))
        ));
        assert!(matches!(
            read_message("{\"event\":\"x\"}"),
            Err(ArchiveError::InvalidMessage(_))
        ));
    }

    #[test]
    fn unsafe_sids_cannot_escape_the_prefix() {
        let mut message = recording();
        message.recording_sid = Some("../../etc".into());
        assert!(object_key(DEFAULT_PREFIX, &message, "mka").is_err());
        let mut message = recording();
        message.room_sid = "RM/../x".into();
        assert!(object_key(DEFAULT_PREFIX, &message, "mka").is_err());
    }

    #[test]
    fn rebasing_keeps_path_and_query() {
        assert_eq!(
            rebase(
                "https://video.twilio.com/v1/Recordings/RT1/Media?x=1",
                "http://127.0.0.1:9/"
            )
            .ok()
            .as_deref(),
            Some("http://127.0.0.1:9/v1/Recordings/RT1/Media?x=1")
        );
    }

    #[test]
    fn a_transfer_is_whole_only_when_every_known_length_agrees() {
        assert_eq!(check_length(10, Some(10), Some(10), false), Ok(()));
        assert_eq!(check_length(10, None, None, false), Ok(()));
        assert_eq!(check_length(10, None, Some(10), false), Ok(()));
        assert!(
            matches!(check_length(9, Some(10), None, false), Err(ArchiveError::Transient(m)) if m.contains("Content-Length"))
        );
        assert!(
            matches!(check_length(10, Some(10), Some(11), false), Err(ArchiveError::Transient(m)) if m.contains("size"))
        );
    }

    #[test]
    fn an_encrypted_file_is_its_size_or_its_padded_length_and_nothing_else() {
        // 10 bytes of plaintext are 16 of ciphertext; a size that is already the ciphertext's fits too.
        assert_eq!(check_length(16, Some(16), Some(10), true), Ok(()));
        assert_eq!(check_length(16, Some(16), Some(16), true), Ok(()));
        assert_eq!(check_length(32, None, Some(16), true), Ok(()));
        assert!(
            matches!(check_length(32, Some(32), Some(10), true), Err(ArchiveError::Transient(m)) if m.contains("16 padded"))
        );
        assert!(check_length(16, Some(16), Some(10), false).is_err());
        assert_eq!(check_announced(Some(16), Some(10), true), Ok(()));
        assert!(check_announced(Some(16), Some(10), false).is_err());
        assert!(check_announced(Some(48), Some(10), true).is_err());
    }

    #[test]
    fn a_file_whose_announced_length_differs_from_the_message_is_not_downloaded() {
        assert_eq!(check_announced(Some(10), Some(10), false), Ok(()));
        assert_eq!(check_announced(None, Some(10), false), Ok(()));
        assert_eq!(check_announced(Some(10), None, false), Ok(()));
        assert!(
            matches!(check_announced(Some(12), Some(10), false), Err(ArchiveError::Transient(m)) if m.contains("nothing downloaded"))
        );
    }

    #[test]
    fn parts_grow_so_no_file_needs_more_than_10000() {
        let base = 8 * MIB;
        // Up to 80,000 MiB, the configured size.
        assert_eq!(part_size(base, Some(200 * MIB), 1), base);
        assert_eq!(part_size(base, Some(10_000 * base), 7), base);
        // Beyond, the smallest whole MiB that fits: 10,000 parts or fewer.
        for length in [
            10_000 * base + 1,
            100 * 1024 * MIB,
            3 * 1024 * 1024 * MIB + 17,
        ] {
            let size = part_size(base, Some(length), 1);
            assert!(size > base && size % MIB == 0, "{length}: {size}");
            assert!(length.div_ceil(size) <= MAX_PARTS, "{length}: {size}");
            assert!(
                length.div_ceil(size - MIB) > MAX_PARTS,
                "{length}: {size} is the smallest"
            );
        }
        // S3's bounds hold whatever is configured.
        assert_eq!(part_size(MIB, Some(10), 1), MIN_PART_SIZE);
        assert_eq!(part_size(u64::MAX, None, 1), MAX_PART_SIZE);
        // Unknown length: doubling every 1,000 parts covers S3's 5 TiB object limit.
        assert_eq!(part_size(base, None, 1_000), base);
        assert_eq!(part_size(base, None, 1_001), 2 * base);
        let total: u64 = (1..=MAX_PARTS).map(|n| part_size(base, None, n)).sum();
        assert!(total >= 5 * 1024 * 1024 * MIB, "{total}");
    }

    #[test]
    fn only_a_deleted_media_is_not_retried() {
        assert!(!ArchiveError::MediaGone("404".into()).retry());
        assert!(ArchiveError::Transient("500".into()).retry());
        assert!(ArchiveError::Unauthorized {
            status: 401,
            url: "u".into()
        }
        .retry());
        assert!(ArchiveError::InvalidMessage("x".into()).retry());
    }

    #[test]
    fn records_sort_after_the_media_event_in_the_room_timeline() {
        let outcome = Archived::Copied {
            s3_uri: "s3://b/k".into(),
            size: 10,
            content_type: "audio/x-matroska".into(),
            sha256: "ab".into(),
            encrypted: None,
        };
        let record = ArchiveRecord::archived(&recording(), &outcome, "2026-11-27T10:00:00.000Z");
        assert_eq!(
            (record.encrypted, record.sha256_of.as_deref()),
            (None, None)
        );
        let encrypted = Archived::Copied {
            s3_uri: "s3://b/k".into(),
            size: 16,
            content_type: "audio/x-matroska".into(),
            sha256: "cd".into(),
            encrypted: Some(Version::V2),
        };
        let sealed = ArchiveRecord::archived(&recording(), &encrypted, "t");
        assert_eq!(sealed.encrypted, Some(true));
        assert_eq!(sealed.envelope_version, Some(Version::V2));
        assert_eq!(sealed.sha256_of.as_deref(), Some("ciphertext"));
        assert_eq!(record.pk, "RM1");
        assert_eq!(record.sk, "2026-11-27T09:00:00.000Z#media-archived#RT1");
        assert_eq!(record.how.as_deref(), Some("copied"));
        assert_eq!(record.sha256.as_deref(), Some("ab"));
        let failed = ArchiveRecord::failed(&recording(), "gone", "t");
        assert_eq!(failed.event, "media-archive-failed");
        assert_eq!(failed.reason.as_deref(), Some("gone"));
    }
}
