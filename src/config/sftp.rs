//! `[environments.<name>.sftp]`: Alipay's SFTP server for that environment — where it is, how we log
//! in (secrets by reference only), which host key we trust, and how patient we are with the network.

use super::SecretRef;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SftpConfig {
    /// `isftp.alipay.com` (fallback `sftp.alipay.com`).
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    pub user: String,
    #[serde(default)]
    pub password: SecretRef,
    /// Private key for key authentication (instead of or besides the password).
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    #[serde(default)]
    pub private_key_passphrase: SecretRef,
    /// Pinned host key fingerprints, `SHA256:…` as printed by `ssh-keygen -lf`.
    #[serde(default)]
    pub host_key_sha256: Vec<String>,
    /// Or a known_hosts file with the server's key.
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    #[serde(default = "default_io_timeout")]
    pub io_timeout_secs: u64,
    /// Files modified within this many minutes are still being written: skipped this time.
    #[serde(default = "default_stable")]
    pub stable_minutes: u64,
    /// How many times a dropped connection is retried (per listing or file) before giving up.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First wait before a retry; it doubles on each further retry (capped at one minute).
    #[serde(default = "default_backoff")]
    pub retry_backoff_ms: u64,
}

fn default_port() -> u16 {
    22
}
fn default_connect_timeout() -> u64 {
    20
}
fn default_io_timeout() -> u64 {
    60
}
fn default_stable() -> u64 {
    2
}
fn default_retries() -> u32 {
    5
}
fn default_backoff() -> u64 {
    1000
}
