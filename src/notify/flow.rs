//! The few calls the pipeline makes, with the run's email options applied: queue the day's report
//! email (once per date, a new version only on request), queue an alert (once per key), then flush
//! the outbox. `--no-email` turns all three into no-ops, so a rerun neither sends nor queues anything
//! (messages of earlier runs still waiting stay in the outbox for the next run without the flag).

use super::{alert, compose, deliver, outbox, DailyPlan, DailyReport, DeliveryReport, Enqueued};
use crate::config::Config;
use anyhow::Result;
use chrono::NaiveDate;
use rusqlite::Connection;

/// The run's email switches (from `cli::outbox::EmailFlags`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmailOptions {
    /// `--no-email`: compose, queue and send nothing in this run.
    pub no_email: bool,
    /// `--resend-email`: send the day's report again as the next version even if already sent.
    pub resend: bool,
}

/// What [`queue_daily`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DailyEmail {
    /// `--no-email`.
    Disabled,
    /// Queued as this version.
    Queued { version: u32 },
    /// Already queued or sent; nothing added. `changed`: the report differs from that version
    /// (the run can say "pass --resend-email to send the new version").
    AlreadyQueued { version: u32, status: String, changed: bool },
}

/// Plans, composes and queues the day's report email. `report.version` is ignored: the version
/// comes from the outbox. Call only when the day is final.
pub fn queue_daily(conn: &mut Connection, report: &DailyReport, opts: EmailOptions) -> Result<DailyEmail> {
    if opts.no_email {
        return Ok(DailyEmail::Disabled);
    }
    match outbox::plan_daily(conn, report.date, opts.resend, None)? {
        DailyPlan::Send { version } => {
            let msg = compose::daily_message(&DailyReport { version, ..*report })?;
            outbox::enqueue(conn, &msg)?;
            Ok(DailyEmail::Queued { version })
        }
        DailyPlan::AlreadyQueued { version, status, .. } => {
            // Compose as that version to compare like with like (the subject carries the version).
            let same = compose::daily_message(&DailyReport { version, ..*report })?;
            let changed = !matches!(
                outbox::plan_daily(conn, report.date, false, Some(&same.fingerprint()))?,
                DailyPlan::AlreadyQueued { changed: Some(false), .. }
            );
            Ok(DailyEmail::AlreadyQueued { version, status, changed })
        }
    }
}

/// Composes and queues an alert; `None` when options or the event say no email (see
/// [`alert::alert`]), `Exists` when the same alert was queued before.
pub fn queue_alert(
    conn: &mut Connection,
    merchant: &str,
    a: &alert::Alert,
    opts: EmailOptions,
) -> Result<Option<Enqueued>> {
    if opts.no_email {
        return Ok(None);
    }
    match alert::alert(merchant, a) {
        Some(msg) => Ok(Some(outbox::enqueue(conn, &msg)?)),
        None => Ok(None),
    }
}

/// Delivers everything pending (this run's messages and earlier leftovers); `None` with `--no-email`.
pub fn flush(conn: &Connection, cfg: &Config, opts: EmailOptions) -> Result<Option<DeliveryReport>> {
    if opts.no_email {
        return Ok(None);
    }
    deliver::deliver_pending(conn, cfg).map(Some)
}

/// Alipay may delete a day's files this many days after the day (alipay-files.md: "deleted after 7
/// days"; counted from the business date, one day earlier than from the upload, to be safe).
pub const RETENTION_DAYS: i64 = 7;
/// Warn this many days before the deletion.
pub const DELETION_WARNING_DAYS: i64 = 3;

/// The deletion-risk alert for a date whose files are still missing, when `today` is inside the
/// warning window and the files are not gone yet; `None` otherwise.
pub fn deletion_risk(missing_date: NaiveDate, today: NaiveDate) -> Option<alert::Alert> {
    let deleted_after = missing_date + chrono::Days::new(RETENTION_DAYS as u64);
    let left = (deleted_after - today).num_days();
    (0..=DELETION_WARNING_DAYS).contains(&left).then_some(alert::Alert::DeletionRisk {
        missing_date,
        deleted_after,
        today,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DaySummary;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn deletion_risk_window() {
        assert!(deletion_risk(d("2026-11-20"), d("2026-11-23")).is_none(), "4 days left: too early");
        assert!(deletion_risk(d("2026-11-20"), d("2026-11-24")).is_some());
        assert!(deletion_risk(d("2026-11-20"), d("2026-11-27")).is_some(), "last day");
        assert!(deletion_risk(d("2026-11-20"), d("2026-11-28")).is_none(), "already gone");
    }

    #[test]
    fn daily_queue_once_resend_on_request_and_no_email_does_nothing() {
        let mut c = crate::store::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("discrepancies.csv"), "h\n").unwrap();
        let s = DaySummary::default();
        let r = DailyReport {
            date: d("2026-11-25"),
            merchant: "M",
            version: 0,
            summary: &s,
            folder: dir.path(),
            findings: &[],
        };
        let off = EmailOptions { no_email: true, resend: true };
        assert_eq!(queue_daily(&mut c, &r, off).unwrap(), DailyEmail::Disabled);
        assert!(outbox::list(&c, true).unwrap().is_empty());
        let on = EmailOptions::default();
        assert_eq!(queue_daily(&mut c, &r, on).unwrap(), DailyEmail::Queued { version: 1 });
        assert_eq!(
            queue_daily(&mut c, &r, on).unwrap(),
            DailyEmail::AlreadyQueued { version: 1, status: "pending".into(), changed: false }
        );
        std::fs::write(dir.path().join("discrepancies.csv"), "h\nrow\n").unwrap();
        assert!(matches!(queue_daily(&mut c, &r, on).unwrap(), DailyEmail::AlreadyQueued { changed: true, .. }));
        let resend = EmailOptions { resend: true, ..on };
        assert_eq!(queue_daily(&mut c, &r, resend).unwrap(), DailyEmail::Queued { version: 2 });
        assert_eq!(outbox::list(&c, true).unwrap().len(), 2);
    }
}
