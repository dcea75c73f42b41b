//! One authenticated SFTP connection, built in the steps `doctor` reports one by one: resolve the
//! host, open TCP with a timeout, SSH handshake, check the server's host key against the pin BEFORE
//! sending any credential, authenticate, start the SFTP subsystem. Every failure is an [`SftpError`]
//! that names host, port and config key and says what to do; no error or log ever holds a secret.

use crate::config::{Config, Secret};
use anyhow::{Context, Result};
use base64::Engine;
use ssh2::{CheckResult, HashType, HostKeyType, KnownHostFileKind, MethodType, Session, Sftp};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

/// Everything needed to reach the server, with secrets resolved (they print as `[redacted]`).
#[derive(Debug, Clone)]
pub struct SftpSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub private_key: Option<PathBuf>,
    pub passphrase: Option<Secret>,
    /// Trusted host key fingerprints (`SHA256:…`).
    pub pins: Vec<String>,
    pub known_hosts: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub io_timeout: Duration,
    /// Files modified more recently than this are still being written.
    pub stable: Duration,
    pub retries: u32,
    pub retry_backoff: Duration,
    /// The config section, for messages: `environments.production.sftp`.
    pub key: String,
}

impl SftpSettings {
    /// The active environment's `[sftp]` section, secrets read from their env vars or files.
    pub fn from_config(cfg: &Config) -> Result<SftpSettings> {
        let key = format!("environments.{}.sftp", cfg.environment);
        let s = cfg.active().sftp.as_ref().with_context(|| {
            format!("{}: there is no [{key}] section: add host, user and a password or key", cfg.origin)
        })?;
        let password = s.password.resolve(&format!("{key}.password"), &cfg.base_dir)?;
        let passphrase = s.private_key_passphrase.resolve(&format!("{key}.private_key_passphrase"), &cfg.base_dir)?;
        let private_key = s.private_key_file.as_deref().map(|p| cfg.path(p));
        anyhow::ensure!(
            password.is_some() || private_key.is_some(),
            "{}: [{key}] has neither `password` nor `private_key_file`: set the password Alipay issued \
             (password = {{ env = \"ALIPAY_SFTP_PASSWORD\" }})",
            cfg.origin
        );
        Ok(SftpSettings {
            host: s.host.clone(),
            port: s.port,
            user: s.user.clone(),
            password,
            private_key,
            passphrase,
            pins: s.host_key_sha256.clone(),
            known_hosts: s.known_hosts.as_deref().map(|p| cfg.path(p)),
            connect_timeout: Duration::from_secs(s.connect_timeout_secs.max(1)),
            io_timeout: Duration::from_secs(s.io_timeout_secs.max(1)),
            stable: Duration::from_secs(s.stable_minutes * 60),
            retries: s.retries,
            retry_backoff: Duration::from_millis(s.retry_backoff_ms),
            key,
        })
    }

    /// `sftp://user@host:port` — for logs, messages and the `files.source` column.
    pub fn describe(&self) -> String {
        format!("sftp://{}@{}:{}", self.user, self.host, self.port)
    }
}

/// Why a connection or transfer failed. [`SftpError::retryable`] tells network trouble (worth a retry
/// with backoff) from problems a retry cannot fix (host key, credentials, configuration).
#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    #[error("cannot resolve host {host}: {detail}: check `{key}.host` and this machine's DNS")]
    Dns { host: String, key: String, detail: String },
    #[error(
        "cannot connect to {host}:{port} ({addr}): {detail}: is this server's public IP whitelisted by Alipay? \
         send it to your Alipay contact (also check `{key}.host`/`port` and the firewall)"
    )]
    Tcp { host: String, port: u16, addr: String, detail: String, key: String, timed_out: bool },
    #[error("SSH handshake with {host}:{port} failed: {detail}: check that it is an SSH server and retry later")]
    Handshake { host: String, port: u16, detail: String, timed_out: bool },
    #[error(
        "host key of {host}:{port} refused before authentication: {reason}. The server presented the {key_type} \
         key {seen}. Confirm it with Alipay, then pin it: {key}.host_key_sha256 = [\"{seen}\"]"
    )]
    HostKey { host: String, port: u16, key_type: String, seen: String, reason: String, key: String },
    #[error("authentication as '{user}' at {host}:{port} failed ({detail}): check `{key}.user` and {what}")]
    Auth { user: String, host: String, port: u16, detail: String, key: String, what: String },
    #[error("{op} {path} on {host}:{port} failed: {detail}")]
    Remote { host: String, port: u16, op: &'static str, path: String, detail: String, retry: bool },
    #[error("{0}")]
    Local(String),
}

