//! Metrics in CloudWatch's Embedded Metric Format (EMF): one JSON line on stdout per callback, spill drain
//! and archived file, which CloudWatch Logs turns into metrics with no API call on the callback's path.
//!
//! The document follows the format's published specification: a root object whose `_aws` member holds
//! `Timestamp` (milliseconds since the epoch) and `CloudWatchMetrics`, one directive naming the namespace,
//! the dimension sets and each metric's name and unit; every dimension is a string member of the root and
//! every metric a number member. Dimensions are few and bounded (an event name from the specification's 17,
//! an outcome word): never a room SID, identity, token or signature, which would make a metric per room.
//!
//! `METRICS_NAMESPACE` names the namespace (default [`DEFAULT_NAMESPACE`]); the template sets it per stack.

use std::io::Write as _;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::twilio::callback::EventKind;

/// The namespace unless `METRICS_NAMESPACE` says otherwise.
pub const DEFAULT_NAMESPACE: &str = "TwilioVideoCallbacks";

/// The callback metrics: one a callback, by event and outcome.
pub const CALLBACKS: &str = "Callbacks";
/// How long the receiver took to answer, by event and outcome.
pub const HANDLING_TIME: &str = "HandlingTime";
/// Spilled callbacks the spill consumer took off its queue, by outcome.
pub const SPILL_DRAINS: &str = "SpillDrains";
/// Media messages the archiver handled, by outcome.
pub const MEDIA_ARCHIVES: &str = "MediaArchives";
/// Bytes the archiver copied into the bucket.
pub const ARCHIVED_BYTES: &str = "ArchivedBytes";
/// A copied file's bytes over the time its message took.
pub const ARCHIVE_THROUGHPUT: &str = "ArchiveThroughput";
/// How long one media message took, by outcome.
pub const ARCHIVE_TIME: &str = "ArchiveTime";

/// Every metric the code emits (the template's dashboard and alarms may name only these).
pub const ALL: &[&str] = &[
    CALLBACKS,
    HANDLING_TIME,
    SPILL_DRAINS,
    MEDIA_ARCHIVES,
    ARCHIVED_BYTES,
    ARCHIVE_THROUGHPUT,
    ARCHIVE_TIME,
];

/// The `Event` dimension of a signed callback whose event the specification does not list.
pub const UNDOCUMENTED_EVENT: &str = "undocumented";
/// The `Event` dimension of a request refused before its event could be trusted.
pub const NO_EVENT: &str = "none";

/// A unit from the format's list (CloudWatch's `StandardUnit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// Milliseconds.
    Milliseconds,
    /// Bytes.
    Bytes,
    /// Bytes per second.
    BytesPerSecond,
}

impl Unit {
    /// The unit's name in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
            Unit::BytesPerSecond => "Bytes/Second",
        }
    }
}

/// The namespace the metrics go to: `METRICS_NAMESPACE`, read once.
pub fn namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| namespace_from(std::env::var("METRICS_NAMESPACE").ok()))
}

/// The namespace for a `METRICS_NAMESPACE` value: trimmed, the default when unset or blank.
fn namespace_from(value: Option<String>) -> String {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned())
}

/// One directive of a document: which metrics are aggregated along which dimension sets.
#[derive(Debug, Clone, Copy)]
pub struct Directive<'a> {
    /// Each set is a list of dimension names, every one of them a member of the document.
    pub sets: &'a [&'a [&'a str]],
    /// The metrics (name and unit), every one of them a number member of the document.
    pub metrics: &'a [(&'a str, Unit)],
}

/// One EMF document: the `dimensions` and `values` members, and `directives` telling CloudWatch which
/// values are metrics along which dimensions. Written straight into one string (no intermediate JSON
/// tree): this runs once per callback, and the benchmark's `metrics_line` stage keeps its cost in view.
pub fn document(
    namespace: &str,
    timestamp_ms: u64,
    dimensions: &[(&str, &str)],
    values: &[(&str, f64)],
    directives: &[Directive<'_>],
) -> String {
    let mut out = head(timestamp_ms, dimensions, values);
    out.push_str(&tail(namespace, directives));
    out
}

/// The document up to its timestamp: the members, then `"_aws":{"Timestamp":…`.
fn head(timestamp_ms: u64, dimensions: &[(&str, &str)], values: &[(&str, f64)]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(384);
    out.push('{');
    for (name, value) in dimensions {
        push_str(&mut out, name);
        out.push(':');
        push_str(&mut out, value);
        out.push(',');
    }
    for (name, value) in values {
        push_str(&mut out, name);
        // A number JSON cannot carry (NaN, infinity) would invalidate the whole document.
        let value = if value.is_finite() { *value } else { 0.0 };
        let _ = write!(out, ":{value},");
    }
    let _ = write!(out, "\"_aws\":{{\"Timestamp\":{timestamp_ms}");
    out
}

/// The rest of the document, the same for every document of a kind: `,"CloudWatchMetrics":[…]}}`.
fn tail(namespace: &str, directives: &[Directive<'_>]) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(",\"CloudWatchMetrics\":[");
    for (d, directive) in directives.iter().enumerate() {
        out.push_str(if d == 0 {
            "{\"Namespace\":"
        } else {
            ",{\"Namespace\":"
        });
        push_str(&mut out, namespace);
        out.push_str(",\"Dimensions\":[");
        for (i, set) in directive.sets.iter().enumerate() {
            out.push_str(if i == 0 { "[" } else { ",[" });
            for (j, name) in set.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                push_str(&mut out, name);
            }
            out.push(']');
        }
        out.push_str("],\"Metrics\":[");
        for (i, (name, unit)) in directive.metrics.iter().enumerate() {
            out.push_str(if i == 0 { "{\"Name\":" } else { ",{\"Name\":" });
            push_str(&mut out, name);
            out.push_str(",\"Unit\":");
            push_str(&mut out, unit.as_str());
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push_str("]}}");
    out
}

/// Appends `value` as a JSON string (quoted, escaped as RFC 8259 requires).
fn push_str(out: &mut String, value: &str) {
    use std::fmt::Write as _;
    out.push('"');
    // Names, event and outcome words never need escaping: copy them whole.
    if !value.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(value);
        out.push('"');
        return;
    }
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Whether metrics are written: in a Lambda function (`AWS_LAMBDA_FUNCTION_NAME`, which `cargo lambda`
/// sets too) or wherever `METRICS_NAMESPACE` is set; not in tests and tools, whose stdout is for people.
fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
            || std::env::var_os("METRICS_NAMESPACE").is_some()
    })
}

/// Writes one document as one line on stdout (a log event of its own, as the format requires).
fn emit(line: impl FnOnce() -> String) {
    if !enabled() {
        return;
    }
    let line = line();
    let mut out = std::io::stdout().lock();
    // A metric that cannot be written is not worth failing a callback for.
    let _ = writeln!(out, "{line}");
}

/// The `Event` dimension: one of the specification's 17 events, [`UNDOCUMENTED_EVENT`] for another
/// signed one, [`NO_EVENT`] when none was read or trusted. Never anything a request chose freely.
pub fn event_dimension(event: Option<&str>, trusted: bool) -> &'static str {
    match event {
        Some(event) if trusted => EventKind::DOCUMENTED
            .iter()
            .find(|known| **known == event)
            .copied()
            .unwrap_or(UNDOCUMENTED_EVENT),
        _ => NO_EVENT,
    }
}

