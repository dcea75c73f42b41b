//! The `schedule_runs` table (sql/0005_schedule.sql): each attempt the daemon starts, so a restart
//! neither loses a day (catch-up asks [`completed`]) nor runs a finished day twice.

use anyhow::Result;
use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    pub business_date: Option<String>,
    pub attempt: i64,
    pub trigger: String,
    pub args: String,
    pub child_pid: Option<i64>,
    pub exit_code: Option<i64>,
    pub outcome: String,
    pub message: Option<String>,
}

/// The `outcome` word of an exit code; None (a signal) is `interrupted`.
pub fn outcome_of(code: Option<i32>) -> &'static str {
    match code {
        Some(0) => "ok",
        Some(1) => "attention",
        Some(3) => "not_ready",
        Some(4) => "locked",
        Some(_) => "failed",
        None => "interrupted",
    }
}

/// Records the start of an attempt; returns its id.
pub fn start(conn: &Connection, job: &str, date: Option<NaiveDate>, trigger: &str, args: &[String]) -> Result<i64> {
    let d = date.map(|d| d.to_string());
    let attempt: i64 = conn.query_row(
        "SELECT COALESCE(MAX(attempt), 0) + 1 FROM schedule_runs WHERE job = ?1 AND business_date IS ?2",
        params![job, d],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO schedule_runs (job, business_date, attempt, trigger, args, host, daemon_pid, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            job,
            d,
            attempt,
            trigger,
            serde_json::to_string(args)?,
            crate::sys::os::hostname(),
            std::process::id(),
            crate::store::now_text()
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn set_child(conn: &Connection, id: i64, pid: u32) -> Result<()> {
    conn.execute("UPDATE schedule_runs SET child_pid = ?2 WHERE id = ?1", params![id, pid])?;
    Ok(())
}

/// Records the end of an attempt; the outcome follows from the exit code.
pub fn finish(conn: &Connection, id: i64, code: Option<i32>, message: Option<&str>) -> Result<()> {
    finish_as(conn, id, code, outcome_of(code), message)
}

/// Records the end of an attempt with an explicit outcome (`timed_out`).
pub fn finish_as(conn: &Connection, id: i64, code: Option<i32>, outcome: &str, message: Option<&str>) -> Result<()> {
    conn.execute(
        "UPDATE schedule_runs SET ended_at = ?2, exit_code = ?3, outcome = ?4, message = ?5 WHERE id = ?1",
        params![id, crate::store::now_text(), code, outcome, message],
    )?;
    Ok(())
}

/// Marks attempts left `running` by a daemon on this host that no longer exists as `interrupted`
/// (the daemon was killed with -9 or the machine rebooted). Returns how many.
pub fn close_orphans(conn: &Connection) -> Result<usize> {
    let host = crate::sys::os::hostname();
    let rows: Vec<(i64, i64)> = {
        let mut st =
            conn.prepare("SELECT id, daemon_pid FROM schedule_runs WHERE outcome = 'running' AND host = ?1")?;
        let r = st.query_map([&host], |r| Ok((r.get(0)?, r.get(1)?)))?;
        r.collect::<rusqlite::Result<_>>()?
    };
    let mut n = 0;
    for (id, pid) in rows {
        if pid != std::process::id() as i64 && !crate::sys::os::process_alive(pid) {
            conn.execute(
                "UPDATE schedule_runs SET outcome = 'interrupted', ended_at = ?2,
                 message = 'the daemon ended without recording the outcome (killed or rebooted)' WHERE id = ?1",
                params![id, crate::store::now_text()],
            )?;
            n += 1;
        }
    }
    Ok(n)
}

/// Whether `date` is complete for `job`: an attempt of the job ended with exit 0 or 1, or — when the
/// job runs subcommand `run` — a manual `alipay-recon run` for that date did (the `runs` table).
pub fn completed(conn: &Connection, job: &str, date: NaiveDate, via_run_command: bool) -> Result<bool> {
    let d = date.to_string();
    let by_daemon: Option<i64> = conn
        .query_row(
            "SELECT id FROM schedule_runs WHERE job = ?1 AND business_date = ?2 AND outcome IN ('ok', 'attention') LIMIT 1",
            params![job, d],
            |r| r.get(0),
        )
        .optional()?;
    if by_daemon.is_some() || !via_run_command {
        return Ok(by_daemon.is_some());
    }
    crate::store::runs::completed(conn, "run", date)
}

/// The latest attempts, newest first.
pub fn list(conn: &Connection, limit: usize) -> Result<Vec<JobRun>> {
    let mut st = conn.prepare(
        "SELECT id, job, business_date, attempt, trigger, args, child_pid, exit_code, outcome, message
         FROM schedule_runs ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = st.query_map([limit as i64], |r| {
        Ok(JobRun {
            id: r.get(0)?,
            job: r.get(1)?,
            business_date: r.get(2)?,
            attempt: r.get(3)?,
            trigger: r.get(4)?,
            args: r.get(5)?,
            child_pid: r.get(6)?,
            exit_code: r.get(7)?,
            outcome: r.get(8)?,
            message: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn attempts_count_per_job_and_date_and_completion_needs_0_or_1() {
        let c = crate::store::open_in_memory().unwrap();
        let a = start(&c, "daily", Some(d("2026-11-25")), "cron", &["run".into()]).unwrap();
        finish(&c, a, Some(3), Some("not ready")).unwrap();
        assert!(!completed(&c, "daily", d("2026-11-25"), true).unwrap());
        let b = start(&c, "daily", Some(d("2026-11-25")), "retry", &["run".into()]).unwrap();
        let other = start(&c, "daily", Some(d("2026-11-24")), "catch-up", &[]).unwrap();
        finish(&c, other, None, None).unwrap();
        finish(&c, b, Some(1), None).unwrap();
        assert!(completed(&c, "daily", d("2026-11-25"), false).unwrap());
        assert!(!completed(&c, "daily", d("2026-11-24"), false).unwrap());
        assert!(!completed(&c, "other-job", d("2026-11-25"), false).unwrap());
        let runs = list(&c, 10).unwrap();
        assert_eq!(runs.len(), 3);
        let b_row = runs.iter().find(|r| r.id == b).unwrap();
        assert_eq!((b_row.attempt, b_row.outcome.as_str(), b_row.exit_code), (2, "attention", Some(1)));
        assert_eq!(runs.iter().find(|r| r.id == other).unwrap().outcome, "interrupted");
    }

    #[test]
    fn a_manual_run_completes_the_date_for_the_run_job() {
        let c = crate::store::open_in_memory().unwrap();
        let id = crate::store::runs::start(&c, "run", &[], Some(d("2026-11-25"))).unwrap();
        assert!(!completed(&c, "daily", d("2026-11-25"), true).unwrap(), "still running");
        crate::store::runs::finish(&c, id, "ok", 0, None, None).unwrap();
        assert!(completed(&c, "daily", d("2026-11-25"), true).unwrap());
        assert!(!completed(&c, "daily", d("2026-11-25"), false).unwrap(), "other commands ignore `runs`");
    }

    #[test]
    fn orphans_of_a_dead_daemon_become_interrupted() {
        let c = crate::store::open_in_memory().unwrap();
        c.execute(
            "INSERT INTO schedule_runs (job, attempt, trigger, args, host, daemon_pid, started_at)
             VALUES ('sweep', 1, 'cron', '[]', ?1, 2147483000, 'x')",
            [crate::sys::os::hostname()],
        )
        .unwrap();
        let mine = start(&c, "sweep", None, "cron", &[]).unwrap();
        assert_eq!(close_orphans(&c).unwrap(), 1);
        let runs = list(&c, 10).unwrap();
        assert_eq!(runs.iter().find(|r| r.id == mine).unwrap().outcome, "running", "own rows are kept");
        assert_eq!(runs.iter().find(|r| r.id != mine).unwrap().outcome, "interrupted");
    }
}
