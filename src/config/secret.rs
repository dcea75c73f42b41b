//! Secrets (SFTP and SMTP passwords, the RSA private key) are named in the config by where to find
//! them — an environment variable or a file — never by value. [`Secret`] never prints its content.

use anyhow::{bail, Context, Result};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// `{ env = "ALIPAY_SFTP_PASSWORD" }` or `{ file = "/etc/alipay-recon/sftp.pass" }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// A resolved secret. `Debug` and `Display` print `[redacted]`.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(s: String) -> Secret {
        Secret(SecretString::from(s))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl SecretRef {
    pub fn is_set(&self) -> bool {
        self.env.is_some() || self.file.is_some()
    }

    /// Reads the secret; `None` when neither source is configured. `key` names the config key in
    /// errors (`environments.production.sftp.password`); values never appear in errors.
    pub fn resolve(&self, key: &str, base_dir: &std::path::Path) -> Result<Option<Secret>> {
        if let Some(var) = &self.env {
            return match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Some(Secret::new(v))),
                _ => bail!("{key}: environment variable {var} is not set (or empty): export it or use `file = …`"),
            };
        }
        if let Some(file) = &self.file {
            let p = if file.is_absolute() { file.clone() } else { base_dir.join(file) };
            let text = std::fs::read_to_string(&p).with_context(|| {
                format!("{key}: cannot read secret file {}: check the path and that this user may read it", p.display())
            })?;
            let t = text.trim_end_matches(['\n', '\r']).to_string();
            if t.is_empty() {
                bail!("{key}: secret file {} is empty", p.display());
            }
            return Ok(Some(Secret::new(t)));
        }
        Ok(None)
    }
}
