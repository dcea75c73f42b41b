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

/// The bundled fixtures' folder source, logging each fetch's start and end.
struct Logged {
    inner: Box<dyn FileSource>,
    log: Arc<Log>,
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
        let r = self.inner.fetch(file, dest);
        self.log.push(format!("fetch end {}", file.name));
        r
    }
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
    let (_dir, mut ws) = workspace();
    let day = date(24);
    let log = Arc::new(Log::default());
    let mut source = Logged { inner: open_source(&ws.cfg).unwrap(), log: log.clone() };
    let names: Vec<String> =
        source.list_day(day, &ws.cfg.layouts_in_use()).unwrap().files.iter().map(|f| f.name.to_string()).collect();
    assert!(names.len() >= 3, "{names:?}");
    let mut obs = WaitsForTheNextFetch { log: log.clone(), names: names.clone(), overlapped: Vec::new() };
    let after_deadline = deadline(&ws.cfg, day) + chrono::Duration::hours(1);
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
    let staging = ws.archive.root().join("incoming");
    let left: Vec<_> = std::fs::read_dir(&staging).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left in {}: {left:?}", staging.display());

    // The same files again: unchanged, none fetched.
    let before = log.events.lock().unwrap().len();
    let again = import_day(&mut ws, &mut source, day, after_deadline, None).unwrap();
    assert!(again.files.iter().all(|(_, o)| matches!(o, FileOutcome::Unchanged { .. })), "{:?}", again.files);
    assert_eq!(log.events.lock().unwrap().len(), before, "nothing fetched");
}
