//! `[email]`: how reports and alerts are delivered — the transport (SMTP, `.eml` files, none), the
//! SMTP server and its security, sender and recipients (per message kind), timeouts and retries.
//! Validation names the key and says what to write; the password is a [`SecretRef`], never a value.

use super::SecretRef;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Send through an SMTP server.
    Smtp,
    /// Write `.eml` files to `email.dir` (the demo's default).
    #[default]
    File,
    /// Do not send email (messages are still recorded in the outbox, marked suppressed).
    None,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS; refuses to send if the server does not offer it.
    #[default]
    Starttls,
    /// TLS from the first byte ("SMTPS", usually port 465).
    Tls,
    /// No encryption: only for a relay on the same host or a trusted network.
    Plain,
}

impl Security {
    pub fn default_port(self) -> u16 {
        match self {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::Plain => 25,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default: 587 (starttls), 465 (tls), 25 (plain).
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    /// Login name; no `user` means no authentication (a local relay).
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: SecretRef,
    /// Extra trusted CA certificate (PEM) for a server with a private or self-signed certificate.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Connect and per-command timeout.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

impl SmtpConfig {
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.security.default_port())
    }
}

/// Recipients of one message kind; unset lists fall back to the `[email]` defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    #[serde(default)]
    pub to: Option<Vec<String>>,
    #[serde(default)]
    pub cc: Option<Vec<String>>,
}

/// Keys allowed under `[email.routes]`: `alert` covers every alert kind without its own entry.
pub const ROUTE_KEYS: &[&str] =
    &["daily", "alert", "files_missing", "run_failed", "manual_review", "deletion_risk", "unverified_reply"];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    #[serde(default)]
    pub transport: Transport,
    /// Folder for the `file` transport (default `outbox-eml` beside the config).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Sender, `Name <address>` or `address`.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    /// Per message kind: `[email.routes.alert] to = ["ops@…"]`.
    #[serde(default)]
    pub routes: BTreeMap<String, Route>,
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// Attempts per message and run (the next run and `outbox send` try again).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Wait before the 2nd attempt; doubled for each further one.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            transport: Transport::default(),
            dir: None,
            from: None,
            to: Vec::new(),
            cc: Vec::new(),
            routes: BTreeMap::new(),
            smtp: None,
            attempts: default_attempts(),
            backoff_ms: default_backoff(),
        }
    }
}

fn default_timeout() -> u64 {
    30
}
fn default_attempts() -> u32 {
    3
}
fn default_backoff() -> u64 {
    2000
}

impl EmailConfig {
    /// Checks what can be checked without the network: required keys per transport, address syntax,
    /// route names. `origin` is the config file for messages.
    pub fn validate(&self, origin: &str) -> Result<()> {
        if let Some(k) = self.routes.keys().find(|k| !ROUTE_KEYS.contains(&k.as_str())) {
            bail!("{origin}: [email.routes.{k}] is not a message kind: use one of {}", ROUTE_KEYS.join(", "));
        }
        if self.attempts == 0 {
            bail!("{origin}: key `email.attempts` must be at least 1");
        }
        let mut addrs: Vec<(String, &String)> = Vec::new();
        addrs.extend(self.from.iter().map(|a| ("email.from".to_string(), a)));
        addrs.extend(self.to.iter().map(|a| ("email.to".to_string(), a)));
        addrs.extend(self.cc.iter().map(|a| ("email.cc".to_string(), a)));
        for (k, r) in &self.routes {
            addrs.extend(r.to.iter().flatten().map(|a| (format!("email.routes.{k}.to"), a)));
            addrs.extend(r.cc.iter().flatten().map(|a| (format!("email.routes.{k}.cc"), a)));
        }
        for (key, a) in addrs {
            if let Err(e) = a.parse::<lettre::message::Mailbox>() {
                bail!("{origin}: key `{key}`: '{a}' is not an email address ({e}): write `name@example.com` or `Name <name@example.com>`");
            }
        }
        if self.transport != Transport::Smtp {
            return Ok(());
        }
        let Some(smtp) = &self.smtp else {
            bail!("{origin}: email.transport = \"smtp\" needs an [email.smtp] section with at least `host`");
        };
        if smtp.host.trim().is_empty() {
            bail!("{origin}: key `email.smtp.host` is empty: name the SMTP server (e.g. smtp.example.com)");
        }
        if smtp.timeout_secs == 0 {
            bail!("{origin}: key `email.smtp.timeout_secs` must be at least 1");
        }
        if smtp.password.is_set() && smtp.user.is_none() {
            bail!("{origin}: `email.smtp.password` is set but `email.smtp.user` is not: add the login name");
        }
        if self.from.is_none() {
            bail!("{origin}: key `email.from` is required with the smtp transport (e.g. \"alipay-recon <recon@example.com>\")");
        }
        if self.to.is_empty() && !self.routes.values().any(|r| r.to.as_ref().is_some_and(|t| !t.is_empty())) {
            bail!("{origin}: key `email.to` is empty: list at least one recipient");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<EmailConfig> {
        let c: EmailConfig = toml::from_str(t)?;
        c.validate("test.toml")?;
        Ok(c)
    }

    #[test]
    fn defaults_are_the_file_transport() {
        let c = parse("").unwrap();
        assert_eq!(c.transport, Transport::File);
        assert_eq!(c.attempts, 3);
    }

    #[test]
    fn smtp_needs_host_from_and_to() {
        let e = parse("transport = \"smtp\"").unwrap_err().to_string();
        assert!(e.contains("[email.smtp]"), "{e}");
        let e = parse("transport = \"smtp\"\nto=[\"a@b.c\"]\n[smtp]\nhost=\"h\"").unwrap_err().to_string();
        assert!(e.contains("email.from"), "{e}");
        let e = parse("transport = \"smtp\"\nfrom=\"a@b.c\"\n[smtp]\nhost=\"h\"").unwrap_err().to_string();
        assert!(e.contains("email.to"), "{e}");
        let c = parse("transport = \"smtp\"\nfrom=\"R <a@b.c>\"\nto=[\"x@y.z\"]\n[smtp]\nhost=\"h\"\nsecurity=\"tls\"")
            .unwrap();
        assert_eq!(c.smtp.unwrap().effective_port(), 465);
    }

    #[test]
    fn bad_address_and_route_are_named() {
        let e = parse("to = [\"not an address\"]").unwrap_err().to_string();
        assert!(e.contains("email.to") && e.contains("not an address"), "{e}");
        let e = parse("[routes.weekly]\nto=[\"a@b.c\"]").unwrap_err().to_string();
        assert!(e.contains("routes.weekly"), "{e}");
        let e = parse("[routes.alert]\ncc=[\"bad@\"]").unwrap_err().to_string();
        assert!(e.contains("email.routes.alert.cc"), "{e}");
    }

    #[test]
    fn password_without_user_is_refused() {
        let e = parse("transport=\"smtp\"\nfrom=\"a@b.c\"\nto=[\"a@b.c\"]\n[smtp]\nhost=\"h\"\npassword={env=\"P\"}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("email.smtp.user"), "{e}");
    }
}
