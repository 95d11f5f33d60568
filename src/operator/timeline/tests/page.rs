//! The page: one lane per participant, every media file, nothing to fetch, every text escaped.

use super::*;

#[test]
fn the_page_has_one_lane_per_participant_and_every_recording_and_no_resource_reference() {
    let timeline = build(ROOM, room());
    let page = html(&timeline);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(count(&page, "<g class=\"lane participant\""), 3);
    for identity in ["user-1", "user-2", "user-3"] {
        assert_eq!(
            count(&page, &format!("data-identity=\"{identity}\"")),
            1,
            "{identity}"
        );
    }
    for sid in ["RT01", "RT02"] {
        assert_eq!(
            count(&page, &format!("<g class=\"recording\" data-sid=\"{sid}\"")),
            1,
            "{sid}"
        );
    }
    assert_eq!(
        count(
            &page,
            "<g class=\"composition\" data-sid=\"CJ01\" data-archive=\"none\""
        ),
        1
    );
    assert_eq!(
        count(&page, "data-sid=\"RT01\" data-archive=\"archived\""),
        1
    );
    assert_eq!(count(&page, "data-sid=\"RT02\" data-archive=\"failed\""), 1);
    assert_eq!(count(&page, "<g class=\"flag\" data-kind=\"malformed\""), 1);
    assert_eq!(count(&page, "<g class=\"flag\" data-kind=\"spilled\""), 1);
    assert_eq!(count(&page, "<g class=\"track\""), 4);
    assert_eq!(
        count(&page, "<tr"),
        room().len() + 1,
        "one table row per item"
    );
    // Nothing to fetch: no scripts, links, images, imports or URLs.
    for forbidden in [
        "http://", "https://", "<script", "<link", "<img", "src=", "href=", "url(", "@import",
    ] {
        assert!(!page.contains(forbidden), "{forbidden}");
    }
    assert!(page.contains("default-src 'none'"));
    // Text from the table is escaped.
    assert!(!page.contains("<b>&"));
    assert!(page.contains("standup &lt;b&gt;&amp;"));
}

const HOSTILE: &str = "\"'><svg onload=x>";
const HOSTILE_ESCAPED: &str = "&quot;&#39;&gt;&lt;svg onload=x&gt;";

#[test]
fn hostile_identities_and_details_are_escaped_in_attributes_titles_and_flags() {
    let sid = format!("PA{:032}", 7);
    let entries = vec![
        callback(event("room-created", "2026-11-27T09:00:00Z", &[])),
        callback(
            event(
                "participant-connected",
                "2026-11-27T09:00:05Z",
                &[
                    ("ParticipantSid", sid.as_str()),
                    ("ParticipantIdentity", HOSTILE),
                    ("ParticipantStatus", "connected"),
                ],
            )
            .spilled_because(HOSTILE),
        ),
    ];
    let page = html(&build(ROOM, entries));
    assert!(!page.contains("<svg onload"), "unescaped markup");
    assert!(!page.contains(HOSTILE));
    assert_eq!(
        count(&page, &format!("data-identity=\"{HOSTILE_ESCAPED}\"")),
        1,
        "the lane's data attribute"
    );
    assert!(
        page.contains(&format!("<title>{HOSTILE_ESCAPED}</title>")),
        "the lane label's title"
    );
    assert!(
        page.contains(&format!("<title>{HOSTILE_ESCAPED} connected 09:00:05")),
        "the span's title"
    );
    assert!(
        page.contains(&format!(
            "<title>spilled participant-connected: {HOSTILE_ESCAPED}</title>"
        )),
        "the flag's detail"
    );
    assert!(page.contains(&format!("<td>{HOSTILE_ESCAPED}</td>")));
}
