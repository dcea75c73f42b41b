//! Housekeeping (`alipay-recon retention`, daily from the shipped schedule): Alipay deletes its SFTP
//! files 7 days after the business date, so days with local sales whose transaction file is still
//! not stored are warned about — and alerted by email once per date, through the same
//! `notify::deletion_risk` rule the daily run uses — before that happens. It then prunes only what
//! nobody needs any more: attachments of emails sent long ago, and interrupted downloads left in the
//! archive's staging folder. The archive, the reports and the database rows are never deleted.

use crate::config::Config;
use crate::notify::{self, EmailOptions, Enqueued};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A recent business date with local sales but no complete transaction file stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingDay {
    pub date: NaiveDate,
    /// Alipay may delete the day's files after this date.
    pub deleted_after: NaiveDate,
    /// Local SUCCESS/UNKNOWN records of the date.
    pub local_sales: i64,
    /// Inside the warning window of [`notify::deletion_risk`]: worth an alert and exit 1.
    pub at_risk: bool,
    /// What happened to the alert (only for days at risk).
    pub alert: AlertState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// Not at risk yet: no alert.
    NotDue,
    /// Queued now.
    Queued,
    /// Queued by an earlier run (the outbox keys it `deletion_risk/<date>`): not sent twice.
    AlreadyQueued,
    /// `--no-email`.
    Disabled,
}

/// What one housekeeping pass found and did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub missing: Vec<MissingDay>,
    /// Messages whose attachments were dropped.
    pub attachments_pruned: usize,
    /// Interrupted downloads deleted from the staging folder.
    pub staging_removed: Vec<PathBuf>,
}

impl Report {
    /// Whether a date is at risk of deletion (exit 1).
    pub fn needs_attention(&self) -> bool {
        self.missing.iter().any(|m| m.at_risk)
    }
}

/// Checks the last [`notify::flow::RETENTION_DAYS`] business dates before `today`, queues the
/// deletion-risk alerts, and prunes. `now` is the clock the staging files' age is measured against.
pub fn run(
    cfg: &Config,
    conn: &mut Connection,
    today: NaiveDate,
    now: SystemTime,
    opts: EmailOptions,
) -> Result<Report> {
    let mut report = Report { missing: missing_days(conn, today)?, ..Default::default() };
    for m in report.missing.iter_mut().filter(|m| m.at_risk) {
        let a = notify::deletion_risk(m.date, today).expect("at_risk days are inside the deletion window");
        m.alert = match notify::queue_alert(conn, &cfg.merchant.name, &a, opts)? {
            None => AlertState::Disabled,
            Some(Enqueued::New(_)) => AlertState::Queued,
            Some(Enqueued::Exists(_)) => AlertState::AlreadyQueued,
        };
    }
    report.attachments_pruned = notify::outbox::prune_parts(conn, cfg.retention.outbox_attachments_days)?;
    let staging = cfg.path(&cfg.store.archive_dir).join("incoming");
    let max_age = Duration::from_secs(u64::from(cfg.retention.staging_days) * 86_400);
    report.staging_removed = prune_staging(&staging, max_age, now)?;
    Ok(report)
}

/// The dates among the last [`notify::flow::RETENTION_DAYS`] before `today` (oldest first) with local
/// sales and no complete transaction file.
pub fn missing_days(conn: &Connection, today: NaiveDate) -> Result<Vec<MissingDay>> {
    let mut out = Vec::new();
    for back in (1..=notify::flow::RETENTION_DAYS).rev() {
        let date = today - chrono::Days::new(back as u64);
        if crate::store::local::has_transactions(conn, date)? {
            continue;
        }
        let local_sales = crate::store::local::local_sales(conn, date)?;
        if local_sales == 0 {
            continue; // Alipay writes files only for days with transactions: nothing is missing.
        }
        let at_risk = notify::deletion_risk(date, today).is_some();
        out.push(MissingDay {
            date,
            deleted_after: date + chrono::Days::new(notify::flow::RETENTION_DAYS as u64),
            local_sales,
            at_risk,
            alert: AlertState::NotDue,
        });
    }
    Ok(out)
}

