//! Downloading one remote file safely: bytes go to `<dest>.part` (with a `<dest>.part.src` note saying
//! which remote size and mtime they belong to), are fsynced, size-checked and renamed over `dest`. A
//! `.part` whose note matches the remote file — left by a dropped connection or a killed process — is
//! resumed from its length; any other `.part` is discarded and the file fetched from the start.

use super::session::{Connection, SftpError, SftpSettings};
use crate::source::RemoteFile;
use crate::sys::os::part_path;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Bytes requested per read. libssh2 keeps up to 4× this (at most 8 MiB) of SFTP read requests in
/// flight, so 2 MiB gives it the full pipeline over high-latency links.
const CHUNK: usize = 2 << 20;

/// What the `.part` belongs to; resuming a `.part` of another version of the file would corrupt it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartNote {
    pub remote_path: String,
    pub size: u64,
    pub mtime: Option<i64>,
}

/// `<dest>.part.src`.
pub fn note_path(dest: &Path) -> PathBuf {
    let mut s = part_path(dest).into_os_string();
    s.push(".src");
    PathBuf::from(s)
}

fn local_err(what: &str, p: &Path, e: impl std::fmt::Display) -> SftpError {
    SftpError::Local(format!("cannot {what} {}: {e}: check free space and permissions of that folder", p.display()))
}

/// Where to start writing: the length of a matching `.part`, else 0 (after removing a stale one).
pub fn resume_offset(dest: &Path, want: &PartNote) -> Result<u64, SftpError> {
    let part = part_path(dest);
    let note = note_path(dest);
    let have: Option<PartNote> = fs::read(&note).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let len = fs::metadata(&part).map(|m| m.len()).ok();
    if let (Some(have), Some(len)) = (have, len) {
        if &have == want && len <= want.size {
            return Ok(len);
        }
        tracing::info!(part = %part.display(), "discarding a partial download of another version of the file");
    }
    for p in [&part, &note] {
        match fs::remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(local_err("remove", p, e)),
        }
    }
    let bytes = serde_json::to_vec(want).expect("note serializes");
    let mut f = File::create(&note).map_err(|e| local_err("create", &note, e))?;
    f.write_all(&bytes).and_then(|_| f.sync_all()).map_err(|e| local_err("write", &note, e))?;
    Ok(0)
}

/// One attempt at fetching `file` into `dest` over `conn`; resumes a matching `.part`.
/// Returns the number of bytes transferred in this attempt.
pub fn fetch_once(
    s: &SftpSettings,
    conn: &mut Connection,
    file: &RemoteFile,
    dest: &Path,
    progress: &mut Progress,
) -> Result<u64, SftpError> {
    let rpath = Path::new(&file.remote_path);
    let remote = |op: &'static str, e: ssh2::Error| SftpError::from_ssh2(s, op, &file.remote_path, &e);
    let st = conn.sftp.stat(rpath).map_err(|e| remote("stat", e))?;
    let (size, mtime) = (st.size.unwrap_or(0), st.mtime.map(|m| m as i64));
    if size != file.size || (file.mtime.is_some() && mtime != file.mtime) {
        return Err(SftpError::Remote {
            host: s.host.clone(),
            port: s.port,
            op: "download",
            path: file.remote_path.clone(),
            detail: format!(
                "it changed since it was listed ({} bytes then, {size} now): it is probably still being \
                 written; run again later",
                file.size
            ),
            retry: false,
        });
    }
    let want = PartNote { remote_path: file.remote_path.clone(), size, mtime: file.mtime };
    let offset = resume_offset(dest, &want)?;
    let part = part_path(dest);
    let mut out = OpenOptions::new().create(true).append(true).open(&part).map_err(|e| local_err("open", &part, e))?;
    progress.begin(offset);
    let mut done = offset;
    if offset < size {
        if offset > 0 {
            tracing::info!(file = %file.name, offset, size, "resuming a partial download");
        }
        let mut rf = conn.sftp.open(rpath).map_err(|e| remote("open", e))?;
        rf.seek(SeekFrom::Start(offset)).map_err(|e| lost(s, "seek", file, offset, e))?;
        let mut buf = vec![0u8; CHUNK];
        while done < size {
            let want_now = CHUNK.min((size - done) as usize);
            let n = rf.read(&mut buf[..want_now]).map_err(|e| lost(s, "read", file, done, e))?;
            if n == 0 {
                return Err(SftpError::Remote {
                    host: s.host.clone(),
                    port: s.port,
                    op: "read",
                    path: file.remote_path.clone(),
                    detail: format!("the file ended at {done} of {size} bytes (it shrank?): run again later"),
                    retry: false,
                });
            }
            out.write_all(&buf[..n]).map_err(|e| local_err("write", &part, e))?;
            done += n as u64;
            progress.advance(done);
        }
    }
    out.sync_all().map_err(|e| local_err("fsync", &part, e))?;
    drop(out);
    let got = fs::metadata(&part).map_err(|e| local_err("stat", &part, e))?.len();
    if got != size {
        // A longer .part can only come from outside interference: start over next attempt.
        let _ = fs::remove_file(&part);
        return Err(SftpError::Remote {
            host: s.host.clone(),
            port: s.port,
            op: "download",
            path: file.remote_path.clone(),
            detail: format!("got {got} bytes, expected {size}"),
            retry: true,
        });
    }
    fs::rename(&part, dest).map_err(|e| local_err("rename into place", dest, e))?;
    if let Some(dir) = dest.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    let _ = fs::remove_file(note_path(dest));
    Ok(done - offset)
}

