use super::*;

/// The 17 events, and the parameters the specification promises on each ("All ..." rows), written out
/// by hand from the specification so that a mis-scoped rule in `PARAMETER_RULES` fails here.
const ROOM: &[&str] = &[
    "AccountSid",
    "StatusCallbackEvent",
    "Timestamp",
    "RoomName",
    "RoomSid",
    "RoomStatus",
    "RoomType",
    "SequenceNumber",
];
const PARTICIPANT: &[&str] = &["ParticipantSid", "ParticipantStatus", "ParticipantIdentity"];
const TRACK: &[&str] = &["TrackSid", "TrackKind"];
const RECORDING: &[&str] = &[
    "AccountSid",
    "StatusCallbackEvent",
    "Timestamp",
    "RecordingSid",
    "RoomSid",
    "RoomName",
    "RoomType",
    "ParticipantSid",
    "SourceSid",
    "RecordingUri",
    "Container",
    "Codec",
    "ParticipantIdentity",
    "TrackName",
    "OffsetFromTwilioVideoEpoch",
    "Type",
];
const COMPOSITION: &[&str] = &["AccountSid", "StatusCallbackEvent", "Timestamp", "RoomSid"];
const COMPOSITION_SID: &[&str] = &["CompositionSid", "CompositionUri"];

fn expected_required(event: &str) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = match event {
        "room-created" | "room-ended" => ROOM.to_vec(),
        "participant-connected" | "participant-disconnected" => [ROOM, PARTICIPANT].concat(),
        e if e.starts_with("track-") => [ROOM, PARTICIPANT, TRACK].concat(),
        e if e.starts_with("recording-") => RECORDING.to_vec(),
        "composition-hook-failed" => COMPOSITION.to_vec(),
        e if e.starts_with("composition-") => [COMPOSITION, COMPOSITION_SID].concat(),
        _ => vec!["AccountSid", "StatusCallbackEvent", "Timestamp"],
    };
    names.sort_unstable();
    names
}

/// A valid value for every documented parameter.
fn sample_value(name: &str) -> &'static str {
    match name {
        "Timestamp" => "2026-11-27T09:00:00.123Z",
        "RoomStatus" => "in-progress",
        "RoomType" => "group",
        "ParticipantStatus" => "connected",
        "TrackKind" | "Type" => "audio",
        "Container" => "mka",
        "Codec" => "OPUS",
        "FailedOperation" => "RecordingUpload",
        "SequenceNumber"
        | "RoomDuration"
        | "ParticipantDuration"
        | "Duration"
        | "Size"
        | "OffsetFromTwilioVideoEpoch"
        | "PercentageDone"
        | "SecondsRemaining" => "42",
        "MediaUri" => "/v1/Recordings/RT01/Media",
        "MediaExternalLocation" => "https://bucket.s3.amazonaws.com/RT01.mka",
        _ => "X1",
    }
}

fn all_events() -> Vec<EventKind> {
    EventKind::DOCUMENTED
        .iter()
        .map(|name| EventKind::from(*name))
        .collect()
}

/// Every parameter any rule covers for `kind`, with sample values.
fn full_params(kind: &EventKind) -> Params {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for rule in PARAMETER_RULES {
        if rule.scope.covers(kind) && !pairs.iter().any(|(name, _)| name == rule.name) {
            let value = if rule.name == "StatusCallbackEvent" {
                kind.as_str()
            } else {
                sample_value(rule.name)
            };
            pairs.push((rule.name.to_owned(), value.to_owned()));
        }
    }
    Params::new(pairs)
}

fn without(params: &Params, name: &str) -> Params {
    Params::new(
        params
            .pairs()
            .iter()
            .filter(|(key, _)| key != name)
            .cloned()
            .collect(),
    )
}

fn with(params: &Params, name: &str, value: &str) -> Params {
    let mut pairs: Vec<(String, String)> = params
        .pairs()
        .iter()
        .filter(|(key, _)| key != name)
        .cloned()
        .collect();
    pairs.push((name.to_owned(), value.to_owned()));
    Params::new(pairs)
}

