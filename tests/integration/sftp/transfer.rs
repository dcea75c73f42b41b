//! Transfers over a real sshd: authentication, host-key pinning, availability and restatements,
//! resume after a cut connection or a killed process, hostile names, a large file.

use super::*;
use crate::harness::sshd::{CutProxy, Sshd, PASSWORD, USER};
use crate::harness::{wait_until, Workspace};
use alipay_recon::config::Config;
use alipay_recon::pipeline::FileOutcome;
use alipay_recon::source::sftp::SftpSource;
use alipay_recon::source::FileSource;
use std::time::{Duration, Instant};

#[test]
fn password_auth_fetches_and_imports_the_days_files_once() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let hkd = transactions("HKD", 500);
    let cny = transactions("CNY", 700);
    for (name, bytes) in [
        ("ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv", &hkd),
        ("ALIPAY_TRANSACTION_DETAIL_CNY_20261125.csv", &cny),
        ("README.txt", &b"not a report"[..].to_vec()),
    ] {
        let remote = format!("{DAY_DIR}/{name}");
        sshd.put_stable(&remote, bytes);
    }
    let cfg = config(&w, &sshd, sshd.port, &Login::password(&sshd), "");
    let day = import(&cfg, false).expect("import over SFTP");
    let names: Vec<_> = day.files.iter().map(|(f, _)| f.name.to_string()).collect();
    assert_eq!(names, ["ALIPAY_TRANSACTION_DETAIL_CNY_20261125.csv", "ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv"]);
    assert!(day.files.iter().all(|(_, o)| matches!(o, FileOutcome::Imported { .. })), "{:?}", day.files);
    assert_eq!(file_rows(&cfg, "ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv"), [(1, sha(&hkd), 1)]);
    assert_eq!(file_rows(&cfg, "ALIPAY_TRANSACTION_DETAIL_CNY_20261125.csv"), [(1, sha(&cny), 1)]);
    assert!(day.missing_dirs.is_empty() && day.refused.is_empty(), "{day:?}");
    // The source recorded is the server, never the password.
    let conn = rusqlite::Connection::open(cfg.path(&cfg.store.database)).unwrap();
    let source: String = conn.query_row("SELECT source FROM files LIMIT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(source, format!("sftp://{USER}@127.0.0.1:{}", sshd.port));
    // Nothing left behind in the staging folder.
    let staging = cfg.path(&cfg.store.archive_dir).join("incoming");
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 0);
    let again = import(&cfg, false).unwrap();
    assert!(again.files.iter().all(|(_, o)| matches!(o, FileOutcome::Unchanged { .. })), "{:?}", again.files);
    assert_eq!(file_rows(&cfg, "ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv").len(), 1);
}

#[test]
fn key_auth_with_passphrase_and_a_known_hosts_pin() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let remote = format!("{DAY_DIR}/ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv");
    let bytes = transactions("HKD", 300);
    sshd.put_stable(&remote, &bytes);
    let login = Login { password: None, key: true, pins: vec![], known_hosts: Some(sshd.known_hosts_line()) };
    let cfg = config(&w, &sshd, sshd.port, &login, "");
    let mut src = SftpSource::from_config(&cfg).unwrap();
    let listing = src.list_day(date(), &cfg.layouts_in_use()).expect("key auth works");
    assert_eq!(listing.files.len(), 1);
    let dest = w.file("got.csv");
    src.fetch(&listing.files[0], &dest).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
    assert!(sshd.log_text().contains(&format!("Accepted publickey for {USER}")), "{}", sshd.log_text());
}

#[test]
fn wrong_password_is_a_clear_error_without_the_secret() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let wrong = "not-the-password-91";
    let login = Login { password: Some(wrong.into()), ..Login::password(&sshd) };
    let cfg = config(&w, &sshd, sshd.port, &login, "");
    let t = Instant::now();
    let err = format!("{:#}", import(&cfg, false).unwrap_err());
    assert!(err.contains(&format!("authentication as '{USER}' at 127.0.0.1:{}", sshd.port)), "{err}");
    assert!(err.contains("environments.test.sftp.password"), "{err}");
    assert!(!err.contains(wrong) && !err.contains(PASSWORD), "secret leaked: {err}");
    // Credentials are not a network problem: no retries with backoff.
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    assert!(sshd.log_text().contains(&format!("Failed password for {USER}")), "{}", sshd.log_text());
}

