//! Writes the usage page of a made-up but realistic fortnight (two accounts, a few dozen rooms a day,
//! recordings and compositions on some, the last day's rooms partly still open) to the file named on
//! the command line, through the same library functions the `usage --html` subcommand uses: each
//! room's figures from stored items (`room_usage`), grouped by day and priced (`report`), drawn
//! (`html`). `scripts/screenshot.sh` renders it with headless Chromium for the README's picture. Prints
//! the page's height in pixels.
//!
//! cargo run --features operator --example usage_sample -- .local/sample-usage.html

use time::{Duration, OffsetDateTime};
use twilio_video_callbacks::archiver::rules::{ArchiveRecord, Archived};
use twilio_video_callbacks::operator::rooms::RoomRef;
use twilio_video_callbacks::operator::timeline::Entry;
use twilio_video_callbacks::operator::usage::{self, By, LIST_PRICES};
use twilio_video_callbacks::receiver::item::StoredEvent;
use twilio_video_callbacks::twilio::callback::{Callback, Params};
use twilio_video_callbacks::twilio::timestamp;

const ACCOUNTS: [&str; 2] = [
    "AC00000000000000000000000000000001",
    "AC0000000000000000000000000000000b",
];
const DAYS: i64 = 14;

/// A small deterministic generator (xorshift), so the picture is the same on every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below.max(1)
    }
}

fn item(
    account: &str,
    room: &str,
    event: &str,
    at: OffsetDateTime,
    extra: &[(&str, String)],
) -> Entry {
    let mut pairs = vec![
        ("AccountSid".to_owned(), account.to_owned()),
        ("RoomSid".to_owned(), room.to_owned()),
        ("StatusCallbackEvent".to_owned(), event.to_owned()),
        ("Timestamp".to_owned(), timestamp::format(at)),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let (callback, _) = Callback::read(Params::new(pairs), at);
    Entry::Callback(Box::new(StoredEvent::new(callback, at, None)))
}

/// The archiver's `media-archived` record for a media callback's entry (the file copied, at its size).
fn archived(media: &Entry, at: OffsetDateTime) -> Entry {
    let Entry::Callback(event) = media else {
        return media.clone();
    };
    let Some(message) = event.media_message() else {
        return media.clone();
    };
    let outcome = Archived::Copied {
        s3_uri: "s3://archive/sample".into(),
        size: message.size.unwrap_or(0),
        content_type: "video/webm".into(),
        sha256: "0".repeat(64),
        encrypted: None,
    };
    Entry::Outcome(Box::new(ArchiveRecord::archived(
        &message,
        &outcome,
        &timestamp::format(at + Duration::minutes(10)),
    )))
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: usage_sample FILE");
        std::process::exit(2);
    };
    let start = OffsetDateTime::new_utc(
        time::Date::from_calendar_date(2026, time::Month::November, 16).unwrap_or(time::Date::MIN),
        time::Time::MIDNIGHT,
    );
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    let mut rooms = Vec::new();
    let mut n = 0u32;
    for day in 0..DAYS {
        // Fewer rooms at the weekend.
        let weekday = (day % 7) < 5;
        let count = if weekday {
            30 + dice.next(25)
        } else {
            6 + dice.next(6)
        };
        for _ in 0..count {
            n += 1;
            let account = ACCOUNTS[usize::from(dice.next(3) == 0)];
            let room = format!("RM{n:032x}");
            let created =
                start + Duration::days(day) + Duration::minutes(420 + dice.next(660) as i64);
            let mut entries = vec![item(account, &room, "room-created", created, &[])];
            let people = 2 + dice.next(6);
            let length = 600 + dice.next(3000) as i64;
            let open = day == DAYS - 1 && dice.next(4) == 0;
            for p in 0..people {
                let sid = format!("PA{n:016x}{p:016x}");
                let from = created + Duration::seconds(dice.next(120) as i64);
                let stay = (length - dice.next(300) as i64).max(60);
                let who = [
                    ("ParticipantSid", sid.clone()),
                    ("ParticipantIdentity", format!("user-{p}")),
                ];
                entries.push(item(account, &room, "participant-connected", from, &who));
                if !open {
                    let mut left = who.to_vec();
                    left.push(("ParticipantDuration", stay.to_string()));
                    entries.push(item(
                        account,
                        &room,
                        "participant-disconnected",
                        from + Duration::seconds(stay),
                        &left,
                    ));
                }
            }
            if !open {
                let end = created + Duration::seconds(length + 60);
                entries.push(item(
                    account,
                    &room,
                    "room-ended",
                    end,
                    &[("RoomDuration", (length + 60).to_string())],
                ));
                if dice.next(3) == 0 {
                    for t in 0..people * 2 {
                        let extra = [
                            ("RecordingSid", format!("RT{n:016x}{t:016x}")),
                            ("Duration", (length - 30).to_string()),
                            (
                                "Size",
                                ((length as u64) * if t % 2 == 0 { 4_000 } else { 90_000 })
                                    .to_string(),
                            ),
                        ];
                        let recording = item(account, &room, "recording-completed", end, &extra);
                        // The archiver copied every recording but those of the last two days.
                        if day < DAYS - 2 {
                            entries.push(archived(&recording, end));
                        }
                        entries.push(recording);
                    }
                    let extra = [
                        ("CompositionSid", format!("CJ{n:032x}")),
                        ("Duration", length.to_string()),
                        ("Size", ((length as u64) * 150_000).to_string()),
                    ];
                    let composition = item(
                        account,
                        &room,
                        "composition-available",
                        end + Duration::minutes(5),
                        &extra,
                    );
                    if day < DAYS - 2 {
                        entries.push(archived(&composition, end + Duration::minutes(5)));
                    }
                    entries.push(composition);
                }
            }
            let reference = RoomRef {
                account_sid: account.to_owned(),
                created: timestamp::format(created),
                room_sid: room,
            };
            rooms.push(usage::room_usage(&reference, &entries));
        }
    }
    let report = usage::report(rooms, By::Day, LIST_PRICES);
    let page = usage::html(
        &report,
        "rooms created from 2026-11-16 to 2026-11-30 (UTC, until excluded), every account",
    );
    if let Err(err) = std::fs::write(&path, page) {
        eprintln!("could not write {path}: {err}");
        std::process::exit(1);
    }
    // The heading and notes, the chart (a row a group), the table (a row a group, the header, the total).
    let groups = report.groups.len() as u64;
    println!("{}", 190 + 40 + 30 * groups + 22 * (groups + 2) + 60);
}