#[test]
fn there_are_seventeen_documented_events_in_five_families() {
    let events = all_events();
    assert_eq!(events.len(), 17);
    let count = |family| events.iter().filter(|e| e.family() == family).count();
    assert_eq!(count(Family::Room), 2);
    assert_eq!(count(Family::Participant), 2);
    assert_eq!(count(Family::Track), 4);
    assert_eq!(count(Family::Recording), 3);
    assert_eq!(count(Family::Composition), 6);
    let media: Vec<&str> = events
        .iter()
        .filter(|e| e.is_media())
        .map(|e| e.as_str())
        .collect();
    assert_eq!(media, ["recording-completed", "composition-available"]);
}

#[test]
fn required_parameters_match_the_specification_for_every_event() {
    for kind in all_events()
        .iter()
        .chain([&EventKind::from("room-recording-paused")])
    {
        let mut actual = required_parameters(kind);
        actual.sort_unstable();
        assert_eq!(actual, expected_required(kind.as_str()), "event {kind}");
    }
}

#[test]
fn every_event_parses_with_all_its_parameters() {
    for kind in all_events() {
        let callback =
            Callback::parse(full_params(&kind)).unwrap_or_else(|err| panic!("{kind}: {err}"));
        assert_eq!(callback.event, kind);
        assert_eq!(callback.timeline_sid(), Some("X1"), "{kind}");
    }
}

#[test]
fn each_missing_required_parameter_is_a_named_error() {
    for kind in all_events() {
        let full = full_params(&kind);
        for name in required_parameters(&kind) {
            let err = Callback::parse(without(&full, name)).err();
            let expected_event = if name == "StatusCallbackEvent" {
                "callback".to_owned()
            } else {
                kind.as_str().to_owned()
            };
            assert_eq!(
                err,
                Some(ParseError::Missing {
                    name,
                    event: expected_event
                }),
                "{kind} without {name}"
            );
        }
    }
}

#[test]
fn optional_rows_may_be_absent() {
    for kind in all_events() {
        let full = full_params(&kind);
        for rule in PARAMETER_RULES
            .iter()
            .filter(|r| !r.scope.is_required() && r.scope.covers(&kind))
        {
            let parsed = Callback::parse(without(&full, rule.name));
            assert!(
                parsed.is_ok(),
                "{kind} without optional {}: {parsed:?}",
                rule.name
            );
        }
    }
}

/// For each documented parameter: the snake_case attribute it becomes and the typed JSON value of
/// `sample_value`. A parameter the parser ignored, misnamed or mistyped fails here.
const TYPED: &[(&str, &str, &str)] = &[
    ("AccountSid", "account_sid", "\"X1\""),
    ("Timestamp", "timestamp", "\"2026-11-27T09:00:00.123Z\""),
    ("RoomSid", "room_sid", "\"X1\""),
    ("RoomName", "room_name", "\"X1\""),
    ("RoomStatus", "room_status", "\"in-progress\""),
    ("RoomType", "room_type", "\"group\""),
    ("RoomDuration", "room_duration", "42"),
    ("SequenceNumber", "sequence_number", "42"),
    ("ParticipantSid", "participant_sid", "\"X1\""),
    ("ParticipantStatus", "participant_status", "\"connected\""),
    ("ParticipantIdentity", "participant_identity", "\"X1\""),
    ("ParticipantDuration", "participant_duration", "42"),
    ("TrackSid", "track_sid", "\"X1\""),
    ("TrackKind", "track_kind", "\"audio\""),
    ("RecordingSid", "recording_sid", "\"X1\""),
    ("RecordingUri", "recording_uri", "\"X1\""),
    ("SourceSid", "source_sid", "\"X1\""),
    ("TrackName", "track_name", "\"X1\""),
    ("Type", "type", "\"audio\""),
    ("Container", "container", "\"mka\""),
    ("Codec", "codec", "\"OPUS\""),
    (
        "OffsetFromTwilioVideoEpoch",
        "offset_from_twilio_video_epoch",
        "42",
    ),
    ("MediaUri", "media_uri", "\"/v1/Recordings/RT01/Media\""),
    (
        "MediaExternalLocation",
        "media_external_location",
        "\"https://bucket.s3.amazonaws.com/RT01.mka\"",
    ),
    ("Duration", "duration", "42"),
    ("Size", "size", "42"),
    ("FailedOperation", "failed_operation", "\"RecordingUpload\""),
    ("ErrorMessage", "error_message", "\"X1\""),
    ("HookSid", "hook_sid", "\"X1\""),
    ("HookUri", "hook_uri", "\"X1\""),
    ("HookFriendlyName", "hook_friendly_name", "\"X1\""),
    ("CompositionSid", "composition_sid", "\"X1\""),
    ("CompositionUri", "composition_uri", "\"X1\""),
    ("PercentageDone", "percentage_done", "42"),
    ("SecondsRemaining", "seconds_remaining", "42"),
];

