//! The events table's item: one per distinct callback, filed in its room's timeline.
//!
//! Key design:
//! - `pk` is the room SID (or, for a callback without one, the composition or hook SID it reports on),
//!   so one Query returns a room's whole timeline: room, participants, tracks, recordings, compositions.
//! - `sk` is `{timestamp}#{event}#{idempotency_key}`: the normalized UTC timestamp first, so the
//!   timeline comes back in time order; the digest of every parameter last, so two different callbacks
//!   never share a key while a redelivery of the same callback always does.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::message::{self, MediaMessage};
use crate::receiver::keys::Verification;
use crate::twilio::callback::{
    Callback, CallbackFields, EventKind, ParamValue, Params, ParseError,
};

/// The partition of a signed callback that names no SID at all (not even `AccountSid`): kept, never lost.
pub const UNATTRIBUTED: &str = "#unattributed";

/// The sparse global secondary index of rooms by the UTC day they were created, and of media items by
/// the UTC day their callback reports: only `room-created`, `recording-completed` and
/// `composition-available` items carry its two attributes, so it holds one small entry per room and per
/// media file (keys only).
pub const ROOMS_INDEX: &str = "rooms-by-day";
/// The index's partition key: the UTC day a room was created, `2026-11-27`; for a media item,
/// [`MEDIA_DAY_PREFIX`] and the day of its `Timestamp`, `media#2026-11-27`.
pub const ROOM_DAY: &str = "room_day";
/// The index's sort key: `{AccountSid}#{created timestamp}#{RoomSid}` for a room, so one account's rooms
/// of a day are a `begins_with` key condition, in order of creation; `{AccountSid}#{sk}` for a media item
/// (its `sk` starts with its timestamp), unique per item.
pub const ROOM_KEY: &str = "room_key";
/// The prefix of a media item's [`ROOM_DAY`]: media partitions never mix with the rooms of a day.
pub const MEDIA_DAY_PREFIX: &str = "media#";
/// DynamoDB's limit on a sort key (of the table or an index), in bytes: an item whose index key would
/// exceed it is not indexed (it is still stored).
pub const MAX_SORT_KEY_BYTES: usize = 1024;

/// The two index attributes of a room created at `timestamp` (normalized UTC RFC 3339, as in `sk`):
/// [`ROOM_DAY`] and [`ROOM_KEY`]. `None` when the timestamp has no day, a SID is empty, or the key would
/// be longer than DynamoDB allows (the item is then stored unindexed rather than refused).
pub fn room_index_keys(
    account_sid: &str,
    timestamp: &str,
    room_sid: &str,
) -> Option<(String, String)> {
    let day = timestamp.get(..10)?;
    if account_sid.is_empty()
        || room_sid.is_empty()
        || account_sid.len() + timestamp.len() + room_sid.len() + 2 > MAX_SORT_KEY_BYTES
    {
        return None;
    }
    Some((
        day.to_owned(),
        format!("{account_sid}#{timestamp}#{room_sid}"),
    ))
}

/// The two index attributes of a media item (`recording-completed`, `composition-available`) whose sort
/// key is `sk` (`{timestamp}#{event}#{idempotency_key}`): `media#{day}` and `{AccountSid}#{sk}`. `None`
/// when `sk` has no day, the account is empty, or the key would be longer than DynamoDB allows.
pub fn media_index_keys(account_sid: &str, sk: &str) -> Option<(String, String)> {
    let day = sk.get(..10)?;
    if account_sid.is_empty() || account_sid.len() + 1 + sk.len() > MAX_SORT_KEY_BYTES {
        return None;
    }
    Some((
        [MEDIA_DAY_PREFIX, day].concat(),
        format!("{account_sid}#{sk}"),
    ))
}

