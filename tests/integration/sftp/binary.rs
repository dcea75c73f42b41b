//! `alipay-recon import` (the real binary) over SFTP: a day fetched and loaded, skipped when unchanged,
//! forced with `--refetch`; and a run killed with SIGKILL mid-download whose `.part` the next run resumes.

use super::*;
use crate::harness::sshd::{CutProxy, Sshd};
use crate::harness::{wait_for, Workspace};
use std::time::Duration;

const NAME: &str = "ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv";

#[test]
fn import_command_fetches_over_sftp_skips_unchanged_files_and_refetches_on_request() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let remote = format!("{DAY_DIR}/{NAME}");
    let bytes = transactions("HKD", 2000);
    sshd.put_stable(&remote, &bytes);
    let cfg = config(&w, &sshd, sshd.port, &Login::password(&sshd), "");
    let r = w.run(&["import", "--date", "2026-11-25"]);
    assert!(r.code == 0 || r.code == 1, "exit {}\n{}\n{}", r.code, r.stdout, r.stderr);
    assert!(r.stdout.contains(NAME) && r.stdout.contains("imported"), "{}", r.stdout);
    assert_eq!(file_rows(&cfg, NAME), [(1, sha(&bytes), 1)]);
    // Unchanged on the server: not downloaded again (the unreadable remote file proves it).
    let local = sshd.local(&remote);
    std::fs::set_permissions(&local, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let r = w.run(&["import", "--date", "2026-11-25"]);
    assert!(r.code == 0 || r.code == 1, "exit {}\n{}\n{}", r.code, r.stdout, r.stderr);
    assert!(r.stdout.contains("unchanged"), "{}", r.stdout);
    // Unreadable: not read, the day is incomplete (exit 1 after the deadline), the reason is shown.
    let r = w.run(&["import", "--date", "2026-11-25", "--refetch"]).expect_code(1);
    assert!(r.stdout.contains(&remote) && r.stdout.contains("permission denied"), "{}", r.stdout);
    assert!(r.stdout.contains("ask your Alipay contact"), "{}", r.stdout);
    assert!(r.stderr.contains("is incomplete after the deadline"), "{}", r.stderr);
    assert_eq!(file_rows(&cfg, NAME).len(), 1);
}

#[test]
fn a_download_killed_mid_file_is_resumed_by_the_next_run() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let remote = format!("{DAY_DIR}/{NAME}");
    let bytes = transactions("HKD", 12 << 20);
    sshd.put_stable(&remote, &bytes);
    // A slow link (about 5 MB/s) so the run is still downloading when it is killed.
    let slow = CutProxy::start_slow(sshd.port, u64::MAX, 0, Duration::from_millis(200));
    let cfg = config(&w, &sshd, slow.port, &Login::password(&sshd), "");
    let mut child = w.cmd(&["import", "--date", "2026-11-25"]).spawn().expect("start import");
    let part = cfg.path(&cfg.store.archive_dir).join(format!("incoming/{NAME}.part"));
    let kept = wait_for("3 MB of the download", Duration::from_secs(60), || {
        assert!(child.try_wait().unwrap().is_none(), "import finished before it could be killed");
        Some(std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0)).filter(|&kept| kept >= 3 << 20)
    });
    child.kill().unwrap(); // SIGKILL: no cleanup of any kind
    child.wait().unwrap();
    let kept_after = std::fs::metadata(&part).expect(".part survives the kill").len();
    assert!(kept >= 3 << 20 && kept_after < bytes.len() as u64, "{kept} / {kept_after}");
    assert!(file_rows(&cfg, NAME).is_empty(), "nothing imported by the killed run");
    // The next run, over a fast link that counts bytes, continues from the .part.
    let fast = CutProxy::start(sshd.port, u64::MAX, 0);
    config(&w, &sshd, fast.port, &Login::password(&sshd), "");
    let r = w.run(&["import", "--date", "2026-11-25"]);
    assert!(r.code == 0 || r.code == 1, "exit {}\n{}\n{}", r.code, r.stdout, r.stderr);
    assert_eq!(file_rows(&cfg, NAME), [(1, sha(&bytes), 1)], "imported once, bytes intact");
    let moved = fast.bytes.load(std::sync::atomic::Ordering::SeqCst);
    let rest = bytes.len() as u64 - kept_after;
    assert!(moved < rest + (1 << 20), "resumed from {kept_after}: expected about {rest} bytes, moved {moved}");
    assert!(!part.exists());
}