impl SftpError {
    /// How many retries this error gets out of the configured `retries`: a server that let the
    /// connect timeout run out (no TCP answer, or TCP but no SSH) seldom answers seconds later, and
    /// each try costs a whole `connect_timeout_secs`, so it is retried at most once (with the default
    /// 20 s that bounds a dead server to about 41 s instead of 151 s). Other network errors get all.
    pub fn retry_limit(&self, configured: u32) -> u32 {
        match self {
            SftpError::Tcp { timed_out: true, .. } | SftpError::Handshake { timed_out: true, .. } => {
                configured.min(CONNECT_TIMEOUT_RETRIES)
            }
            _ => configured,
        }
    }

    /// Network trouble that a new connection may cure.
    pub fn retryable(&self) -> bool {
        match self {
            SftpError::Tcp { .. } | SftpError::Handshake { .. } => true,
            SftpError::Remote { retry, .. } => *retry,
            _ => false,
        }
    }

    /// An ssh2 error of `op` on `path`, with what to do. An SFTP status (no such file, permission
    /// denied) is the server's answer, not a dropped connection: it is not retried.
    pub(crate) fn from_ssh2(s: &SftpSettings, op: &'static str, path: &str, e: &ssh2::Error) -> Self {
        let (detail, retry) = match e.code() {
            ssh2::ErrorCode::SFTP(2) | ssh2::ErrorCode::SFTP(10) => {
                ("no such file (removed or renamed since it was listed?): run again".to_string(), false)
            }
            ssh2::ErrorCode::SFTP(3) => {
                ("permission denied: this account may not read it; ask your Alipay contact".to_string(), false)
            }
            ssh2::ErrorCode::SFTP(n) => (
                format!("SFTP status {n} ({}): run again later; if it persists, ask your Alipay contact", e.message()),
                false,
            ),
            ssh2::ErrorCode::Session(-9) => (
                format!(
                    "no answer within {} s: check the network, or raise `{}.io_timeout_secs`",
                    s.io_timeout.as_secs(),
                    s.key
                ),
                true,
            ),
            ssh2::ErrorCode::Session(n) => {
                (format!("{} (libssh2 error {n}): the connection failed; run again", e.message()), true)
            }
        };
        SftpError::Remote { host: s.host.clone(), port: s.port, op, path: path.to_string(), detail, retry }
    }

    /// Adds how many retries were spent to a network error that outlived them.
    pub(crate) fn after_retries(self, n: u32) -> Self {
        let tries = if n == 1 { "retry" } else { "retries" };
        let note = |d: String| format!("{d} (gave up after {n} {tries})");
        match self {
            SftpError::Remote { host, port, op, path, detail, retry } => {
                SftpError::Remote { host, port, op, path, detail: note(detail), retry }
            }
            SftpError::Tcp { host, port, addr, detail, key, timed_out } => {
                SftpError::Tcp { host, port, addr, detail: note(detail), key, timed_out }
            }
            SftpError::Handshake { host, port, detail, timed_out } => {
                SftpError::Handshake { host, port, detail: note(detail), timed_out }
            }
            other => other,
        }
    }

