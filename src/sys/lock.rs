//! Run locks: at most one run per business date at a time (shared by the daemon's children and manual
//! CLI runs), and at most one daemon per database.
//!
//! A lock is a file `<lock dir>/<name>.lock` holding `pid`, `host` and `started_at` of its holder,
//! guarded by an exclusive file lock (std `File::try_lock`: `flock(2)` on Linux). The kernel drops a
//! flock when its holder dies (even by `kill -9`), so a crashed run never blocks the next one; the
//! left-over file is then recognised as stale (its pid is gone) and overwritten. Files are opened
//! close-on-exec, so a child process never inherits a lock.

use crate::sys::exit::Locked;
use anyhow::{Context, Result};
use chrono::NaiveDate;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often a waiting acquirer retries.
const POLL: Duration = Duration::from_millis(100);

/// The lock folder for a configuration: `locks/` beside the database, unless `schedule.lock_dir` is set.
pub fn lock_dir(cfg: &crate::config::Config) -> PathBuf {
    if let Some(d) = &cfg.schedule.lock_dir {
        return cfg.path(d);
    }
    let db = cfg.path(&cfg.store.database);
    db.parent().map(|p| p.join("locks")).unwrap_or_else(|| PathBuf::from("locks"))
}

/// Who holds (or last held) a lock, as written in its file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holder {
    pub pid: i64,
    pub host: String,
    pub started_at: String,
}

impl Holder {
    fn current() -> Holder {
        Holder {
            pid: std::process::id() as i64,
            host: crate::sys::os::hostname(),
            started_at: chrono::Local::now().fixed_offset().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    fn render(&self) -> String {
        format!("pid={}\nhost={}\nstarted_at={}\n", self.pid, self.host, self.started_at)
    }

    /// Reads the `key=value` lines; missing keys stay empty (a file being written right now).
    pub fn parse(text: &str) -> Holder {
        let mut h = Holder::default();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("pid", v)) => h.pid = v.trim().parse().unwrap_or(0),
                Some(("host", v)) => h.host = v.trim().to_string(),
                Some(("started_at", v)) => h.started_at = v.trim().to_string(),
                _ => {}
            }
        }
        h
    }

    /// True when the holder ran on this host and its process no longer exists.
    pub fn is_dead(&self) -> bool {
        self.pid > 0 && self.host == crate::sys::os::hostname() && !crate::sys::os::process_alive(self.pid)
    }
}

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
    /// The previous holder, when the file was left behind by a process that is gone.
    pub stale: Option<Holder>,
}

/// The lock of one business date.
pub type DateLock = RunLock;

impl RunLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Remove the file while still holding the lock: a waiter that opened the old file notices that
        // the path now points elsewhere (inode check in `try_lock`) and retries on a fresh file.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Takes the lock of business date `date` in `dir`. With `wait`, retries for that long; otherwise
/// fails at once. When another live process holds it, the error is [`Locked`] (exit code 4) naming the
/// holder's pid, host and start time.
pub fn acquire(dir: &Path, date: NaiveDate, wait: Option<Duration>) -> Result<DateLock> {
    acquire_named(dir, &date.to_string(), &format!("the run for {date}"), wait)
}

/// The daemon's single-instance lock (`daemon.lock`).
pub fn acquire_daemon(dir: &Path) -> Result<RunLock> {
    acquire_named(dir, "daemon", "the daemon", None)
}

/// Takes `<dir>/<name>.lock`; `what` names the protected thing in messages.
pub fn acquire_named(dir: &Path, name: &str, what: &str, wait: Option<Duration>) -> Result<RunLock> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!("cannot create the lock folder {}: check its permissions or set schedule.lock_dir", dir.display())
    })?;
    let path = dir.join(format!("{name}.lock"));
    let deadline = wait.map(|w| Instant::now() + w);
    loop {
        match try_lock(&path)? {
            Some(lock) => return Ok(lock),
            None => {
                if deadline.is_some_and(|d| Instant::now() < d) {
                    std::thread::sleep(POLL);
                    continue;
                }
                let holder = read_holder(&path);
                let waited = wait.map(|w| format!(" after waiting {}s", w.as_secs())).unwrap_or_default();
                return Err(Locked(format!(
                    "{what} is locked by pid {} on {} since {}{waited} (lock file {}): wait for it to finish, or \
                     stop that process first; the lock frees itself when the process ends",
                    holder.pid,
                    if holder.host.is_empty() { "?" } else { &holder.host },
                    if holder.started_at.is_empty() { "?" } else { &holder.started_at },
                    path.display()
                ))
                .into());
            }
        }
    }
}

