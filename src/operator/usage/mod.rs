//! Usage: who used how many participant minutes, recorded and composed what, how many bytes the archive
//! keeps, and what it cost, per account, day or room, from the callbacks the table holds.
//!
//! - `model`: a room's partition in, its [`Figures`] out ([`room_usage`]); the rooms grouped and priced
//!   into a [`Usage`] report ([`report`]). Pure: no I/O.
//! - `render`: the terminal [`table`], the JSON lines ([`json_lines`]), the CSV ([`csv`]) and the
//!   [`notes`] that qualify the figures (a lower bound while rooms are open; an estimate).
//! - `page`: one self-contained HTML page ([`html`]) with a chart ([`chart`]) and the table.
//! - `read`: the rooms of a range of days through the rooms-by-day index and their partitions, paced
//!   ([`rooms_created_between`], [`rooms_usage`]).

mod model;
mod page;
mod read;
mod render;

pub use model::{
    report, room_usage, By, Figures, Line, Prices, RoomUsage, Usage, COLUMNS, LIST_PRICES,
};
pub use page::{chart, html, CHART_GROUPS};
pub use read::{rooms_created_between, rooms_usage, Pace, DEFAULT_PACE};
pub use render::{csv, csv_field, json_lines, notes, table, DISCLAIMER};

#[cfg(test)]
mod tests;
