//! The `doctor` checks of the two outbound channels that do not depend on the SFTP source: email
//! (the SMTP login, the `.eml` folder, or a warning that nothing is sent) and the payment module's
//! RSA keys (the merchant's private key and Alipay's public key of the active environment).
//! Key material never appears in the output; the merchant's PUBLIC key is identified by its size and
//! SHA-256 fingerprint so an operator can compare it with the key uploaded to Alipay.

use super::{writable, Report, Status};
use crate::config::email::{Security, Transport};
use crate::config::Config;
use crate::notify::deliver::{self, looks_like_tls};
use crate::payment::sign::{PrivateKey, PublicKey};
use std::path::Path;

/// Alipay's RSA2 needs at least this modulus.
pub const MIN_RSA_BITS: u32 = 2048;

/// The email line: connect + EHLO (+ TLS, + AUTH when a user is set) for SMTP; the folder for
/// `file`; a warning for `none`.
pub fn email(cfg: &Config, r: &mut Report) {
    let ec = &cfg.email;
    match ec.transport {
        Transport::None => {
            r.push(
                "email",
                Status::Warn,
                "email.transport = \"none\": no report or alert email will be sent (they stay in the outbox table): \
                 set `email.transport = \"smtp\"` to send them",
            );
        }
        Transport::File => {
            let dir = cfg.path(ec.dir.as_deref().unwrap_or(Path::new("outbox-eml")));
            writable(r, "email folder", &dir, "email.dir");
        }
        Transport::Smtp => smtp(cfg, r),
    }
}

fn security_name(s: Security) -> &'static str {
    match s {
        Security::Starttls => "starttls",
        Security::Tls => "tls",
        Security::Plain => "plain",
    }
}

fn smtp(cfg: &Config, r: &mut Report) {
    let Some(s) = cfg.email.smtp.as_ref() else {
        // Config validation refuses this; kept so doctor never panics on a hand-built config.
        r.push("SMTP", Status::Fail, "email.transport = \"smtp\" needs an [email.smtp] section with `host`");
        return;
    };
    let port = s.effective_port();
    let sec = security_name(s.security);
    let target = format!("{}:{port} (security = \"{sec}\")", s.host);
    // Building resolves the password (env var or file): its errors name `email.smtp.password`.
    let transport = match deliver::smtp_transport(s, cfg) {
        Ok(t) => t,
        Err(e) => {
            r.push("SMTP", Status::Fail, format!("{target}: {e:#}"));
            return;
        }
    };
    let login = s.user.as_deref().map(|u| format!(", logged in as '{u}'")).unwrap_or_default();
    match transport.test_connection() {
        Ok(true) => r.push("SMTP", Status::Ok, format!("{target}: connected, EHLO accepted{login}")),
        Ok(false) => r.push(
            "SMTP",
            Status::Fail,
            format!("{target}: the server closed the connection after EHLO: check email.smtp.host and port"),
        ),
        Err(e) => r.push("SMTP", Status::Fail, format!("{target}: {e}: {}", smtp_hint(&e, s.user.is_some()))),
    };
}

/// What to check for a failed SMTP test, by the kind of failure.
fn smtp_hint(e: &lettre::transport::smtp::Error, has_user: bool) -> &'static str {
    let code = e.status().map(|c| c.to_string()).unwrap_or_default();
    if code == "535" || code == "534" {
        "authentication failed: check email.smtp.user and the password named by email.smtp.password"
    } else if code == "530" {
        "the server requires authentication or STARTTLS: set email.smtp.user/password or security = \"starttls\""
    } else if e.is_tls() || looks_like_tls(&e.to_string()) {
        "the TLS handshake failed: check email.smtp.security (starttls on 587, tls on 465) and, for a private \
         certificate, email.smtp.ca_file"
    } else if e.is_permanent() && has_user {
        "the server refused the login: check email.smtp.user, the password and which AUTH methods it offers"
    } else if e.is_permanent() {
        "the server refused the session: check email.smtp.security and whether it requires a login"
    } else {
        "the server could not be reached: check email.smtp.host and email.smtp.port, that the server is running, \
         and that a firewall lets this host connect"
    }
}