/// The connection broke mid-file: worth a retry, which resumes from the `.part`.
fn lost(s: &SftpSettings, op: &'static str, file: &RemoteFile, at: u64, e: std::io::Error) -> SftpError {
    let detail = format!("connection lost at byte {at} of {}: {e}: check the network and run again", file.size);
    SftpError::remote(s, op, &file.remote_path, detail, true)
}

/// The process's progress bars (drawn on stderr when it is a terminal, hidden otherwise). Bars
/// added here stack instead of overwriting each other, e.g. the CLI's file counter and a download.
pub fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(|| {
        let target =
            if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        MultiProgress::with_draw_target(target)
    })
}

/// Bytes and rate: a progress bar on a terminal, log lines otherwise.
pub struct Progress {
    name: String,
    total: u64,
    bar: Option<ProgressBar>,
    start: Instant,
    first: u64,
    last_log: Instant,
}

impl Progress {
    pub fn new(name: &str, total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = bars().add(ProgressBar::new(total));
            b.set_style(
                ProgressStyle::with_template("{msg:30!} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            b.set_message(name.to_string());
            b
        });
        Progress { name: name.to_string(), total, bar, start: Instant::now(), first: 0, last_log: Instant::now() }
    }

    fn begin(&mut self, offset: u64) {
        self.start = Instant::now();
        self.first = offset;
        if let Some(b) = &self.bar {
            b.set_position(offset);
        }
    }

    fn advance(&mut self, done: u64) {
        match &self.bar {
            Some(b) => b.set_position(done),
            None if self.last_log.elapsed() >= Duration::from_secs(10) => {
                self.last_log = Instant::now();
                tracing::info!(file = %self.name, bytes = done, total = self.total, rate_mb_s = self.rate(done), "downloading");
            }
            None => {}
        }
    }

    fn rate(&self, done: u64) -> f64 {
        let secs = self.start.elapsed().as_secs_f64().max(1e-6);
        ((done - self.first) as f64 / secs / 1e6 * 10.0).round() / 10.0
    }

    /// Final line: bytes and rate of the attempt that finished.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        tracing::info!(
            file = %self.name,
            bytes = self.total,
            resumed_from = self.first,
            rate_mb_s = self.rate(self.total),
            "downloaded"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_is_resumed_only_for_the_same_remote_version() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("f.csv");
        let note = PartNote { remote_path: "/download/f.csv".into(), size: 10, mtime: Some(5) };
        assert_eq!(resume_offset(&dest, &note).unwrap(), 0);
        fs::write(part_path(&dest), b"abcd").unwrap();
        assert_eq!(resume_offset(&dest, &note).unwrap(), 4, "same version: resume");
        let changed = PartNote { mtime: Some(6), ..note.clone() };
        assert_eq!(resume_offset(&dest, &changed).unwrap(), 0, "other version: restart");
        assert!(!part_path(&dest).exists());
        fs::write(part_path(&dest), b"0123456789abc").unwrap();
        assert_eq!(resume_offset(&dest, &changed).unwrap(), 0, "longer than the file: restart");
        fs::remove_file(note_path(&dest)).unwrap();
        fs::write(part_path(&dest), b"ab").unwrap();
        assert_eq!(resume_offset(&dest, &changed).unwrap(), 0, "no note: unknown origin, restart");
    }
}