/// Waits until sshd's log records the end of every connection it records (`Connection closed by` or
/// `reset by`), so what it says about them is final.
fn wait_connections_ended(sshd: &Sshd) {
    wait_until("sshd to log the end of every connection", Duration::from_secs(10), || {
        let log = sshd.log_text();
        let ended = log.matches("Connection closed by ").count() + log.matches("Connection reset by ").count();
        ended >= log.matches("Connection from ").count()
    });
}

#[test]
fn unknown_or_changed_host_key_is_refused_before_authentication() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let wrong_pin = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
    for (pins, known_hosts, expect) in [
        (vec![wrong_pin.to_string()], None, "matches none of the pinned fingerprints"),
        (vec![], None, "no host key is pinned"),
        (
            vec![],
            Some(format!(
                "[127.0.0.1]:{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHy3vxK0f4vyvQ7Zt1J9Xv3Gg8w4b8V0b2cQ1a2b3c4d\n",
                sshd.port
            )),
            "DIFFERS from the key recorded",
        ),
    ] {
        let login = Login { password: Some(PASSWORD.into()), key: false, pins, known_hosts };
        let cfg = config(&w, &sshd, sshd.port, &login, "");
        let err = format!("{:#}", import(&cfg, false).unwrap_err());
        assert!(err.contains(expect), "{err}");
        assert!(err.contains(&format!("presented the ED25519 key {}", sshd.fingerprint)), "{err}");
        assert!(err.contains(&format!("environments.test.sftp.host_key_sha256 = [\"{}\"]", sshd.fingerprint)), "{err}");
    }
    wait_connections_ended(&sshd);
    let log = sshd.log_text();
    assert!(log.contains("Connection from 127.0.0.1"), "{log}");
    assert!(!log.contains("password for") && !log.contains("Accepted"), "credentials were sent:\n{log}");
    // The same log does show authentication once the key is trusted.
    let cfg = config(&w, &sshd, sshd.port, &Login::password(&sshd), "");
    import(&cfg, false).unwrap();
    wait_connections_ended(&sshd);
    assert!(sshd.log_text().contains(&format!("Accepted password for {USER}")), "{}", sshd.log_text());
}

