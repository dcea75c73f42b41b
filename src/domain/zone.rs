//! The business time zone ("Alipay's day", UTC+8 unless configured) and timestamp parsing.
//! Every instant carries its offset; naive timestamps are read in the business zone.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};
use std::fmt;
use std::str::FromStr;

/// A fixed offset (`UTC+8`, `+08:00`) or an IANA zone name (`Asia/Shanghai`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BusinessZone {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error("'{0}' is not a time zone: use an offset such as UTC+8 or +08:00, or a name such as Asia/Shanghai")]
    BadZone(String),
    #[error("'{0}' is not a timestamp: expected RFC 3339 (2026-11-25T10:30:00+08:00) or 'YYYY-MM-DD HH:MM:SS'")]
    BadTimestamp(String),
    #[error("'{0}' does not exist in the business zone (a daylight-saving gap)")]
    Nonexistent(String),
}

impl Default for BusinessZone {
    fn default() -> Self {
        BusinessZone::Fixed(FixedOffset::east_opt(8 * 3600).expect("valid offset"))
    }
}

impl BusinessZone {
    /// The offset in force at the given UTC instant.
    pub fn offset_at(&self, utc: DateTime<chrono::Utc>) -> FixedOffset {
        match self {
            BusinessZone::Fixed(o) => *o,
            BusinessZone::Named(tz) => tz.offset_from_utc_datetime(&utc.naive_utc()).fix(),
        }
    }

    /// The business date of an instant: its calendar day in this zone.
    pub fn date_of(&self, t: &DateTime<FixedOffset>) -> NaiveDate {
        let utc = t.with_timezone(&chrono::Utc);
        utc.with_timezone(&self.offset_at(utc)).date_naive()
    }

    /// Reads a wall-clock time in this zone. In a DST fold the earlier instant wins.
    pub fn localize(&self, naive: NaiveDateTime) -> Option<DateTime<FixedOffset>> {
        match self {
            BusinessZone::Fixed(o) => o.from_local_datetime(&naive).single(),
            BusinessZone::Named(tz) => {
                tz.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&t.offset().fix()))
            }
        }
    }

    /// `[start, end)` of business date `d` as instants. A day whose midnight falls in a daylight-saving
    /// gap (America/Santiago, Asia/Beirut, America/Havana on a spring-forward day) starts at the first
    /// instant that exists: the transition.
    pub fn day_bounds(&self, d: NaiveDate) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
        let next = d.succ_opt().expect("date in range");
        (self.start_of(d), self.start_of(next))
    }

    /// The first instant of business date `d`: its midnight, or, when the clocks skip midnight, the
    /// first instant whose wall-clock time is after it.
    fn start_of(&self, d: NaiveDate) -> DateTime<FixedOffset> {
        let midnight = d.and_time(NaiveTime::MIN);
        if let Some(t) = self.localize(midnight) {
            return t;
        }
        // A gap: wall-clock time rises with UTC across it, so search the UTC second at which it first
        // reaches midnight. Offsets lie within ±14 h, so 26 h either side brackets it.
        let wall = |utc: NaiveDateTime| {
            let u = utc.and_utc();
            u.with_timezone(&self.offset_at(u))
        };
        let (mut before, mut at) = (midnight - chrono::Duration::hours(26), midnight + chrono::Duration::hours(26));
        while (at - before).num_seconds() > 1 {
            let mid = before + chrono::Duration::seconds((at - before).num_seconds() / 2);
            if wall(mid).naive_local() < midnight {
                before = mid;
            } else {
                at = mid;
            }
        }
        wall(at)
    }
}

