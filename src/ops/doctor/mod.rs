//! `doctor`: a checklist that says, step by step, whether a daily run can work — configuration, DNS,
//! TCP (with the whitelisting hint), the server's host key (fingerprint and the line to pin it),
//! authentication, yesterday's remote directories, and writable archive, database and report folders;
//! then email (SMTP login) and the payment module: its RSA keys and one signed call to its API ([`checks`]).
//! Each check after a failed one that it depends on is skipped, not failed twice.

use crate::config::{Config, SourceKind};
use crate::source::sftp::{self, session, SftpSettings};
use crate::source::DayLayout;
use chrono::NaiveDate;
use std::fmt;
use std::path::Path;
use std::time::Instant;

pub mod checks;
pub mod placeholders;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Not a failure, but worth reading (e.g. yesterday's folder is not there yet).
    Warn,
    Fail,
    /// Not run because a check it needs failed.
    Skipped,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    fn push(&mut self, name: &'static str, status: Status, detail: impl Into<String>) -> bool {
        self.checks.push(Check { name, status, detail: detail.into() });
        status != Status::Fail
    }

    fn skip(&mut self, names: &[&'static str], why: &str) {
        for n in names {
            self.push(n, Status::Skipped, format!("not checked: {why} failed"));
        }
    }

    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| c.status == Status::Fail).count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            let tag = match c.status {
                Status::Ok => "[ OK ]",
                Status::Warn => "[WARN]",
                Status::Fail => "[FAIL]",
                Status::Skipped => "[SKIP]",
            };
            writeln!(f, "{tag} {}: {}", c.name, c.detail)?;
        }
        Ok(())
    }
}

const SFTP_STEPS: [&str; 5] = ["DNS", "TCP connect", "host key", "authentication", "remote directories"];

/// Runs every check for the active environment; `day` is the business date whose folders to look
/// for (normally yesterday in the business zone).
pub fn run(cfg: &Config, day: NaiveDate) -> Report {
    let mut r = Report::default();
    r.push("config", Status::Ok, format!("{} (environment '{}')", cfg.origin, cfg.environment));
    placeholders::placeholders(cfg, &mut r);
    match cfg.source.kind {
        SourceKind::Sftp => sftp_checks(cfg, day, &mut r),
        SourceKind::Dir => {
            let dir = cfg.path(cfg.source.dir.as_deref().unwrap_or(Path::new(".")));
            if dir.is_dir() {
                let what = format!("{} (info: source is a folder, no SFTP checks)", dir.display());
                r.push("source folder", Status::Ok, what);
                let mut source = crate::source::dir::DirSource::new(dir, &cfg.active().merchant_id);
                recent_files(cfg, &mut source, day, &mut r);
            } else {
                r.push("source folder", Status::Fail, format!("{} is not a folder: check `source.dir`", dir.display()));
            }
        }
    }
    writable(&mut r, "archive folder", &cfg.path(&cfg.store.archive_dir), "store.archive_dir");
    let db = cfg.path(&cfg.store.database);
    let db_dir = db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    writable(&mut r, "database folder", db_dir, "store.database");
    if db.exists() {
        let ok = rusqlite::Connection::open(&db).and_then(|c| c.execute_batch("BEGIN IMMEDIATE; ROLLBACK;"));
        match ok {
            Ok(()) => r.push("database", Status::Ok, format!("{} is writable", db.display())),
            Err(e) => r.push(
                "database",
                Status::Fail,
                format!("{}: {e}: check its permissions, or whether another process holds it", db.display()),
            ),
        };
    }
    writable(&mut r, "reports folder", &cfg.path(&cfg.store.reports_dir), "store.reports_dir");
    checks::email(cfg, &mut r);
    checks::payment(cfg, &mut r);
    r
}

