//! Step 3, Twilio points at us: the rooms Twilio created since a time (every status: in-progress,
//! completed, failed), paged and paced like the other REST commands. A room whose `status_callback` is
//! not this deployment's URL (compared without `#...` overrides; none at all counts) loses its whole
//! record: a `fail` listing each. A room that does point here but has no `room-created` in the table is
//! `missed`: the record has a hole.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{points_at, Row};
use crate::operator::rest::{Created, Room, TwilioRest, ROOM_STATUSES};

const ELSEWHERE: &str = "twilio: status callback";
const MISSED: &str = "twilio: missed";

/// Every room Twilio created at or after `after` (RFC 3339), of `account` when given.
pub async fn rooms_since(
    rest: &TwilioRest,
    after: &str,
    account: Option<&str>,
) -> Result<Vec<Room>, String> {
    let created = Created {
        after: after.to_owned(),
        before: None,
    };
    let mut rooms = Vec::new();
    for status in ROOM_STATUSES {
        let mut cursor = rest.rooms(status, &created);
        while !cursor.done() {
            let page = rest
                .next_rooms(&mut cursor)
                .await
                .map_err(|err| err.to_string())?;
            rooms.extend(page);
        }
    }
    // Twilio documents `DateCreatedAfter` as a day: keep only what was created in the window asked for.
    rooms.retain(|room| {
        room.date_created
            .as_deref()
            .and_then(crate::twilio::timestamp::parse)
            .zip(crate::twilio::timestamp::parse(after))
            .is_none_or(|(created, after)| created >= after)
            && account.is_none_or(|account| room.account_sid.as_deref() == Some(account))
    });
    rooms.sort_by(|a, b| a.sid.cmp(&b.sid));
    rooms.dedup_by(|a, b| a.sid == b.sid);
    Ok(rooms)
}

/// The rooms whose `status_callback` is not `ours`, and those that are.
pub fn split<'r>(rooms: &'r [Room], ours: &str) -> (Vec<&'r Room>, Vec<&'r Room>) {
    rooms
        .iter()
        .partition(|room| !points_at(room.status_callback.as_deref(), ours))
}

/// How a room is listed: its SID, its unique name, and where its callbacks go.
pub fn describe(room: &Room) -> String {
    let name = room.unique_name.as_deref().unwrap_or("");
    let callback = room
        .status_callback
        .as_deref()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or("(none)");
    format!("{} ({name}) -> {callback}", room.sid)
}

/// The row of the rooms that do not point here.
pub fn elsewhere_row(all: usize, elsewhere: &[&Room], ours: &str, since: &str) -> Row {
    if elsewhere.is_empty() {
        return Row::ok(
            ELSEWHERE,
            format!(
                "{all} room(s) created since {since}, all with this deployment's StatusCallback"
            ),
        );
    }
    let listed: Vec<String> = elsewhere.iter().map(|room| describe(room)).collect();
    Row::fail(
        ELSEWHERE,
        format!(
            "{} of {all} room(s) created since {since} do not send their callbacks here: {}",
            elsewhere.len(),
            listed.join("; ")
        ),
        format!(
            "their callbacks are lost: create every room with StatusCallback={ours} (the stack's \
             TwilioStatusCallbackUrl adds the retry overrides); a room's callback cannot be changed later"
        ),
    )
}

/// The row of the rooms that point here but whose `room-created` the table does not hold.
pub fn missed_row(ours: usize, missed: &[&Room], table: &str) -> Row {
    if missed.is_empty() {
        return Row::ok(
            MISSED,
            format!("all {ours} room(s) pointing here have their room-created in {table}"),
        );
    }
    let listed: Vec<String> = missed.iter().map(|room| describe(room)).collect();
    Row::fail(
        MISSED,
        format!(
            "missed: {} of {ours} room(s) pointing here have no room-created in {table}: {}",
            missed.len(),
            listed.join("; ")
        ),
        "the record has a hole: look for these rooms in the receiver's log (403s, 5xx), the spill \
         dead-letter queue and Twilio's debugger (a room created seconds ago may just be in flight)",
    )
}

