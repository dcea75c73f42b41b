//! The run history: every command that changes data is recorded with who, where, when, the
//! arguments and the outcome (contracts.md §4). A run left `running` by a killed process is marked
//! `interrupted` by the next one.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub command: String,
    pub args: String,
    pub user_name: String,
    pub host: String,
    pub pid: i64,
    pub business_date: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub outcome: String,
    pub exit_code: Option<i64>,
    pub message: Option<String>,
    pub report_path: Option<String>,
}

/// Records the start of a run and returns its id. Runs of dead processes on this host still marked
/// `running` become `interrupted`.
pub fn start(
    conn: &Connection,
    command: &str,
    args: &[String],
    business_date: Option<chrono::NaiveDate>,
) -> Result<i64> {
    let host = crate::sys::os::hostname();
    let stale: Vec<(i64, i64, String, Option<String>)> = {
        let mut st =
            conn.prepare("SELECT id, pid, command, business_date FROM runs WHERE outcome = 'running' AND host = ?1")?;
        let rows = st.query_map([&host], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, pid, command, date) in stale {
        if !crate::sys::os::process_alive(pid) {
            let message = interrupted_message(conn, id, &command, date.as_deref())?;
            conn.execute(
                "UPDATE runs SET outcome = 'interrupted', ended_at = ?2, message = ?3 WHERE id = ?1",
                params![id, super::now_text(), message],
            )?;
        }
    }
    conn.execute(
        "INSERT INTO runs (command, args, user_name, host, pid, business_date, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            command,
            serde_json::to_string(args)?,
            crate::sys::os::user_name(),
            host,
            std::process::id(),
            business_date.map(|d| d.to_string()),
            super::now_text()
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// What a run that ended without an outcome left behind: each file import and each stored
/// reconciliation commits on its own, so a run killed during reconcile has its files imported and
/// lacks only the reconciliation and report. Says which is which and what repairs it.
fn interrupted_message(conn: &Connection, id: i64, command: &str, date: Option<&str>) -> Result<String> {
    let names = |sql: &str| -> Result<Vec<String>> {
        let mut st = conn.prepare(sql)?;
        let rows = st.query_map([id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    let shown = |v: &[String]| {
        let mut s = v.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        if v.len() > 5 {
            s.push_str(&format!(" and {} more", v.len() - 5));
        }
        s
    };
    let files = names("SELECT name FROM files WHERE run_id = ?1 ORDER BY id")?;
    let sales = names("SELECT name FROM sales_files WHERE run_id = ?1 ORDER BY id")?;
    let reconciled =
        names("SELECT DISTINCT business_date FROM recon_results WHERE run_id = ?1 ORDER BY business_date")?;
    let mut done = Vec::new();
    if !files.is_empty() {
        done.push(format!("imported {} Alipay file(s) ({})", files.len(), shown(&files)));
    }
    if !sales.is_empty() {
        done.push(format!("imported {} sales file(s) ({})", sales.len(), shown(&sales)));
    }
    if !reconciled.is_empty() {
        done.push(format!("stored the reconciliation of {}", reconciled.join(", ")));
    }
    let mut m = String::from("the process ended without recording an outcome (killed or crashed)");
    if done.is_empty() {
        m.push_str("; nothing it did was committed (the step in progress was rolled back): run it again");
        return Ok(m);
    }
    m.push_str(&format!(": committed before it ended: {}", done.join("; ")));
    let reconciles = matches!(command, "run" | "reconcile" | "demo");
    match date {
        Some(d) if reconciles && !reconciled.iter().any(|r| r == d) => m.push_str(&format!(
            "; NOT done: the reconciliation and report of {d} (the step in progress was rolled back). The next \
             `alipay-recon run --date {d}` repairs it: the imported files are not imported again"
        )),
        Some(d) if reconciles => m.push_str(&format!(
            "; the report or email of {d} may be missing: the next `alipay-recon run --date {d}` rewrites them"
        )),
        _ => {
            m.push_str("; only the step in progress was rolled back: run it again to finish (imported files are kept)")
        }
    }
    Ok(m)
}

/// Whether a `command` run of business date `date` ended `ok` or `attention` (the daemon's catch-up asks
/// this of manual `alipay-recon run`s).
pub fn completed(conn: &Connection, command: &str, date: chrono::NaiveDate) -> Result<bool> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT id FROM runs WHERE command = ?1 AND business_date = ?2 AND outcome IN ('ok', 'attention') LIMIT 1",
            params![command, date.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(found.is_some())
}

/// Records how a run ended.
pub fn finish(
    conn: &Connection,
    id: i64,
    outcome: &str,
    exit_code: u8,
    message: Option<&str>,
    report_path: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE runs SET ended_at = ?2, outcome = ?3, exit_code = ?4, message = COALESCE(?5, message), report_path = COALESCE(?6, report_path) WHERE id = ?1",
        params![id, super::now_text(), outcome, exit_code, message, report_path],
    )?;
    Ok(())
}

/// Records what a run that did not fail left undone (e.g. an email waiting in the outbox); kept by
/// [`finish`] unless the run fails with its own message.
pub fn set_message(conn: &Connection, id: i64, message: &str) -> Result<()> {
    conn.execute("UPDATE runs SET message = ?2 WHERE id = ?1", params![id, message])?;
    Ok(())
}

/// Records where a run's report was written.
pub fn set_report_path(conn: &Connection, id: i64, path: &str) -> Result<()> {
    conn.execute("UPDATE runs SET report_path = ?2 WHERE id = ?1", params![id, path])?;
    Ok(())
}

pub fn list(conn: &Connection, limit: usize) -> Result<Vec<RunRecord>> {
    let mut st = conn.prepare(
        "SELECT id, command, args, user_name, host, pid, business_date, started_at, ended_at, outcome, exit_code, message, report_path
         FROM runs ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = st.query_map([limit as i64], |r| {
        Ok(RunRecord {
            id: r.get(0)?,
            command: r.get(1)?,
            args: r.get(2)?,
            user_name: r.get(3)?,
            host: r.get(4)?,
            pid: r.get(5)?,
            business_date: r.get(6)?,
            started_at: r.get(7)?,
            ended_at: r.get(8)?,
            outcome: r.get(9)?,
            exit_code: r.get(10)?,
            message: r.get(11)?,
            report_path: r.get(12)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_finish_and_interrupted() {
        let c = crate::store::open_in_memory().unwrap();
        // A "running" run of a pid that cannot exist is marked interrupted by the next start.
        c.execute(
            "INSERT INTO runs (command, args, user_name, host, pid, started_at) VALUES ('import', '[]', 'u', ?1, 2147483000, 'x')",
            [crate::sys::os::hostname()],
        )
        .unwrap();
        let id = start(&c, "import", &["--date".into(), "2026-11-25".into()], None).unwrap();
        finish(&c, id, "ok", 0, None, None).unwrap();
        let runs = list(&c, 10).unwrap();
        assert_eq!(runs[0].outcome, "ok");
        assert_eq!(runs[1].outcome, "interrupted");
        assert!(runs[1].message.as_deref().unwrap().contains("nothing it did was committed"), "{:?}", runs[1].message);
    }

    #[test]
    fn run_killed_during_reconcile_says_its_files_were_imported() {
        let c = crate::store::open_in_memory().unwrap();
        c.execute(
            "INSERT INTO runs (id, command, args, user_name, host, pid, business_date, started_at) \
             VALUES (7, 'run', '[]', 'u', ?1, 2147483000, '2026-11-25', 'x')",
            [crate::sys::os::hostname()],
        )
        .unwrap();
        c.execute(
            "INSERT INTO files (source, source_path, name, format, kind, business_date, size, sha256, encoding, header, \
             row_count, reject_count, warning_count, version, archive_path, imported_at, run_id) \
             VALUES ('dir:x', '/download/m/20261125/T.csv', 'ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv', 'intl', \
             'transactions', '2026-11-25', 10, 'abc', 'utf-8', '[]', 3, 0, 0, 1, 'a', 'x', 7)",
            [],
        )
        .unwrap();
        start(&c, "status", &[], None).unwrap();
        let runs = list(&c, 10).unwrap();
        let m = runs.iter().find(|r| r.id == 7).unwrap().message.clone().unwrap();
        assert_eq!(runs.iter().find(|r| r.id == 7).unwrap().outcome, "interrupted");
        assert!(!m.contains("its transactions were rolled back"), "{m}");
        assert!(m.contains("imported 1 Alipay file(s) (ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv)"), "{m}");
        assert!(m.contains("NOT done: the reconciliation and report of 2026-11-25"), "{m}");
        assert!(m.contains("alipay-recon run --date 2026-11-25` repairs it"), "{m}");
    }
}