fn sftp_checks(cfg: &Config, day: NaiveDate, r: &mut Report) {
    let s = match SftpSettings::from_config(cfg) {
        Ok(s) => s,
        Err(e) => {
            r.push("SFTP settings", Status::Fail, format!("{e:#}"));
            return r.skip(&SFTP_STEPS, "SFTP settings");
        }
    };
    let addrs = match session::resolve(&s) {
        Ok(a) => a,
        Err(e) => {
            r.push("DNS", Status::Fail, e.to_string());
            return r.skip(&SFTP_STEPS[1..], "DNS");
        }
    };
    let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    r.push("DNS", Status::Ok, format!("{} → {}", s.host, shown.join(", ")));
    let t = Instant::now();
    let tcp = match session::tcp_connect(&s, &addrs) {
        Ok(t) => t,
        Err(e) => {
            r.push("TCP connect", Status::Fail, e.to_string());
            return r.skip(&SFTP_STEPS[2..], "TCP connect");
        }
    };
    let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    r.push("TCP connect", Status::Ok, format!("{peer} answered in {} ms", t.elapsed().as_millis()));
    let session = match session::handshake(&s, tcp) {
        Ok(x) => x,
        Err(e) => {
            r.push("host key", Status::Fail, e.to_string());
            return r.skip(&SFTP_STEPS[3..], "SSH handshake");
        }
    };
    match session::verify_host_key(&s, &session) {
        Ok(seen) => r.push(
            "host key",
            Status::Ok,
            format!(
                "{} {} is pinned ({}.host_key_sha256 = [\"{}\"])",
                seen.key_type, seen.fingerprint, s.key, seen.fingerprint
            ),
        ),
        Err(e) => {
            r.push("host key", Status::Fail, e.to_string());
            return r.skip(&SFTP_STEPS[3..], "host key");
        }
    };
    if let Err(e) = session::authenticate(&s, &session) {
        r.push("authentication", Status::Fail, e.to_string());
        return r.skip(&SFTP_STEPS[4..], "authentication");
    }
    r.push("authentication", Status::Ok, format!("logged in as '{}'", s.user));
    session.set_timeout(s.io_timeout.as_millis().min(u32::MAX as u128) as u32);
    let sftp = match session.sftp() {
        Ok(x) => x,
        Err(e) => {
            r.push("remote directories", Status::Fail, format!("the server refused the SFTP subsystem: {e}"));
            return;
        }
    };
    let seen = session::seen_key(&session);
    let conn = sftp::Connection { sftp, session, seen };
    remote_dirs(cfg, &s, &conn, day, r);
    let mut source = sftp::SftpSource::with_connection(s, &cfg.active().merchant_id, conn);
    recent_files(cfg, &mut source, day, r);
}

/// How many business dates, `day` and the ones before it, `recent files` lists.
pub const RECENT_DAYS: u64 = 3;

/// What the source holds for the last [`RECENT_DAYS`] dates up to `day`: the expected files found
/// per date (a date without files is a warning: Alipay writes files only for days with
/// transactions, and yesterday's come on T+1), and a failure when none of them has a transaction
/// file, naming where they were looked for: a wrong folder, merchant id or format finds nothing.
fn recent_files(cfg: &Config, source: &mut dyn crate::source::FileSource, day: NaiveDate, r: &mut Report) {
    let name = "recent files";
    let layouts = cfg.layouts_in_use();
    let mut any_transactions = false;
    let mut searched = Vec::new();
    for back in 0..RECENT_DAYS {
        let d = day - chrono::Days::new(back);
        let listing = match source.list_day(d, &layouts) {
            Ok(l) => l,
            Err(e) => {
                r.push(name, Status::Fail, format!("{d}: cannot list the files on {}: {e:#}", source.describe()));
                return;
            }
        };
        let mut names: Vec<String> = listing.files.iter().map(|f| format!("{} ({})", f.name, f.kind)).collect();
        names.extend(listing.unstable.iter().chain(&listing.not_files).map(|(n, why)| format!("{n} ({why})")));
        names.extend(listing.refused.iter().map(|(n, why)| format!("{:?} ({why})", n)));
        // A transaction file still being written, or a link where it belongs, proves the place right too.
        let dirs = crate::source::DayLayout::new(&cfg.active().merchant_id, &layouts)
            .map(|l| l.dirs_for(d))
            .unwrap_or_default();
        let is_transactions = |n: &str| {
            dirs.iter()
                .any(|x| matches!(DayLayout::classify(x, n, d), Some((crate::domain::FileKind::Transactions, _, _))))
        };
        any_transactions |= listing.files.iter().any(|f| f.kind == crate::domain::FileKind::Transactions)
            || listing.unstable.iter().chain(&listing.not_files).any(|(n, _)| is_transactions(n));
        let here = crate::source::searched(cfg, d, &listing.missing_dirs);
        if names.is_empty() {
            r.push(name, Status::Warn, format!("{d}: no file found (searched {})", here.join("; ")));
        } else {
            r.push(name, Status::Ok, format!("{d}: {}", names.join(", ")));
        }
        if back == 0 {
            searched = here;
        }
    }
    if !any_transactions {
        r.push(
            name,
            Status::Fail,
            format!(
                "none of the last {RECENT_DAYS} dates up to {day} has an Alipay transaction file (searched {}, and \
                 the same for the dates before): {}",
                searched.join("; "),
                crate::source::where_to_look_hint(cfg)
            ),
        );
    }
}