#[test]
fn a_file_that_appears_while_polling_is_fetched_once_stable_and_restated_when_changed() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let cfg = config(&w, &sshd, sshd.port, &Login::password(&sshd), "");
    let name = "ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv";
    let remote = format!("{DAY_DIR}/{name}");
    // 1. Not there yet: not an error, the folder is reported missing.
    let day = import(&cfg, false).unwrap();
    assert!(day.files.is_empty());
    assert_eq!(day.missing_dirs, [DAY_DIR]);
    // 2. Appears, still being written (modified just now): skipped this time.
    let v1 = transactions("HKD", 400);
    sshd.put(&remote, &v1);
    let day = import(&cfg, false).unwrap();
    assert!(day.files.is_empty() && day.missing_dirs.is_empty(), "{day:?}");
    assert_eq!(day.unstable.len(), 1, "{day:?}");
    assert_eq!(day.unstable[0].0, name);
    // 3. Stable: fetched and imported.
    sshd.age(&remote, Duration::from_secs(300));
    let day = import(&cfg, false).unwrap();
    assert!(matches!(day.files[0].1, FileOutcome::Imported { .. }), "{day:?}");
    // 4. Same name, size and mtime: not downloaded again. The remote file is made unreadable to prove
    //    no download is attempted; --refetch does attempt it (and fails with a clear error).
    let local = sshd.local(&remote);
    std::fs::set_permissions(&local, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let day = import(&cfg, false).unwrap();
    assert!(matches!(day.files[0].1, FileOutcome::Unchanged { .. }), "{day:?}");
    // An unreadable file is not read: the day is incomplete (contracts.md §2), the run goes on.
    let day = import(&cfg, true).unwrap();
    assert_eq!(day.skipped.len(), 1, "{day:?}");
    assert!(day.skipped[0].1.contains(&remote) && day.skipped[0].1.contains("permission denied"), "{day:?}");
    // 5. Alipay replaces the file: fetched again, a restatement (version 2), never a duplicate.
    std::fs::set_permissions(&local, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let v2 = transactions("HKD", 900);
    sshd.put(&remote, &v2);
    sshd.age(&remote, Duration::from_secs(120));
    let day = import(&cfg, false).unwrap();
    assert!(matches!(day.files[0].1, FileOutcome::Restated { version: 2, .. }), "{day:?}");
    assert_eq!(file_rows(&cfg, name), [(1, sha(&v1), 0), (2, sha(&v2), 1)]);
}

#[test]
fn a_connection_cut_mid_file_is_retried_and_resumed_intact_and_imported_once() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let name = "ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv";
    let remote = format!("{DAY_DIR}/{name}");
    let bytes = transactions("HKD", 16 << 20);
    sshd.put_stable(&remote, &bytes);
    // Each of the first two connections dies after 6 MB from the server.
    let proxy = CutProxy::start(sshd.port, 6 << 20, 2);
    let cfg = config(&w, &sshd, proxy.port, &Login::password(&sshd), "");
    let (day, logs) = capture_logs(|| import(&cfg, false));
    let day = day.expect("retries get the file");
    assert_eq!(proxy.cut.load(std::sync::atomic::Ordering::SeqCst), 2, "the proxy cut twice");
    assert!(matches!(day.files[0].1, FileOutcome::Imported { .. }), "{day:?}");
    assert_eq!(file_rows(&cfg, name), [(1, sha(&bytes), 1)], "imported exactly once, bytes intact");
    let archived =
        std::fs::read(cfg.path(&cfg.store.archive_dir).join(format!("sha256/{0}/{1}", &sha(&bytes)[..2], sha(&bytes))));
    assert_eq!(sha(&archived.unwrap()), sha(&bytes));
    // Resumed, not restarted: both retries continued from a growing offset of the .part ...
    let offsets: Vec<u64> = logs
        .lines()
        .filter(|l| l.contains("resuming a partial download"))
        .filter_map(|l| l.split("offset=").nth(1)?.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(offsets.len(), 2, "{logs}");
    assert!(offsets[0] > 0 && offsets[1] > offsets[0], "{offsets:?}");
    // ... and restarting after each cut would have moved at least 6 + 6 + 16 MB.
    let moved = proxy.bytes.load(std::sync::atomic::Ordering::SeqCst);
    assert!(moved < 28 << 20, "{moved} bytes went through the proxy");
    let again = import(&cfg, false).unwrap();
    assert!(matches!(again.files[0].1, FileOutcome::Unchanged { .. }));
    assert_eq!(file_rows(&cfg, name).len(), 1);
}

#[test]
fn a_link_that_keeps_dropping_gives_up_after_the_retries_and_keeps_the_part() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let name = "ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv";
    let remote = format!("{DAY_DIR}/{name}");
    sshd.put_stable(&remote, &transactions("HKD", 16 << 20));
    let proxy = CutProxy::start(sshd.port, 1 << 20, usize::MAX);
    let cfg = config(&w, &sshd, proxy.port, &Login::password(&sshd), "");
    let err = format!("{:#}", import(&cfg, false).unwrap_err());
    assert!(err.contains(&remote) && err.contains("connection lost at byte"), "{err}");
    assert!(err.contains("gave up after 4 retries"), "{err}");
    assert_eq!(proxy.cut.load(std::sync::atomic::Ordering::SeqCst), 5, "1 try + 4 retries");
    let part = cfg.path(&cfg.store.archive_dir).join(format!("incoming/{name}.part"));
    assert!(std::fs::metadata(&part).unwrap().len() > 0, "the .part is kept for the next run");
    assert!(file_rows(&cfg, name).is_empty());
}

