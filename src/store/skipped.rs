//! Files of a day's layout that were seen but not read (sql/0012): what makes a day incomplete
//! (contracts.md §2) beyond a missing or truncated transaction file. A run records each file it
//! skipped, and deletes the record when the same name of the same day is imported (or found unchanged).

use crate::domain::rows::{FileIn, Input, IssueIn};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};

/// One skipped file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    pub business_date: NaiveDate,
    pub name: String,
    pub remote_path: String,
    pub reason: String,
    pub first_seen: String,
    pub last_seen: String,
}

/// Records (or refreshes) a skipped file of `date`.
pub fn record(
    conn: &Connection,
    date: NaiveDate,
    name: &str,
    remote_path: &str,
    reason: &str,
    run_id: Option<i64>,
) -> Result<()> {
    let now = super::now_text();
    // A new skipped file, or a new reason, changes the answer of its day and of later days.
    let stored: Option<String> = conn
        .query_row(
            "SELECT reason FROM skipped_files WHERE business_date = ?1 AND name = ?2",
            params![date.to_string(), name],
            |r| r.get(0),
        )
        .optional()?;
    if stored.as_deref() != Some(reason) {
        super::state::invalidate_from(conn, date)?;
    }
    conn.execute(
        "INSERT INTO skipped_files (business_date, name, remote_path, reason, first_seen, last_seen, run_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
         ON CONFLICT (business_date, name) DO UPDATE SET
             remote_path = excluded.remote_path, reason = excluded.reason, last_seen = excluded.last_seen,
             run_id = excluded.run_id",
        params![date.to_string(), name, remote_path, reason, now, run_id],
    )
    .with_context(|| format!("cannot record the skipped file {name} of {date}"))?;
    Ok(())
}

/// The file `name` of `date` was read: it no longer makes the day incomplete.
pub fn clear(conn: &Connection, date: NaiveDate, name: &str) -> Result<()> {
    let n = conn
        .execute("DELETE FROM skipped_files WHERE business_date = ?1 AND name = ?2", params![date.to_string(), name])
        .with_context(|| format!("cannot clear the skipped file {name} of {date}"))?;
    if n > 0 {
        super::state::invalidate_from(conn, date)?;
    }
    Ok(())
}

/// The skipped files of the dates `from..=to`, by date and name.
pub fn list(conn: &Connection, from: NaiveDate, to: NaiveDate) -> Result<Vec<SkippedFile>> {
    let mut st = conn.prepare(
        "SELECT business_date, name, remote_path, reason, first_seen, last_seen FROM skipped_files
         WHERE business_date BETWEEN ?1 AND ?2 ORDER BY business_date, name",
    )?;
    let rows = st
        .query_map(params![from.to_string(), to.to_string()], |r| {
            let d: String = r.get(0)?;
            Ok(SkippedFile {
                business_date: d.parse().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
                })?,
                name: r.get(1)?,
                remote_path: r.get(2)?,
                reason: r.get(3)?,
                first_seen: r.get(4)?,
                last_seen: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()
        .context("cannot read the skipped files")?;
    Ok(rows)
}

/// Adds the window's skipped files to a reconciliation input as incomplete transaction files (ids
/// below zero, no rows), each with one `SKIPPED` issue naming it and why: the day is not complete
/// (its unexplained local items stay pending) and its report has one FILE_INTEGRITY row per file.
pub fn add_to_input(conn: &Connection, from: NaiveDate, to: NaiveDate, input: &mut Input) -> Result<()> {
    for (i, s) in list(conn, from, to)?.into_iter().enumerate() {
        let id = -(i as i64) - 1;
        input.files.push(FileIn {
            id,
            name: s.name.escape_debug().to_string(),
            // The layout's format is not known for a refused name; it is only used for settlement rows.
            format: crate::domain::FileFormat::Intl,
            kind: crate::domain::FileKind::Transactions,
            date: s.business_date,
            truncated: true,
            declared_count: None,
            row_count: 0,
        });
        input.issues.push(IssueIn {
            file_id: id,
            line: None,
            severity: "warning".into(),
            code: "SKIPPED".into(),
            field: None,
            message: format!(
                "{} was not read ({}; first seen {})",
                s.remote_path.escape_debug(),
                s.reason,
                s.first_seen
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_files_are_kept_until_imported() {
        let c = crate::store::open_in_memory().unwrap();
        let d: NaiveDate = "2026-11-25".parse().unwrap();
        record(&c, d, "A.csv", "/x/A.csv", "still being written", Some(1)).unwrap();
        record(&c, d, "A.csv", "/x/A.csv", "still being written (again)", Some(2)).unwrap();
        record(&c, d, "B.csv", "/x/B.csv", "refused name", None).unwrap();
        let l = list(&c, d, d).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].reason, "still being written (again)");
        let mut input = crate::reconcile::Input::default();
        add_to_input(&c, d, d, &mut input).unwrap();
        assert_eq!(input.files.len(), 2);
        assert!(input.files.iter().all(|f| f.truncated && f.id < 0));
        assert_eq!(input.issues[1].code, "SKIPPED");
        clear(&c, d, "A.csv").unwrap();
        assert_eq!(list(&c, d, d).unwrap().len(), 1);
    }
}