/// One attempt: `Ok(None)` when a live process holds the lock.
fn try_lock(path: &Path) -> Result<Option<RunLock>> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open lock file {}: check the folder's permissions", path.display()))?;
    // std's exclusive file lock is `flock(2)` on Linux: released by the kernel when the holder dies, and
    // compatible with util-linux `flock` in operators' scripts.
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(None),
        Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
    // The previous holder may have removed the file between our open and our flock: then we locked an
    // unlinked inode that nobody else will see. Start over on the current file.
    let ours = file.metadata()?.ino();
    match std::fs::metadata(path) {
        Ok(m) if m.ino() == ours => {}
        _ => return try_lock(path),
    }
    let mut old = String::new();
    let _ = file.read_to_string(&mut old);
    let previous = Holder::parse(&old);
    // Lock held by us and the file has content: its writer ended without removing it.
    let stale = (previous.pid > 0).then_some(previous);
    if let Some(s) = &stale {
        tracing::warn!(
            lock = %path.display(), pid = s.pid, host = %s.host, started_at = %s.started_at,
            dead = s.is_dead(), "cleared a stale lock left by a process that ended without releasing it"
        );
    }
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(Holder::current().render().as_bytes())
        .and_then(|_| file.sync_data())
        .with_context(|| format!("cannot write lock file {}", path.display()))?;
    Ok(Some(RunLock { file, path: path.to_path_buf(), stale }))
}

/// The holder named in a lock file (empty fields when unreadable).
pub fn read_holder(path: &Path) -> Holder {
    std::fs::read_to_string(path).map(|t| Holder::parse(&t)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::exit::Locked;
    use std::os::unix::process::CommandExt;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn second_holder_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), d("2026-11-25"), None).unwrap();
        // A second open file description conflicts under flock even in the same process.
        let err = acquire(dir.path(), d("2026-11-25"), None).unwrap_err();
        let locked = err.downcast_ref::<Locked>().expect("a Locked error (exit 4)");
        assert!(locked.0.contains(&format!("pid {}", std::process::id())), "{}", locked.0);
        assert!(locked.0.contains("2026-11-25"), "{}", locked.0);
        // Another date is independent.
        let other = acquire(dir.path(), d("2026-11-24"), None).unwrap();
        drop(first);
        let again = acquire(dir.path(), d("2026-11-25"), None).unwrap();
        assert!(again.stale.is_none(), "a cleanly released lock leaves no stale file");
        drop(other);
    }

    #[test]
    fn waiting_acquirer_gets_the_lock_when_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), d("2026-11-25"), None).unwrap();
        let p = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || acquire(&p, d("2026-11-25"), Some(Duration::from_secs(5))).is_ok());
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
        assert!(waiter.join().unwrap());
        // A short wait on a held lock still fails, and says it waited.
        let _held = acquire(dir.path(), d("2026-11-23"), None).unwrap();
        let err = acquire(dir.path(), d("2026-11-23"), Some(Duration::from_millis(250))).unwrap_err();
        assert!(err.to_string().contains("after waiting"), "{err}");
    }

    #[test]
    fn stale_file_of_a_dead_pid_is_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let host = crate::sys::os::hostname();
        std::fs::write(
            dir.path().join("2026-11-25.lock"),
            format!("pid=2147483000\nhost={host}\nstarted_at=2026-11-26T10:30:00+08:00\n"),
        )
        .unwrap();
        let lock = acquire(dir.path(), d("2026-11-25"), None).unwrap();
        let stale = lock.stale.clone().expect("the dead holder is reported");
        assert_eq!(stale.pid, 2147483000);
        assert!(stale.is_dead());
        let now = read_holder(lock.path());
        assert_eq!(now.pid, std::process::id() as i64);
        drop(lock);
        assert!(!dir.path().join("2026-11-25.lock").exists());
    }

    #[test]
    fn lock_held_by_another_process_is_released_when_it_dies() {
        // A real second process (util-linux `flock`, as an operator's script would use) holds the daemon
        // lock; killing it must free the lock without anyone deleting files.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.lock");
        let mut child = std::process::Command::new("flock")
            .args(["-x", "-o", path.to_str().unwrap(), "sleep", "30"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("util-linux `flock` is needed for this test (apt-get install util-linux)");
        let t0 = Instant::now();
        while !path.exists() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        let err = acquire_daemon(dir.path()).unwrap_err();
        assert!(err.downcast_ref::<Locked>().is_some(), "{err}");
        // Kill the whole group: `flock` and the `sleep` it started (which does not hold the lock: -o).
        crate::sys::os::signal_group(child.id(), libc::SIGKILL);
        child.wait().unwrap();
        let lock = acquire_daemon(dir.path()).expect("the kernel released the dead holder's flock");
        assert!(acquire_daemon(dir.path()).unwrap_err().to_string().contains("the daemon is locked"));
        drop(lock);
    }

    #[test]
    fn holder_parse_tolerates_partial_files() {
        let h = Holder::parse("pid=42\nhost=a");
        assert_eq!(h.pid, 42);
        assert_eq!(h.host, "a");
        assert_eq!(h.started_at, "");
        assert_eq!(Holder::parse("").pid, 0);
    }
}