/// Yesterday's folders: present (with how many names match), not there yet (a warning: files come
/// on T+1 and only for days with transactions), or impossible (the parent is missing too: a wrong
/// merchant id or layout).
fn remote_dirs(cfg: &Config, s: &SftpSettings, conn: &sftp::Connection, day: NaiveDate, r: &mut Report) {
    let layout = match DayLayout::new(&cfg.active().merchant_id, &cfg.layouts_in_use()) {
        Ok(l) => l,
        Err(e) => {
            r.push("remote directories", Status::Fail, format!("{e:#}"));
            return;
        }
    };
    for dir in layout.dirs_for(day) {
        let name = "remote directories";
        match sftp::read_dir(s, conn, &dir.path) {
            Ok(Some(entries)) => {
                let matching = entries
                    .iter()
                    .filter(|e| DayLayout::classify(&dir, &String::from_utf8_lossy(&e.name), day).is_some())
                    .count();
                r.push(name, Status::Ok, format!("{} ({}): {matching} file(s) for {day}", dir.path, dir.format))
            }
            Ok(None) => {
                let parent = dir.path.trim_end_matches('/').rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                let parent = if parent.is_empty() { "/" } else { parent };
                let parent_exists = matches!(sftp::read_dir(s, conn, parent), Ok(Some(_)));
                if parent_exists && dir.path.contains(&day.format("%Y%m%d").to_string()) {
                    r.push(
                        name,
                        Status::Warn,
                        format!(
                            "{} ({}) is not there (yet): files appear 09:00–10:00 UTC+8 on the next day, and only \
                             for days with transactions",
                            dir.path, dir.format
                        ),
                    )
                } else {
                    r.push(
                        name,
                        Status::Fail,
                        format!(
                            "{} ({}) does not exist, nor does its parent {parent}: check `environments.{}.merchant_id` \
                             and `layouts.{}` against what Alipay told you",
                            dir.path, dir.format, cfg.environment, dir.format
                        ),
                    )
                }
            }
            Err(e) => r.push(name, Status::Fail, e.to_string()),
        };
    }
}

fn writable(r: &mut Report, name: &'static str, dir: &Path, key: &str) {
    let probe = dir.join(format!(".doctor-probe-{}", std::process::id()));
    let res = std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::write(&probe, b"probe"))
        .and_then(|_| std::fs::remove_file(&probe));
    match res {
        Ok(()) => r.push(name, Status::Ok, format!("{} is writable", dir.display())),
        Err(e) => r.push(
            name,
            Status::Fail,
            format!("cannot write in {}: {e}: fix `{key}` or the folder's permissions", dir.display()),
        ),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_counts_failures_and_renders_tags() {
        let mut r = Report::default();
        r.push("DNS", Status::Ok, "h → 1.2.3.4");
        r.push("TCP connect", Status::Fail, "refused");
        r.skip(&["host key"], "TCP connect");
        assert_eq!(r.failed(), 1);
        let text = r.to_string();
        assert!(
            text.contains("[ OK ] DNS: h → 1.2.3.4\n[FAIL] TCP connect: refused\n[SKIP] host key: not checked"),
            "{text}"
        );
    }

    #[test]
    fn unwritable_folder_fails_with_the_key() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("f");
        std::fs::write(&file, b"").unwrap();
        let mut r = Report::default();
        writable(&mut r, "archive folder", &file.join("sub"), "store.archive_dir");
        assert_eq!(r.failed(), 1);
        assert!(r.checks[0].detail.contains("store.archive_dir"), "{}", r.checks[0].detail);
    }
}
