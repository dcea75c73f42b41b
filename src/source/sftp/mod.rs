//! The [`FileSource`] over Alipay's SFTP server (ssh2/libssh2): lists the day's directories, keeps
//! only names that match the format's patterns and pass [`SafeName`], skips files still being written,
//! and downloads with resume and retries ([`download`]). Connection steps and their errors live in
//! [`session`]. ssh2 is blocking: call this from a plain thread or tokio's `spawn_blocking`.

pub mod download;
pub mod session;

use super::{DayLayout, ExpectedDir, FileSource, Listing, RemoteFile, SafeName};
use crate::config::{Config, FormatLayout};
use crate::domain::FileFormat;
use anyhow::Result;
use chrono::NaiveDate;
use download::Progress;
pub use session::{Connection, SeenKey, SftpError, SftpSettings};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub struct SftpSource {
    settings: SftpSettings,
    merchant_id: String,
    conn: Option<Connection>,
}

/// One directory entry as the server sent it.
#[derive(Debug, Clone)]
pub struct RawEntry {
    pub name: Vec<u8>,
    pub size: u64,
    pub mtime: Option<i64>,
    pub is_file: bool,
}

/// What becomes of one directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    File(RemoteFile),
    /// Matches a pattern but was modified too recently: fetch it on a later run.
    Unstable(String, String),
    Refused(String, String),
    /// Matches a pattern but is not a regular file (a folder, a broken link).
    NotFile(String, String),
    Ignored,
}

impl SftpSource {
    pub fn new(settings: SftpSettings, merchant_id: &str) -> SftpSource {
        SftpSource { settings, merchant_id: merchant_id.to_string(), conn: None }
    }

    /// Over a connection already open (`doctor` lists with the one it checked).
    pub fn with_connection(settings: SftpSettings, merchant_id: &str, conn: Connection) -> SftpSource {
        SftpSource { settings, merchant_id: merchant_id.to_string(), conn: Some(conn) }
    }

    /// The active environment's SFTP server (secrets resolved now, so a missing one fails early).
    pub fn from_config(cfg: &Config) -> Result<SftpSource> {
        Ok(SftpSource::new(SftpSettings::from_config(cfg)?, &cfg.active().merchant_id))
    }

    pub fn settings(&self) -> &SftpSettings {
        &self.settings
    }