/// One stored callback, exactly as written to DynamoDB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Partition key: the timeline's SID (`RoomSid`, else `CompositionSid`, else `HookSid`; for a callback
    /// that carries none of them, `RecordingSid`, else `AccountSid`).
    pub pk: String,
    /// Sort key: `{timestamp}#{event}#{idempotency_key}`.
    pub sk: String,
    /// `StatusCallbackEvent` as received.
    pub event: String,
    /// Every form parameter exactly as received, documented or not; a repeated name holds a list.
    pub params: BTreeMap<String, ParamValue>,
    /// The documented parameters, typed (numbers as numbers), as top-level snake_case attributes.
    #[serde(flatten)]
    pub fields: CallbackFields,
    /// SHA-256 (hex) of every parameter name and value: equal for a redelivery, different otherwise.
    pub idempotency_key: String,
    /// When this receiver first stored the callback (UTC, RFC 3339).
    pub received_at: String,
    /// Epoch seconds after which DynamoDB's TTL may delete the item (only with `EVENT_RETENTION_DAYS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// How the callback breaks the specification's tables (a required parameter missing, a value
    /// malformed), when it does; its typed fields hold what did parse. Absent for a well-formed callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
    /// [`ROOM_DAY`]: only on `room-created`, `recording-completed` and `composition-available` items
    /// (the sparse rooms index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_day: Option<String>,
    /// [`ROOM_KEY`]: only on the items that carry [`ROOM_DAY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_key: Option<String>,
    /// Why the receiver put this callback on the spill queue before the spill consumer stored it; absent
    /// for a callback stored at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spilled: Option<String>,
    /// For a signed callback without `AccountSid` (kept in [`UNATTRIBUTED`]): the account whose keys
    /// verified it. Absent otherwise (the item's `account_sid` is the account that verified it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_account: Option<String>,
}

impl StoredEvent {
    /// Builds the item for `callback` (consumed: its values move into the item), received at
    /// `received_at`, kept `retention_days` if set.
    pub fn new(
        callback: Callback,
        received_at: OffsetDateTime,
        retention_days: Option<u32>,
    ) -> Self {
        let idempotency_key = idempotency_key(&callback.params);
        let timestamp = crate::twilio::timestamp::format(callback.fields.timestamp);
        let pk = callback.timeline_sid().unwrap_or(UNATTRIBUTED).to_owned();
        let sk = format!("{timestamp}#{}#{idempotency_key}", callback.event);
        let (room_day, room_key) = match (&callback.event, &callback.fields.room_sid) {
            (EventKind::RoomCreated, Some(room)) => {
                room_index_keys(&callback.fields.account_sid, &timestamp, room).unzip()
            }
            (EventKind::RecordingCompleted | EventKind::CompositionAvailable, _) => {
                media_index_keys(&callback.fields.account_sid, &sk).unzip()
            }
            _ => (None, None),
        };
        StoredEvent {
            pk,
            sk,
            event: callback.event.as_str().to_owned(),
            params: callback.params.into_map(),
            fields: callback.fields,
            idempotency_key,
            received_at: crate::twilio::timestamp::format(received_at),
            expires_at: retention_days
                .map(|days| received_at.unix_timestamp() + i64::from(days) * 24 * 60 * 60),
            parse_error: None,
            room_day,
            room_key,
            spilled: None,
            verified_account: None,
        }
    }

    /// Applies what verification found: a callback without `AccountSid`, verified by `account`'s keys
    /// ([`Verification::Unattributed`]), is kept in [`UNATTRIBUTED`] with that account as its
    /// `verified_account`, as `malformed`, out of the rooms index, and never makes a media message.
    pub fn verified_by(mut self, verification: &Verification) -> Self {
        if let Verification::Unattributed(account) = verification {
            self.pk = UNATTRIBUTED.to_owned();
            self.room_day = None;
            self.room_key = None;
            self.verified_account = Some(account.clone());
            self.parse_error
                .get_or_insert_with(|| "AccountSid is missing".to_owned());
        }
        self
    }

    /// Marks the item with the ways its callback breaks the specification's tables (none: unchanged).
    pub fn with_problems(mut self, problems: &[ParseError]) -> Self {
        if !problems.is_empty() {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            self.parse_error = Some(text.join("; "));
        }
        self
    }

    /// Marks the item as stored by the spill consumer, with the reason it was spilled.
    pub fn spilled_because(mut self, reason: &str) -> Self {
        self.spilled = Some(if reason.is_empty() {
            "spilled".to_owned()
        } else {
            reason.to_owned()
        });
        self
    }
}

