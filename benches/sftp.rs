//! SFTP download throughput over loopback: alipay-recon's ssh2 source (with its `.part`, fsync and
//! rename) against OpenSSH's own `sftp` client, fetching the same 500 MB file from a private sshd,
//! alternating, `BENCH_RUNS` runs each (default 5). Prints medians as a markdown table for
//! BENCHMARKS.md. Needs root and openssh-server, like the integration tests.
//!
//! `cargo bench --bench sftp` (or `--profile dev` to skip a release build: the hot path is libssh2 and
//! OpenSSL, which are optimised either way).

#[path = "../tests/integration/harness/sshd.rs"]
mod sshd;

use alipay_recon::source::sftp::{SftpSettings, SftpSource};
use alipay_recon::source::{FileSource, RemoteFile, SafeName};
use std::process::Command;
use std::time::{Duration, Instant};

const SIZE: u64 = 500 << 20;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let server = sshd::Sshd::start();
    let remote = "/bench/big.bin";
    let local_src = server.local(remote);
    std::fs::create_dir_all(local_src.parent().unwrap()).unwrap();
    // Incompressible content (no compression is negotiated, but be honest anyway).
    let mut f = std::fs::File::create(&local_src).unwrap();
    std::io::copy(&mut std::io::Read::take(std::fs::File::open("/dev/urandom").unwrap(), SIZE), &mut f).unwrap();
    drop(f);
    server.age(remote, Duration::from_secs(3600));
    let meta = std::fs::metadata(&local_src).unwrap();

    let work = tempfile::tempdir().unwrap();
    // Both clients log in with the same key; OpenSSH batch mode needs it without a passphrase.
    let key = work.path().join("key");
    std::fs::copy(&server.client_key, &key).unwrap();
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-p", "-P", sshd::KEY_PASSPHRASE, "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success(), "cannot decrypt the client key copy");
    let known = work.path().join("known_hosts");
    std::fs::write(&known, server.known_hosts_line()).unwrap();
    let batch = work.path().join("batch");
    let dest_openssh = work.path().join("openssh.bin");
    std::fs::write(&batch, format!("get {remote} {}\n", dest_openssh.display())).unwrap();

    let settings = SftpSettings {
        host: "127.0.0.1".into(),
        port: server.port,
        user: sshd::USER.into(),
        password: None,
        private_key: Some(key.clone()),
        passphrase: None,
        pins: vec![server.fingerprint.clone()],
        known_hosts: None,
        connect_timeout: Duration::from_secs(10),
        io_timeout: Duration::from_secs(60),
        stable: Duration::from_secs(60),
        retries: 0,
        retry_backoff: Duration::from_millis(100),
        key: "bench.sftp".into(),
    };
    let file = RemoteFile {
        format: alipay_recon::domain::FileFormat::Intl,
        kind: alipay_recon::domain::FileKind::Transactions,
        name: SafeName::parse("big.bin").unwrap(),
        remote_path: remote.into(),
        size: meta.len(),
        mtime: Some(meta.modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64),
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        currency: None,
    };
    let dest_ours = work.path().join("ours.bin");

    // What each client negotiates (the cipher dominates the cost on loopback).
    let conn = alipay_recon::source::sftp::session::connect(&settings).expect("connect");
    let ours_cipher = conn.session.methods(ssh2::MethodType::CryptSc).unwrap_or("?").to_string();
    drop(conn);
    let v = Command::new("ssh")
        .args(["-v", "-i"])
        .arg(&key)
        .arg("-p")
        .arg(server.port.to_string())
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known.display()))
        .args(["-o", "BatchMode=yes", "-s"])
        .arg(format!("{}@127.0.0.1", sshd::USER))
        .arg("sftp")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("ssh -v");
    let openssh_cipher = String::from_utf8_lossy(&v.stderr)
        .lines()
        .find_map(|l| {
            l.split("kex: server->client cipher: ")
                .nth(1)
                .map(|c| c.split_whitespace().next().unwrap_or("?").to_string())
        })
        .unwrap_or_else(|| "?".into());

    let (mut ours, mut openssh) = (Vec::new(), Vec::new());
    for i in 0..runs {
        // A fresh connection per run, as a daily run has.
        let t = Instant::now();
        let mut src = SftpSource::new(settings.clone(), "bench");
        src.fetch(&file, &dest_ours).expect("alipay-recon fetch");
        let a = t.elapsed().as_secs_f64();
        assert_eq!(std::fs::metadata(&dest_ours).unwrap().len(), SIZE);
        std::fs::remove_file(&dest_ours).unwrap();

        let t = Instant::now();
        let out = Command::new("sftp")
            .arg("-q")
            .arg("-b")
            .arg(&batch)
            .arg("-i")
            .arg(&key)
            .arg("-P")
            .arg(server.port.to_string())
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known.display()))
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
            .arg(format!("{}@127.0.0.1", sshd::USER))
            .output()
            .expect("run OpenSSH sftp");
        let b = t.elapsed().as_secs_f64();
        assert!(out.status.success(), "sftp failed: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::metadata(&dest_openssh).unwrap().len(), SIZE);
        std::fs::remove_file(&dest_openssh).unwrap();
        eprintln!("run {}: alipay-recon {a:.2} s, OpenSSH sftp {b:.2} s", i + 1);
        ours.push(a);
        openssh.push(b);
    }
    let mb = SIZE as f64 / 1e6;
    let (a, b) = (median(&mut ours), median(&mut openssh));
    println!("| client (500 MB over loopback, {runs} runs each, alternating) | median s | MB/s |");
    println!("|---|---:|---:|");
    println!("| alipay-recon (ssh2/libssh2, {ours_cipher}, .part + fsync + rename) | {a:.2} | {:.0} |", mb / a);
    println!("| OpenSSH `sftp` (`get`, {openssh_cipher}) | {b:.2} | {:.0} |", mb / b);
    println!("ratio alipay-recon / OpenSSH time: {:.2}", a / b);
}