    fn conn(&mut self) -> Result<&mut Connection, SftpError> {
        if self.conn.is_none() {
            self.conn = Some(session::connect(&self.settings)?);
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    /// Runs `op`, reconnecting with exponential backoff while it fails with network trouble.
    fn with_retry<T>(&mut self, what: &str, op: impl FnMut(&mut Self) -> Result<T, SftpError>) -> Result<T, SftpError> {
        let backoff = crate::sys::retry::Backoff::new(self.settings.retry_backoff);
        let (r, tries) = crate::sys::retry::retry(self, backoff, op, |s, e, failures, wait| {
            let limit = e.retry_limit(s.settings.retries);
            if !e.retryable() || failures > limit {
                return false;
            }
            // The session may be half-dead: never reuse it after a network error.
            s.conn = None;
            tracing::warn!(%what, error = %e, attempt = failures, of = limit, wait_ms = wait.as_millis() as u64, "retrying");
            true
        });
        match r {
            Err(e) if e.retryable() && tries > 1 => Err(e.after_retries(tries - 1)),
            r => r,
        }
    }

    /// Lists one directory; `None` when it does not exist (yet).
    pub fn read_dir(&mut self, path: &str) -> Result<Option<Vec<RawEntry>>, SftpError> {
        let s = self.settings.clone();
        read_dir(&s, self.conn()?, path)
    }
}

/// Lists one directory over `conn`, names as raw bytes; `None` when it does not exist (yet).
pub fn read_dir(s: &SftpSettings, conn: &Connection, path: &str) -> Result<Option<Vec<RawEntry>>, SftpError> {
    let mut dir = match conn.sftp.opendir(Path::new(path)) {
        Ok(d) => d,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(SftpError::from_ssh2(s, "list", path, &e)),
    };
    let mut out = Vec::new();
    loop {
        match dir.readdir() {
            Ok((name, st)) => {
                let name = std::os::unix::ffi::OsStrExt::as_bytes(name.as_os_str()).to_vec();
                if name == b"." || name == b".." {
                    continue;
                }
                let mut entry = RawEntry {
                    is_file: st.is_file(),
                    size: st.size.unwrap_or(0),
                    mtime: st.mtime.map(|m| m as i64),
                    name,
                };
                if st.file_type().is_symlink() {
                    // Follow links (only a name that passes SafeName is ever joined to the path).
                    if let Ok(n) = std::str::from_utf8(&entry.name) {
                        if SafeName::parse(n).is_ok() {
                            let full = format!("{}/{}", path.trim_end_matches('/'), n);
                            if let Ok(t) = conn.sftp.stat(Path::new(&full)) {
                                entry.is_file = t.is_file();
                                entry.size = t.size.unwrap_or(0);
                                entry.mtime = t.mtime.map(|m| m as i64);
                            }
                        }
                    }
                }
                out.push(entry);
            }
            Err(e) if e.code() == ssh2::ErrorCode::Session(LIBSSH2_ERROR_FILE) => break,
            Err(e) => return Err(SftpError::from_ssh2(s, "list", path, &e)),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Some(out))
}

// libssh2 codes (libssh2.h, libssh2_sftp.h); ssh2 does not re-export libssh2-sys.
/// End of a directory listing.
const LIBSSH2_ERROR_FILE: i32 = -16;
const LIBSSH2_FX_NO_SUCH_FILE: i32 = 2;
const LIBSSH2_FX_NO_SUCH_PATH: i32 = 10;

fn is_missing(e: &ssh2::Error) -> bool {
    matches!(e.code(), ssh2::ErrorCode::SFTP(LIBSSH2_FX_NO_SUCH_FILE) | ssh2::ErrorCode::SFTP(LIBSSH2_FX_NO_SUCH_PATH))
}

/// Decides what one listed entry is. Every name that matches a pattern must pass [`SafeName`] before
/// it can become a local path; a name with a path separator is refused even if it matches nothing
/// (a real server never sends one).
pub fn classify_entry(dir: &ExpectedDir, e: &RawEntry, date: NaiveDate, now: i64, stable: Duration) -> EntryOutcome {
    let shown = String::from_utf8_lossy(&e.name).into_owned();
    let matched = DayLayout::classify(dir, &shown, date);
    let refuse = |reason: String| EntryOutcome::Refused(shown.clone(), reason);
    if e.name.contains(&b'/') {
        return refuse(format!("remote file name {shown:?} refused: it contains a path separator"));
    }
    let Some((kind, fdate, ccy)) = matched else { return EntryOutcome::Ignored };
    let Ok(name) = std::str::from_utf8(&e.name) else {
        return refuse(format!("remote file name {shown:?} refused: it is not valid UTF-8"));
    };
    let safe = match SafeName::parse(name) {
        Ok(s) => s,
        Err(err) => return refuse(err.to_string()),
    };
    if !e.is_file {
        return EntryOutcome::NotFile(name.to_string(), super::NOT_A_FILE.to_string());
    }
    if let Some(m) = e.mtime {
        let age = now - m;
        if age < stable.as_secs() as i64 {
            return EntryOutcome::Unstable(
                name.to_string(),
                format!(
                    "modified {age} s ago (less than {} min): still being written? fetched on a later run",
                    stable.as_secs() / 60
                ),
            );
        }
    }
    EntryOutcome::File(RemoteFile {
        format: dir.format,
        kind,
        remote_path: format!("{}/{}", dir.path.trim_end_matches('/'), name),
        name: safe,
        size: e.size,
        mtime: e.mtime,
        date: fdate,
        currency: ccy,
    })
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl FileSource for SftpSource {
    fn describe(&self) -> String {
        self.settings.describe()
    }

    fn list_day(&mut self, date: NaiveDate, layouts: &[(FileFormat, FormatLayout)]) -> Result<Listing> {
        let layout = DayLayout::new(&self.merchant_id, layouts)?;
        let mut listing = Listing::default();
        let now = unix_now();
        for dir in layout.dirs_for(date) {
            let path = dir.path.clone();
            let entries = self.with_retry(&format!("listing {path}"), |me| me.read_dir(&path))?;
            let Some(entries) = entries else {
                listing.missing_dirs.push(dir.path.clone());
                continue;
            };
            for e in &entries {
                match classify_entry(&dir, e, date, now, self.settings.stable) {
                    EntryOutcome::File(f) => listing.files.push(f),
                    EntryOutcome::Unstable(n, why) => listing.unstable.push((n, why)),
                    EntryOutcome::Refused(n, why) => {
                        tracing::warn!(dir = %dir.path, reason = %why, "remote file name refused");
                        listing.refused.push((n, why));
                    }
                    EntryOutcome::NotFile(n, why) => listing.not_files.push((n, why)),
                    EntryOutcome::Ignored => {}
                }
            }
        }
        Ok(listing)
    }

    fn fetch(&mut self, file: &RemoteFile, dest: &Path) -> Result<()> {
        let mut progress = Progress::new(file.name.as_str(), file.size);
        let s = self.settings.clone();
        self.with_retry(&format!("downloading {}", file.remote_path), |me| {
            let conn = me.conn()?;
            download::fetch_once(&s, conn, file, dest, &mut progress)
        })?;
        progress.finish();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
