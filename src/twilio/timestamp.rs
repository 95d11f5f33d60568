//! Callback timestamps: parsed from ISO 8601 (RFC 3339), normalized to UTC with millisecond precision so
//! that their text sorts in time order (the table's sort key starts with it).

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Parses an RFC 3339 date and time with any offset and converts it to UTC.
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .ok()
        .map(|time| time.to_offset(UtcOffset::UTC))
}

/// `2026-11-27T09:35:23.123Z`: fixed width, so lexical order is time order.
pub fn format(time: OffsetDateTime) -> String {
    // Three of these per callback, so the digits are written directly: several times cheaper than a
    // format string or a format description. A year outside 0000-9999 (only reachable by converting
    // 0000-01-01 with a positive offset to UTC) takes the general path.
    let utc = time.to_offset(UtcOffset::UTC);
    let Ok(year) = u32::try_from(utc.year()) else {
        return general(utc);
    };
    if year > 9999 {
        return general(utc);
    }
    let mut text = String::with_capacity(24);
    let mut digits = |value: u32, width: u32, then: Option<char>| {
        for place in (0..width).rev() {
            let digit = (value / 10u32.pow(place)) % 10;
            text.extend(char::from_digit(digit, 10));
        }
        text.extend(then);
    };
    digits(year, 4, Some('-'));
    digits(u32::from(u8::from(utc.month())), 2, Some('-'));
    digits(u32::from(utc.day()), 2, Some('T'));
    digits(u32::from(utc.hour()), 2, Some(':'));
    digits(u32::from(utc.minute()), 2, Some(':'));
    digits(u32::from(utc.second()), 2, Some('.'));
    digits(u32::from(utc.millisecond()), 3, Some('Z'));
    text
}

fn general(utc: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.millisecond()
    )
}

/// Serde adapter writing [`format`] and reading any RFC 3339 time.
pub fn serialize<S: serde::Serializer>(
    time: &OffsetDateTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*time))
}

/// Serde adapter reading any RFC 3339 time.
pub fn deserialize<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<OffsetDateTime, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
    parse(&text).ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_offsets_and_precision() {
        let utc = parse("2026-11-27T09:35:23.5Z").map(format);
        assert_eq!(utc.as_deref(), Some("2026-11-27T09:35:23.500Z"));
        let offset = parse("2026-11-27T10:35:23+01:00").map(format);
        assert_eq!(offset.as_deref(), Some("2026-11-27T09:35:23.000Z"));
    }

    #[test]
    fn format_matches_rfc3339_with_milliseconds() {
        let time = parse("2026-01-02T03:04:05.006789Z").unwrap_or_else(|| panic!("parses"));
        assert_eq!(format(time), "2026-01-02T03:04:05.006Z");
        assert_eq!(
            parse(&format(time)).map(format),
            Some(format(time)),
            "round trip"
        );
    }

    #[test]
    fn direct_digits_agree_with_the_general_format() {
        let mut time = parse("0000-01-01T00:00:00Z").unwrap_or_else(|| panic!("parses"));
        let end = parse("9999-12-31T23:59:59.999Z").unwrap_or_else(|| panic!("parses"));
        // Steps of a prime number of milliseconds cover every digit position of every field.
        let step = time::Duration::milliseconds(7_919_993_417);
        let mut checked = 0;
        while time < end {
            assert_eq!(format(time), general(time), "{time}");
            checked += 1;
            match time.checked_add(step) {
                Some(next) => time = next,
                None => break,
            }
        }
        assert!(checked > 30_000, "{checked}");
        assert_eq!(format(end), "9999-12-31T23:59:59.999Z");
        // Year 0 minus an hour is year -1: the general path, still one value per instant.
        let before_year_zero = parse("0000-01-01T00:30:00+01:00").map(format);
        assert_eq!(
            before_year_zero.as_deref(),
            Some("-001-12-31T23:30:00.000Z")
        );
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        assert!(parse("yesterday").is_none());
        assert!(parse("2026-11-27").is_none());
        assert!(parse("").is_none());
    }

    #[test]
    fn normalized_text_sorts_in_time_order() {
        let earlier = parse("2026-11-27T09:59:59.999Z").map(format);
        let later = parse("2026-11-27T10:00:00Z").map(format);
        assert!(earlier < later);
    }
}