/// Deletes `*.part` files under `staging` last modified more than `max_age` before `now` (a download
/// interrupted long ago: the next fetch starts over anyway). Symlinks are never followed. A missing
/// folder is not an error (nothing was ever downloaded).
pub fn prune_staging(staging: &Path, max_age: Duration, now: SystemTime) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    if !staging.is_dir() {
        return Ok(removed);
    }
    let mut stack = vec![staging.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}: check the permissions of store.archive_dir", dir.display()))?;
        for e in entries {
            let e = e.with_context(|| format!("cannot list {}", dir.display()))?;
            let ft = e.file_type()?;
            let path = e.path();
            if ft.is_dir() {
                stack.push(path);
                continue;
            }
            if !ft.is_file() || path.extension().is_none_or(|x| x != "part") {
                continue;
            }
            let modified = e.metadata()?.modified()?;
            let old = now.duration_since(modified).is_ok_and(|age| age > max_age);
            if old {
                std::fs::remove_file(&path).with_context(|| {
                    format!("cannot delete the stale download {}: check the folder's permissions", path.display())
                })?;
                removed.push(path);
            }
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn sale(conn: &Connection, date: &str, id: &str, status: &str) {
        conn.execute(
            "INSERT INTO local_records (record_type, record_id, merchant_trans_id, amount, currency, status, created_at, \
             created_utc, business_date, origin) VALUES ('PAYMENT', ?2, ?2, 100, 'HKD', ?3, '2026-01-01T00:00:00+08:00', 0, ?1, 'pos')",
            [date, id, status],
        )
        .unwrap();
    }

    #[test]
    fn stale_part_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("incoming");
        std::fs::create_dir_all(staging.join("sub")).unwrap();
        let now = SystemTime::now();
        let week = Duration::from_secs(7 * 86_400);
        let set_age = |p: &Path, days: u64| {
            std::fs::write(p, b"x").unwrap();
            let f = std::fs::File::options().write(true).open(p).unwrap();
            f.set_modified(now - Duration::from_secs(days * 86_400)).unwrap();
        };
        set_age(&staging.join("old.csv.part"), 8);
        set_age(&staging.join("sub/old2.csv.part"), 30);
        set_age(&staging.join("new.csv.part"), 6);
        set_age(&staging.join("old.csv"), 30);
        let removed = prune_staging(&staging, week, now).unwrap();
        assert_eq!(removed, vec![staging.join("old.csv.part"), staging.join("sub/old2.csv.part")]);
        assert!(staging.join("new.csv.part").exists() && staging.join("old.csv").exists());
        assert!(prune_staging(&dir.path().join("absent"), week, now).unwrap().is_empty());
    }

    #[test]
    fn window_of_missing_days() {
        let conn = crate::store::open_in_memory().unwrap();
        assert!(missing_days(&conn, d("2026-11-26")).unwrap().is_empty(), "no sales: nothing missing");
        sale(&conn, "2026-11-25", "a", "SUCCESS"); // yesterday: files not due yet, listed but not at risk
        sale(&conn, "2026-11-21", "b", "UNKNOWN"); // 5 days back: 2 days left
        sale(&conn, "2026-11-19", "c", "SUCCESS"); // 7 days back: the last day
        sale(&conn, "2026-11-18", "d", "SUCCESS"); // 8 days back: gone already, outside the window
        sale(&conn, "2026-11-22", "e", "FAILED"); // not a sale
        let m = missing_days(&conn, d("2026-11-26")).unwrap();
        let got: Vec<(String, bool, String)> =
            m.iter().map(|x| (x.date.to_string(), x.at_risk, x.deleted_after.to_string())).collect();
        assert_eq!(
            got,
            vec![
                ("2026-11-19".into(), true, "2026-11-26".into()),
                ("2026-11-21".into(), true, "2026-11-28".into()),
                ("2026-11-25".into(), false, "2026-12-02".into()),
            ]
        );
    }
}