#[test]
fn every_documented_parameter_becomes_its_typed_attribute_on_the_events_that_carry_it() {
    let mut documented: Vec<&str> = PARAMETER_RULES
        .iter()
        .map(|r| r.name)
        .filter(|n| *n != "StatusCallbackEvent")
        .collect();
    documented.sort_unstable();
    documented.dedup();
    let mut typed: Vec<&str> = TYPED.iter().map(|(name, _, _)| *name).collect();
    typed.sort_unstable();
    assert_eq!(
        typed, documented,
        "every documented parameter has a typed attribute"
    );

    for rule in PARAMETER_RULES
        .iter()
        .filter(|r| r.name != "StatusCallbackEvent")
    {
        let (_, attribute, json) = TYPED
            .iter()
            .find(|(name, _, _)| *name == rule.name)
            .copied()
            .unwrap_or_else(|| panic!("no typed attribute for {}", rule.name));
        for kind in all_events().into_iter().filter(|k| rule.scope.covers(k)) {
            let callback =
                Callback::parse(full_params(&kind)).unwrap_or_else(|err| panic!("{kind}: {err}"));
            let fields =
                serde_json::to_value(&callback.fields).unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(
                fields.get(attribute).map(|v| v.to_string()).as_deref(),
                Some(json),
                "{} on {kind}",
                rule.name
            );
        }
    }
}

#[test]
fn numbers_and_timestamps_must_be_well_formed_and_the_error_names_them() {
    let kind = EventKind::RecordingCompleted;
    let full = full_params(&kind);
    for name in ["Size", "Duration", "OffsetFromTwilioVideoEpoch"] {
        for bad in ["", "-1", "1.5", "twelve", "99999999999999999999999"] {
            let err = Callback::parse(with(&full, name, bad)).err();
            assert!(
                matches!(err, Some(ParseError::Malformed { name: n, .. }) if n == name),
                "{name}={bad:?}: {err:?}"
            );
        }
    }
    for bad in ["", "2026-11-27", "27/11/2026 09:00", "2026-11-27T09:00:00"] {
        let err = Callback::parse(with(&full, "Timestamp", bad)).err();
        assert!(
            matches!(
                err,
                Some(ParseError::Malformed {
                    name: "Timestamp",
                    ..
                })
            ),
            "Timestamp={bad:?}: {err:?}"
        );
    }
    let progress = full_params(&EventKind::CompositionProgress);
    for name in ["PercentageDone", "SecondsRemaining"] {
        let err = Callback::parse(with(&progress, name, "soon")).err();
        assert!(
            matches!(err, Some(ParseError::Malformed { name: n, .. }) if n == name),
            "{name}"
        );
    }
    let err = Callback::parse(with(
        &full_params(&EventKind::RoomEnded),
        "RoomDuration",
        "x",
    ))
    .err();
    assert!(matches!(
        err,
        Some(ParseError::Malformed {
            name: "RoomDuration",
            ..
        })
    ));
}

#[test]
fn unknown_values_are_kept_not_rejected() {
    let params = with(&full_params(&EventKind::RecordingCompleted), "Codec", "AV1");
    let params = with(&params, "Container", "mp4");
    let params = with(&params, "RoomType", "large");
    let callback = Callback::parse(params).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(callback.fields.codec, Some(Codec::Other("AV1".into())));
    assert_eq!(
        callback.fields.container,
        Some(Container::Other("mp4".into()))
    );
    assert_eq!(
        callback.fields.room_type,
        Some(RoomType::Other("large".into()))
    );
    let json = serde_json::to_value(&callback.fields).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(json["codec"], "AV1");
}

#[test]
fn documented_values_are_read_case_insensitively_and_written_canonically() {
    assert_eq!(Codec::from("opus"), Codec::Opus);
    assert_eq!(Codec::from("h264").as_str(), "H264");
    assert_eq!(RoomStatus::from("COMPLETED"), RoomStatus::Completed);
    for value in FailedOperation::DOCUMENTED {
        assert!(FailedOperation::from(*value).is_documented());
    }
    assert!(!FailedOperation::from("CompositionCreate").is_documented());
}

