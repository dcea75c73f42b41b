//! A day's next file is fetched while the one before it imports, in the listing's order, and nothing
//! stays in the staging folder.

use super::handoff_tests::{date, workspace};
use super::*;
use crate::config::FormatLayout;
use crate::domain::FileFormat;
use crate::source::Listing;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// What happened, in order, on either thread.
#[derive(Default)]
struct Log {
    events: Mutex<Vec<String>>,
    changed: Condvar,
}

impl Log {
    fn push(&self, e: String) {
        self.events.lock().unwrap().push(e);
        self.changed.notify_all();
    }

    /// Waits (at most `limit`) until `e` is logged; false if it never was.
    fn wait_for(&self, e: &str, limit: Duration) -> bool {
        let events = self.events.lock().unwrap();
        let (events, _) = self.changed.wait_timeout_while(events, limit, |ev| !ev.iter().any(|x| x == e)).unwrap();
        events.iter().any(|x| x == e)
    }
}

/// The bundled fixtures' folder source, logging each fetch's start and end; the fetch of `fails`
/// loses its connection.
struct Logged {
    inner: Box<dyn FileSource>,
    log: Arc<Log>,
    fails: Option<String>,
}

impl FileSource for Logged {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list_day(&mut self, date: NaiveDate, layouts: &[(FileFormat, FormatLayout)]) -> Result<Listing> {
        self.inner.list_day(date, layouts)
    }
    fn fetch(&mut self, file: &RemoteFile, dest: &Path) -> Result<()> {
        self.log.push(format!("fetch start {}", file.name));
        if self.fails.as_deref() == Some(file.name.as_str()) {
            self.log.push(format!("fetch end {}", file.name));
            anyhow::bail!("connection reset by peer");
        }
        let r = self.inner.fetch(file, dest);
        self.log.push(format!("fetch end {}", file.name));
        r
    }
}

/// The bundled fixtures' 2026-11-24 in a new workspace, with a logging source and the listed names.
struct Day {
    _dir: tempfile::TempDir,
    ws: Workspace,
    day: NaiveDate,
    after_deadline: DateTime<Utc>,
    log: Arc<Log>,
    source: Logged,
    names: Vec<String>,
}

impl Day {
    fn new() -> Day {
        let (_dir, ws) = workspace();
        let day = date(24);
        let log = Arc::new(Log::default());
        let mut source = Logged { inner: open_source(&ws.cfg).unwrap(), log: log.clone(), fails: None };
        let names: Vec<String> =
            source.list_day(day, &ws.cfg.layouts_in_use()).unwrap().files.iter().map(|f| f.name.to_string()).collect();
        assert!(names.len() >= 4, "{names:?}");
        let after_deadline = deadline(&ws.cfg, day) + chrono::Duration::hours(1);
        Day { _dir, ws, day, after_deadline, log, source, names }
    }
}

fn assert_staging_empty(ws: &Workspace) {
    let staging = ws.archive.root().join("incoming");
    let left: Vec<_> = std::fs::read_dir(&staging).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left in {}: {left:?}", staging.display());
}

/// Before each import, waits until the next file's fetch has started: only a fetch that runs beside
/// the import can start then (one after it would wait here until the limit).
struct WaitsForTheNextFetch {
    log: Arc<Log>,
    names: Vec<String>,
    overlapped: Vec<bool>,
}

impl DayObserver for WaitsForTheNextFetch {
    fn file(&mut self, phase: Phase, done: usize, _total: usize, file: &RemoteFile) {
        if phase == Phase::Import {
            self.log.push(format!("import {}", file.name));
            if let Some(next) = self.names.get(done + 1) {
                self.overlapped.push(self.log.wait_for(&format!("fetch start {next}"), Duration::from_secs(20)));
            }
        }
    }
}

