//! Every document checked against the Embedded Metric Format's published rules.

use serde_json::Value;

use super::*;

/// The units the specification allows (CloudWatch's `StandardUnit`).
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The document's problems under the format's rules; empty when it is valid. Returns the dimension
/// values too, for the checks on what they may carry.
pub(crate) fn violations(line: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut problems = Vec::new();
    let mut dimensions = Vec::new();
    if line.contains('\n') {
        problems.push("more than one line".to_owned());
    }
    let root: Value = match serde_json::from_str(line) {
        Ok(Value::Object(root)) => Value::Object(root),
        other => return (vec![format!("not a JSON object: {other:?}")], dimensions),
    };
    let Some(aws) = root.get("_aws").and_then(Value::as_object) else {
        return (vec!["no _aws object".to_owned()], dimensions);
    };
    if aws.get("Timestamp").is_none_or(|t| t.as_u64().is_none()) {
        problems.push("_aws.Timestamp is not a whole number of milliseconds".to_owned());
    }
    let Some(directives) = aws.get("CloudWatchMetrics").and_then(Value::as_array) else {
        return (
            vec!["no _aws.CloudWatchMetrics array".to_owned()],
            dimensions,
        );
    };
    if directives.is_empty() {
        problems.push("no metric directive".to_owned());
    }
    for directive in directives {
        let namespace = directive
            .get("Namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        if namespace.is_empty() || namespace.len() > 255 || namespace.starts_with(':') {
            problems.push(format!("namespace {namespace:?}"));
        }
        let Some(sets) = directive.get("Dimensions").and_then(Value::as_array) else {
            problems.push("no Dimensions array".to_owned());
            continue;
        };
        for set in sets {
            let Some(names) = set.as_array() else {
                problems.push(format!("dimension set {set} is not an array"));
                continue;
            };
            if names.len() > 30 {
                problems.push(format!("{} dimensions in one set", names.len()));
            }
            for name in names {
                let name = name.as_str().unwrap_or("");
                match root.get(name).and_then(Value::as_str) {
                    Some(value) if !value.is_empty() && value.len() <= 1024 => {
                        dimensions.push((name.to_owned(), value.to_owned()));
                    }
                    other => problems.push(format!(
                        "dimension {name:?} is {other:?}, not a string member"
                    )),
                }
            }
        }
        let Some(metrics) = directive.get("Metrics").and_then(Value::as_array) else {
            problems.push("no Metrics array".to_owned());
            continue;
        };
        if metrics.is_empty() || metrics.len() > 100 {
            problems.push(format!("{} metrics", metrics.len()));
        }
        for metric in metrics {
            let name = metric.get("Name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() || name.len() > 1024 {
                problems.push(format!("metric name {name:?}"));
            }
            if let Some(unit) = metric.get("Unit") {
                if !unit.as_str().is_some_and(|u| UNITS.contains(&u)) {
                    problems.push(format!("{name}: unit {unit}"));
                }
            }
            if !root.get(name).is_some_and(Value::is_number) {
                problems.push(format!("metric {name:?} has no number member"));
            }
        }
    }
    (problems, dimensions)
}

/// Whether a value looks like something that must never be a dimension: a Twilio SID (two letters and
/// 32 hex digits), or anything long and opaque (a token or a signature).
fn identifying(value: &str) -> bool {
    let sid = value.len() == 34
        && value[..2].bytes().all(|b| b.is_ascii_uppercase())
        && value[2..].bytes().all(|b| b.is_ascii_hexdigit());
    sid || value.len() > 40
}

#[test]
fn callback_documents_are_valid_for_every_event_and_outcome() {
    let outcomes = [
        "stored",
        "duplicate",
        "malformed",
        "spilled",
        "stored_unknown_event",
        "duplicate_unknown_event",
        "refused_bad_signature",
        "store_failed",
    ];
    let events = EventKind::DOCUMENTED
        .iter()
        .copied()
        .chain([UNDOCUMENTED_EVENT, NO_EVENT]);
    for event in events {
        for outcome in outcomes {
            let line = callback_document(
                "TwilioVideoCallbacks/test",
                1_795_000_000_000,
                event,
                outcome,
                4.25,
            );
            let (problems, dimensions) = violations(&line);
            assert!(problems.is_empty(), "{line}: {problems:?}");
            assert!(dimensions.contains(&("Event".to_owned(), event.to_owned())));
            assert!(dimensions.contains(&("Outcome".to_owned(), outcome.to_owned())));
            let root: Value = serde_json::from_str(&line).unwrap_or_default();
            assert_eq!(root[CALLBACKS], 1.0);
            assert_eq!(root[HANDLING_TIME], 4.25);
        }
    }
}

