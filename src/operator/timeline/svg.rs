//! The drawing of a room's story, one inline SVG ([`svg`]): a time axis and its grid, the room's life,
//! the marked callbacks, one lane per participant (its connected spans, track events and recordings),
//! then the recordings without a participant and the compositions. Every text from the table is
//! escaped; a title on each shape holds its details, shown on hover.

use std::fmt::Write as _;

use time::OffsetDateTime;

use super::model::{archive_text, bytes, seconds, ArchiveState, Flag, Media, MediaKind, Timeline};
use super::page::escape;
use crate::twilio::timestamp;

const WIDTH: f64 = 1280.0;
const LABEL: f64 = 230.0;
const RIGHT: f64 = 24.0;
const AXIS: f64 = 34.0;
const LANE: f64 = 24.0;
const SUBROW: f64 = 9.0;

/// A tick's label for ticks `step` seconds apart: `2026-11-27` (a day or more), `11-27 09:00` (hours),
/// `09:05` or `09:05:30`.
fn tick_label(time: OffsetDateTime, step: i64) -> String {
    if step >= 86400 {
        time.date().to_string()
    } else if step >= 3600 {
        format!(
            "{:02}-{:02} {}",
            u8::from(time.month()),
            time.day(),
            clock(time, false)
        )
    } else {
        clock(time, step < 60)
    }
}

/// `09:05` or `09:05:30` (UTC).
fn clock(time: OffsetDateTime, with_seconds: bool) -> String {
    if with_seconds {
        format!(
            "{:02}:{:02}:{:02}",
            time.hour(),
            time.minute(),
            time.second()
        )
    } else {
        format!("{:02}:{:02}", time.hour(), time.minute())
    }
}

/// Tick spacing in seconds: about a twelfth of the span, rounded up to a round value (1, 5, 10, 15, 30 s,
/// 1, 2, 5, 10, 15, 30 min, 1, 2, 6, 12 h, then 1, 2, 5 days times a power of ten, without end), so a
/// drawing has at most 12 intervals whatever its span.
pub fn tick_step(span_seconds: f64) -> i64 {
    const STEPS: [i64; 15] = [
        1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200,
    ];
    let wanted = if span_seconds.is_finite() {
        span_seconds.max(0.0) / 12.0
    } else {
        f64::MAX
    };
    if let Some(step) = STEPS.iter().copied().find(|step| *step as f64 >= wanted) {
        return step;
    }
    let mut days: i64 = 1;
    loop {
        for factor in [1, 2, 5] {
            let step = days.saturating_mul(factor).saturating_mul(86400);
            if step as f64 >= wanted || step == i64::MAX {
                return step;
            }
        }
        days = days.saturating_mul(10);
    }
}

struct Scale {
    start: OffsetDateTime,
    span: f64,
}

impl Scale {
    fn x(&self, time: OffsetDateTime) -> f64 {
        let offset = (time - self.start).as_seconds_f64() / self.span;
        LABEL + offset.clamp(0.0, 1.0) * (WIDTH - LABEL - RIGHT)
    }
}

fn media_title(media: &Media) -> String {
    let mut parts = vec![format!("{} {}", media.sid, media.status)];
    parts.extend(media.track.clone());
    if let Some(t) = media.started {
        parts.push(format!("from {}", clock(t, true)));
    }
    if let Some(t) = media.finished {
        parts.push(format!("to {}", clock(t, true)));
    }
    parts.extend(media.size.map(bytes));
    parts.extend(media.duration.map(seconds));
    if let Some(p) = media
        .progress
        .filter(|_| media.kind == MediaKind::Composition)
    {
        parts.push(format!("{p}% done"));
    }
    parts.extend(media.error.clone());
    parts.push(archive_text(media));
    parts.join(", ")
}

/// One media bar: from its start (or its end minus its duration) to its end (or `end` while open).
fn media_bar(out: &mut String, scale: &Scale, end: OffsetDateTime, media: &Media, y: f64) {
    let finished = media.finished.unwrap_or(end);
    let started = media.started.unwrap_or_else(|| {
        let duration = i64::try_from(media.duration.unwrap_or(0)).unwrap_or(i64::MAX);
        // A duration reaching before the earliest time there is starts the bar at the drawing's start.
        finished
            .checked_sub(time::Duration::seconds(duration))
            .unwrap_or(scale.start)
    });
    let (x1, x2) = (scale.x(started), scale.x(finished));
    let class = match (&media.archive, media.status.as_str()) {
        (_, "failed") => "m-failed",
        (ArchiveState::Archived { .. }, _) => "m-archived",
        (ArchiveState::Failed { .. }, _) => "m-archfail",
        (ArchiveState::None, "completed" | "available") => "m-done",
        _ => "m-open",
    };
    let kind = match media.kind {
        MediaKind::Recording => "recording",
        MediaKind::Composition => "composition",
    };
    let _ = write!(
        out,
        "<g class=\"{kind}\" data-sid=\"{}\" data-archive=\"{}\"><title>{}</title>\
         <rect class=\"{class}\" x=\"{x1:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"6\" rx=\"2\"/></g>",
        escape(&media.sid),
        media.archive.word(),
        escape(&media_title(media)),
        (x2 - x1).max(3.0),
    );
    if media.deleted_at_twilio {
        let _ = write!(
            out,
            "<circle class=\"deleted\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"><title>{} deleted at Twilio</title></circle>",
            x2.max(x1 + 3.0) + 4.0,
            y + 3.0,
            escape(&media.sid)
        );
    }
}

