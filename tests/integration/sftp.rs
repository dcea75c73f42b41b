//! The SFTP source against a real OpenSSH sshd (harness::sshd): authentication, host-key pinning,
//! availability, resume after a dropped connection or a killed process, hostile names, a large file.
//! Until the `import` subcommand lands these drive the library (`pipeline::import_day`); `doctor` runs
//! the real binary. This file holds the shared setup; the cases are in `sftp/`.

mod binary;
mod complete;
mod doctor;
mod transfer;

use crate::harness::sshd::{Sshd, KEY_PASSPHRASE, PASSWORD, USER};
use crate::harness::Workspace;
use alipay_recon::config::Config;
use alipay_recon::pipeline;
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use std::time::Duration;

pub const MID: &str = "2188000000000001";
pub const DAY_DIR: &str = "/download/2188000000000001/20261125";

pub fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

/// How the test logs in and which host key it trusts.
pub struct Login {
    pub password: Option<String>,
    pub key: bool,
    pub pins: Vec<String>,
    pub known_hosts: Option<String>,
}

impl Login {
    pub fn password(sshd: &Sshd) -> Login {
        Login { password: Some(PASSWORD.into()), key: false, pins: vec![sshd.fingerprint.clone()], known_hosts: None }
    }
}

/// A workspace whose config points at `port` (the sshd or a proxy in front of it).
pub fn config(w: &Workspace, sshd: &Sshd, port: u16, login: &Login, extra: &str) -> Config {
    let mut auth = String::new();
    if let Some(p) = &login.password {
        w.write("secrets/sftp.pass", p);
        auth.push_str("password = { file = \"secrets/sftp.pass\" }\n");
    }
    if login.key {
        w.write("secrets/key.pass", KEY_PASSPHRASE);
        auth.push_str(&format!(
            "private_key_file = {:?}\nprivate_key_passphrase = {{ file = \"secrets/key.pass\" }}\n",
            sshd.client_key.display().to_string()
        ));
    }
    if let Some(kh) = &login.known_hosts {
        w.write("known_hosts", kh);
        auth.push_str("known_hosts = \"known_hosts\"\n");
    }
    let text = format!(
        r#"
environment = "test"
[merchant]
name = "Test shop"
[environments.test]
merchant_id = "{MID}"
[environments.test.sftp]
host = "127.0.0.1"
port = {port}
user = "{USER}"
{auth}host_key_sha256 = {pins:?}
connect_timeout_secs = 5
io_timeout_secs = 10
stable_minutes = 1
retries = 4
retry_backoff_ms = 50
[source]
kind = "sftp"
formats = ["intl"]
[store]
database = "data/alipay-recon.db"
archive_dir = "data/archive"
reports_dir = "reports"
{extra}
"#,
        pins = login.pins
    );
    w.write("alipay-recon.toml", &text);
    Config::from_toml(&text, "alipay-recon.toml", w.path().to_path_buf(), &[]).expect("test config is valid")
}

/// A small intl transaction file for currency `ccy`, padded to at least `len` bytes with long remarks.
pub fn transactions(ccy: &str, len: usize) -> Vec<u8> {
    let mut s = String::from(
        "merchantId,sellerID,storeId,productCode,paymentTime,orderTitle,transType,transStatus,merchantTransId,\
         acquirementId,originalAcquirementId,orderAmount,orderCurrency,remark,userSite,siteUserId\n",
    );
    // One pseudo-random block, so padding costs nothing per row (ids keep rows distinct).
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ len as u64;
    let block: String = (0..if len > 100_000 { 60_000 } else { 10 })
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (b'a' + (x % 26) as u8) as char
        })
        .collect();
    let mut i = 0u64;
    loop {
        s.push_str(&format!(
            "{MID},S1,ST1,OFFLINE_PAY,2026-11-25T10:{:02}:00+08:00,Coffee,PAYMENT,Success,M{i:06},A{i:06},,12.50,{ccy},{block},ALIPAY_HK,U1\n",
            i % 60
        ));
        i += 1;
        if s.len() >= len {
            return s.into_bytes();
        }
    }
}

pub fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn import(cfg: &Config, refetch: bool) -> anyhow::Result<pipeline::DayImport> {
    let mut ws = pipeline::Workspace::open(cfg.clone())?;
    ws.refetch = refetch;
    let mut src = pipeline::open_source(cfg)?;
    pipeline::import_day(&mut ws, src.as_mut(), date(), chrono::Utc::now(), None)
}

pub fn file_rows(cfg: &Config, name: &str) -> Vec<(i64, String, i64)> {
    let conn = rusqlite::Connection::open(cfg.path(&cfg.store.database)).unwrap();
    let mut st = conn.prepare("SELECT version, sha256, current FROM files WHERE name = ?1 ORDER BY version").unwrap();
    st.query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(|r| r.unwrap()).collect()
}

pub fn hour() -> Duration {
    Duration::from_secs(3600)
}

/// Runs `f` with this thread's log events captured as text (`key=value` fields).
pub fn capture_logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let w = buf.clone();
    let sub = tracing_subscriber::fmt().with_writer(move || w.clone()).with_ansi(false).finish();
    let out = tracing::subscriber::with_default(sub, f);
    let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    (out, text)
}

/// An intl layout with the shipped folders and settlement pattern and the given transactions
/// pattern: the permissive patterns a merchant might configure, which hostile names can match.
fn layout_with_transactions(pattern: &str) -> String {
    format!(
        r#"
[layouts.intl]
transactions_dir = "/download/{{merchant_id}}/{{yyyymmdd}}"
settlement_dir = "/download/{{merchant_id}}/{{yyyymmdd}}"
transactions = '{pattern}'
settlement_detail = '^ALIPAY_SETTLEMENT_DETAIL_(?P<ccy>[A-Z]{{3}})_(?P<date>\d{{8}})\.csv$'
"#
    )
}
