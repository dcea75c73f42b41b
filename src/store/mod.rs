//! SQLite storage: opening the database (WAL, `synchronous = NORMAL`, foreign keys), the embedded
//! migrations of `sql/`, and the tables' typed access. Nothing outside this module writes SQL for the
//! import tables; other subsystems own their own tables through their own migration files.

pub mod explain;
pub mod files;
mod migrate;
pub mod results;
pub mod runs;
pub mod sales;
pub mod window;

use anyhow::{Context, Result};
use rusqlite::Connection;
use std::path::Path;

pub use migrate::{migrate, MIGRATIONS};

/// Opens (creating if needed) the database at `path` and applies pending migrations.
pub fn open(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).with_context(|| {
                format!(
                    "cannot create the database folder {}: check `store.database` and that this user may write there",
                    dir.display()
                )
            })?;
        }
    }
    let mut conn = Connection::open(path).with_context(|| {
        format!(
            "cannot open SQLite database {}: check `store.database`, its permissions and free disk space",
            path.display()
        )
    })?;
    configure(&conn).with_context(|| format!("cannot configure SQLite database {}", path.display()))?;
    migrate(&mut conn).with_context(|| format!("cannot migrate SQLite database {}: restore it from a backup if it is damaged, or check that no newer alipay-recon wrote it", path.display()))?;
    Ok(conn)
}

/// An in-memory database with the full schema, for unit tests.
pub fn open_in_memory() -> Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    // WAL + NORMAL: a crash or kill -9 never loses a committed transaction's consistency; an OS crash
    // may lose the last commits, which the next run re-imports (imports are idempotent).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Returns the connection's page cache to SQLite's default size, freeing what an import grew it to
/// (`files::widen_cache`): the reconciliation that follows needs the memory, not the cached pages.
pub fn shrink_cache(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "cache_size", -2000)?;
    conn.pragma_update(None, "temp_store", "DEFAULT")?;
    conn.execute_batch("PRAGMA shrink_memory")?;
    Ok(())
}

/// Now, as RFC 3339 UTC text with seconds — the format of every `*_at` column.
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
