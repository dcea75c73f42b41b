//! `--date` values: `today`, `yesterday` (evaluated in the business zone) or an ISO date.

use crate::domain::BusinessZone;
use anyhow::{anyhow, Result};
use chrono::{DateTime, NaiveDate, Utc};

pub fn parse_date(s: &str, zone: &BusinessZone, now: DateTime<Utc>) -> Result<NaiveDate> {
    let today = zone.date_of(&now.fixed_offset());
    match s.trim() {
        "today" => Ok(today),
        "yesterday" => Ok(today.pred_opt().expect("date in range")),
        t => NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
            anyhow!("--date '{t}' is not a date: use YYYY-MM-DD, `today` or `yesterday` (in the business zone {zone})")
        }),
    }
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
        assert!(parse_date("26/11/2026", &z, now).unwrap_err().to_string().contains("YYYY-MM-DD"));
    }
}
