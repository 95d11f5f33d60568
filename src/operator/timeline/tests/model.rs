//! The model: items in (read back from the table's attributes, in any order), a room's story out.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::*;

#[test]
fn the_model_tells_the_rooms_story() {
    let timeline = build(ROOM, room());
    assert_eq!(timeline.room_name.as_deref(), Some("standup <b>&"));
    assert_eq!(timeline.created, Some(at("2026-11-27T09:00:00Z")));
    assert_eq!(timeline.ended, Some(at("2026-11-27T09:20:00Z")));
    assert_eq!(timeline.room_duration, Some(1200));
    let identities: Vec<&str> = timeline.lanes.iter().map(|l| l.identity.as_str()).collect();
    assert_eq!(identities, ["user-1", "user-2", "user-3"]);
    let alice = &timeline.lanes[0];
    assert_eq!(alice.spans.len(), 2, "disconnected, then reconnected");
    assert_eq!(alice.spans[0].to, Some(at("2026-11-27T09:12:00Z")));
    assert_eq!(alice.spans[1].to, None);
    let events: Vec<&str> = alice.tracks.iter().map(|t| t.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "track-added",
            "track-disabled",
            "track-enabled",
            "track-removed"
        ]
    );
    let rt01 = &timeline.media[0];
    assert_eq!((rt01.sid.as_str(), rt01.lane), ("RT01", Some(0)));
    assert_eq!(rt01.started, Some(at("2026-11-27T09:00:07Z")));
    assert!(matches!(&rt01.archive, ArchiveState::Archived { how, .. } if how == "copied"));
    let rt02 = timeline
        .media
        .iter()
        .find(|m| m.sid == "RT02")
        .unwrap_or_else(|| panic!("RT02"));
    assert_eq!(rt02.lane, Some(1));
    assert_eq!(
        rt02.archive,
        ArchiveState::Failed {
            reason: "media gone".into()
        }
    );
    let cj = timeline
        .media
        .iter()
        .find(|m| m.sid == "CJ01")
        .unwrap_or_else(|| panic!("CJ01"));
    assert_eq!(
        (cj.kind, cj.status.as_str(), cj.progress),
        (MediaKind::Composition, "available", Some(100))
    );
    assert_eq!(timeline.archived(), 1);
    let kinds: Vec<&str> = timeline.flags.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, ["malformed", "spilled"], "{:#?}", timeline.flags);
    // Rows in time order (the entries were given shuffled), each archive outcome after the callback
    // it resolves although both have the same time, the archive outcome beside each media event.
    let events: Vec<&str> = timeline.rows.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "room-created",
            "participant-connected",
            "track-added",
            "recording-started",
            "participant-connected",
            "track-disabled",
            "track-enabled",
            "participant-connected",
            "participant-connected",
            "recording-completed",
            "media-archived",
            "recording-completed",
            "media-archive-failed",
            "track-removed",
            "participant-disconnected",
            "participant-connected",
            "room-ended",
            "composition-enqueued",
            "composition-progress",
            "composition-available",
        ]
    );
    assert_eq!(timeline.rows[10].time, timeline.rows[9].time);
    let done = timeline
        .rows
        .iter()
        .find(|r| r.event == "recording-completed")
        .unwrap_or_else(|| panic!("row"));
    assert_eq!(
        done.archive.as_deref(),
        Some("archived (copied): s3://archive/RT01.mka")
    );
    let spilled = timeline
        .rows
        .iter()
        .find(|r| !r.marks.is_empty() && r.marks[0].starts_with("spilled"))
        .unwrap_or_else(|| panic!("spilled row"));
    assert_eq!(spilled.marks, ["spilled: DynamoDB throttled"]);
    assert!(timeline.rows.iter().any(|r| r
        .marks
        .iter()
        .any(|m| m.starts_with("malformed: missing required parameter"))));
}

#[test]
fn unreadable_items_are_shown_marked() {
    let mut item = HashMap::new();
    item.insert("pk".to_owned(), AttributeValue::S(ROOM.into()));
    item.insert(
        "sk".to_owned(),
        AttributeValue::S("2026-11-27T09:00:00.000Z#odd#x".into()),
    );
    item.insert("event".to_owned(), AttributeValue::S("odd".into()));
    let entry = Entry::from_item(item);
    assert!(matches!(&entry, Entry::Unreadable { event, .. } if event == "odd"));
    let timeline = build(ROOM, vec![entry]);
    assert_eq!(timeline.flags.len(), 1);
    assert!(timeline.rows[0].marks[0].starts_with("unreadable: "));
}

#[test]
fn stored_items_read_back_as_entries() {
    let item = recording("recording-completed", "2026-11-27T09:10:00Z", "RT01", 1);
    let entry = Entry::from_item(item.clone().into_attributes());
    assert_eq!(entry, callback(item.clone()));
    let Entry::Outcome(record) = archived(&item) else {
        panic!("outcome")
    };
    let attributes: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(&record).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(Entry::from_item(attributes), Entry::Outcome(record));
}