/// The payment module's keys and endpoint of the active environment (only with `[payment] enabled`).
pub fn rsa_keys(cfg: &Config, r: &mut Report) {
    if !cfg.payment.enabled {
        return;
    }
    let env_name = &cfg.environment;
    let env = cfg.active();
    let missing: Vec<String> = [("client_id", &env.client_id), ("api_base_url", &env.api_base_url)]
        .into_iter()
        .filter(|(_, v)| v.as_deref().is_none_or(|s| s.trim().is_empty()))
        .map(|(k, _)| format!("`environments.{env_name}.{k}`"))
        .collect();
    if missing.is_empty() {
        r.push(
            "payment API",
            Status::Ok,
            format!(
                "client_id {} at {}",
                env.client_id.as_deref().unwrap_or(""),
                env.api_base_url.as_deref().unwrap_or("")
            ),
        );
    } else {
        r.push(
            "payment API",
            Status::Fail,
            format!("{} not set: copy them from Alipay's developer portal into {}", missing.join(" and "), cfg.origin),
        );
    }
    let ours = merchant_key(cfg, r);
    let theirs = alipay_key(cfg, r);
    if let (Some(a), Some(b)) = (ours, theirs) {
        if a == b {
            r.push(
                "Alipay public key",
                Status::Fail,
                format!(
                    "environments.{}.alipay_public_key_file holds YOUR public key, not Alipay's: download Alipay's \
                     public key from the developer portal",
                    cfg.environment
                ),
            );
        }
    }
}

/// Returns the public key's fingerprint when the key is usable.
fn merchant_key(cfg: &Config, r: &mut Report) -> Option<String> {
    let key_name = format!("environments.{}.private_key", cfg.environment);
    let name = "merchant private key";
    let secret = match cfg.active().private_key.resolve(&key_name, &cfg.base_dir) {
        Ok(Some(s)) => s,
        Ok(None) => {
            r.push(
                name,
                Status::Fail,
                format!(
                    "`{key_name}` is not set: name an env variable or file holding the merchant's RSA2 private key"
                ),
            );
            return None;
        }
        Err(e) => {
            r.push(name, Status::Fail, format!("{e:#}"));
            return None;
        }
    };
    let key = match PrivateKey::parse(secret.expose(), &key_name) {
        Ok(k) => k,
        Err(e) => {
            r.push(name, Status::Fail, format!("{e:#}"));
            return None;
        }
    };
    let fingerprint = key.public().and_then(|p| p.sha256_fingerprint());
    let fingerprint = match fingerprint {
        Ok(f) => f,
        Err(e) => {
            r.push(name, Status::Fail, format!("{key_name}: cannot derive the public key: {e:#}"));
            return None;
        }
    };
    let bits = key.bits();
    let shown = format!("RSA {bits} bits, public key SHA-256 {fingerprint}");
    if bits < MIN_RSA_BITS {
        r.push(
            name,
            Status::Fail,
            format!("{key_name}: {shown}: Alipay's RSA2 needs at least {MIN_RSA_BITS} bits: generate a new key pair"),
        );
        None
    } else {
        r.push(
            name,
            Status::Ok,
            format!("{shown} (compare with `openssl pkey -pubin -in <uploaded public key> -outform DER | sha256sum`)"),
        );
        Some(fingerprint)
    }
}

