//! `alipay-recon doctor` (the real binary) against a real sshd: every check passes, and each kind of
//! failure — refused TCP, wrong host key, wrong password, wrong merchant folder — is named with what
//! to do, and exits 2.

use super::*;
use crate::harness::sshd::{Sshd, PASSWORD, USER};
use crate::harness::Workspace;

fn doctor(w: &Workspace) -> crate::harness::Run {
    w.run(&["doctor", "--date", "2026-11-25"])
}

#[test]
fn doctor_passes_every_check_against_a_working_server() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let remote = format!("{DAY_DIR}/ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv");
    sshd.put(&remote, b"x\n");
    config(&w, &sshd, sshd.port, &Login::password(&sshd), "");
    let r = doctor(&w).expect_code(0);
    let fp = &sshd.fingerprint;
    for want in [
        "[ OK ] DNS: 127.0.0.1 → 127.0.0.1".to_string(),
        format!("[ OK ] TCP connect: 127.0.0.1:{}", sshd.port),
        format!("[ OK ] host key: ED25519 {fp} is pinned (environments.test.sftp.host_key_sha256 = [\"{fp}\"])"),
        format!("[ OK ] authentication: logged in as '{USER}'"),
        format!("[ OK ] remote directories: {DAY_DIR} (intl): 1 file(s) for 2026-11-25"),
        "[ OK ] archive folder:".to_string(),
        "[ OK ] database folder:".to_string(),
        "all checks passed".to_string(),
    ] {
        assert!(r.stdout.contains(&want), "missing {want:?} in\n{}", r.stdout);
    }
    assert!(!r.stdout.contains(PASSWORD) && !r.stderr.contains(PASSWORD));
}

#[test]
fn doctor_names_each_failure_and_exits_2() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    // Yesterday's folder is not there yet but its parent is: a warning, not a failure (the day before
    // has its file, so the place is right).
    let before = "/download/2188000000000001/20261124/ALIPAY_TRANSACTION_DETAIL_HKD_20261124.csv";
    sshd.put(before, b"x\n");
    config(&w, &sshd, sshd.port, &Login::password(&sshd), "");
    let r = doctor(&w).expect_code(0);
    assert!(
        r.stdout.contains(&format!("[WARN] remote directories: {DAY_DIR} (intl) is not there (yet)")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("[ OK ] recent files: 2026-11-24: ALIPAY_TRANSACTION_DETAIL_HKD_20261124.csv"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(&format!("[WARN] recent files: 2026-11-25: no file found (searched sftp://{USER}@127.0.0.1:{}{DAY_DIR} (no such folder), intl transaction files named like `^ALIPAY_TRANSACTION_DETAIL_", sshd.port)), "{}", r.stdout);

    // Only an older day has files: none of the last 3 dates has a transaction file, and doctor says
    // where it looked (a wrong merchant id or format looks the same).
    std::fs::remove_dir_all(sshd.local("/download/2188000000000001/20261124")).unwrap();
    sshd.put("/download/2188000000000001/20261101/ALIPAY_TRANSACTION_DETAIL_HKD_20261101.csv", b"x\n");
    let r = doctor(&w).expect_code(2);
    let line =
        r.stdout.lines().find(|l| l.starts_with("[FAIL] recent files: ")).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(line.contains("none of the last 3 dates up to 2026-11-25 has an Alipay transaction file"), "{line}");
    assert!(
        line.contains(&format!(
            "{DAY_DIR} (no such folder), intl transaction files named like `^ALIPAY_TRANSACTION_DETAIL_"
        )),
        "{line}"
    );
    assert!(line.contains("`environments.test.merchant_id`"), "{line}");

    // Nobody listens: the whitelisting hint.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    config(&w, &sshd, closed, &Login::password(&sshd), "");
    let r = doctor(&w).expect_code(2);
    assert!(r.stdout.contains("[FAIL] TCP connect: cannot connect to 127.0.0.1:"), "{}", r.stdout);
    assert!(r.stdout.contains("is this server's public IP whitelisted by Alipay? send it to your Alipay contact"));
    assert!(r.stdout.contains("[SKIP] authentication"), "{}", r.stdout);
    assert!(r.stderr.contains("checks failed"), "{}", r.stderr);

    // Unknown host key: the fingerprint seen and the line to pin it.
    let login = Login { pins: vec![], ..Login::password(&sshd) };
    config(&w, &sshd, sshd.port, &login, "");
    let r = doctor(&w).expect_code(2);
    let line = format!("environments.test.sftp.host_key_sha256 = [\"{}\"]", sshd.fingerprint);
    assert!(r.stdout.contains("[FAIL] host key:") && r.stdout.contains(&line), "{}", r.stdout);

    // Wrong password.
    let login = Login { password: Some("wrong-pass-55".into()), ..Login::password(&sshd) };
    config(&w, &sshd, sshd.port, &login, "");
    let r = doctor(&w).expect_code(2);
    assert!(r.stdout.contains(&format!("[FAIL] authentication: authentication as '{USER}'")), "{}", r.stdout);
    assert!(!r.stdout.contains("wrong-pass-55"), "{}", r.stdout);

    // A merchant id whose folder does not exist at all.
    std::fs::remove_dir_all(sshd.local("/download")).unwrap();
    config(&w, &sshd, sshd.port, &Login::password(&sshd), "");
    let r = doctor(&w).expect_code(2);
    assert!(r.stdout.contains("does not exist, nor does its parent /download/2188000000000001"), "{}", r.stdout);
    assert!(r.stdout.contains("environments.test.merchant_id"), "{}", r.stdout);
}
