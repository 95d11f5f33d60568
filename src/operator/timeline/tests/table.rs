//! The terminal table: nothing from the table reaches the terminal as a control character.

use super::*;

#[test]
fn control_characters_never_reach_the_terminal() {
    assert_eq!(cell("alice"), "alice");
    assert_eq!(
        cell("a\u{1b}]0;pwned\u{7}b\r\n\u{9b}c"),
        "a\\u{1b}]0;pwned\\u{7}b\\r\\n\\u{9b}c"
    );
    let sid = format!("PA{:032}", 7);
    let hostile = "eve\u{1b}[2J\u{1b}[31m";
    let timeline = build(
        ROOM,
        vec![
            callback(event("room-created", "2026-11-27T09:00:00Z", &[])),
            callback(
                event(
                    "participant-connected",
                    "2026-11-27T09:00:05Z",
                    &[
                        ("ParticipantSid", sid.as_str()),
                        ("ParticipantIdentity", hostile),
                        ("ParticipantStatus", "connected"),
                    ],
                )
                .spilled_because("throttled\r\nfake line"),
            ),
        ],
    );
    let text = table(&timeline).to_string();
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(text.contains("eve\\u{1b}[2J"), "{text}");
    assert!(text.contains("throttled\\r\\nfake line"), "{text}");
}
