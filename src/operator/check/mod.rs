//! `check`: after a deploy, proof that the stack works end to end, and the rooms it will miss.
//!
//! Three steps, each a function returning [`Row`]s (`ok`, `warn` or `fail`, with what to do next):
//!
//! 1. [`round_trip`]: a synthetic `room-created` for a fresh test room, signed as Twilio would sign it
//!    ([`signing`]), delivered to the callback URL, read back from the table, delivered again (the
//!    duplicate answer), sent with a wrong signature (403); then every item it wrote is removed. It never
//!    sends a media event: the archiver would fetch a file that does not exist.
//! 2. [`plumbing`]: the table and its rooms-by-day index, the queues, the dead-letter queues, the age of
//!    the spill queue's oldest message; with a stack, its alarms in `ALARM` ([`alarms`]).
//! 3. [`twilio_rooms`]: with an API key, the rooms Twilio created lately whose `status_callback` is not
//!    this deployment's URL, and those that point here but have no `room-created` in the table.
//!
//! What is pure (the rows, the synthetic callback, the URL comparison) lives here, tested without I/O.

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub mod alarms;
pub mod plumbing;
pub mod round_trip;
pub mod signing;
pub mod twilio_rooms;

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As it should be.
    Ok,
    /// Works, but look at it.
    Warn,
    /// Broken: callbacks are (or will be) lost.
    Fail,
}

impl Status {
    /// `ok`, `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One line of the report: a step, how it went, what was seen, and what to do next when not `ok`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The step, `round trip: deliver`, `plumbing: table`, ...
    pub step: String,
    /// How it went.
    pub status: Status,
    /// What was seen.
    pub detail: String,
    /// What to do next (absent when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl Row {
    /// An `ok` row.
    pub fn ok(step: &str, detail: impl Into<String>) -> Self {
        Row {
            step: step.to_owned(),
            status: Status::Ok,
            detail: detail.into(),
            next: None,
        }
    }

    /// A `warn` row with what to do next.
    pub fn warn(step: &str, detail: impl Into<String>, next: impl Into<String>) -> Self {
        Row {
            status: Status::Warn,
            next: Some(next.into()),
            ..Row::ok(step, detail)
        }
    }

    /// A `fail` row with what to do next.
    pub fn fail(step: &str, detail: impl Into<String>, next: impl Into<String>) -> Self {
        Row {
            status: Status::Fail,
            next: Some(next.into()),
            ..Row::ok(step, detail)
        }
    }
}

/// The whole check: its rows, and what it could not check (and why).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The URL the check delivered to and compares rooms with (without connection overrides).
    pub callback_url: Option<String>,
    /// The synthetic room of the round trip (removed again).
    pub test_room: Option<String>,
    /// One row per step.
    pub rows: Vec<Row>,
    /// What was not checked, and why (no API key, no stack, ...).
    pub not_checked: Vec<String>,
}

impl Report {
    /// The worst status of any row (`ok` for none).
    pub fn status(&self) -> Status {
        self.rows
            .iter()
            .map(|row| row.status)
            .max()
            .unwrap_or(Status::Ok)
    }

    /// Whether some step failed (exit status 1).
    pub fn failed(&self) -> bool {
        self.status() == Status::Fail
    }
}

/// The name of the check's synthetic rooms, so a person who sees one in a log knows what it was.
pub const TEST_ROOM_NAME: &str = "twilio-video-callbacks-check";

/// A fresh room SID, `RM` and 32 hex digits, derived from `seed` (the time and the process: unique per
/// run). Never a SID Twilio gave a real room of this account.
pub fn test_room_sid(seed: &[u8]) -> String {
    let digest = Sha256::digest([b"twilio-video-callbacks check ".as_slice(), seed].concat());
    let hex = hex::encode(digest);
    format!("RM{}", &hex[..32])
}

/// A seed for [`test_room_sid`] from the clock and the process.
pub fn fresh_seed() -> Vec<u8> {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    [
        nanos.to_be_bytes().as_slice(),
        &std::process::id().to_be_bytes(),
    ]
    .concat()
}

/// The form parameters of a `room-created` for `room` of `account` at `at`, as Twilio sends them (the
/// names of the sample in `events/room-created.json`).
pub fn room_created_params(account: &str, room: &str, at: OffsetDateTime) -> Vec<(String, String)> {
    [
        ("AccountSid", account.to_owned()),
        ("RoomName", TEST_ROOM_NAME.to_owned()),
        ("RoomSid", room.to_owned()),
        ("RoomStatus", "in-progress".to_owned()),
        ("RoomType", "group".to_owned()),
        ("StatusCallbackEvent", "room-created".to_owned()),
        ("Timestamp", crate::twilio::timestamp::format(at)),
        ("SequenceNumber", "0".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// The URL without Twilio's connection overrides (the `#...` fragment, which Twilio does not sign).
pub fn without_overrides(url: &str) -> &str {
    url.split_once('#').map_or(url, |(signed, _)| signed).trim()
}

/// Whether a room's `status_callback` is this deployment's URL: equal once both lose their `#...`
/// overrides. No callback (null or empty) points nowhere.
pub fn points_at(status_callback: Option<&str>, ours: &str) -> bool {
    let theirs = status_callback.map(without_overrides).unwrap_or_default();
    !theirs.is_empty() && theirs == without_overrides(ours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twilio::callback::{Callback, EventKind, Params};

    #[test]
    fn a_test_room_sid_is_rm_and_32_hex_digits_and_differs_per_seed() {
        let a = test_room_sid(b"1");
        assert_eq!(a.len(), 34);
        assert!(a.starts_with("RM"));
        assert!(a[2..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, test_room_sid(b"2"));
        assert_ne!(fresh_seed(), Vec::<u8>::new());
    }

    #[test]
    fn the_synthetic_room_created_is_a_well_formed_callback() {
        let at = OffsetDateTime::from_unix_timestamp(1_795_770_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let params = room_created_params("AC00000000000000000000000000000001", "RM01", at);
        let (callback, problems) = Callback::read(Params::new(params), at);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(callback.event, EventKind::RoomCreated);
        assert_eq!(callback.fields.room_sid.as_deref(), Some("RM01"));
    }

    #[test]
    fn a_room_points_at_us_whatever_its_overrides_and_an_empty_one_points_nowhere() {
        let ours = "https://abc.execute-api.eu-west-1.amazonaws.com/twilio/video";
        assert!(points_at(Some(ours), ours));
        assert!(points_at(Some(&format!("{ours}#rc=3&rp=all")), ours));
        assert!(points_at(Some(ours), &format!("{ours}#ct=3000")));
        assert!(!points_at(
            Some("https://old.example.com/twilio/video"),
            ours
        ));
        assert!(!points_at(Some(""), ours));
        assert!(!points_at(None, ours));
        assert!(!points_at(Some("#rc=3"), ours));
    }

    #[test]
    fn the_report_fails_when_any_row_fails() {
        let mut report = Report::default();
        assert_eq!(report.status(), Status::Ok);
        report.rows.push(Row::ok("a", "fine"));
        report.rows.push(Row::warn("b", "slow", "look"));
        assert_eq!(report.status(), Status::Warn);
        assert!(!report.failed());
        report.rows.push(Row::fail("c", "broken", "fix"));
        assert!(report.failed());
        let json = serde_json::to_value(&report.rows[0]).unwrap_or_default();
        assert_eq!(json["status"], "ok");
        assert!(json.get("next").is_none());
    }
}
