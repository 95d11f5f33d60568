//! A room's story, from the items of its timeline partition: pure functions from the items (as the table
//! holds them) to a model ([`Timeline`]), and from the model to a terminal table ([`table`]), JSON lines
//! (the [`Row`]s) and one self-contained HTML page with an inline SVG drawing ([`html`]).
//!
//! - `model`: the items in, a [`Timeline`] out ([`build`]), and the units it writes
//!   ([`bytes()`], [`seconds()`]);
//! - `table`: the terminal table, every text made harmless to the terminal ([`cell`]);
//! - `svg`: the drawing ([`svg`]), its time axis spaced by [`tick_step`];
//! - `page`: the HTML page around the drawing ([`html`]), every text escaped ([`escape`]).
//!
//! The page makes no network request: no script, stylesheet, font or image is referenced, and a
//! Content-Security-Policy of `default-src 'none'` says so to the browser. Every text from the table
//! (room names and identities are chosen by the customer's users) is escaped.

mod model;
mod page;
mod svg;
mod table;

pub use model::{
    build, bytes, seconds, ArchiveState, Entry, Flag, Lane, Media, MediaKind, Row, Span, Timeline,
    TrackMark, DELETED_AT_TWILIO,
};
pub(crate) use page::document_head;
pub use page::{escape, html};
pub use svg::{svg, tick_step};
pub use table::{cell, table};

#[cfg(test)]
mod tests;
