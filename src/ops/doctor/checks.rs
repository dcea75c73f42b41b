//! The `doctor` checks of the two outbound channels that do not depend on the SFTP source: email
//! (the SMTP login, the `.eml` folder, or a warning that nothing is sent) and the payment module: its
//! RSA keys (the merchant's private key and Alipay's public key of the active environment), then one
//! signed payQuery of a made-up id to the configured API (ORDER_NOT_EXIST, correctly signed, = OK).
//! Key material never appears in the output; the merchant's PUBLIC key is identified by its size and
//! SHA-256 fingerprint so an operator can compare it with the key uploaded to Alipay.

use super::{writable, Report, Status};
use crate::config::email::{Security, Transport};
use crate::config::Config;
use crate::notify::deliver::{self, looks_like_tls};
use crate::payment::core::{CallError, CallStatus, Reply};
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

/// The payment module of the active environment (only with `[payment] enabled`): its settings, the
/// merchant's and Alipay's RSA keys, then ONE signed call ([`api_call`]) when all of them are usable.
pub fn payment(cfg: &Config, r: &mut Report) {
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
    if !missing.is_empty() {
        r.push(
            "payment API",
            Status::Fail,
            format!("{} not set: copy them from Alipay's developer portal into {}", missing.join(" and "), cfg.origin),
        );
    }
    let ours = merchant_key(cfg, r);
    let theirs = alipay_key(cfg, r);
    let mut keys_ok = ours.is_some() && theirs.is_some();
    if let (Some(a), Some(b)) = (ours, theirs) {
        if a == b {
            keys_ok = false;
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
    if missing.is_empty() {
        if keys_ok {
            api_call(cfg, r);
        } else {
            r.push("payment API", Status::Skipped, "no call made: fix the payment key check(s) above first");
        }
    }
}

/// One signed payQuery of an id that cannot exist (`DOCTOR-<random>`, never used for a payment): an
/// answer ORDER_NOT_EXIST whose signature verifies proves the URL, client id, merchant key and
/// Alipay's public key together. Nothing is paid, cancelled or written to the ledger.
pub fn api_call(cfg: &Config, r: &mut Report) {
    use crate::payment::{Gateway, IntlClient};
    let client = match IntlClient::from_config(cfg) {
        Ok(c) => c,
        Err(e) => {
            r.push("payment API", Status::Fail, format!("{e:#}"));
            return;
        }
    };
    let id = format!("DOCTOR-{}", uuid::Uuid::new_v4().simple());
    let started = std::time::Instant::now();
    let answer = client.query(&id);
    let (status, detail) = judge_api_answer(cfg, &id, &answer, started.elapsed().as_millis());
    r.push("payment API", status, detail);
}

/// What the answer to the made-up payQuery says about the configuration; each failure names the key
/// of `[environments.<active>]` to fix.
pub fn judge_api_answer(cfg: &Config, id: &str, answer: &Result<Reply, CallError>, ms: u128) -> (Status, String) {
    let k = format!("environments.{}", cfg.environment);
    let env = cfg.active();
    let url = env.api_base_url.as_deref().unwrap_or_default().trim_end_matches('/');
    let client_id = env.client_id.as_deref().unwrap_or_default();
    let call = format!("{url}: payQuery of the made-up id {id}");
    match answer {
        Ok(x) => {
            let said = format!(
                "{} {}{}",
                x.status.letter(),
                x.code,
                if x.message.is_empty() { String::new() } else { format!(" \"{}\"", x.message) }
            );
            let said = format!("{said}, reqMsgId {}, {ms} ms", x.req_msg_id);
            let fail = |what: String| (Status::Fail, format!("{call}: Alipay answered {said}: {what}"));
            match (x.status, x.code.as_str()) {
                (CallStatus::Failure, "ORDER_NOT_EXIST") => (
                    Status::Ok,
                    format!(
                        "{call}: ORDER_NOT_EXIST, correctly signed ({ms} ms): the URL, client_id {client_id}, the \
                         merchant key and Alipay's public key work"
                    ),
                ),
                (_, "INVALID_SIGNATURE") => fail(format!(
                    "Alipay could not verify this program's signature: `{k}.private_key` is not the key whose public \
                     half is uploaded to Alipay for client_id {client_id} (compare the SHA-256 above with the \
                     portal), or `{k}.client_id` names another application"
                )),
                (_, "KEY_NOT_FOUND") => fail(format!(
                    "Alipay has no public key for client_id {client_id}: upload the merchant public key in the \
                     developer portal, or correct `{k}.client_id`"
                )),
                (_, "INVALID_CLIENT") => {
                    fail(format!("Alipay does not know client_id {client_id}: check `{k}.client_id`"))
                }
                (_, "ACCESS_DENIED") => fail(format!(
                    "client_id {client_id} may not query for merchant {}: check `{k}.merchant_id` and `{k}.client_id` \
                     (and that Alipay enabled this API for them)",
                    env.merchant_id
                )),
                (_, "INVALID_API") => fail(format!("not the payQuery API: check `{k}.api_base_url`")),
                (_, "PARAM_ILLEGAL") => fail(format!("the request was refused: check `{k}.merchant_id`")),
                (CallStatus::Success, _) => (
                    Status::Warn,
                    format!(
                        "{call}: answered {said}, correctly signed: the URL and keys work, but an id that cannot \
                         exist was found: check `{k}.api_base_url` points at Alipay"
                    ),
                ),
                _ => (
                    Status::Warn,
                    format!(
                        "{call}: answered {said}, correctly signed (so `{k}.alipay_public_key_file` and \
                         `{k}.api_base_url` are right), not ORDER_NOT_EXIST: run doctor again; if it repeats, ask \
                         Alipay support with the reqMsgId"
                    ),
                ),
            }
        }
        Err(CallError::Timeout { req_msg_id, detail, .. }) => (
            Status::Fail,
            format!(
                "{call}: no answer in time ({detail}; reqMsgId {req_msg_id}, {ms} ms): check `{k}.api_base_url`, \
                 that a firewall or proxy lets this host connect, and payment.connect_timeout_ms / read_timeout_ms"
            ),
        ),
        Err(CallError::Transport { detail, .. }) => {
            let d = detail.to_ascii_lowercase();
            let what = if ["lookup", "resolve", "name or service not known", "dns"].iter().any(|w| d.contains(w)) {
                "the host name does not resolve"
            } else {
                "the host could not be reached"
            };
            (
                Status::Fail,
                format!(
                    "{call}: {what} ({detail}): check `{k}.api_base_url` (scheme, host and port), DNS, and that a \
                     firewall lets this host connect"
                ),
            )
        }
        Err(CallError::Http { status, body, .. }) => (
            Status::Fail,
            format!(
                "{call}: HTTP {status} (body: {}): not Alipay's API at this address: check `{k}.api_base_url` (only \
                 scheme://host[:port]; the program adds /api/alipay/intl/…)",
                crate::payment::core::truncate(body, 120)
            ),
        ),
        Err(CallError::BadSignature { reason, req_msg_id, .. })
            if *reason == crate::payment::sign::EnvelopeError::BadSignature.to_string() =>
        {
            let file = env.alipay_public_key_file.as_ref().map(|f| cfg.path(f).display().to_string());
            (
                Status::Fail,
                format!(
                    "{call}: the answer's signature does not verify with `{k}.alipay_public_key_file` ({}; reqMsgId \
                     {req_msg_id}): it is not Alipay's public key of this environment (sandbox and production keys \
                     differ): download it again from the developer portal",
                    file.unwrap_or_default()
                ),
            )
        }
        Err(CallError::BadSignature { reason, .. }) | Err(CallError::Malformed { reason, .. }) => {
            (Status::Fail, format!("{call}: not an Alipay answer ({reason}): check `{k}.api_base_url`"))
        }
        Err(e @ CallError::Mismatch { .. }) => (Status::Warn, format!("{call}: {e}")),
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
        payment(&cfg, &mut r);
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
        // Port 1 of loopback is closed: the keys pass, the one API call fails naming api_base_url.
        let env =
            "client_id = \"C1\"\napi_base_url = \"http://127.0.0.1:1\"\nprivate_key = { file = \"merchant.pem\" }\n\
                   alipay_public_key_file = \"alipay.pem\"";
        let cfg = config(env, true, d.path());
        let mut r = Report::default();
        payment(&cfg, &mut r);
        assert_eq!(r.failed(), 1, "{r}");
        let api = line(&r, "payment API");
        assert_eq!(api.status, Status::Fail, "{r}");
        assert!(
            api.detail.contains("could not be reached") && api.detail.contains("`environments.sandbox.api_base_url`"),
            "{r}"
        );
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
        payment(&cfg, &mut r);
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
        payment(&cfg, &mut r);
        assert_eq!(r.failed(), 1, "{r}");
        assert!(r.to_string().contains("holds YOUR public key"), "{r}");
    }

    #[test]
    fn each_answer_of_the_api_call_names_what_to_fix() {
        let d = tempfile::tempdir().unwrap();
        let env = "client_id = \"C1\"\napi_base_url = \"https://api.example/\"\nalipay_public_key_file = \"a.pem\"";
        let cfg = config(env, true, d.path());
        let reply = |status: CallStatus, code: &str| -> Result<Reply, CallError> {
            Ok(Reply {
                status,
                code: code.into(),
                message: "m".into(),
                alipay_id: None,
                refund_alipay_id: None,
                paid_at: None,
                refunded_at: None,
                trade: None,
                req_msg_id: "R1".into(),
                echo: Default::default(),
            })
        };
        let judge = |a: Result<Reply, CallError>| judge_api_answer(&cfg, "DOCTOR-1", &a, 7);
        let (st, text) = judge(reply(CallStatus::Failure, "ORDER_NOT_EXIST"));
        assert_eq!(st, Status::Ok, "{text}");
        assert!(
            text.starts_with("https://api.example: payQuery of the made-up id DOCTOR-1: ORDER_NOT_EXIST"),
            "{text}"
        );
        let k = "`environments.sandbox.";
        for (code, key) in [
            ("INVALID_SIGNATURE", "private_key`"),
            ("KEY_NOT_FOUND", "client_id`"),
            ("INVALID_CLIENT", "client_id`"),
            ("ACCESS_DENIED", "merchant_id`"),
            ("INVALID_API", "api_base_url`"),
            ("PARAM_ILLEGAL", "merchant_id`"),
        ] {
            let (st, text) = judge(reply(CallStatus::Failure, code));
            assert_eq!(st, Status::Fail, "{code}: {text}");
            assert!(
                text.contains(code) && text.contains(&format!("{k}{key}")) && text.contains("R1"),
                "{code}: {text}"
            );
        }
        for (status, code) in [(CallStatus::Success, "SUCCESS"), (CallStatus::Unknown, "UNKNOWN_EXCEPTION")] {
            let (st, text) = judge(reply(status, code));
            assert_eq!(st, Status::Warn, "{code}: {text}");
        }
        let (u, m) = ("https://api.example/x".to_string(), "R2".to_string());
        let errors = [
            (
                CallError::Timeout { url: u.clone(), req_msg_id: m.clone(), detail: "t".into() },
                "no answer in time",
                "api_base_url`",
            ),
            (
                CallError::Transport { url: u.clone(), req_msg_id: m.clone(), detail: "refused".into() },
                "could not be reached",
                "api_base_url`",
            ),
            (
                CallError::Transport {
                    url: u.clone(),
                    req_msg_id: m.clone(),
                    detail: "io: failed to lookup address information: Name or service not known".into(),
                },
                "the host name does not resolve",
                "api_base_url`",
            ),
            (
                CallError::Http { url: u.clone(), req_msg_id: m.clone(), status: 404, body: "nope".into() },
                "HTTP 404",
                "api_base_url`",
            ),
            (
                CallError::BadSignature {
                    url: u.clone(),
                    req_msg_id: m.clone(),
                    reason: crate::payment::sign::EnvelopeError::BadSignature.to_string(),
                    body: String::new(),
                },
                "does not verify",
                "alipay_public_key_file`",
            ),
            (
                CallError::BadSignature {
                    url: u.clone(),
                    req_msg_id: m.clone(),
                    reason: crate::payment::sign::EnvelopeError::NoMember("response").to_string(),
                    body: "<html>".into(),
                },
                "not an Alipay answer",
                "api_base_url`",
            ),
        ];
        for (e, what, key) in errors {
            let (st, text) = judge(Err(e));
            assert_eq!(st, Status::Fail, "{text}");
            assert!(text.contains(what) && text.contains(&format!("{k}{key}")), "{text}");
        }
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