#[test]
fn the_next_file_is_fetched_while_one_imports_in_the_listings_order_and_the_staging_folder_is_left_empty() {
    let Day { _dir, mut ws, day, after_deadline, log, mut source, names } = Day::new();
    let mut obs = WaitsForTheNextFetch { log: log.clone(), names: names.clone(), overlapped: Vec::new() };
    let imported = import_day_with(&mut ws, &mut source, day, after_deadline, None, &mut obs).unwrap();

    assert_eq!(obs.overlapped, vec![true; names.len() - 1], "each next fetch started while a file imported");
    let done: Vec<String> = imported.files.iter().map(|(f, _)| f.name.to_string()).collect();
    assert_eq!(done, names, "imported in the listing's order");
    assert!(imported.files.iter().all(|(_, o)| matches!(o, FileOutcome::Imported { .. })), "{:?}", imported.files);
    // Fetches one after another, each file's fetch ended before its import began.
    let events = log.events.lock().unwrap().clone();
    let at = |e: String| events.iter().position(|x| *x == e).unwrap_or_else(|| panic!("{e} not in {events:?}"));
    for (i, n) in names.iter().enumerate() {
        assert!(at(format!("fetch end {n}")) < at(format!("import {n}")), "{events:?}");
        if let Some(next) = names.get(i + 1) {
            assert!(at(format!("fetch end {n}")) < at(format!("fetch start {next}")), "{events:?}");
        }
    }
    assert_staging_empty(&ws);

    // The same files again: unchanged, none fetched.
    let before = log.events.lock().unwrap().len();
    let again = import_day(&mut ws, &mut source, day, after_deadline, None).unwrap();
    assert!(again.files.iter().all(|(_, o)| matches!(o, FileOutcome::Unchanged { .. })), "{:?}", again.files);
    assert_eq!(log.events.lock().unwrap().len(), before, "nothing fetched");
}

/// At the first file's import: waits until the two after it are fetched (one waiting for the import,
/// one for room), then deletes the first's staged copy, so that its import fails.
struct LosesTheFirstFile {
    log: Arc<Log>,
    staged: std::path::PathBuf,
    until: String,
    waited: Option<bool>,
}

impl DayObserver for LosesTheFirstFile {
    fn file(&mut self, phase: Phase, done: usize, _total: usize, _file: &RemoteFile) {
        if phase == Phase::Import && done == 0 {
            self.waited = Some(self.log.wait_for(&self.until, Duration::from_secs(20)));
            std::fs::remove_file(&self.staged).unwrap();
        }
    }
}

#[test]
fn a_day_stopped_on_a_file_leaves_no_file_fetched_ahead_in_the_staging_folder() {
    let Day { _dir, mut ws, day, after_deadline, log, mut source, names } = Day::new();
    let mut obs = LosesTheFirstFile {
        log: log.clone(),
        staged: ws.archive.root().join("incoming").join(&names[0]),
        until: format!("fetch end {}", names[2]),
        waited: None,
    };
    let err = import_day_with(&mut ws, &mut source, day, after_deadline, None, &mut obs).unwrap_err();
    assert_eq!(obs.waited, Some(true), "the files after the first were fetched ahead");
    assert!(format!("{err:#}").contains(&names[0]), "{err:#}");
    assert_staging_empty(&ws);
    let stored: i64 = ws.conn.query_row("SELECT count(*) FROM files", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 0);
}

#[test]
fn a_day_stopped_by_a_lost_connection_leaves_no_file_fetched_ahead_in_the_staging_folder() {
    let Day { _dir, mut ws, day, after_deadline, log, mut source, names } = Day::new();
    // The second file's fetch loses the connection (not a problem of the file: the day stops).
    source.fails = Some(names[1].clone());
    let err = import_day(&mut ws, &mut source, day, after_deadline, None).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains(&names[1]) && msg.contains("connection reset by peer"), "{msg}");
    assert_staging_empty(&ws);
    // The first file was imported and stays; nothing after the failed one was imported.
    let events = log.events.lock().unwrap().clone();
    assert!(events.contains(&format!("fetch end {}", names[0])), "{events:?}");
    let stored: i64 = ws.conn.query_row("SELECT count(*) FROM files", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 1, "{events:?}");
}