    pub(crate) fn remote(
        s: &SftpSettings,
        op: &'static str,
        path: &str,
        e: impl std::fmt::Display,
        retry: bool,
    ) -> Self {
        SftpError::Remote {
            host: s.host.clone(),
            port: s.port,
            op,
            path: path.to_string(),
            detail: e.to_string(),
            retry,
        }
    }
}

/// The host key the server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenKey {
    /// `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
    pub key_type: String,
    /// The raw key blob, for known_hosts checks.
    pub blob: Vec<u8>,
}

/// An open, authenticated SFTP session.
pub struct Connection {
    pub sftp: Sftp,
    pub session: Session,
    pub seen: SeenKey,
}

/// Resolves the configured host to socket addresses.
pub fn resolve(s: &SftpSettings) -> Result<Vec<SocketAddr>, SftpError> {
    let dns = |detail: String| SftpError::Dns { host: s.host.clone(), key: s.key.clone(), detail };
    let addrs: Vec<SocketAddr> = (s.host.as_str(), s.port).to_socket_addrs().map_err(|e| dns(e.to_string()))?.collect();
    if addrs.is_empty() {
        return Err(dns("no addresses".into()));
    }
    Ok(addrs)
}

/// Opens TCP to the first address that answers within the connect timeout.
pub fn tcp_connect(s: &SftpSettings, addrs: &[SocketAddr]) -> Result<TcpStream, SftpError> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(a, s.connect_timeout) {
            Ok(t) => {
                let _ = t.set_nodelay(true);
                return Ok(t);
            }
            Err(e) => {
                let timed_out = matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock);
                let detail = match e.kind() {
                    _ if timed_out => {
                        format!("no answer within {} s (`{}.connect_timeout_secs`)", s.connect_timeout.as_secs(), s.key)
                    }
                    std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                    _ => e.to_string(),
                };
                last = Some(SftpError::Tcp {
                    host: s.host.clone(),
                    port: s.port,
                    addr: a.to_string(),
                    detail,
                    key: s.key.clone(),
                    timed_out,
                });
            }
        }
    }
    Err(last.expect("at least one address"))
}

/// Host key algorithms in a fixed preference, so the key (and fingerprint) we see is deterministic.
const HOST_KEY_PREF: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
];

/// SSH handshake over `tcp` (bounded by the connect timeout).
pub fn handshake(s: &SftpSettings, tcp: TcpStream) -> Result<Session, SftpError> {
    let hs = |detail: String| SftpError::Handshake { host: s.host.clone(), port: s.port, detail, timed_out: false };
    let mut session = Session::new().map_err(|e| hs(e.to_string()))?;
    let supported = session.supported_algs(MethodType::HostKey).unwrap_or_default();
    let pref: Vec<&str> = HOST_KEY_PREF.iter().copied().filter(|a| supported.contains(a)).collect();
    if !pref.is_empty() {
        session.method_pref(MethodType::HostKey, &pref.join(",")).map_err(|e| hs(e.to_string()))?;
    }
    session.set_tcp_stream(tcp);
    session.set_timeout(millis(s.connect_timeout));
    session.handshake().map_err(|e| {
        // libssh2 says only "Timed out waiting on socket": name the setting and the server.
        if e.code() == ssh2::ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT) {
            let detail = format!(
                "{}:{} accepted the connection but completed no SSH handshake within {} s                  (`{}.connect_timeout_secs`): check `{}.host`/`port` point at Alipay's SFTP server, or raise                  `{}.connect_timeout_secs` on a slow link",
                s.host,
                s.port,
                s.connect_timeout.as_secs(),
                s.key,
                s.key,
                s.key
            );
            SftpError::Handshake { host: s.host.clone(), port: s.port, detail, timed_out: true }
        } else {
            hs(e.to_string())
        }
    })?;
    Ok(session)
}

