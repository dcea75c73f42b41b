//! Cron expressions in a time zone. Schedule files use the familiar 5 fields (`30 10 * * *`);
//! tokio-cron-scheduler wants 6 (a leading seconds field), so a 5-field expression gets `0 ` in front.
//! A 6-field expression is accepted as is (tests fire every few seconds).
//!
//! Parsing uses the same croner settings as tokio-cron-scheduler 0.15 (seconds required, day-of-month
//! AND day-of-week), so the fire times computed here are the ones the daemon will see.

use crate::domain::BusinessZone;
use anyhow::{bail, Result};
use chrono::{DateTime, SubsecRound, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

/// A parsed cron expression and the zone its fields are read in.
#[derive(Debug, Clone)]
pub struct CronSpec {
    /// As written in the schedule file.
    pub text: String,
    /// The 6-field form for tokio-cron-scheduler.
    pub six_field: String,
    pub zone: BusinessZone,
    cron: Cron,
}

impl CronSpec {
    /// Parses a 5- or 6-field expression; the error names the expression and the expected form.
    pub fn parse(text: &str, zone: BusinessZone) -> Result<CronSpec> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let six_field = match fields.len() {
            5 => format!("0 {}", fields.join(" ")),
            6 => fields.join(" "),
            n => bail!(
                "cron '{text}' has {n} fields: write 5 (minute hour day-of-month month day-of-week, e.g. \
                 '30 10 * * *'), or 6 with a leading seconds field"
            ),
        };
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(&six_field)
            .map_err(|e| anyhow::anyhow!("cron '{text}' is not valid: {e}"))?;
        Ok(CronSpec { text: text.to_string(), six_field, zone, cron })
    }

    /// The first fire time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next(t, false)
    }

    /// The first fire time at or after `t`.
    pub fn next_from(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next(t, true)
    }

    fn next(&self, t: DateTime<Utc>, inclusive: bool) -> Option<DateTime<Utc>> {
        // croner carries the start's sub-second part into its result (10:30:00.91): search from the
        // whole second instead. A start with a fraction is already past its own second.
        let whole = t.trunc_subsecs(0);
        let inclusive = inclusive && whole == t;
        let t = whole;
        let found = match self.zone {
            BusinessZone::Named(tz) => {
                self.cron.find_next_occurrence(&t.with_timezone(&tz), inclusive).map(|x| x.to_utc())
            }
            BusinessZone::Fixed(o) => {
                self.cron.find_next_occurrence(&t.with_timezone(&o), inclusive).map(|x| x.to_utc())
            }
        };
        found.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn five_fields_get_a_seconds_field() {
        let c = CronSpec::parse("30 10 * * *", BusinessZone::default()).unwrap();
        assert_eq!(c.six_field, "0 30 10 * * *");
        let c = CronSpec::parse("*/5 * * * * *", BusinessZone::default()).unwrap();
        assert_eq!(c.six_field, "*/5 * * * * *");
    }

    #[test]
    fn daily_1030_is_read_in_the_named_zone() {
        let sh: BusinessZone = "Asia/Shanghai".parse().unwrap();
        let c = CronSpec::parse("30 10 * * *", sh).unwrap();
        // 10:30 Shanghai = 02:30 UTC.
        assert_eq!(c.next_after(at("2026-11-25T00:00:00Z")), Some(at("2026-11-25T02:30:00Z")));
        assert_eq!(c.next_after(at("2026-11-25T02:30:00Z")), Some(at("2026-11-26T02:30:00Z")));
        assert_eq!(c.next_from(at("2026-11-25T02:30:00Z")), Some(at("2026-11-25T02:30:00Z")));
        // In UTC the same expression is 8 hours later.
        let u = CronSpec::parse("30 10 * * *", "UTC".parse().unwrap()).unwrap();
        assert_eq!(u.next_after(at("2026-11-25T00:00:00Z")), Some(at("2026-11-25T10:30:00Z")));
    }

    #[test]
    fn fractions_of_a_second_are_not_carried_into_fire_times() {
        let c = CronSpec::parse("30 10 * * *", "UTC".parse().unwrap()).unwrap();
        let t = at("2026-11-25T10:29:59.750Z");
        assert_eq!(c.next_after(t), Some(at("2026-11-25T10:30:00Z")));
        assert_eq!(c.next_from(at("2026-11-25T10:30:00.250Z")), Some(at("2026-11-26T10:30:00Z")));
        assert_eq!(c.next_after(at("2026-11-25T10:30:00.250Z")), Some(at("2026-11-26T10:30:00Z")));
    }

    #[test]
    fn dst_zone_keeps_wall_clock_time() {
        // Europe/Berlin leaves summer time on 2026-10-25: 10:30 local is 08:30 UTC before, 09:30 after.
        let berlin: BusinessZone = "Europe/Berlin".parse().unwrap();
        let c = CronSpec::parse("30 10 * * *", berlin).unwrap();
        assert_eq!(c.next_after(at("2026-10-24T00:00:00Z")), Some(at("2026-10-24T08:30:00Z")));
        assert_eq!(c.next_after(at("2026-10-25T00:00:00Z")), Some(at("2026-10-25T09:30:00Z")));
    }

    #[test]
    fn bad_expressions_name_themselves() {
        for bad in ["30 10 * *", "61 10 * * *", "a b c d e", "1 2 3 4 5 6 7"] {
            let e = CronSpec::parse(bad, BusinessZone::default()).unwrap_err().to_string();
            assert!(e.contains(bad), "{bad}: {e}");
        }
    }
}