#[test]
fn an_unknown_event_parses_with_the_three_universal_parameters_and_a_timeline() {
    let params = Params::new(vec![
        ("AccountSid".into(), "AC1".into()),
        ("StatusCallbackEvent".into(), "room-recording-paused".into()),
        ("Timestamp".into(), "2026-11-27T09:00:00Z".into()),
        ("RoomSid".into(), "RM1".into()),
        ("Whatever".into(), "kept".into()),
    ]);
    let callback = Callback::parse(params.clone()).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        callback.event,
        EventKind::Other("room-recording-paused".into())
    );
    assert_eq!(callback.event.family(), Family::Unknown);
    assert!(!callback.event.is_media());
    assert_eq!(callback.params.get("Whatever"), Some("kept"));
    assert_eq!(
        Callback::parse(without(&params, "RoomSid")).err(),
        Some(ParseError::NoTimeline)
    );
}

#[test]
fn timeline_falls_back_from_room_to_composition_to_hook() {
    let base = Params::new(vec![
        ("AccountSid".into(), "AC1".into()),
        ("StatusCallbackEvent".into(), "some-future-event".into()),
        ("Timestamp".into(), "2026-11-27T09:00:00Z".into()),
        ("HookSid".into(), "HK1".into()),
    ]);
    let hook = Callback::parse(base.clone()).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(hook.timeline_sid(), Some("HK1"));
    let composition =
        Callback::parse(with(&base, "CompositionSid", "CJ1")).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(composition.timeline_sid(), Some("CJ1"));
    let room = Callback::parse(with(
        &with(&base, "CompositionSid", "CJ1"),
        "RoomSid",
        "RM1",
    ))
    .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(room.timeline_sid(), Some("RM1"));
}

#[test]
fn a_repeated_documented_parameter_is_ambiguous_and_refused() {
    let full = full_params(&EventKind::RoomCreated);
    let mut pairs = full.pairs().to_vec();
    pairs.push(("RoomSid".into(), "RM-other".into()));
    let err = Callback::parse(Params::new(pairs)).err();
    assert_eq!(
        err,
        Some(ParseError::Repeated {
            name: "RoomSid".into()
        })
    );
    assert!(err
        .map(|e| e.to_string())
        .unwrap_or_default()
        .contains("RoomSid"));
}

#[test]
fn form_bodies_decode_percent_and_plus_encoding() {
    let params = Params::from_form(b"RoomName=daily+standup&Identity=al%C3%AFce&Empty=");
    assert_eq!(params.get("RoomName"), Some("daily standup"));
    assert_eq!(params.get("Identity"), Some("alïce"));
    assert_eq!(params.get("Empty"), Some(""));
}

#[test]
fn get_finds_the_first_value_of_a_name_wherever_it_sorts() {
    let params = Params::from_form(b"Zed=last&Tag=b&Alpha=first&Tag=a&Mid=m");
    assert_eq!(params.get("Alpha"), Some("first"));
    assert_eq!(params.get("Mid"), Some("m"));
    assert_eq!(params.get("Zed"), Some("last"));
    // Repeats keep the order received; `get` answers the first.
    assert_eq!(params.get("Tag"), Some("b"));
    assert_eq!(params.get("Ta"), None);
    assert_eq!(params.get("Tags"), None);
    assert_eq!(params.get(""), None);
    assert_eq!(Params::default().get("Alpha"), None);
}

#[test]
fn form_decoding_reads_what_serde_urlencoded_reads() {
    let bodies: [&[u8]; 12] = [
        b"",
        b"&&",
        b"a&&b=",
        b"=x&k",
        b"a=1=2",
        b"%zz=%4&x=%",
        b"+%2B+=%20+",
        b"Name=%C3%A9t%C3%A9&Name=again",
        b"bad=%FF%FE&half=%C3",
        b"AccountSid=AC1&Timestamp=2026-11-27T09%3A00%3A00Z",
        "unicode=ü€😀".as_bytes(),
        b"k=v\x00\x01\n",
    ];
    for body in bodies {
        let expected: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).unwrap_or_else(|err| panic!("{body:?}: {err}"));
        assert_eq!(
            Params::from_form(body),
            Params::new(expected),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}