#[test]
fn connect_and_io_timeouts_end_a_dead_connection_with_a_clear_error() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let name = "ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv";
    let remote = format!("{DAY_DIR}/{name}");
    sshd.put_stable(&remote, &transactions("HKD", 8 << 20));
    let tune = |cfg: &mut Config| {
        let s = cfg.environments.get_mut("test").unwrap().sftp.as_mut().unwrap();
        (s.connect_timeout_secs, s.io_timeout_secs, s.retries) = (1, 1, 1);
    };
    // A server that accepts TCP and never speaks: the handshake hits the connect timeout.
    let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mute_port = mute.local_addr().unwrap().port();
    let mut cfg = config(&w, &sshd, mute_port, &Login::password(&sshd), "");
    tune(&mut cfg);
    let t = Instant::now();
    let err = format!("{:#}", import(&cfg, false).unwrap_err());
    assert!(t.elapsed() < Duration::from_secs(8), "took {:?}", t.elapsed());
    assert!(err.contains(&format!("SSH handshake with 127.0.0.1:{mute_port} failed")), "{err}");
    assert!(err.contains("gave up after 1 retry"), "{err}");
    drop(mute);
    // A link that goes silent mid-file: the I/O timeout ends each attempt.
    let proxy = CutProxy::start_stalling(sshd.port, 2 << 20);
    let mut cfg = config(&w, &sshd, proxy.port, &Login::password(&sshd), "");
    tune(&mut cfg);
    let t = Instant::now();
    let err = format!("{:#}", import(&cfg, false).unwrap_err());
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
    assert!(err.contains("connection lost at byte") && err.to_lowercase().contains("timed out"), "{err}");
    assert_eq!(proxy.cut.load(std::sync::atomic::Ordering::SeqCst), 2, "1 try + 1 retry");
}

#[test]
fn a_server_that_never_speaks_ssh_names_the_timeout_key_and_is_not_retried_for_minutes() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    // Accepts TCP (the kernel completes it) and never sends an SSH banner.
    let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mute_port = mute.local_addr().unwrap().port();
    let mut cfg = config(&w, &sshd, mute_port, &Login::password(&sshd), "");
    let s = cfg.environments.get_mut("test").unwrap().sftp.as_mut().unwrap();
    // The shipped retries and backoff; only the timeout is small. Before: 6 tries + 31 s of backoff.
    (s.connect_timeout_secs, s.retries, s.retry_backoff_ms) = (1, 5, 1000);
    let t = Instant::now();
    let err = format!("{:#}", import(&cfg, false).unwrap_err());
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}: {err}", t.elapsed());
    assert!(err.contains(&format!("127.0.0.1:{mute_port}")), "{err}");
    assert!(err.contains("`environments.test.sftp.connect_timeout_secs`"), "{err}");
    assert!(err.contains("within 1 s"), "{err}");
    assert!(err.contains("gave up after 1 retry"), "{err}");
    drop(mute);
}