fn label(out: &mut String, y: f64, text: &str, class: &str) {
    let shown: String = if text.chars().count() > 30 {
        text.chars().take(29).chain(['…']).collect()
    } else {
        text.to_owned()
    };
    let _ = write!(
        out,
        "<text class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\"><title>{}</title>{}</text>",
        LABEL - 8.0,
        y,
        escape(text),
        escape(&shown)
    );
}

/// The SVG drawing: a time axis; the room's life; marked callbacks; one lane per participant with its
/// connected spans, track events and recordings; the recordings without a participant; the compositions.
pub fn svg(timeline: &Timeline) -> String {
    let (start, end) = timeline.bounds();
    let span = (end - start).as_seconds_f64().max(1.0);
    let scale = Scale { start, span };
    // The room's life: from its creation to its end, else from the drawing's start to its end.
    let room = (
        timeline.created.unwrap_or(start),
        timeline.ended.unwrap_or(end),
    );
    let mut body = String::new();
    let mut y = AXIS;
    y += room_lane(&mut body, &scale, timeline, room, y);
    if !timeline.flags.is_empty() {
        y += flag_lane(&mut body, &scale, &timeline.flags, y);
    }
    for n in 0..timeline.lanes.len() {
        y += participant_lane(&mut body, &scale, timeline, n, room, y);
    }
    let orphans: Vec<&Media> = timeline
        .media
        .iter()
        .filter(|m| m.kind == MediaKind::Recording && m.lane.is_none())
        .collect();
    let compositions: Vec<&Media> = timeline
        .media
        .iter()
        .filter(|m| m.kind == MediaKind::Composition)
        .collect();
    // A recording still open ends with the room; a composition (made after it) with the drawing.
    for (name, class, list, open_until) in [
        ("recordings (no participant)", "orphans", orphans, room.1),
        ("compositions", "compositions", compositions, end),
    ] {
        if !list.is_empty() {
            y += media_lane(&mut body, &scale, (name, class), &list, open_until, y);
        }
    }
    let height = y + 10.0;
    format!(
        "<svg class=\"timeline\" role=\"img\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" height=\"{height:.0}\">\
         <title>Timeline of room {}</title>{}{body}</svg>",
        escape(&timeline.room_sid),
        grid(&scale, end, height),
    )
}

/// The room's lane, at `y`: one bar from its creation to its end (`room`). Returns the lane's height.
fn room_lane(
    body: &mut String,
    scale: &Scale,
    timeline: &Timeline,
    room: (OffsetDateTime, OffsetDateTime),
    y: f64,
) -> f64 {
    let (room_from, room_to) = room;
    label(body, y + 15.0, "room", "lane-label room-label");
    let _ = write!(
        body,
        "<g class=\"lane room\"><title>room {} created {} ended {}</title>\
         <rect class=\"room-bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\" rx=\"3\"/></g>",
        escape(&timeline.room_sid),
        timeline.created.map(timestamp::format).unwrap_or("?".into()),
        timeline.ended.map(timestamp::format).unwrap_or("(not ended)".into()),
        scale.x(room_from),
        y + 6.0,
        (scale.x(room_to) - scale.x(room_from)).max(2.0),
    );
    LANE + 4.0
}

/// The marked callbacks' lane, at `y`: one diamond per flag (malformed, spilled, unreadable). Returns the
/// lane's height.
fn flag_lane(body: &mut String, scale: &Scale, flags: &[Flag], y: f64) -> f64 {
    label(body, y + 15.0, "marked callbacks", "lane-label flag-label");
    for flag in flags {
        let x = scale.x(flag.at.unwrap_or(scale.start));
        let _ = write!(
            body,
            "<g class=\"flag\" data-kind=\"{}\"><title>{} {}: {}</title>\
             <path class=\"flag-{}\" d=\"M{x:.1} {:.1} l6 6 l-6 6 l-6 -6 z\"/></g>",
            flag.kind,
            flag.kind,
            escape(&flag.event),
            escape(&flag.detail),
            flag.kind,
            y + 6.0,
        );
    }
    LANE + 4.0
}