/// The document for one callback: `Callbacks` (1) by event and outcome, and by outcome alone (the
/// "callbacks stopped" alarm reads it); `HandlingTime` by outcome only (a metric per event and outcome
/// would cost more than it tells).
pub fn callback_document(
    namespace: &str,
    timestamp_ms: u64,
    event: &str,
    outcome: &str,
    ms: f64,
) -> String {
    const DIRECTIVES: &[Directive<'static>] = &[
        Directive {
            sets: &[&["Event", "Outcome"], &["Outcome"]],
            metrics: &[(CALLBACKS, Unit::Count)],
        },
        Directive {
            sets: &[&["Outcome"]],
            metrics: &[(HANDLING_TIME, Unit::Milliseconds)],
        },
    ];
    // The directives are the same for every callback: written once per namespace (one, in a function).
    static TAIL: OnceLock<(String, String)> = OnceLock::new();
    let cached = TAIL.get_or_init(|| (namespace.to_owned(), tail(namespace, DIRECTIVES)));
    let mut out = head(
        timestamp_ms,
        &[("Event", event), ("Outcome", outcome)],
        &[(CALLBACKS, 1.0), (HANDLING_TIME, ms)],
    );
    if cached.0 == namespace {
        out.push_str(&cached.1);
    } else {
        out.push_str(&tail(namespace, DIRECTIVES));
    }
    out
}

/// The document for one spilled callback taken off the spill queue: `SpillDrains` (1) by outcome.
pub fn spill_document(namespace: &str, timestamp_ms: u64, outcome: &str) -> String {
    document(
        namespace,
        timestamp_ms,
        &[("Outcome", outcome)],
        &[(SPILL_DRAINS, 1.0)],
        &[Directive {
            sets: &[&["Outcome"]],
            metrics: &[(SPILL_DRAINS, Unit::Count)],
        }],
    )
}

/// The document for one media message: `MediaArchives` (1), `ArchiveTime`, and for a copy the bytes
/// and the throughput, by outcome.
pub fn archive_document(
    namespace: &str,
    timestamp_ms: u64,
    outcome: &str,
    bytes: u64,
    seconds: f64,
) -> String {
    let copied = [
        (MEDIA_ARCHIVES, 1.0),
        (ARCHIVE_TIME, seconds * 1000.0),
        (ARCHIVED_BYTES, bytes as f64),
        (ARCHIVE_THROUGHPUT, bytes as f64 / seconds.max(1e-6)),
    ];
    let units = [
        (MEDIA_ARCHIVES, Unit::Count),
        (ARCHIVE_TIME, Unit::Milliseconds),
        (ARCHIVED_BYTES, Unit::Bytes),
        (ARCHIVE_THROUGHPUT, Unit::BytesPerSecond),
    ];
    // Nothing copied: no bytes and no throughput.
    let n = if bytes > 0 { 4 } else { 2 };
    document(
        namespace,
        timestamp_ms,
        &[("Outcome", outcome)],
        &copied[..n],
        &[Directive {
            sets: &[&["Outcome"]],
            metrics: &units[..n],
        }],
    )
}

/// Emits the metrics of one callback.
pub fn callback(event: &str, outcome: &str, ms: f64) {
    emit(|| callback_document(namespace(), now_ms(), event, outcome, ms));
}

/// Emits the metrics of one spill drain.
pub fn spill_drain(outcome: &str) {
    emit(|| spill_document(namespace(), now_ms(), outcome));
}

/// Emits the metrics of one media message.
pub fn archive(outcome: &str, bytes: u64, seconds: f64) {
    emit(|| archive_document(namespace(), now_ms(), outcome, bytes, seconds));
}

#[cfg(test)]
pub(crate) mod tests;
