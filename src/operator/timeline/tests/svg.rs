//! The drawing: any span and any number of participants draw, readably and without panicking.

use super::*;

#[test]
fn huge_durations_and_the_last_instant_draw_without_panicking() {
    // A recording whose only callback says it lasted u64::MAX seconds: the bar starts with the drawing.
    let mut done = recording("recording-completed", "2026-11-27T09:10:00Z", "RT01", 1);
    done.fields.duration = Some(u64::MAX);
    let timeline = build(
        ROOM,
        vec![
            callback(event("room-created", "2026-11-27T09:00:00Z", &[])),
            callback(done),
        ],
    );
    assert_eq!(timeline.media[0].duration, Some(u64::MAX));
    assert_eq!(count(&svg(&timeline), "<g class=\"recording\""), 1);
    // A room created at the last instant the clock knows: no second after it.
    let last = event("room-created", "9999-12-31T23:59:59.999Z", &[]);
    let mut old = recording("recording-completed", "9999-12-31T23:59:59.999Z", "RT02", 1);
    old.fields.duration = Some(i64::MAX as u64);
    let timeline = build(ROOM, vec![callback(last), callback(old)]);
    let (start, end) = timeline.bounds();
    assert!(start < end);
    assert!(html(&timeline).contains("RT02"));
}

#[test]
fn ticks_stay_few_over_any_span() {
    for span in [
        1.0,
        59.0,
        3600.0,
        86_400.0 * 3.0,
        1e7,
        3.2e8,
        // 10,000 years: the widest span a timeline can have.
        3.2e11,
    ] {
        let step = tick_step(span) as f64;
        assert!(span / step <= 12.0, "{span}: step {step}");
    }
    // Beyond anything drawable, the step saturates rather than overflowing.
    assert_eq!(tick_step(1e300), i64::MAX);
    assert_eq!(tick_step(f64::INFINITY), i64::MAX);
    assert_eq!(tick_step(f64::NAN), i64::MAX);
    assert_eq!(tick_step(86_400.0 * 30.0), 5 * 86_400);
    assert_eq!(tick_step(86_400.0 * 365.0 * 10.0), 500 * 86_400);
    // A room whose items span ten years: a dozen ticks, labelled with days.
    let timeline = build(
        ROOM,
        vec![
            callback(event("room-created", "2016-11-27T09:00:00Z", &[])),
            callback(event("room-ended", "2026-11-27T09:00:00Z", &[])),
        ],
    );
    let drawing = svg(&timeline);
    let ticks = count(&drawing, "<text class=\"tick\"");
    assert!((5..=13).contains(&ticks), "{ticks}");
    assert!(drawing.contains(">2019-04-14<"), "day labels");
}

#[test]
fn fifty_participants_and_hundreds_of_tracks_stay_in_one_readable_drawing() {
    let mut entries = vec![callback(event("room-created", "2026-11-27T09:00:00Z", &[]))];
    for n in 0..50 {
        let minute = n % 40;
        entries.push(callback(participant(
            "participant-connected",
            &format!("2026-11-27T09:{minute:02}:00Z"),
            n,
        )));
        for t in 0..6 {
            let track = format!("MT{n:02}{t:02}");
            let time = format!("2026-11-27T09:{minute:02}:{:02}Z", 10 + t);
            entries.push(callback(participant_with(
                "track-added",
                &time,
                n,
                &[("TrackSid", &track)],
            )));
        }
        entries.push(callback(recording(
            "recording-completed",
            &format!("2026-11-27T09:{:02}:00Z", minute + 10),
            &format!("RT{n:032}"),
            n,
        )));
        entries.push(callback(participant(
            "participant-disconnected",
            &format!("2026-11-27T09:{:02}:00Z", minute + 15),
            n,
        )));
    }
    entries.push(callback(event("room-ended", "2026-11-27T10:00:00Z", &[])));
    let timeline = build(ROOM, entries);
    assert_eq!(timeline.lanes.len(), 50);
    let drawing = svg(&timeline);
    assert_eq!(count(&drawing, "<g class=\"lane participant\""), 50);
    assert_eq!(count(&drawing, "<g class=\"track\""), 300);
    assert_eq!(count(&drawing, "<g class=\"recording\""), 50);
    // Every lane at least 24 px high, the whole drawing short enough to scroll through.
    let height: f64 = drawing
        .split("height=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("height"));
    assert!((50.0 * 24.0..4000.0).contains(&height), "{height}");
    // A lane label is never longer than 30 characters.
    let mut long = timeline.clone();
    long.lanes[0].identity = "x".repeat(80);
    assert!(svg(&long).contains(&format!("{}…", "x".repeat(29))));
}

#[test]
fn units_and_ticks() {
    assert_eq!(bytes(999), "999 B");
    assert_eq!(bytes(48_213_399), "48.2 MB");
    assert_eq!(seconds(7), "7s");
    assert_eq!(seconds(893), "14m 53s");
    assert_eq!(seconds(3723), "1h 02m 03s");
    assert_eq!(tick_step(60.0), 5);
    assert_eq!(tick_step(1200.0), 120);
    assert_eq!(tick_step(3600.0), 300);
    assert_eq!(tick_step(43200.0 * 12.0), 43200);
    assert_eq!(tick_step(1e9), 1000 * 86400);
}