/// The lane of participant `n`, at `y`: its connected spans (an end missing is the room's), its track
/// events, and one row below them per recording of its tracks. Returns the lane's height.
fn participant_lane(
    body: &mut String,
    scale: &Scale,
    timeline: &Timeline,
    n: usize,
    room: (OffsetDateTime, OffsetDateTime),
    y: f64,
) -> f64 {
    let (room_from, room_to) = room;
    let lane = &timeline.lanes[n];
    let recordings: Vec<&Media> = timeline
        .media
        .iter()
        .filter(|m| m.kind == MediaKind::Recording && m.lane == Some(n))
        .collect();
    let height = LANE + SUBROW * recordings.len() as f64 + 4.0;
    let _ = write!(
        body,
        "<g class=\"lane participant\" data-identity=\"{}\" data-participants=\"{}\">\
         <rect class=\"lane-bg{}\" x=\"0\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"{height:.1}\"/>",
        escape(&lane.identity),
        escape(&lane.participant_sids.join(" ")),
        if n % 2 == 0 { " even" } else { "" },
    );
    label(body, y + 15.0, &lane.identity, "lane-label");
    for span in &lane.spans {
        let from = span.from.unwrap_or(room_from);
        let to = span.to.unwrap_or(room_to.max(from));
        let _ = write!(
            body,
            "<g class=\"connected\"><title>{} connected {} to {}</title>\
             <rect class=\"span{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"10\" rx=\"3\"/></g>",
            escape(&lane.identity),
            clock(from, true),
            span.to.map(|t| clock(t, true)).unwrap_or("(no disconnect)".into()),
            if span.from.is_none() || span.to.is_none() { " open" } else { "" },
            scale.x(from),
            y + 7.0,
            (scale.x(to) - scale.x(from)).max(2.0),
        );
    }
    for mark in &lane.tracks {
        let x = scale.x(mark.at);
        // Added: a triangle pointing down from the top; removed: up from the bottom; enabled and
        // disabled: a square in the middle.
        let (shape, class) = match mark.event.as_str() {
            "track-added" => (format!("M{x:.1} {:.1} l4 7 h-8 z", y + 1.0), "t-added"),
            "track-removed" => (format!("M{x:.1} {:.1} l4 -7 h-8 z", y + 23.0), "t-removed"),
            "track-enabled" => (
                format!("M{:.1} {:.1} h6 v6 h-6 z", x - 3.0, y + 9.0),
                "t-enabled",
            ),
            _ => (
                format!("M{:.1} {:.1} h6 v6 h-6 z", x - 3.0, y + 9.0),
                "t-disabled",
            ),
        };
        let _ = write!(
            body,
            "<g class=\"track\" data-event=\"{}\"><title>{} {} at {}</title><path class=\"{class}\" d=\"{shape}\"/></g>",
            escape(&mark.event),
            escape(&mark.event),
            escape(&mark.track),
            clock(mark.at, true),
        );
    }
    for (k, media) in recordings.iter().enumerate() {
        // A recording still open ends with the room (no track outlives it).
        media_bar(body, scale, room_to, media, y + LANE + SUBROW * k as f64);
    }
    body.push_str("</g>");
    height
}

/// A lane of media bars, at `y`, named `name` and classed `class`: one row per media file, a file still
/// open drawn until `open_until`. Returns the lane's height.
fn media_lane(
    body: &mut String,
    scale: &Scale,
    (name, class): (&str, &str),
    list: &[&Media],
    open_until: OffsetDateTime,
    y: f64,
) -> f64 {
    let height = SUBROW * list.len() as f64 + 12.0;
    let _ = write!(body, "<g class=\"lane {class}\">");
    label(body, y + 12.0, name, "lane-label");
    for (k, media) in list.iter().enumerate() {
        media_bar(body, scale, open_until, media, y + 4.0 + SUBROW * k as f64);
    }
    body.push_str("</g>");
    height.max(LANE)
}

/// The time axis and its grid, drawn first (behind the lanes): a line and a label every [`tick_step`],
/// from the first tick at or after the drawing's start to its `end`, `height` pixels long.
fn grid(scale: &Scale, end: OffsetDateTime, height: f64) -> String {
    let step = tick_step(scale.span);
    let mut grid = String::new();
    let first = scale
        .start
        .unix_timestamp()
        .div_euclid(step)
        .saturating_mul(step);
    let mut tick = first;
    while tick <= end.unix_timestamp() {
        if let Ok(at) = OffsetDateTime::from_unix_timestamp(tick) {
            if at >= scale.start {
                let x = scale.x(at);
                let _ = write!(
                    grid,
                    "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                     <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\">{}</text>",
                    AXIS - 6.0,
                    height - 6.0,
                    AXIS - 12.0,
                    tick_label(at, step)
                );
            }
        }
        match tick.checked_add(step) {
            Some(next) => tick = next,
            None => break,
        }
    }
    grid
}
