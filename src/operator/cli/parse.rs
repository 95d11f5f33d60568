//! The values clap parses that are not plain strings or numbers: days, times, durations and rates.

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

/// A duration: a whole number and a unit, `s`, `m`, `h` or `d` (`90s`, `15m`, `24h`, `7d`).
pub(super) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let bad =
        || format!("{text:?} is not a duration: a whole number and s, m, h or d (24h, 90m, 7d)");
    let unit_at = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(unit_at);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => return Err(bad()),
    };
    number
        .checked_mul(seconds)
        .filter(|&total| total > 0)
        .map(std::time::Duration::from_secs)
        .ok_or_else(bad)
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
    fn durations_take_a_number_and_a_unit() {
        let secs = |text| parse_duration(text).map(|d| d.as_secs());
        assert_eq!(secs("24h"), Ok(86_400));
        assert_eq!(secs(" 90m "), Ok(5_400));
        assert_eq!(secs("7d"), Ok(604_800));
        assert_eq!(secs("30s"), Ok(30));
        for bad in ["24", "h", "0h", "1w", "-1h", "1.5h", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

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
