//! The run history: every command that changes data is recorded with who, where, when, the
//! arguments and the outcome (contracts.md §4). A run left `running` by a killed process is marked
//! `interrupted` by the next one.

use anyhow::Result;
use rusqlite::{params, Connection};

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
    let host = hostname();
    let stale: Vec<(i64, i64)> = {
        let mut st = conn.prepare("SELECT id, pid FROM runs WHERE outcome = 'running' AND host = ?1")?;
        let rows = st.query_map([&host], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, pid) in stale {
        if !process_alive(pid) {
            conn.execute(
                "UPDATE runs SET outcome = 'interrupted', ended_at = ?2, message = 'the process ended without recording an outcome (killed or crashed); its transactions were rolled back' WHERE id = ?1",
                params![id, super::now_text()],
            )?;
        }
    }
    conn.execute(
        "INSERT INTO runs (command, args, user_name, host, pid, business_date, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            command,
            serde_json::to_string(args)?,
            user_name(),
            host,
            std::process::id(),
            business_date.map(|d| d.to_string()),
            super::now_text()
        ],
    )?;
    Ok(conn.last_insert_rowid())
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

pub fn user_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid{}", unsafe { libc::getuid() }))
}

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return "unknown-host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Whether a process with this pid exists on this host.
pub fn process_alive(pid: i64) -> bool {
    if pid <= 0 || pid > i32::MAX as i64 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
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
            [hostname()],
        )
        .unwrap();
        let id = start(&c, "import", &["--date".into(), "2026-11-25".into()], None).unwrap();
        finish(&c, id, "ok", 0, None, None).unwrap();
        let runs = list(&c, 10).unwrap();
        assert_eq!(runs[0].outcome, "ok");
        assert_eq!(runs[1].outcome, "interrupted");
    }
}