impl StoredEvent {
    /// The item as DynamoDB attribute values: exactly what `serde_dynamo::to_item` writes (the tests check
    /// it for every field), but built by moving the strings instead of copying them, into one pre-sized
    /// map: this is the most expensive step of a callback, and this way costs a third of serde_dynamo's.
    pub fn into_attributes(self) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::with_capacity(48);
        push_fields(self.fields, &mut item);
        let params = self
            .params
            .into_iter()
            .map(|(name, value)| {
                let value = match value {
                    ParamValue::Single(value) => AttributeValue::S(value),
                    ParamValue::Repeated(values) => {
                        AttributeValue::L(values.into_iter().map(AttributeValue::S).collect())
                    }
                };
                (name, value)
            })
            .collect();
        item.insert("pk".to_owned(), AttributeValue::S(self.pk));
        item.insert("sk".to_owned(), AttributeValue::S(self.sk));
        item.insert("event".to_owned(), AttributeValue::S(self.event));
        item.insert("params".to_owned(), AttributeValue::M(params));
        item.insert(
            "idempotency_key".to_owned(),
            AttributeValue::S(self.idempotency_key),
        );
        item.insert(
            "received_at".to_owned(),
            AttributeValue::S(self.received_at),
        );
        if let Some(expires_at) = self.expires_at {
            item.insert(
                "expires_at".to_owned(),
                AttributeValue::N(expires_at.to_string()),
            );
        }
        if let Some(parse_error) = self.parse_error {
            item.insert("parse_error".to_owned(), AttributeValue::S(parse_error));
        }
        for (name, value) in [
            (ROOM_DAY, self.room_day),
            (ROOM_KEY, self.room_key),
            ("spilled", self.spilled),
            ("verified_account", self.verified_account),
        ] {
            if let Some(value) = value {
                item.insert(name.to_owned(), AttributeValue::S(value));
            }
        }
        item
    }

    /// The media queue's message for this item, if it is a stored media callback; `None` for every other event, and for a media callback
    /// that lacks what a message must carry (its account, room and recording or composition SID).
    pub fn media_message(&self) -> Option<MediaMessage> {
        let item = self;
        let kind = item.event_kind();
        if !kind.is_media() || item.verified_account.is_some() {
            return None;
        }
        let fields = &item.fields;
        let is_recording = kind == EventKind::RecordingCompleted;
        let media_sid = if is_recording {
            &fields.recording_sid
        } else {
            &fields.composition_sid
        };
        let present = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.is_empty());
        let room_sid = fields.room_sid.clone().filter(|sid| !sid.is_empty())?;
        if fields.account_sid.is_empty() || !present(media_sid) {
            return None;
        }
        Some(MediaMessage {
            schema_version: message::SCHEMA_VERSION,
            event: item.event.clone(),
            idempotency_key: item.idempotency_key.clone(),
            account_sid: fields.account_sid.clone(),
            room_sid,
            room_name: fields.room_name.clone(),
            recording_sid: fields.recording_sid.clone().filter(|_| is_recording),
            composition_sid: fields.composition_sid.clone().filter(|_| !is_recording),
            participant_sid: fields.participant_sid.clone(),
            source_sid: fields.source_sid.clone(),
            track_name: fields.track_name.clone(),
            media_type: fields.media_type.clone(),
            container: fields.container.clone(),
            codec: fields.codec.clone(),
            media_uri: fields.media_uri.clone(),
            media_url: fields.media_uri.as_deref().map(message::absolute_media_url),
            media_external_location: fields.media_external_location.clone(),
            duration: fields.duration,
            size: fields.size,
            timestamp: crate::twilio::timestamp::format(fields.timestamp),
            origin: None,
        })
    }

    /// The `StatusCallbackEvent`, typed.
    pub fn event_kind(&self) -> EventKind {
        EventKind::from(self.event.as_str())
    }
}

