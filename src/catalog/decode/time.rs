//! Dates and timestamps as upstreams write them, in Arrow's units: days since the Unix epoch,
//! microseconds since it in UTC.

use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime};

/// Days from 0001-01-01 (CE day 1) to 1970-01-01, for Arrow's Date32.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// A date, or a timestamp at midnight UTC: a time of day would be lost in a `DATE` (an
/// evolving table takes it as a `TIMESTAMPTZ` instead, `catalog::evolve`).
pub(super) fn parse_date(s: &str) -> Option<i32> {
    use chrono::Datelike;
    if s.len() > 10 {
        const DAY_MICROS: i64 = 86_400_000_000;
        let micros = parse_timestamp(s)?;
        return (micros % DAY_MICROS == 0).then(|| (micros.div_euclid(DAY_MICROS)) as i32);
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE)
}

/// A timestamp as the upstream writes one: RFC 3339 with a zone, or a date and time without
/// one (v2's `2026-01-02T03:04:05.000000`, v1's `2026-01-02 03:04:05`), which is UTC, the
/// upstream's zone; or a bare date at midnight.
pub(super) fn parse_timestamp(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    parse_naive_datetime(s)
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
        .map(|t| t.and_utc().timestamp_micros())
}

/// `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS`, with or without a fraction of a second.
fn parse_naive_datetime(s: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"].iter().find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())
}

/// v1's custom `dateTime`: PHP's `DateTime` serialised as an object,
/// `{"date": "2026-01-02 03:04:05.000000", "timezone_type": 3, "timezone": "UTC"}`. Its zone is
/// an offset (`+02:00`, type 1) or a name (types 2 and 3); only UTC's names are known here, as
/// the upstream runs in UTC: another name refuses the page rather than storing a shifted time.
pub(super) fn php_datetime_micros(date: &str, timezone: Option<&str>) -> Result<i64, String> {
    let local = parse_naive_datetime(date).ok_or_else(|| format!("expected a date and time, got {date:?}"))?;
    let offset_secs = match timezone {
        None | Some("UTC" | "Z" | "GMT" | "Etc/UTC" | "Etc/GMT" | "Universal" | "Zulu") => 0,
        Some(zone) => chrono::FixedOffset::from_str(zone)
            .map(|offset| offset.local_minus_utc())
            .map_err(|_| format!("timezone {zone:?} is not UTC or an offset such as +02:00"))?,
    };
    Ok(local.and_utc().timestamp_micros() - i64::from(offset_secs) * 1_000_000)
}