/// The key the server presented during the handshake.
pub fn seen_key(session: &Session) -> SeenKey {
    let hash = session.host_key_hash(HashType::Sha256).unwrap_or_default();
    let fingerprint = format!("SHA256:{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(hash));
    let (blob, kt) = session.host_key().map(|(b, t)| (b.to_vec(), t)).unwrap_or((Vec::new(), HostKeyType::Unknown));
    let key_type = match kt {
        HostKeyType::Rsa => "RSA",
        HostKeyType::Dss => "DSA",
        HostKeyType::Ecdsa256 | HostKeyType::Ecdsa384 | HostKeyType::Ecdsa521 => "ECDSA",
        HostKeyType::Ed25519 => "ED25519",
        HostKeyType::Unknown => "unknown",
    };
    SeenKey { fingerprint, key_type: key_type.to_string(), blob }
}

/// `SHA256:abc=` and `abc` compare equal: the prefix and base64 padding are optional in the config.
fn normalize_pin(p: &str) -> &str {
    let p = p.trim();
    p.strip_prefix("SHA256:").unwrap_or(p).trim_end_matches('=')
}

/// Accepts the server's key only if it matches a pinned fingerprint or the known_hosts file.
pub fn verify_host_key(s: &SftpSettings, session: &Session) -> Result<SeenKey, SftpError> {
    let seen = seen_key(session);
    let refuse = |reason: String| SftpError::HostKey {
        host: s.host.clone(),
        port: s.port,
        key_type: seen.key_type.clone(),
        seen: seen.fingerprint.clone(),
        reason,
        key: s.key.clone(),
    };
    let want = normalize_pin(&seen.fingerprint);
    if s.pins.iter().any(|p| normalize_pin(p) == want) {
        return Ok(seen);
    }
    if let Some(kh_path) = &s.known_hosts {
        let mut kh = session.known_hosts().map_err(|e| refuse(format!("cannot use known_hosts: {e}")))?;
        kh.read_file(kh_path, KnownHostFileKind::OpenSSH).map_err(|e| {
            refuse(format!(
                "cannot read the known_hosts file {} ({e}): check `{}.known_hosts`",
                kh_path.display(),
                s.key
            ))
        })?;
        return match kh.check_port(&s.host, s.port, &seen.blob) {
            CheckResult::Match => Ok(seen),
            CheckResult::Mismatch => Err(refuse(format!(
                "it DIFFERS from the key recorded for this host in {} (the key changed, or someone is in the middle)",
                kh_path.display()
            ))),
            CheckResult::NotFound => Err(refuse(format!("{} has no key for this host", kh_path.display()))),
            CheckResult::Failure => Err(refuse(format!("cannot check it against {}", kh_path.display()))),
        };
    }
    if s.pins.is_empty() {
        return Err(refuse("no host key is pinned".into()));
    }
    Err(refuse(format!(
        "it matches none of the pinned fingerprints ({}): the key changed, or someone is in the middle",
        s.pins.join(", ")
    )))
}

/// Logs in with the private key (if configured), then the password (if configured).
pub fn authenticate(s: &SftpSettings, session: &Session) -> Result<(), SftpError> {
    let mut tried = Vec::new();
    if let Some(key) = &s.private_key {
        let pass = s.passphrase.as_ref().map(|p| p.expose());
        match session.userauth_pubkey_file(&s.user, None, key, pass) {
            Ok(()) if session.authenticated() => return Ok(()),
            Ok(()) => tried.push(format!("key {}: not accepted", key.display())),
            Err(e) => tried.push(format!("key {}: {}", key.display(), e.message())),
        }
    }
    if let Some(pw) = &s.password {
        match session.userauth_password(&s.user, pw.expose()) {
            Ok(()) if session.authenticated() => return Ok(()),
            Ok(()) => tried.push("password: not accepted".into()),
            Err(e) => tried.push(format!("password: {}", e.message())),
        }
    }
    let what = match (&s.private_key, &s.password) {
        (Some(_), Some(_)) => format!("`{0}.private_key_file` (and its passphrase) and `{0}.password`", s.key),
        (Some(_), None) => format!("`{0}.private_key_file` and `{0}.private_key_passphrase`", s.key),
        _ => format!("the password in `{}.password` (the one Alipay issued for this account)", s.key),
    };
    Err(SftpError::Auth {
        user: s.user.clone(),
        host: s.host.clone(),
        port: s.port,
        detail: if tried.is_empty() { "no method configured".into() } else { tried.join("; ") },
        key: s.key.clone(),
        what,
    })
}

/// All steps: an authenticated SFTP session with the I/O timeout in force.
pub fn connect(s: &SftpSettings) -> Result<Connection, SftpError> {
    let addrs = resolve(s)?;
    let tcp = tcp_connect(s, &addrs)?;
    let session = handshake(s, tcp)?;
    let seen = verify_host_key(s, &session)?;
    authenticate(s, &session)?;
    session.set_timeout(millis(s.io_timeout));
    let sftp = session.sftp().map_err(|e| SftpError::from_ssh2(s, "starting SFTP", "", &e))?;
    tracing::debug!(server = %s.describe(), host_key = %seen.fingerprint, "SFTP connected");
    Ok(Connection { sftp, session, seen })
}

/// libssh2's "Timed out waiting on socket".
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;

/// At most this many retries after a connect or handshake timeout ([`SftpError::retry_limit`]).
pub const CONNECT_TIMEOUT_RETRIES: u32 = 1;

fn millis(d: Duration) -> u32 {
    d.as_millis().min(u32::MAX as u128) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_compare_without_prefix_or_padding() {
        assert_eq!(normalize_pin("SHA256:abcd="), "abcd");
        assert_eq!(normalize_pin(" abcd "), "abcd");
        assert_ne!(normalize_pin("SHA256:abce"), normalize_pin("SHA256:abcd"));
    }

    #[test]
    fn settings_never_print_secrets() {
        let s = SftpSettings {
            host: "h".into(),
            port: 22,
            user: "u".into(),
            password: Some(Secret::new("hunter2-pw".into())),
            private_key: None,
            passphrase: Some(Secret::new("hunter2-pp".into())),
            pins: vec![],
            known_hosts: None,
            connect_timeout: Duration::from_secs(1),
            io_timeout: Duration::from_secs(1),
            stable: Duration::ZERO,
            retries: 0,
            retry_backoff: Duration::ZERO,
            key: "environments.x.sftp".into(),
        };
        let shown = format!("{s:?} {}", s.describe());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(s.describe(), "sftp://u@h:22");
    }

    #[test]
    fn only_network_errors_are_retried() {
        let tcp = SftpError::Tcp {
            host: "h".into(),
            port: 22,
            addr: "a".into(),
            detail: "d".into(),
            key: "k".into(),
            timed_out: false,
        };
        assert!(tcp.retryable());
        let auth = SftpError::Auth {
            user: "u".into(),
            host: "h".into(),
            port: 22,
            detail: "d".into(),
            key: "k".into(),
            what: "w".into(),
        };
        assert!(!auth.retryable());
        assert!(format!("{tcp}").contains("whitelisted by Alipay"));
    }

    #[test]
    fn connect_timeouts_get_one_retry_other_network_errors_all() {
        let hs = |timed_out| SftpError::Handshake { host: "h".into(), port: 22, detail: "d".into(), timed_out };
        let tcp = |timed_out| SftpError::Tcp {
            host: "h".into(),
            port: 22,
            addr: "a".into(),
            detail: "d".into(),
            key: "k".into(),
            timed_out,
        };
        assert_eq!((hs(true).retry_limit(5), tcp(true).retry_limit(5)), (1, 1));
        assert_eq!((hs(false).retry_limit(5), tcp(false).retry_limit(5)), (5, 5));
        assert_eq!(hs(true).retry_limit(0), 0);
    }
}
