//! RFC 3339 timestamps and ISO dates in the one form the store and exports write
//! (`2026-11-25T10:30:00+08:00`, `2026-11-25`), read (and timestamps written) by hand: chrono's general parsers were a large
//! part of loading millions of rows. Anything else goes to chrono, which reads or rejects it — the
//! same value and the same verdict either way (tested).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone};

/// An RFC 3339 timestamp with its offset: the written form by hand, anything else through chrono.
pub fn parse_rfc3339(s: &str) -> Result<DateTime<FixedOffset>, chrono::ParseError> {
    match fast_rfc3339(s.as_bytes()) {
        Some(t) => Ok(t),
        None => DateTime::parse_from_rfc3339(s),
    }
}

/// The value of ASCII digits, `None` when one is not a digit (or there are none).
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    b.iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
}

pub fn fast_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(&b[0..4])? as i32, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, the form the store writes; `None` for anything else
/// (lower-case separators, leap seconds, …), which chrono's RFC 3339 parser then reads or rejects.
pub fn fast_rfc3339(b: &[u8]) -> Option<DateTime<FixedOffset>> {
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let day = fast_date(&b[..10])?;
    let (h, m, sec) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    let mut rest = &b[19..];
    let mut nano = 0;
    if rest[0] == b'.' {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        nano = digits(&rest[1..=n])? * 10u32.pow(9 - n as u32);
        rest = &rest[1 + n..];
    }
    let offset = match rest {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (oh, om) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let v = (oh * 3600 + om * 60) as i32;
            if *sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let t = NaiveTime::from_hms_nano_opt(h, m, sec, nano)?;
    FixedOffset::east_opt(offset)?.from_local_datetime(&day.and_time(t)).single()
}

/// `t.to_rfc3339()`, written directly in the common case (whole seconds, a year of four digits, an
/// offset of whole minutes): two a row, millions a day, and chrono's general formatter was a sixth
/// of the parser thread's time on the row texts.
pub fn write_rfc3339(t: DateTime<FixedOffset>) -> String {
    use chrono::{Datelike, Timelike};
    let (local, offset) = (t.naive_local(), t.offset().local_minus_utc());
    if local.nanosecond() != 0 || !(0..=9999).contains(&local.year()) || offset % 60 != 0 {
        return t.to_rfc3339();
    }
    let (sign, off) = if offset < 0 { ('-', -offset / 60) } else { ('+', offset / 60) };
    let mut out = String::with_capacity(25);
    let _ = std::fmt::Write::write_fmt(
        &mut out,
        format_args!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            local.year(),
            local.month(),
            local.day(),
            local.hour(),
            local.minute(),
            local.second(),
            off / 60,
            off % 60
        ),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored times are chrono's RFC 3339 text, whatever the offset, year or fraction.
    #[test]
    fn written_times_are_chronos_rfc3339() {
        for s in [
            "2026-11-25T00:00:00+08:00",
            "2026-11-25T23:59:59-05:30",
            "2026-01-02T03:04:05Z",
            "2026-11-25T10:00:00.5+08:00",
            "2026-11-25T10:00:00.123456789+08:00",
            "0001-01-01T00:00:00+00:00",
            "2026-11-25T10:00:00+14:00",
            "2026-11-25T10:00:00-12:00",
        ] {
            let t = chrono::DateTime::parse_from_rfc3339(s).unwrap();
            assert_eq!(write_rfc3339(t), t.to_rfc3339(), "{s}");
        }
        let odd = chrono::FixedOffset::east_opt(8 * 3600 + 17).unwrap();
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00+08:00").unwrap().with_timezone(&odd);
        assert_eq!(write_rfc3339(t), t.to_rfc3339());
        let far = chrono::NaiveDate::from_ymd_opt(12345, 1, 1).unwrap().and_hms_opt(1, 2, 3).unwrap();
        let t = chrono::TimeZone::from_utc_datetime(&chrono::FixedOffset::east_opt(0).unwrap(), &far);
        assert_eq!(write_rfc3339(t), t.to_rfc3339());
    }

    #[test]
    fn hand_parsers_agree_with_chrono() {
        for s in ["2026-11-25", "2024-02-29", "0001-01-01", "9999-12-31"] {
            assert_eq!(fast_date(s.as_bytes()).unwrap(), NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap(), "{s}");
        }
        for s in ["2026-02-30", "2026-13-01", "2026-1-05", "", "2026/11/25", "2026-11-2x"] {
            assert_eq!(fast_date(s.as_bytes()), None, "{s}");
        }
        for s in [
            "2026-11-25T10:00:00+08:00",
            "2026-11-25T10:00:00Z",
            "2026-11-25T23:59:59.5-05:30",
            "2026-11-25T00:00:00.123456789+00:00",
            "2026-11-25T00:00:00.250+14:00",
        ] {
            let want = DateTime::parse_from_rfc3339(s).unwrap();
            let got = fast_rfc3339(s.as_bytes()).unwrap();
            assert_eq!((got, got.offset()), (want, want.offset()), "{s}");
        }
        for s in [
            "2026-11-25t10:00:00Z",
            "2026-11-25 10:00:00Z",
            "2026-11-25T10:00:60Z",
            "2026-11-25T10:00:00.Z",
            "2026-11-25T10:00:00+0800",
            "2026-11-25T10:00:00",
            "2026-11-25T10:00:00.1234567890Z",
        ] {
            assert_eq!(fast_rfc3339(s.as_bytes()), None, "{s}");
            assert_eq!(parse_rfc3339(s).ok(), DateTime::parse_from_rfc3339(s).ok(), "{s}");
        }
    }
}
