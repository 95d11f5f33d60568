//! The values clap parses that are not plain strings or numbers: days, times and rates.

use time::OffsetDateTime;

use crate::twilio::timestamp;

/// A day (`2026-11-27`, UTC) or an RFC 3339 time.
pub(super) fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    let text = text.trim();
    let as_day = format!("{text}T00:00:00Z");
    timestamp::parse(text)
        .or_else(|| timestamp::parse(&as_day))
        .ok_or_else(|| format!("{text:?} is neither a day (2024-01-31) nor an RFC 3339 time"))
}

/// A day (`2026-11-27`), or a time at midnight UTC.
pub(super) fn parse_day(text: &str) -> Result<time::Date, String> {
    parse_time(text).and_then(|time| {
        if time.time() == time::Time::MIDNIGHT {
            Ok(time.date())
        } else {
            Err(format!("{text:?} is not a day (2026-11-27)"))
        }
    })
}

/// A rate: a finite number above 0.
pub(super) fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!("{text:?} is not a number above 0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_its_midnight_utc() {
        let day = parse_time("2026-11-27").map(timestamp::format);
        assert_eq!(day.as_deref(), Ok("2026-11-27T00:00:00.000Z"));
        assert_eq!(
            parse_day(" 2026-11-27 ").map(|d| d.to_string()).as_deref(),
            Ok("2026-11-27")
        );
    }

    #[test]
    fn a_time_that_is_not_midnight_is_not_a_day() {
        assert!(parse_time("2026-11-27T10:00:00Z").is_ok());
        assert!(parse_day("2026-11-27T10:00:00Z").is_err());
        assert!(parse_time("yesterday").is_err());
    }
}
