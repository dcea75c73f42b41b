//! Pure scheduling decisions, testable with a fake clock: which business date a fire is about, which
//! dates still need a run (catch-up after downtime, failed days), and what to do after an attempt
//! (done, retry at a time, give up). The daemon only executes what these functions decide.

use super::file::JobSpec;
use crate::domain::BusinessZone;
use anyhow::Result;
use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};

/// The business date a daily job's fire at `fire` is about: its day in the business zone minus the
/// job's offset (1 = yesterday: the 10:30 run on T+1 reconciles T).
pub fn date_for_fire(job: &JobSpec, zone: BusinessZone, fire: DateTime<Utc>) -> NaiveDate {
    let day = zone.date_of(&fire.fixed_offset());
    day.checked_sub_days(Days::new(job.date_offset_days as u64)).unwrap_or(day)
}

/// When the run for `date` is first due: the job's first fire on day `date + offset` (business zone).
/// None when the cron does not fire on that day (e.g. a weekday-only schedule on a Sunday).
pub fn due_time(job: &JobSpec, zone: BusinessZone, date: NaiveDate) -> Option<DateTime<Utc>> {
    let day = date.checked_add_days(Days::new(job.date_offset_days as u64))?;
    let (start, end) = zone.day_bounds(day);
    job.cron.next_from(start.to_utc()).filter(|t| *t < end.to_utc())
}

/// The dates a daily job should run now, oldest first: those of its look-back (`catch_up_days` most
/// recent dates that are already due) for which `completed(date)` says no run finished with exit 0 or 1.
/// Used at daemon start (days missed while down) and at every fire (so a failed day is retried the
/// next day, and the newest date is included once due).
pub fn dates_to_run(
    job: &JobSpec,
    zone: BusinessZone,
    now: DateTime<Utc>,
    completed: &mut dyn FnMut(NaiveDate) -> Result<bool>,
) -> Result<Vec<NaiveDate>> {
    let newest = date_for_fire(job, zone, now);
    let mut due = Vec::new();
    // One extra day back: the newest date may not be due yet (before 10:30), then the window shifts.
    for back in 0..=job.catch_up_days as u64 {
        let Some(d) = newest.checked_sub_days(Days::new(back)) else { break };
        if due.len() == job.catch_up_days as usize {
            break;
        }
        if due_time(job, zone, d).is_some_and(|t| t <= now) {
            due.push(d);
        }
    }
    due.reverse();
    let mut out = Vec::new();
    for d in due {
        if !completed(d)? {
            out.push(d);
        }
    }
    Ok(out)
}

/// The file deadline of business date `date`: `deadline` (time of day in the business zone) on T+1.
pub fn deadline_of(zone: BusinessZone, date: NaiveDate, deadline: NaiveTime) -> DateTime<Utc> {
    let next = date.succ_opt().unwrap_or(date);
    // A deadline inside a DST gap moves to the end of the gap.
    zone.localize(next.and_time(deadline))
        .or_else(|| zone.localize(next.and_time(deadline) + chrono::Duration::hours(1)))
        .map(|t| t.to_utc())
        .unwrap_or_else(|| zone.day_bounds(next).1.to_utc())
}

/// What the daemon does after an attempt of a daily job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Finished (exit 0 or 1): the date is complete.
    Done,
    /// Not ready or locked before the deadline: try again at this instant.
    RetryAt(DateTime<Utc>),
    /// No retry today; the reason is logged. The next fire retries dates that are still incomplete.
    GiveUp(String),
}