#[test]
fn spill_and_archive_documents_are_valid() {
    for outcome in ["stored", "duplicate", "retried", "refused"] {
        let (problems, _) = violations(&spill_document("N", 1, outcome));
        assert!(problems.is_empty(), "{outcome}: {problems:?}");
    }
    let copied = archive_document("N", 1, "copied", 200 * 1024 * 1024, 2.5);
    let (problems, _) = violations(&copied);
    assert!(problems.is_empty(), "{problems:?}");
    let root: Value = serde_json::from_str(&copied).unwrap_or_default();
    assert_eq!(root[ARCHIVED_BYTES], 209_715_200.0);
    assert_eq!(root[ARCHIVE_THROUGHPUT], 83_886_080.0);
    assert_eq!(root[ARCHIVE_TIME], 2500.0);
    // Nothing copied: no bytes, no throughput, still a valid document.
    let gone = archive_document("N", 1, "gone", 0, 0.0);
    let (problems, _) = violations(&gone);
    assert!(problems.is_empty(), "{problems:?}");
    assert!(!gone.contains(ARCHIVE_THROUGHPUT));
    // A value JSON cannot carry does not break the document.
    let (problems, _) = violations(&callback_document(
        "N",
        1,
        "room-created",
        "stored",
        f64::NAN,
    ));
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn names_and_values_are_escaped_as_json_strings() {
    let namespace = "Team \"A\"\\video\n\u{1}é";
    let line = document(
        namespace,
        7,
        &[("Outcome", "x\"y")],
        &[("M", 2.5)],
        &[Directive {
            sets: &[&["Outcome"]],
            metrics: &[("M", Unit::Count)],
        }],
    );
    let root: Value = serde_json::from_str(&line).unwrap_or_else(|err| panic!("{line}: {err}"));
    assert_eq!(root["_aws"]["CloudWatchMetrics"][0]["Namespace"], namespace);
    assert_eq!(root["Outcome"], "x\"y");
    assert_eq!(root["M"], 2.5);
    assert!(violations(&line).0.is_empty(), "{line}");
}

#[test]
fn the_validator_rejects_what_the_format_forbids() {
    let good = callback_document("N", 1, "room-created", "stored", 1.0);
    let broken = [
        good.replace("\"Unit\":\"Milliseconds\"", "\"Unit\":\"Minutes\""),
        good.replace("\"Outcome\":\"stored\",", ""),
        good.replace("\"Callbacks\":1,", "\"Callbacks\":\"1\","),
        good.replace("\"Timestamp\":1", "\"Timestamp\":\"now\""),
        good.replace("\"Namespace\":\"N\"", "\"Namespace\":\"\""),
        format!("{good}\n{good}"),
    ];
    for line in broken {
        assert!(!violations(&line).0.is_empty(), "accepted: {line}");
    }
}

#[test]
fn only_known_events_become_a_dimension_and_never_what_a_request_chose() {
    assert_eq!(event_dimension(Some("room-created"), true), "room-created");
    assert_eq!(
        event_dimension(Some("room-recording-paused"), true),
        UNDOCUMENTED_EVENT
    );
    assert_eq!(
        event_dimension(Some("RM0123456789abcdef0123456789abcdef"), true),
        UNDOCUMENTED_EVENT
    );
    // An unverified request's event is not trusted, even a documented one.
    assert_eq!(event_dimension(Some("room-created"), false), NO_EVENT);
    assert_eq!(event_dimension(None, true), NO_EVENT);
    for event in EventKind::DOCUMENTED
        .iter()
        .copied()
        .chain([UNDOCUMENTED_EVENT, NO_EVENT])
    {
        assert!(!identifying(event), "{event}");
    }
    assert!(identifying("RM0123456789abcdef0123456789abcdef"));
}

pub(crate) fn assert_no_identifying_dimension(line: &str) {
    let (problems, dimensions) = violations(line);
    assert!(problems.is_empty(), "{line}: {problems:?}");
    for (name, value) in dimensions {
        assert!(
            ["Event", "Outcome"].contains(&name.as_str()),
            "dimension {name} in {line}"
        );
        assert!(!identifying(&value), "{name}={value} in {line}");
    }
}

#[test]
fn the_namespace_is_the_variable_trimmed_or_the_default() {
    assert_eq!(namespace_from(None), DEFAULT_NAMESPACE);
    assert_eq!(namespace_from(Some("  ".into())), DEFAULT_NAMESPACE);
    assert_eq!(
        namespace_from(Some(" TwilioVideoCallbacks/prod ".into())),
        "TwilioVideoCallbacks/prod"
    );
}

#[test]
fn handling_time_is_by_outcome_only() {
    let line = callback_document("N", 1, "room-created", "stored", 2.0);
    let root: Value = serde_json::from_str(&line).unwrap_or_default();
    let directives = root["_aws"]["CloudWatchMetrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(directives.len(), 2);
    assert_eq!(
        directives[1]["Dimensions"],
        serde_json::json!([["Outcome"]])
    );
    assert_eq!(directives[1]["Metrics"][0]["Name"], HANDLING_TIME);
}

#[test]
fn the_cached_directives_write_the_same_document_for_any_namespace() {
    let generic = |namespace: &str| {
        document(
            namespace,
            9,
            &[("Event", "room-ended"), ("Outcome", "duplicate")],
            &[(CALLBACKS, 1.0), (HANDLING_TIME, 1.5)],
            &[
                Directive {
                    sets: &[&["Event", "Outcome"], &["Outcome"]],
                    metrics: &[(CALLBACKS, Unit::Count)],
                },
                Directive {
                    sets: &[&["Outcome"]],
                    metrics: &[(HANDLING_TIME, Unit::Milliseconds)],
                },
            ],
        )
    };
    // Whichever namespace the cache was filled with, every namespace gets its own directives.
    for namespace in ["A", "TwilioVideoCallbacks/stack-b", "A"] {
        let line = callback_document(namespace, 9, "room-ended", "duplicate", 1.5);
        assert_eq!(line, generic(namespace));
        assert!(violations(&line).0.is_empty(), "{line}");
    }
}