impl FromStr for BusinessZone {
    type Err = ZoneError;
    fn from_str(s: &str) -> Result<Self, ZoneError> {
        let t = s.trim();
        let bad = || ZoneError::BadZone(t.to_string());
        let rest = t.strip_prefix("UTC").or_else(|| t.strip_prefix("GMT"));
        let offset_text = match rest {
            Some("") => return Ok(BusinessZone::Fixed(FixedOffset::east_opt(0).expect("zero"))),
            Some(r) => Some(r),
            None if t.starts_with('+') || t.starts_with('-') => Some(t),
            None => None,
        };
        if let Some(o) = offset_text {
            let (sign, body) = match o.as_bytes().first() {
                Some(b'+') => (1, &o[1..]),
                Some(b'-') => (-1, &o[1..]),
                _ => return Err(bad()),
            };
            let (h, m) = match body.split_once(':') {
                Some((h, m)) => (h, m),
                None if body.len() == 4 => body.split_at(2),
                None => (body, "0"),
            };
            let h: i32 = h.parse().map_err(|_| bad())?;
            let m: i32 = m.parse().map_err(|_| bad())?;
            if !(0..=14).contains(&h) || !(0..60).contains(&m) {
                return Err(bad());
            }
            return FixedOffset::east_opt(sign * (h * 3600 + m * 60)).map(BusinessZone::Fixed).ok_or_else(bad);
        }
        t.parse::<chrono_tz::Tz>().map(BusinessZone::Named).map_err(|_| bad())
    }
}

impl fmt::Display for BusinessZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusinessZone::Fixed(o) => {
                let secs = o.local_minus_utc();
                let sign = if secs < 0 { '-' } else { '+' };
                let a = secs.abs();
                if a % 3600 == 0 {
                    write!(f, "UTC{}{}", sign, a / 3600)
                } else {
                    write!(f, "UTC{}{:02}:{:02}", sign, a / 3600, (a % 3600) / 60)
                }
            }
            BusinessZone::Named(tz) => f.write_str(tz.name()),
        }
    }
}

impl fmt::Debug for BusinessZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'de> serde::Deserialize<'de> for BusinessZone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for BusinessZone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Parses a timestamp from a file: RFC 3339 / ISO 8601 with an offset (any offset, `+08:30` too),
/// or a naive `YYYY-MM-DD HH:MM:SS` / `YYYY-MM-DDTHH:MM:SS` / `YYYY/MM/DD HH:MM:SS` read in `zone`.
pub fn parse_timestamp(raw: &str, zone: &BusinessZone) -> Result<DateTime<FixedOffset>, ZoneError> {
    let s = raw.trim();
    // The written RFC 3339 form read by hand (two times a row of a day's files, millions of rows);
    // anything else through chrono below, which gives the same value for that form.
    match super::rfc3339::fast_rfc3339(s.as_bytes()) {
        Some(t) => Ok(t),
        None => parse_timestamp_general(s, zone),
    }
}

