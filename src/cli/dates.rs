//! `--date` values: `today`, `yesterday`, `today-N`, `yesterday-N` (evaluated in the business zone) or an
//! ISO date — parsed by `schedule::parse_date_arg`, shared with the daemon.

use crate::domain::BusinessZone;
use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};

pub fn parse_date(s: &str, zone: &BusinessZone, now: DateTime<Utc>) -> Result<NaiveDate> {
    crate::ops::schedule::parse_date_arg(s, *zone, now)
}

/// Dates from `from` to `to` inclusive, in order.
pub fn range(from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>> {
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    anyhow::ensure!((to - from).num_days() <= 3660, "the range {from}..{to} is longer than ten years");
    Ok(from.iter_days().take_while(|d| *d <= to).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_use_business_zone() {
        let z = BusinessZone::default();
        // 17:00 UTC on the 25th is 01:00 on the 26th in UTC+8.
        let now = DateTime::parse_from_rfc3339("2026-11-25T17:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_date("today", &z, now).unwrap().to_string(), "2026-11-26");
        assert_eq!(parse_date("yesterday", &z, now).unwrap().to_string(), "2026-11-25");
        assert_eq!(parse_date("2026-01-02", &z, now).unwrap().to_string(), "2026-01-02");
        assert!(parse_date("26/11/2026", &z, now).is_err());
    }

    #[test]
    fn ranges_are_ordered_and_bounded() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(range(d("2026-11-24"), d("2026-11-26")).unwrap().len(), 3);
        assert!(range(d("2026-11-26"), d("2026-11-24")).is_err());
    }
}