/// The two rows of the step: rooms elsewhere, and rooms missed.
pub async fn rows(
    rest: &TwilioRest,
    after: &str,
    account: Option<&str>,
    ours: &str,
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<Row> {
    let rooms = match rooms_since(rest, after, account).await {
        Ok(rooms) => rooms,
        Err(reason) => {
            return vec![Row::fail(
                ELSEWHERE,
                format!("could not list the rooms at Twilio: {reason}"),
                "check the API key (TWILIO_API_KEY_SID, TWILIO_API_KEY_SECRET): it must belong to \
                 the account and may read Video rooms",
            )]
        }
    };
    let (elsewhere, here) = split(&rooms, ours);
    let mut out = vec![elsewhere_row(rooms.len(), &elsewhere, ours, after)];
    let mut missed = Vec::new();
    for room in &here {
        match has_room_created(dynamodb, table, &room.sid).await {
            Ok(true) => {}
            Ok(false) => missed.push(*room),
            Err(reason) => {
                out.push(Row::fail(
                    MISSED,
                    format!("could not read {table}: {reason}"),
                    "check the table's name (EVENTS_TABLE, --table, --stack) and your credentials",
                ));
                return out;
            }
        }
    }
    out.push(missed_row(here.len(), &missed, table));
    out
}

/// Whether the table holds a `room-created` for `room`.
async fn has_room_created(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    room: &str,
) -> Result<bool, String> {
    let mut start = None;
    loop {
        let page = dynamodb
            .query()
            .table_name(table)
            .key_condition_expression("pk = :room")
            .filter_expression("#event = :created")
            .expression_attribute_names("#event", "event")
            .expression_attribute_values(":room", AttributeValue::S(room.to_owned()))
            .expression_attribute_values(":created", AttributeValue::S("room-created".to_owned()))
            .projection_expression("pk")
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|err| aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string())?;
        if page.count() > 0 {
            return Ok(true);
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::check::Status;

    const OURS: &str = "https://abc.execute-api.eu-west-1.amazonaws.com/twilio/video";

    fn room(sid: &str, callback: Option<&str>) -> Room {
        Room {
            sid: sid.into(),
            account_sid: Some("AC1".into()),
            status: Some("completed".into()),
            unique_name: Some(format!("name-{sid}")),
            status_callback: callback.map(str::to_owned),
            date_created: Some("2026-11-27T09:00:00Z".into()),
        }
    }

    #[test]
    fn rooms_elsewhere_are_listed_with_sid_name_and_url_and_fail() {
        let with_overrides = format!("{OURS}#rc=3&rp=all");
        let rooms = vec![
            room("RM1", Some(OURS)),
            room("RM2", Some(&with_overrides)),
            room("RM3", Some("https://old.example.com/hook")),
            room("RM4", Some("")),
            room("RM5", None),
        ];
        let (elsewhere, here) = split(&rooms, OURS);
        let here: Vec<&str> = here.iter().map(|r| r.sid.as_str()).collect();
        assert_eq!(here, ["RM1", "RM2"]);
        let row = elsewhere_row(rooms.len(), &elsewhere, OURS, "2026-11-26T09:00:00Z");
        assert_eq!(row.status, Status::Fail);
        assert!(row
            .detail
            .contains("RM3 (name-RM3) -> https://old.example.com/hook"));
        assert!(row.detail.contains("RM4 (name-RM4) -> (none)"));
        assert!(row.detail.contains("RM5 (name-RM5) -> (none)"));
        assert!(!row.detail.contains("RM1"));
        assert_eq!(elsewhere_row(2, &[], OURS, "x").status, Status::Ok);
    }

    #[test]
    fn rooms_here_without_their_room_created_are_missed() {
        let rooms = [room("RM1", Some(OURS))];
        let missed: Vec<&Room> = rooms.iter().collect();
        let row = missed_row(3, &missed, "events");
        assert_eq!(row.status, Status::Fail);
        assert!(row.detail.starts_with("missed: 1 of 3"), "{}", row.detail);
        assert_eq!(missed_row(3, &[], "events").status, Status::Ok);
    }
}
