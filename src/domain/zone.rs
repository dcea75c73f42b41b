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

    /// `[start, end)` of business date `d` as instants.
    pub fn day_bounds(&self, d: NaiveDate) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
        let start = self.localize(d.and_time(NaiveTime::MIN)).expect("midnight exists");
        let next = d.succ_opt().expect("date in range");
        let end = self.localize(next.and_time(NaiveTime::MIN)).expect("midnight exists");
        (start, end)
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
}