#[test]
fn a_part_file_left_by_a_killed_process_is_resumed_and_a_foreign_one_discarded() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let remote = format!("{DAY_DIR}/ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv");
    let bytes = transactions("HKD", 6 << 20);
    sshd.put_stable(&remote, &bytes);
    let proxy = CutProxy::start(sshd.port, u64::MAX, 0);
    let cfg = config(&w, &sshd, proxy.port, &Login::password(&sshd), "");
    let mut src = SftpSource::from_config(&cfg).unwrap();
    let file = src.list_day(date(), &cfg.layouts_in_use()).unwrap().files.remove(0);
    let dest = w.file("incoming/ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let part = w.file("incoming/ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv.part");
    let note = w.file("incoming/ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv.part.src");
    // What a process killed after 4 MB leaves: the bytes so far and the note naming their version.
    std::fs::write(&part, &bytes[..4 << 20]).unwrap();
    let note_json = format!(r#"{{"remote_path":"{remote}","size":{},"mtime":{}}}"#, file.size, file.mtime.unwrap());
    std::fs::write(&note, &note_json).unwrap();
    let before = proxy.bytes.load(std::sync::atomic::Ordering::SeqCst);
    src.fetch(&file, &dest).unwrap();
    let moved = proxy.bytes.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert_eq!(sha(&std::fs::read(&dest).unwrap()), sha(&bytes));
    assert!(moved < 3 << 20, "resumed from 4 MB, yet {moved} bytes were transferred");
    assert!(!part.exists() && !note.exists());
    // A .part of another version of the file (other mtime): discarded, fetched from the start.
    std::fs::remove_file(&dest).unwrap();
    std::fs::write(&part, vec![b'X'; 4 << 20]).unwrap();
    std::fs::write(&note, note_json.replace(&format!("\"mtime\":{}", file.mtime.unwrap()), "\"mtime\":1")).unwrap();
    src.fetch(&file, &dest).unwrap();
    assert_eq!(sha(&std::fs::read(&dest).unwrap()), sha(&bytes));
}

#[test]
fn hostile_remote_names_are_refused_and_never_become_paths() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    // A permissive pattern, as a merchant might configure: every name below matches it.
    let layout = layout_with_transactions(r"TRANSACTION");
    let cfg = config(&w, &sshd, sshd.port, &Login::password(&sshd), &layout);
    let hostile = [
        "-TRANSACTION.csv",
        ".TRANSACTION.csv",
        "..TRANSACTION.csv",
        "a\\..\\TRANSACTION.csv",
        "TRANSACTION\n.csv",
        "TRANSACTION\u{1b}[2J.csv",
        "TRANSACTION:1.csv",
    ];
    for n in hostile.iter().chain(["TRANSACTION_ok.csv"].iter()) {
        let remote = format!("{DAY_DIR}/{n}");
        sshd.put_stable(&remote, b"x\n");
    }
    let mut src = SftpSource::from_config(&cfg).unwrap();
    let listing = src.list_day(date(), &cfg.layouts_in_use()).unwrap();
    let ok: Vec<_> = listing.files.iter().map(|f| f.name.to_string()).collect();
    assert_eq!(ok, ["TRANSACTION_ok.csv"]);
    let mut refused: Vec<_> = listing.refused.iter().map(|(n, _)| n.clone()).collect();
    refused.sort();
    let mut want: Vec<_> = hostile.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(refused, want);
    assert!(listing.refused.iter().all(|(_, why)| why.contains("refused")), "{:?}", listing.refused);
    let day = import(&cfg, false).unwrap();
    assert_eq!(day.files.len(), 1);
    assert_eq!(day.refused.len(), hostile.len());
    // Only the workspace's own files exist: nothing was written under a hostile name.
    let mut seen = Vec::new();
    let mut stack = vec![w.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
            seen.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    assert!(seen.iter().all(|n| !n.contains("TRANSACTION") || n == "TRANSACTION_ok.csv"), "{seen:?}");
}

#[test]
fn a_200_mb_file_is_fetched_intact() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let remote = format!("{DAY_DIR}/ALIPAY_TRANSACTION_DETAIL_USD_20261125.csv");
    let bytes = transactions("USD", 200 << 20);
    sshd.put_stable(&remote, &bytes);
    let want = sha(&bytes);
    drop(bytes);
    let cfg = config(&w, &sshd, sshd.port, &Login::password(&sshd), "");
    let mut src = SftpSource::from_config(&cfg).unwrap();
    let file = src.list_day(date(), &cfg.layouts_in_use()).unwrap().files.remove(0);
    assert!(file.size >= 200 << 20);
    let dest = w.file("big.csv");
    let t = Instant::now();
    src.fetch(&file, &dest).unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!("200 MB fetched in {secs:.2} s ({:.0} MB/s)", file.size as f64 / secs / 1e6);
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), file.size);
    assert_eq!(sha(&std::fs::read(&dest).unwrap()), want);
}
