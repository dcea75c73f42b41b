//! `--date` words of the CLI: `today`, `yesterday` and ISO dates. The words are evaluated in the
//! business zone (contracts.md §0), not the server's zone: at 01:00 in Berlin it is already 08:00 in
//! Shanghai, and "yesterday" means Shanghai's yesterday.

use crate::domain::BusinessZone;
use anyhow::{bail, Result};
use chrono::{DateTime, Days, NaiveDate, Utc};

/// Parses a `--date` value: `today`, `yesterday`, `YYYY-MM-DD`, or `today-N` / `yesterday-N` for N days
/// earlier. `now` is the current instant; the words take its calendar day in `zone`.
pub fn parse_date_arg(s: &str, zone: BusinessZone, now: DateTime<Utc>) -> Result<NaiveDate> {
    let t = s.trim().to_ascii_lowercase();
    let today = zone.date_of(&now.fixed_offset());
    let (word, back) = match t.split_once('-') {
        Some((w @ ("today" | "yesterday"), n)) => match n.parse::<u64>() {
            Ok(n) if n <= 3660 => (w, n),
            _ => bail!("--date '{s}': after '{w}-' put a number of days, such as {w}-2"),
        },
        _ => (t.as_str(), 0),
    };
    let base = match word {
        "today" => Some(today),
        "yesterday" => today.checked_sub_days(Days::new(1)),
        _ => None,
    };
    if let Some(b) = base {
        return b.checked_sub_days(Days::new(back)).ok_or_else(|| anyhow::anyhow!("--date '{s}' is out of range"));
    }
    match NaiveDate::parse_from_str(&t, "%Y-%m-%d") {
        Ok(d) if t.len() == 10 => Ok(d),
        _ => bail!("--date '{s}' is not a date: use YYYY-MM-DD (e.g. 2026-11-25), today or yesterday (in {zone})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn zone(s: &str) -> BusinessZone {
        s.parse().unwrap()
    }
    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn words_are_evaluated_in_the_business_zone() {
        // 2026-11-25 17:30 UTC is already 2026-11-26 01:30 in Shanghai.
        let now = at("2026-11-25T17:30:00Z");
        let sh = zone("Asia/Shanghai");
        let cases = [
            ("today", sh, "2026-11-26"),
            ("yesterday", sh, "2026-11-25"),
            ("Yesterday", sh, "2026-11-25"),
            ("today", zone("UTC"), "2026-11-25"),
            ("yesterday", zone("UTC"), "2026-11-24"),
            ("yesterday", zone("UTC+8"), "2026-11-25"),
            ("today", zone("America/Los_Angeles"), "2026-11-25"),
            ("yesterday-2", sh, "2026-11-23"),
            ("today-1", sh, "2026-11-25"),
            ("2026-02-28", sh, "2026-02-28"),
            (" 2024-02-29 ", sh, "2024-02-29"),
        ];
        for (arg, z, want) in cases {
            assert_eq!(parse_date_arg(arg, z, now).unwrap(), d(want), "{arg} in {z}");
        }
    }

    #[test]
    fn year_boundary_and_utc_midnight() {
        let sh = zone("Asia/Shanghai");
        // 16:00 UTC on Dec 31 = 00:00 Jan 1 in Shanghai.
        assert_eq!(parse_date_arg("yesterday", sh, at("2026-12-31T16:00:00Z")).unwrap(), d("2026-12-31"));
        assert_eq!(parse_date_arg("yesterday", sh, at("2026-12-31T15:59:59Z")).unwrap(), d("2026-12-30"));
    }

    #[test]
    fn bad_values_say_what_is_expected() {
        let now = at("2026-11-25T00:00:00Z");
        for bad in ["2026-13-01", "2026-02-30", "26-11-25", "tomorrow", "", "yesterday-x", "2026-11-25T00:00"] {
            let e = parse_date_arg(bad, BusinessZone::default(), now).unwrap_err().to_string();
            assert!(e.contains("--date"), "{bad}: {e}");
        }
        let e = parse_date_arg("20261125", BusinessZone::default(), now).unwrap_err().to_string();
        assert!(e.contains("YYYY-MM-DD") && e.contains("UTC+8"), "{e}");
    }
}