/// Decides after an attempt that exited with `code` (None: killed by a signal) at `now`.
/// Retries come every `retry_every` while `code` is in `retry_on`; the last one is at the deadline
/// itself, when the run treats missing files as final instead of answering "not ready".
pub fn after_attempt(job: &JobSpec, code: Option<i32>, now: DateTime<Utc>, deadline: DateTime<Utc>) -> Next {
    match code {
        Some(0) | Some(1) => Next::Done,
        Some(c) if job.retry_on.iter().any(|r| *r as i32 == c) => {
            if now >= deadline {
                return Next::GiveUp(format!(
                    "exit {c} at or after the file deadline {deadline}: not retrying today; check the SFTP \
                     folder and the run's message"
                ));
            }
            let step = chrono::Duration::from_std(job.retry_every).unwrap_or(chrono::Duration::minutes(30));
            Next::RetryAt((now + step).min(deadline))
        }
        Some(c) => Next::GiveUp(format!("exit {c}: the run failed; its message says why. Retried at the next fire")),
        None => Next::GiveUp("killed by a signal; retried at the next fire or daemon start".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::schedule::file::ScheduleSet;
    use crate::ops::schedule::{Clock, FakeClock};
    use std::collections::BTreeSet;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn daily(extra: &str) -> JobSpec {
        let text = format!("[[job]]\nname = \"daily\"\nkind = \"daily\"\ncron = \"30 10 * * *\"\n{extra}");
        ScheduleSet::from_toml(&text, "t.toml").unwrap().jobs.remove(0)
    }
    fn sh() -> BusinessZone {
        "Asia/Shanghai".parse().unwrap()
    }

    #[test]
    fn fire_at_1030_shanghai_is_about_yesterday_there() {
        let j = daily("");
        // 02:30 UTC on the 26th = 10:30 on the 26th in Shanghai → the 25th.
        assert_eq!(date_for_fire(&j, sh(), at("2026-11-26T02:30:00Z")), d("2026-11-25"));
        assert_eq!(due_time(&j, sh(), d("2026-11-25")), Some(at("2026-11-26T02:30:00Z")));
        // A weekday-only schedule has no due time for a Friday's run on Saturday.
        let wk = daily("").clone();
        let wk = JobSpec { cron: crate::ops::schedule::CronSpec::parse("30 10 * * 1-5", sh()).unwrap(), ..wk };
        assert_eq!(due_time(&wk, sh(), d("2026-11-27")), None, "2026-11-28 is a Saturday");
    }

    #[test]
    fn catch_up_after_downtime_runs_missing_days_oldest_first() {
        let j = daily("catch_up_days = 3");
        let clock = FakeClock::at("2026-11-26T05:00:00Z"); // 13:00 in Shanghai: the 25th is due.
        let done: BTreeSet<NaiveDate> = [d("2026-11-24")].into();
        let dates = dates_to_run(&j, sh(), clock.now(), &mut |x| Ok(done.contains(&x))).unwrap();
        assert_eq!(dates, [d("2026-11-23"), d("2026-11-25")]);
        // Before 10:30 the 25th is not due yet: the window is the 3 days before it.
        clock.set(at("2026-11-26T01:00:00Z"));
        let dates = dates_to_run(&j, sh(), clock.now(), &mut |_| Ok(false)).unwrap();
        assert_eq!(dates, [d("2026-11-22"), d("2026-11-23"), d("2026-11-24")]);
        // Everything done: nothing to run, and the callback was asked about each due date once.
        let mut asked = Vec::new();
        let dates = dates_to_run(&j, sh(), clock.now(), &mut |x| {
            asked.push(x);
            Ok(true)
        })
        .unwrap();
        assert!(dates.is_empty());
        assert_eq!(asked, [d("2026-11-22"), d("2026-11-23"), d("2026-11-24")]);
    }

    #[test]
    fn catch_up_window_is_bounded() {
        let j = daily(""); // default 7 days
        let now = at("2026-11-26T05:00:00Z");
        let dates = dates_to_run(&j, sh(), now, &mut |_| Ok(false)).unwrap();
        assert_eq!(dates.len(), 7);
        assert_eq!(dates.first(), Some(&d("2026-11-19")));
        assert_eq!(dates.last(), Some(&d("2026-11-25")));
        let none = daily("catch_up_days = 0");
        assert!(dates_to_run(&none, sh(), now, &mut |_| Ok(false)).unwrap().is_empty());
        // An error from the callback (database unreadable) is passed on, not treated as "not done".
        assert!(dates_to_run(&j, sh(), now, &mut |_| anyhow::bail!("db gone")).is_err());
    }

    #[test]
    fn retries_every_30_minutes_until_the_deadline_then_stop() {
        let j = daily("");
        let deadline = deadline_of(sh(), d("2026-11-25"), NaiveTime::from_hms_opt(18, 0, 0).unwrap());
        assert_eq!(deadline, at("2026-11-26T10:00:00Z"), "18:00 Shanghai on T+1");
        let clock = FakeClock::at("2026-11-26T02:30:00Z");
        let mut attempts = vec![clock.now()];
        // The run answers "not ready" every time: retries at 11:00, 11:30, … then one at 18:00 exactly.
        loop {
            match after_attempt(&j, Some(3), clock.now(), deadline) {
                Next::RetryAt(t) => {
                    assert!(t > clock.now());
                    clock.set(t);
                    attempts.push(t);
                }
                Next::GiveUp(why) => {
                    assert!(why.contains("deadline"), "{why}");
                    break;
                }
                Next::Done => panic!("never done"),
            }
        }
        assert_eq!(attempts.len(), 16, "10:30 .. 17:30 every 30 min (15) + the deadline itself");
        assert_eq!(attempts[1], at("2026-11-26T03:00:00Z"));
        assert_eq!(*attempts.last().unwrap(), deadline);
        // A slightly late attempt still lands on the deadline, never past it.
        assert_eq!(after_attempt(&j, Some(3), at("2026-11-26T09:45:00Z"), deadline), Next::RetryAt(deadline));
    }

    #[test]
    fn outcomes_other_than_not_ready() {
        let j = daily("retry_every = \"10m\"");
        let deadline = at("2026-11-26T10:00:00Z");
        let now = at("2026-11-26T02:30:00Z");
        assert_eq!(after_attempt(&j, Some(0), now, deadline), Next::Done);
        assert_eq!(after_attempt(&j, Some(1), now, deadline), Next::Done);
        assert_eq!(after_attempt(&j, Some(4), now, deadline), Next::RetryAt(at("2026-11-26T02:40:00Z")));
        assert!(matches!(after_attempt(&j, Some(2), now, deadline), Next::GiveUp(m) if m.contains("exit 2")));
        assert!(matches!(after_attempt(&j, None, now, deadline), Next::GiveUp(m) if m.contains("signal")));
        let only3 = daily("retry_on = [3]");
        assert!(matches!(after_attempt(&only3, Some(4), now, deadline), Next::GiveUp(_)));
    }

    #[test]
    fn deadline_in_a_dst_zone_and_a_fixed_zone() {
        let t = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
        let ny: BusinessZone = "America/New_York".parse().unwrap();
        // 2026-11-01 is the end of US summer time: 18:00 EST = 23:00 UTC.
        assert_eq!(deadline_of(ny, d("2026-10-31"), t), at("2026-11-01T23:00:00Z"));
        assert_eq!(deadline_of(ny, d("2026-10-30"), t), at("2026-10-31T22:00:00Z"));
        assert_eq!(deadline_of(BusinessZone::default(), d("2026-11-25"), t), at("2026-11-26T10:00:00Z"));
    }
}
