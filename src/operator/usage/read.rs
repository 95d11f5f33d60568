//! Reading what the report needs, paced: the rooms created in a range of UTC days through the
//! rooms-by-day index ([`rooms::rooms_created_on`], one Query a day, pages followed), then each room's
//! partition ([`rooms::room_entries`], one Query a room, pages followed), at most [`Pace::concurrency`]
//! at a time and at most [`Pace::rooms_per_second`]. Each partition is turned into the room's figures
//! as soon as it is read ([`room_usage`]), so a month of rooms never sits in memory as items.

use std::time::{Duration, Instant};

use time::Date;

use super::model::{room_usage, RoomUsage};
use crate::operator::rooms::{self, RoomRef, TableError};

/// How fast the partitions are read.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Most partitions read a second (each Query costs read capacity: about 0.5 RCU per 4 KB, eventually
    /// consistent); 0 or less: no pacing.
    pub rooms_per_second: f64,
    /// Partitions read at a time.
    pub concurrency: usize,
}

/// The default pace: 50 rooms a second, 8 at a time (what `rooms` reads at once).
pub const DEFAULT_PACE: Pace = Pace {
    rooms_per_second: 50.0,
    concurrency: 8,
};

/// The rooms created on the UTC days from `since` up to (not including) `until`, of `account` when
/// given: one index Query per day, in order of day, then account and creation.
pub async fn rooms_created_between(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    since: Date,
    until: Date,
    account: Option<&str>,
) -> Result<Vec<RoomRef>, TableError> {
    let mut found = Vec::new();
    let mut day = since;
    while day < until {
        found.extend(rooms::rooms_created_on(client, table, day, account).await?);
        match day.next_day() {
            Some(next) => day = next,
            None => break,
        }
    }
    Ok(found)
}

/// The figures of each of `rooms`, read from its partition at `pace`, in the order given; `on_room` is
/// told after each room is read (for a progress bar).
pub async fn rooms_usage(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    rooms: &[RoomRef],
    pace: Pace,
    mut on_room: impl FnMut(),
) -> Result<Vec<RoomUsage>, TableError> {
    let began = Instant::now();
    let mut reads = tokio::task::JoinSet::new();
    let mut done: Vec<(usize, RoomUsage)> = Vec::with_capacity(rooms.len());
    let concurrency = pace.concurrency.max(1);
    for (n, room) in rooms.iter().enumerate() {
        if reads.len() >= concurrency {
            if let Some(joined) = reads.join_next().await {
                done.push(joined_room(joined, table)?);
                on_room();
            }
        }
        if pace.rooms_per_second > 0.0 {
            // A rate so small that the wait does not fit a Duration waits "forever" (tokio caps it).
            let due = Duration::try_from_secs_f64(n as f64 / pace.rooms_per_second)
                .unwrap_or(Duration::MAX);
            if let Some(wait) = due.checked_sub(began.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        let (client, table, room) = (client.clone(), table.to_owned(), room.clone());
        reads.spawn(async move {
            let entries = rooms::room_entries(&client, &table, &room.room_sid).await?;
            Ok::<_, TableError>((n, room_usage(&room, &entries)))
        });
    }
    while let Some(joined) = reads.join_next().await {
        done.push(joined_room(joined, table)?);
        on_room();
    }
    done.sort_by_key(|(n, _)| *n);
    Ok(done.into_iter().map(|(_, usage)| usage).collect())
}

fn joined_room(
    joined: Result<Result<(usize, RoomUsage), TableError>, tokio::task::JoinError>,
    table: &str,
) -> Result<(usize, RoomUsage), TableError> {
    joined.map_err(|err| TableError::DynamoDb {
        call: "Query",
        table: table.to_owned(),
        detail: err.to_string(),
    })?
}
