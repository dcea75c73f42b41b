//! SQLite storage: opening the database (WAL, `synchronous = NORMAL`, foreign keys), the embedded
//! migrations of `sql/`, and the tables' typed access. Nothing outside this module writes SQL for the
//! import tables; other subsystems own their own tables through their own migration files.

/// SQL: a local record's `created_at` column `$col` as its history version writes it — UTC as "Z",
/// where the `local_records` snapshot writes "+00:00" (a version's JSON form of the time). A macro, so
/// that SQL constants can `concat!` it; used where a stored snapshot becomes a version (sql/0009).
macro_rules! history_created_at {
    ($col:literal) => {
        concat!(
            "CASE WHEN ",
            $col,
            " LIKE '%+00:00' THEN substr(",
            $col,
            ", 1, length(",
            $col,
            ") - 6) || 'Z' ELSE ",
            $col,
            " END"
        )
    };
}

pub mod explain;
pub mod files;
pub mod handoff;
pub mod local;
pub mod memory;
mod migrate;
pub mod resolutions;
pub mod results;
pub mod runs;
pub mod sales;
pub mod skipped;
pub mod state;
pub mod window;
pub mod zones;

use anyhow::{Context, Result};
use rusqlite::Connection;
use std::path::Path;

pub use migrate::migrate;

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

/// A second connection to an open database for reading on another thread (no migration: the
/// opener already migrated it).
pub(crate) fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| {
        format!("cannot open SQLite database {} a second time for reading: check its permissions", path.display())
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    rusqlite::vtab::array::load_module(&conn)?;
    Ok(conn)
}

/// An in-memory database with the full schema, for unit tests.
#[cfg(test)]
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
    // A new database gets 8 KiB pages (SQLite's default is 4 KiB): a day's import writes every page
    // twice (WAL, then checkpoint) one system call per page, and with half as many pages a
    // million-payment import took ~20% less time (BENCHMARKS.md). It can only be chosen before the
    // first table exists; an older database keeps its size (docs/operations.md: converting).
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    if pages == 0 {
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // `rarray(?)`: a list of ids as a table, for the active load's probes (`window::active`).
    rusqlite::vtab::array::load_module(conn)?;
    Ok(())
}

/// Returns the connection's page cache to SQLite's default size, freeing what an import grew it to
/// (`files::widen_cache`): the reconciliation that follows needs the memory, not the cached pages.
/// The connection still leaves checkpoints to a [`Checkpointer`]: a commit of the reconciliation (its
/// state, its result) would otherwise copy whatever the background copy had not yet reached.
pub fn shrink_cache(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "cache_size", -2000)?;
    conn.pragma_update(None, "temp_store", "DEFAULT")?;
    conn.execute_batch("PRAGMA shrink_memory")?;
    Ok(())
}

/// The page size of a new database, in bytes.
pub const PAGE_SIZE: i64 = 8192;

/// Copies the WAL's committed pages into the database file on a thread of its own (its own
/// connection; a passive checkpoint never blocks readers or the writer), so the imports' second write
/// of every page overlaps the next file's import and the reconciliation instead of delaying them.
///
/// A passive checkpoint stops at the oldest snapshot still being read (a statement of the run's
/// prefetch thread that began before the last file was committed): the thread tries again every
/// [`CHECKPOINT_RETRY`] until every page is copied, or until [`Checkpointer::wait`] asks it to stop
/// (after one last try). Whatever is left is copied by the next checkpoint or when the last
/// connection closes. A crash or kill meanwhile loses nothing: the WAL stays valid and the next
/// connection checkpoints it. Dropping the checkpointer waits for the running copy.
#[derive(Default)]
pub struct Checkpointer {
    running: Option<Running>,
}

struct Running {
    handle: std::thread::JoinHandle<Result<()>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// How long the checkpoint thread waits before trying again to copy pages a reader held back.
const CHECKPOINT_RETRY: std::time::Duration = std::time::Duration::from_millis(10);

impl Checkpointer {
    /// Starts a checkpoint unless one is still running: that one copies every frame committed before
    /// its last try, these too.
    pub fn start(&mut self, conn: &Connection) {
        if self.running.as_ref().is_some_and(|r| !r.handle.is_finished()) {
            return;
        }
        self.wait();
        self.running = checkpoint_in_background(conn);
    }

    /// Asks the running checkpoint to stop once its current copy is done, and waits for it; a
    /// failure is logged (the next one retries it).
    pub fn wait(&mut self) {
        let Some(running) = self.running.take() else { return };
        running.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let failed = match running.handle.join() {
            Ok(Err(e)) => format!("{e:#}"),
            Err(_) => "the checkpoint thread panicked".to_string(),
            Ok(Ok(())) => return,
        };
        // Nothing is lost: the WAL keeps the pages until a later checkpoint copies them.
        tracing::warn!(error = %failed, "background WAL checkpoint failed; a later one retries it");
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.wait();
    }
}

/// Passive checkpoints of the database behind `conn` on a new thread with its own connection, until
/// the WAL is copied whole or `stop` is set. `None` for an in-memory database.
fn checkpoint_in_background(conn: &Connection) -> Option<Running> {
    let path = conn.path().filter(|p| !p.is_empty())?.to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let asked = stop.clone();
    let handle = std::thread::spawn(move || {
        // The copy only has to be done by the end of the run: it yields the CPU to the import and
        // the engine (nice 19 for this thread alone; Linux schedules threads separately).
        crate::sys::os::lower_thread_priority();
        let c = Connection::open(&path).with_context(|| format!("cannot open {path} to checkpoint it"))?;
        c.busy_timeout(std::time::Duration::from_secs(30))?;
        let t = std::time::Instant::now();
        let mut tries = 0u32;
        loop {
            let last = asked.load(std::sync::atomic::Ordering::Relaxed);
            // (busy, frames in the WAL, frames copied); -1 frames: not in WAL mode.
            let (_, log, done): (i64, i64, i64) = c
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .with_context(|| format!("cannot checkpoint {path}"))?;
            tries += 1;
            if done >= log || last {
                tracing::debug!(log, done, tries, ms = t.elapsed().as_millis() as u64, "WAL checkpointed");
                return Ok(());
            }
            std::thread::sleep(CHECKPOINT_RETRY);
        }
    });
    Some(Running { handle, stop })
}

/// Now, as RFC 3339 UTC text with seconds — the format of every `*_at` column.
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