/// [`parse_timestamp`] without the hand-read form: chrono's readers, in turn.
fn parse_timestamp_general(s: &str, zone: &BusinessZone) -> Result<DateTime<FixedOffset>, ZoneError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t);
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"]
    {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Ok(t);
        }
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y/%m/%d %H:%M:%S%.f", "%Y%m%d%H%M%S"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return zone.localize(n).ok_or_else(|| ZoneError::Nonexistent(s.to_string()));
        }
    }
    Err(ZoneError::BadTimestamp(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A timestamp's value (and offset) is chrono's, whether its written form is read by hand or not.
    #[test]
    fn times_read_by_hand_are_the_general_readers_values() {
        let zone: BusinessZone = "UTC+8".parse().unwrap();
        for s in [
            "2026-11-25T10:30:00+08:00",
            "2026-11-25T10:30:00Z",
            "2026-11-25T10:30:00.123456789-05:30",
            "2026-11-25T10:30:00.5+00:00",
            " 2026-11-25T10:30:00+08:00 ",
            "2026-11-25t10:30:00z",
            "2026-11-25 10:30:00+08:00",
            "2026-11-25 10:30:00",
            "2026/11/25 10:30:00",
            "20261125103000",
            "2026-11-25T24:00:00+08:00",
            "2026-02-30T10:00:00+08:00",
            "2026-11-25T10:30:60+08:00",
            "2026-11-25T10:30:00+24:00",
            "not a time",
        ] {
            let (got, want) = (parse_timestamp(s, &zone).ok(), parse_timestamp_general(s.trim(), &zone).ok());
            assert_eq!(got.map(|t| (t, t.offset().fix())), want.map(|t| (t, t.offset().fix())), "{s}");
        }
    }

    #[test]
    fn zones_parse() {
        for (s, secs) in [("UTC+8", 28800), ("+08:00", 28800), ("UTC-05:30", -19800), ("UTC", 0), ("+0900", 32400)] {
            match s.parse::<BusinessZone>().unwrap() {
                BusinessZone::Fixed(o) => assert_eq!(o.local_minus_utc(), secs, "{s}"),
                _ => panic!("{s} should be fixed"),
            }
        }
        assert!(matches!("Asia/Shanghai".parse::<BusinessZone>().unwrap(), BusinessZone::Named(_)));
        assert!("Mars/Olympus".parse::<BusinessZone>().is_err());
        assert!("UTC+99".parse::<BusinessZone>().is_err());
        assert_eq!(BusinessZone::default().to_string(), "UTC+8");
    }

    #[test]
    fn timestamps_keep_offset() {
        let z = BusinessZone::default();
        let t = parse_timestamp("2016-08-06T09:19:54+08:30", &z).unwrap();
        assert_eq!(t.offset().local_minus_utc(), 8 * 3600 + 1800);
        let n = parse_timestamp("2013-12-02 10:45:42", &z).unwrap();
        assert_eq!(n.to_rfc3339(), "2013-12-02T10:45:42+08:00");
        assert!(parse_timestamp("yesterday", &z).is_err());
    }

    #[test]
    fn business_date_uses_zone() {
        let z = BusinessZone::default();
        // 23:30 UTC on the 1st is 07:30 on the 2nd in UTC+8.
        let t = parse_timestamp("2026-11-01T23:30:00Z", &z).unwrap();
        assert_eq!(z.date_of(&t), NaiveDate::from_ymd_opt(2026, 11, 2).unwrap());
        let tokyo: BusinessZone = "UTC+9".parse().unwrap();
        let t = parse_timestamp("2026-11-01T23:59:58+08:00", &z).unwrap();
        assert_eq!(tokyo.date_of(&t), NaiveDate::from_ymd_opt(2026, 11, 2).unwrap());
        let (s, e) = z.day_bounds(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap());
        assert_eq!(s.to_rfc3339(), "2026-11-02T00:00:00+08:00");
        assert_eq!((e - s).num_hours(), 24);
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_at_the_transition() {
        // Clocks jump from 00:00 to 01:00 on these days: midnight does not exist.
        for (zone, day, start) in [
            ("America/Santiago", "2026-09-06", "2026-09-06T01:00:00-03:00"),
            ("Asia/Beirut", "2026-03-29", "2026-03-29T01:00:00+03:00"),
            ("America/Havana", "2026-03-08", "2026-03-08T01:00:00-04:00"),
        ] {
            let z: BusinessZone = zone.parse().unwrap();
            let d: NaiveDate = day.parse().unwrap();
            assert!(z.localize(d.and_time(NaiveTime::MIN)).is_none(), "{zone} {day}: midnight is in a gap");
            let (s, e) = z.day_bounds(d);
            assert_eq!(s.to_rfc3339(), start, "{zone}");
            assert_eq!((e - s).num_hours(), 23, "{zone}: a 23-hour day");
            // The day before ends where this one starts, and every instant falls in exactly one day.
            let (_, prev_end) = z.day_bounds(d.pred_opt().unwrap());
            assert_eq!(prev_end, s, "{zone}");
            assert_eq!(z.date_of(&s), d, "{zone}");
            assert_eq!(z.date_of(&(s - chrono::Duration::seconds(1))), d.pred_opt().unwrap(), "{zone}");
        }
        // A day the zone skipped entirely (Samoa moved across the date line) is empty, not a panic.
        let apia: BusinessZone = "Pacific/Apia".parse().unwrap();
        let (s, e) = apia.day_bounds("2011-12-30".parse().unwrap());
        assert_eq!(s, e);
    }
}
