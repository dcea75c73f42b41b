//! Plain-SQL migrations from `sql/`, embedded at build time, applied in name order, each in its own
//! transaction and recorded in `schema_migrations`.

use anyhow::{Context, Result};
use rusqlite::Connection;

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

pub fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)",
    )?;
    for (name, sql) in MIGRATIONS {
        let done: bool =
            conn.query_row("SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE name = ?1)", [name], |r| r.get(0))?;
        if done {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql).with_context(|| format!("migration sql/{name}.sql failed"))?;
        tx.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES (?1, ?2)",
            rusqlite::params![name, super::now_text()],
        )?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_apply_twice_without_change() {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        super::migrate(&mut c).unwrap();
        super::migrate(&mut c).unwrap();
        let n: i64 = c.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(n as usize, super::MIGRATIONS.len());
    }
}