/// Returns the key's fingerprint when it is usable.
fn alipay_key(cfg: &Config, r: &mut Report) -> Option<String> {
    let key_name = format!("environments.{}.alipay_public_key_file", cfg.environment);
    let name = "Alipay public key";
    let Some(file) = cfg.active().alipay_public_key_file.as_ref() else {
        r.push(name, Status::Fail, format!("`{key_name}` is not set: save Alipay's public key to a file and name it"));
        return None;
    };
    let path = cfg.path(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            r.push(
                name,
                Status::Fail,
                format!(
                    "{key_name}: cannot read {}: {e}: check the path and that this user may read it",
                    path.display()
                ),
            );
            return None;
        }
    };
    let key = match PublicKey::parse(&text, &format!("{key_name} ({})", path.display())) {
        Ok(k) => k,
        Err(e) => {
            r.push(name, Status::Fail, format!("{e:#}"));
            return None;
        }
    };
    let fingerprint = match key.sha256_fingerprint() {
        Ok(f) => f,
        Err(e) => {
            r.push(name, Status::Fail, format!("{key_name}: cannot encode the key: {e:#}"));
            return None;
        }
    };
    if key.bits() < MIN_RSA_BITS {
        r.push(
            name,
            Status::Fail,
            format!(
                "{key_name}: {} holds a {}-bit key: RSA2 needs {MIN_RSA_BITS}: fetch the key again",
                path.display(),
                key.bits()
            ),
        );
        return None;
    }
    r.push(name, Status::Ok, format!("{}: RSA {} bits, SHA-256 {fingerprint}", path.display(), key.bits()));
    Some(fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra_env: &str, payment: bool, dir: &Path) -> Config {
        let text = format!(
            "environment = \"sandbox\"\n[merchant]\nname = \"M\"\n[environments.sandbox]\nmerchant_id = \"2188000000000001\"\n{extra_env}\n\
             [source]\nkind = \"dir\"\ndir = \".\"\n[store]\ndatabase = \"a.db\"\narchive_dir = \"archive\"\nreports_dir = \"reports\"\n\
             [payment]\nenabled = {payment}\n[email]\ntransport = \"none\"\n"
        );
        let p = dir.join("c.toml");
        std::fs::write(&p, text).unwrap();
        Config::load(&p, &[]).unwrap()
    }

    fn line<'a>(r: &'a Report, name: &str) -> &'a super::super::Check {
        r.checks.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no {name} line in\n{r}"))
    }

    #[test]
    fn disabled_payment_adds_nothing_and_none_transport_warns() {
        let d = tempfile::tempdir().unwrap();
        let cfg = config("", false, d.path());
        let mut r = Report::default();
        rsa_keys(&cfg, &mut r);
        assert!(r.checks.is_empty());
        email(&cfg, &mut r);
        assert_eq!(r.checks[0].status, Status::Warn);
        assert!(r.checks[0].detail.contains("no report or alert email"), "{r}");
    }

    #[test]
    fn keys_report_size_and_fingerprint_never_the_key() {
        let d = tempfile::tempdir().unwrap();
        let k = PrivateKey::generate().unwrap();
        let pem = k.to_pem().unwrap();
        std::fs::write(d.path().join("merchant.pem"), &pem).unwrap();
        let alipay = PrivateKey::generate().unwrap().public().unwrap();
        std::fs::write(d.path().join("alipay.pem"), alipay.to_pem().unwrap()).unwrap();
        let env = "client_id = \"C1\"\napi_base_url = \"https://x\"\nprivate_key = { file = \"merchant.pem\" }\n\
                   alipay_public_key_file = \"alipay.pem\"";
        let cfg = config(env, true, d.path());
        let mut r = Report::default();
        rsa_keys(&cfg, &mut r);
        assert_eq!(r.failed(), 0, "{r}");
        let fp = k.public().unwrap().sha256_fingerprint().unwrap();
        assert_eq!(fp.len(), 64);
        assert!(line(&r, "merchant private key").detail.contains(&format!("RSA 2048 bits, public key SHA-256 {fp}")));
        let text = r.to_string();
        let body_line = pem.lines().nth(1).unwrap();
        assert!(!text.contains(body_line), "key material printed:\n{text}");
        assert!(!text.contains(&k.public().unwrap().to_base64().unwrap()[..40]));
    }

    #[test]
    fn missing_settings_and_garbage_key_name_the_config_keys() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("merchant.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap();
        let cfg = config("private_key = { file = \"merchant.pem\" }", true, d.path());
        let mut r = Report::default();
        rsa_keys(&cfg, &mut r);
        assert_eq!(r.failed(), 3, "{r}");
        let api = &line(&r, "payment API").detail;
        assert!(api.contains("environments.sandbox.client_id") && api.contains("api_base_url"), "{api}");
        assert!(line(&r, "merchant private key").detail.starts_with("environments.sandbox.private_key"), "{r}");
        assert!(line(&r, "Alipay public key").detail.contains("alipay_public_key_file"), "{r}");
    }

    #[test]
    fn own_public_key_configured_as_alipays_fails() {
        let d = tempfile::tempdir().unwrap();
        let k = PrivateKey::generate().unwrap();
        std::fs::write(d.path().join("m.pem"), k.to_pem().unwrap()).unwrap();
        std::fs::write(d.path().join("a.pem"), k.public().unwrap().to_pem().unwrap()).unwrap();
        let env = "client_id = \"C1\"\napi_base_url = \"https://x\"\nprivate_key = { file = \"m.pem\" }\n\
                   alipay_public_key_file = \"a.pem\"";
        let cfg = config(env, true, d.path());
        let mut r = Report::default();
        rsa_keys(&cfg, &mut r);
        assert_eq!(r.failed(), 1, "{r}");
        assert!(r.to_string().contains("holds YOUR public key"), "{r}");
    }

    #[test]
    fn tls_failures_are_recognised_in_connection_errors() {
        assert!(looks_like_tls("Connection error: error:0A000086:SSL routines:…:certificate verify failed"));
        assert!(!looks_like_tls("Connection error: Connection refused (os error 111)"));
    }

    #[test]
    fn small_key_fails() {
        let d = tempfile::tempdir().unwrap();
        let rsa = openssl::rsa::Rsa::generate(1024).unwrap();
        std::fs::write(d.path().join("m.pem"), rsa.private_key_to_pem().unwrap()).unwrap();
        let cfg = config("private_key = { file = \"m.pem\" }", true, d.path());
        let mut r = Report::default();
        merchant_key(&cfg, &mut r);
        assert_eq!(r.checks[0].status, Status::Fail);
        assert!(r.checks[0].detail.contains("RSA 1024 bits") && r.checks[0].detail.contains("2048"), "{r}");
    }
}
