//! The database stays readable with the operating system's own SQLite (Debian 12's `sqlite3` CLI and
//! Python's `sqlite3` module are 3.40.1; docs/operations.md promises 3.31+). SQLite parses every view
//! and trigger of the schema when it opens a file, so a single stored statement with newer syntax —
//! sql/0011's `json_group_object(… ORDER BY …)`, SQLite 3.44 — made every table unreadable. sql/0016
//! rewrote those views; this reads a database the product wrote with the OS `sqlite3`.

use crate::harness::Workspace;
use rusqlite::Connection;
use std::path::Path;
use std::process::Command;

/// sql/0011's views, `(name, select)`, as main had them (SQLite 3.44 syntax): a database from
/// before 0016, and the output the views must keep (the bundled SQLite still runs this form).
fn views_0011() -> Vec<(String, String)> {
    let path = crate::harness::repo().join("sql/0011_extra_by_position.sql");
    let text = std::fs::read_to_string(&path).unwrap();
    let views: Vec<(String, String)> = text
        .split("CREATE VIEW ")
        .skip(1)
        .map(|v| {
            let (name, select) = v.split_once(" AS\n").unwrap();
            (name.to_string(), select.trim().trim_end_matches(';').to_string())
        })
        .collect();
    let names: Vec<&str> = views.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["alipay_rows_extra", "summary_rows_extra"], "the views of {}", path.display());
    views
}

/// The first column of every row of `sql`, by the bundled SQLite.
fn strings(c: &Connection, sql: &str) -> Vec<String> {
    c.prepare(sql).unwrap().query_map([], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
}

/// `sqlite3 -readonly -batch <db> <sql>` with the OS CLI: its stdout, or its stderr as the error.
fn os_sqlite3(db: &Path, sql: &str) -> Result<String, String> {
    let out = Command::new("sqlite3").arg("-readonly").arg("-batch").arg(db).arg(sql).output().unwrap_or_else(|e| {
        panic!("cannot run the OS `sqlite3` CLI ({e}): install it with `apt-get install sqlite3` (tests/setup-and-run.sh does)")
    });
    if out.status.success() && out.stderr.is_empty() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stderr).trim(), String::from_utf8_lossy(&out.stdout).trim()))
    }
}

/// Every table and view of the schema (as the bundled SQLite lists it) counts the same rows with the
/// OS CLI, and both `*_extra` views give, row by row, the text 0011's form gives in the bundled SQLite.
fn assert_os_sqlite3_reads_everything(db: &Path, when: &str) {
    let c = Connection::open(db).unwrap();
    let names = strings(&c, "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name");
    assert!(names.iter().any(|n| n == "alipay_rows_extra") && names.iter().any(|n| n == "summary_rows_extra"));
    let version = os_sqlite3(db, "SELECT sqlite_version()").unwrap_or_else(|e| e);
    let mut failures = Vec::new();
    for name in &names {
        let sql = format!("SELECT COUNT(*) FROM \"{name}\"");
        let want: i64 = c.query_row(&sql, [], |r| r.get(0)).unwrap();
        match os_sqlite3(db, &sql) {
            Ok(got) if got.trim() == want.to_string() => {}
            Ok(got) => failures.push(format!("{name}: {} rows, the bundled SQLite counts {want}", got.trim())),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{when}: the OS sqlite3 {} cannot read {} of {} tables and views of {}:\n  {}\n\
         A statement stored in sqlite_master (view, trigger, index, CHECK, generated column) uses syntax \
         newer than SQLite 3.31: rewrite it in a new sql/ migration (see sql/0016_views_for_older_sqlite.sql).",
        version.trim(),
        failures.len(),
        names.len(),
        db.display(),
        failures.join("\n  ")
    );

    for (view, select_0011) in views_0011() {
        let sql = format!("SELECT id || ' ' || extra FROM {view} ORDER BY id");
        let got = os_sqlite3(db, &sql).unwrap();
        let old = format!("WITH {view} AS ({select_0011}) {sql}");
        let want = strings(&c, &old);
        let got: Vec<&str> = got.lines().collect();
        assert!(!want.is_empty(), "{view} has rows in the demo database");
        assert_eq!(
            got, want,
            "{when}: {view} read by the OS sqlite3 differs from sql/0011's form (the bundled SQLite)"
        );
    }
}

/// A database `demo` writes, and one from before sql/0016 (main's 0011 views) that the product then
/// opens once: the OS sqlite3 reads every table and view of both, and the views give the same text.
/// One file's columns are stored in reverse name order first, so the views must sort the keys.
#[test]
fn the_os_sqlite3_reads_every_table_and_view_of_the_database() {
    let w = Workspace::new();
    w.run(&["demo"]).expect_code(1);
    let db = w.file("alipay-recon-demo/alipay-recon.db");
    let c = Connection::open(&db).unwrap();
    // The demo's files list their extra columns in name order: reverse those of one file (positions
    // and every row's values), as an Alipay file whose header is not sorted by name stores them.
    let (file, columns): (i64, String) = c
        .query_row(
            "SELECT id, extra_columns FROM files WHERE kind = 'transactions' AND json_array_length(extra_columns) >= 3
             ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut columns: Vec<String> = serde_json::from_str(&columns).unwrap();
    let rows: Vec<(i64, String)> = c
        .prepare("SELECT id, extra FROM alipay_rows WHERE file_id = ?1 AND extra IS NOT NULL")
        .unwrap()
        .query_map([file], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(!rows.is_empty());
    for (id, extra) in rows {
        let mut values: Vec<Option<String>> = serde_json::from_str(&extra).unwrap();
        values.resize(columns.len(), None);
        values.reverse();
        c.execute("UPDATE alipay_rows SET extra = ?1 WHERE id = ?2", (serde_json::to_string(&values).unwrap(), id))
            .unwrap();
    }
    columns.reverse();
    c.execute("UPDATE files SET extra_columns = ?1 WHERE id = ?2", (serde_json::to_string(&columns).unwrap(), file))
        .unwrap();

    assert_os_sqlite3_reads_everything(&db, "a new database");

    // Back to main's schema before sql/0016: the OS sqlite3 cannot even count the files.
    for (view, select_0011) in views_0011() {
        c.execute_batch(&format!("DROP VIEW {view}; CREATE VIEW {view} AS {select_0011};")).unwrap();
    }
    c.execute("DELETE FROM schema_migrations WHERE name = '0016_views_for_older_sqlite'", []).unwrap();
    drop(c);
    let err = os_sqlite3(&db, "SELECT COUNT(*) FROM files").unwrap_err();
    assert!(err.contains("malformed database schema (alipay_rows_extra)"), "{err}");
    // The product's next open migrates it in place.
    w.run(&["-c", "alipay-recon-demo/alipay-recon.toml", "runs"]).expect_code(0);
    assert_os_sqlite3_reads_everything(&db, "a database from before sql/0016, opened once by `runs`");
}