/// The typed fields as attribute values, moved into `item`: what `serde_dynamo` writes for
/// [`CallbackFields`] (absent fields left out, numbers as `N`), which the tests check field by field.
fn push_fields(fields: CallbackFields, item: &mut HashMap<String, AttributeValue>) {
    let mut text = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            item.insert(name.to_owned(), AttributeValue::S(value));
        }
    };
    text("account_sid", Some(fields.account_sid));
    text(
        "timestamp",
        Some(crate::twilio::timestamp::format(fields.timestamp)),
    );
    text("room_sid", fields.room_sid);
    text("room_name", fields.room_name);
    text(
        "room_status",
        fields.room_status.map(|v| v.as_str().to_owned()),
    );
    text("room_type", fields.room_type.map(|v| v.as_str().to_owned()));
    text("participant_sid", fields.participant_sid);
    text(
        "participant_status",
        fields.participant_status.map(|v| v.as_str().to_owned()),
    );
    text("participant_identity", fields.participant_identity);
    text("track_sid", fields.track_sid);
    text(
        "track_kind",
        fields.track_kind.map(|v| v.as_str().to_owned()),
    );
    text("recording_sid", fields.recording_sid);
    text("recording_uri", fields.recording_uri);
    text("source_sid", fields.source_sid);
    text("track_name", fields.track_name);
    text("type", fields.media_type.map(|v| v.as_str().to_owned()));
    text("container", fields.container.map(|v| v.as_str().to_owned()));
    text("codec", fields.codec.map(|v| v.as_str().to_owned()));
    text("media_uri", fields.media_uri);
    text("media_external_location", fields.media_external_location);
    text(
        "failed_operation",
        fields.failed_operation.map(|v| v.as_str().to_owned()),
    );
    text("error_message", fields.error_message);
    text("hook_sid", fields.hook_sid);
    text("hook_uri", fields.hook_uri);
    text("hook_friendly_name", fields.hook_friendly_name);
    text("composition_sid", fields.composition_sid);
    text("composition_uri", fields.composition_uri);
    let mut number = |name: &str, value: Option<u64>| {
        if let Some(value) = value {
            item.insert(name.to_owned(), AttributeValue::N(value.to_string()));
        }
    };
    number("room_duration", fields.room_duration);
    number("sequence_number", fields.sequence_number);
    number("participant_duration", fields.participant_duration);
    number(
        "offset_from_twilio_video_epoch",
        fields.offset_from_twilio_video_epoch,
    );
    number("duration", fields.duration);
    number("size", fields.size);
    number("percentage_done", fields.percentage_done);
    number("seconds_remaining", fields.seconds_remaining);
}

/// SHA-256 over every (name, value) pair, sorted, each length-prefixed so no two different parameter
/// sets can encode alike. Order of arrival does not matter; any change to any name or value does.
pub fn idempotency_key(params: &Params) -> String {
    let mut hasher = Sha256::new();
    for (name, value) in crate::twilio::signature::in_order(params.pairs()).iter() {
        for part in [name, value] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twilio::callback::EventKind;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn participant_connected(extra: &[(&str, &str)]) -> Callback {
        let mut pairs = vec![
            ("AccountSid", "AC00000000000000000000000000000001"),
            ("StatusCallbackEvent", "participant-connected"),
            ("Timestamp", "2026-11-27T09:00:00.250+01:00"),
            ("RoomSid", "RM00000000000000000000000000000001"),
            ("RoomName", "standup"),
            ("RoomStatus", "in-progress"),
            ("RoomType", "group"),
            ("SequenceNumber", "3"),
            ("ParticipantSid", "PA00000000000000000000000000000001"),
            ("ParticipantStatus", "connected"),
            ("ParticipantIdentity", "alice"),
        ];
        pairs.extend_from_slice(extra);
        Callback::parse(params(&pairs)).unwrap_or_else(|err| panic!("{err}"))
    }

    fn at(text: &str) -> OffsetDateTime {
        crate::twilio::timestamp::parse(text).unwrap_or_else(|| panic!("bad time {text}"))
    }

    #[test]
    fn keys_file_the_callback_in_its_room_in_time_order() {
        let callback = participant_connected(&[]);
        let item = StoredEvent::new(callback.clone(), at("2026-11-27T08:00:01Z"), None);
        assert_eq!(item.pk, "RM00000000000000000000000000000001");
        assert!(
            item.sk
                .starts_with("2026-11-27T08:00:00.250Z#participant-connected#"),
            "{}",
            item.sk
        );
        assert!(item.sk.ends_with(&item.idempotency_key));
        assert_eq!(item.event, "participant-connected");
        assert_eq!(item.received_at, "2026-11-27T08:00:01.000Z");
        assert_eq!(item.expires_at, None);
    }

    #[test]
    fn redelivery_shares_the_key_and_any_difference_does_not() {
        let first = StoredEvent::new(participant_connected(&[]), at("2026-11-27T08:00:01Z"), None);
        let again = StoredEvent::new(participant_connected(&[]), at("2026-11-27T08:05:00Z"), None);
        assert_eq!(
            (first.pk.as_str(), first.sk.as_str()),
            (again.pk.as_str(), again.sk.as_str())
        );
        let other = StoredEvent::new(
            participant_connected(&[("Extra", "x")]),
            at("2026-11-27T08:00:01Z"),
            None,
        );
        assert_ne!(first.sk, other.sk);
    }

    #[test]
    fn idempotency_key_ignores_order_but_not_boundaries() {
        let ab = idempotency_key(&params(&[("A", "1"), ("B", "2")]));
        let ba = idempotency_key(&params(&[("B", "2"), ("A", "1")]));
        assert_eq!(ab, ba);
        assert_eq!(ab.len(), 64);
        // Moving a character across the name/value boundary changes the key.
        assert_ne!(
            idempotency_key(&params(&[("AB", "C")])),
            idempotency_key(&params(&[("A", "BC")]))
        );
    }

    #[test]
    fn only_room_created_carries_the_rooms_index_keys() {
        let connected =
            StoredEvent::new(participant_connected(&[]), at("2026-11-27T08:00:01Z"), None);
        assert_eq!((connected.room_day, connected.room_key), (None, None));
        let mut created = participant_connected(&[]);
        created.event = EventKind::RoomCreated;
        let item = StoredEvent::new(created, at("2026-11-27T08:00:01Z"), None);
        assert_eq!(item.room_day.as_deref(), Some("2026-11-27"));
        assert_eq!(
            item.room_key.as_deref(),
            Some("AC00000000000000000000000000000001#2026-11-27T08:00:00.250Z#RM00000000000000000000000000000001")
        );
        let expected: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&item).unwrap_or_else(|err| panic!("{err}"));
        let moved = item.clone().into_attributes();
        assert_eq!(moved, expected);
        assert_eq!(
            moved.get(ROOM_DAY),
            Some(&AttributeValue::S("2026-11-27".into()))
        );
        let spilled = item
            .spilled_because("DynamoDB unavailable")
            .into_attributes();
        assert_eq!(
            spilled.get("spilled"),
            Some(&AttributeValue::S("DynamoDB unavailable".into()))
        );
    }

    #[test]
    fn room_index_keys_need_a_day_and_both_sids() {
        assert_eq!(
            room_index_keys("AC1", "2026-11-27T23:59:59.999Z", "RM1"),
            Some((
                "2026-11-27".to_owned(),
                "AC1#2026-11-27T23:59:59.999Z#RM1".to_owned()
            ))
        );
        assert_eq!(room_index_keys("", "2026-11-27T00:00:00.000Z", "RM1"), None);
        assert_eq!(room_index_keys("AC1", "2026-11-27T00:00:00.000Z", ""), None);
        assert_eq!(room_index_keys("AC1", "2026", "RM1"), None);
    }

    #[test]
    fn index_keys_longer_than_dynamodb_allows_are_left_out_and_the_item_is_still_built() {
        let at_limit = "A".repeat(MAX_SORT_KEY_BYTES - "#2026-11-27T00:00:00.000Z#RM1".len());
        let key = room_index_keys(&at_limit, "2026-11-27T00:00:00.000Z", "RM1");
        assert_eq!(key.map(|(_, key)| key.len()), Some(MAX_SORT_KEY_BYTES));
        let over = format!("{at_limit}A");
        assert_eq!(
            room_index_keys(&over, "2026-11-27T00:00:00.000Z", "RM1"),
            None
        );
        let sk = format!(
            "2026-11-27T00:00:00.000Z#recording-completed#{}",
            "0".repeat(64)
        );
        let media_limit = "A".repeat(MAX_SORT_KEY_BYTES - 1 - sk.len());
        assert!(media_index_keys(&media_limit, &sk).is_some());
        assert_eq!(media_index_keys(&format!("{media_limit}A"), &sk), None);
        // A signed room-created callback with a 2,000-byte AccountSid: stored, unindexed.
        let long = "A".repeat(2000);
        let mut created = participant_connected(&[]);
        created.event = EventKind::RoomCreated;
        created.fields.account_sid = long.clone();
        let item = StoredEvent::new(created, at("2026-11-27T08:00:01Z"), None);
        assert_eq!((item.room_day, item.room_key), (None, None));
    }

    #[test]
    fn media_items_carry_a_media_day_entry_of_their_own() {
        let mut completed = participant_connected(&[]);
        completed.event = EventKind::RecordingCompleted;
        let item = StoredEvent::new(completed, at("2026-11-27T08:00:01Z"), None);
        assert_eq!(item.room_day.as_deref(), Some("media#2026-11-27"));
        assert_eq!(
            item.room_key,
            Some(format!("AC00000000000000000000000000000001#{}", item.sk))
        );
        let expected: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&item).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(item.into_attributes(), expected);
        for event in [EventKind::RecordingStarted, EventKind::CompositionProgress] {
            let mut other = participant_connected(&[]);
            other.event = event;
            let item = StoredEvent::new(other, at("2026-11-27T08:00:01Z"), None);
            assert_eq!((item.room_day, item.room_key), (None, None));
        }
    }

    #[test]
    fn retention_sets_ttl_from_receipt_time() {
        let received = at("2026-11-27T08:00:00Z");
        let item = StoredEvent::new(participant_connected(&[]), received, Some(30));
        assert_eq!(
            item.expires_at,
            Some(received.unix_timestamp() + 30 * 86_400)
        );
    }

    #[test]
    fn every_parameter_is_kept_including_undocumented_and_repeated_ones() {
        let callback = participant_connected(&[("NotInSpec", "kept"), ("Tag", "a"), ("Tag", "b")]);
        let item = StoredEvent::new(callback.clone(), at("2026-11-27T08:00:00Z"), None);
        assert_eq!(item.params.len(), 13);
        assert_eq!(
            item.params.get("NotInSpec"),
            Some(&ParamValue::Single("kept".into()))
        );
        assert_eq!(
            item.params.get("Tag"),
            Some(&ParamValue::Repeated(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            item.params.get("Timestamp"),
            Some(&ParamValue::Single("2026-11-27T09:00:00.250+01:00".into()))
        );
    }

    #[test]
    fn moved_attributes_equal_serde_dynamo_for_repeats_and_ttl() {
        let callback = participant_connected(&[("Tag", "a"), ("Tag", "b"), ("NotInSpec", "x")]);
        let item = StoredEvent::new(callback, at("2026-11-27T08:00:00Z"), Some(7));
        let expected: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&item).unwrap_or_else(|err| panic!("{err}"));
        let moved = item.into_attributes();
        assert_eq!(moved, expected);
        assert!(
            matches!(moved.get("params"), Some(AttributeValue::M(p)) if matches!(p.get("Tag"), Some(AttributeValue::L(l)) if l.len() == 2))
        );
    }

    #[test]
    fn moved_attributes_equal_serde_dynamo_with_every_documented_parameter() {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("AccountSid", "AC1"),
            ("StatusCallbackEvent", "every-parameter"),
            ("Timestamp", "2026-11-27T09:00:00.123Z"),
        ];
        for rule in crate::twilio::callback::PARAMETER_RULES {
            if pairs.iter().any(|(name, _)| *name == rule.name) {
                continue;
            }
            let value = match rule.name {
                "RoomDuration"
                | "SequenceNumber"
                | "ParticipantDuration"
                | "OffsetFromTwilioVideoEpoch"
                | "Duration"
                | "Size"
                | "PercentageDone"
                | "SecondsRemaining" => "7",
                _ => "x",
            };
            pairs.push((rule.name, value));
        }
        let callback = Callback::parse(params(&pairs)).unwrap_or_else(|err| panic!("{err}"));
        let fields = serde_json::to_value(&callback.fields).unwrap_or_default();
        assert_eq!(
            fields.as_object().map(|o| o.len()),
            Some(35),
            "every typed field is set"
        );
        let item = StoredEvent::new(callback, at("2026-11-27T08:00:00Z"), Some(7));
        let expected: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&item).unwrap_or_else(|err| panic!("{err}"));
        let moved = item.into_attributes();
        assert_eq!(moved, expected);
    }

    #[test]
    fn item_serializes_typed_fields_as_dynamodb_numbers_and_strings() {
        use aws_sdk_dynamodb::types::AttributeValue;
        let callback = participant_connected(&[]);
        let item = StoredEvent::new(callback.clone(), at("2026-11-27T08:00:00Z"), Some(1));
        let attributes: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&item).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(
            attributes.get("sequence_number"),
            Some(&AttributeValue::N("3".into()))
        );
        assert_eq!(
            attributes.get("room_type"),
            Some(&AttributeValue::S("group".into()))
        );
        assert_eq!(
            attributes.get("timestamp"),
            Some(&AttributeValue::S("2026-11-27T08:00:00.250Z".into()))
        );
        assert!(
            matches!(attributes.get("params"), Some(AttributeValue::M(map)) if map.len() == 11)
        );
        assert!(matches!(
            attributes.get("expires_at"),
            Some(AttributeValue::N(_))
        ));
        assert!(
            !attributes.contains_key("track_sid"),
            "absent parameters are not written"
        );
        let back: StoredEvent =
            serde_dynamo::from_item(attributes).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(back, item);
        assert_eq!(callback.event, EventKind::ParticipantConnected);
    }
}
