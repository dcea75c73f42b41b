//! Delivery of the outbox: builds the MIME message with lettre (recipients from the current config,
//! a Message-ID derived from the stable key), sends it over SMTP or writes an `.eml` file, retries
//! with exponential backoff, and marks the row sent right after the server accepted it. What still
//! fails stays pending for the next run or `alipay-recon outbox send`.
//!
//! MIME layout of a message with HTML: `multipart/mixed[ multipart/alternative[ text/plain,
//! multipart/related[ text/html, inline images ] ], attachments… ]` — clients that show the text
//! part never see the images, and the HTML finds the chart as `cid:trend.png`.

use super::{outbox, Kind, Message};
use crate::config::email::{EmailConfig, Security, SmtpConfig, Transport};
use crate::config::Config;
use anyhow::{anyhow, bail, Context, Result};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport as _};
use rusqlite::Connection;
use std::path::PathBuf;
use std::time::Duration;

/// What one delivery pass did; keys are the outbox keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: Vec<String>,
    /// (key, error after the last attempt): still pending.
    pub failed: Vec<(String, String)>,
    /// Keys left pending without an attempt because the server was unreachable for an earlier message.
    pub deferred: Vec<String>,
    /// Marked suppressed because `email.transport = "none"`.
    pub suppressed: usize,
}

impl DeliveryReport {
    /// Messages still waiting after this pass.
    pub fn waiting(&self) -> usize {
        self.failed.len() + self.deferred.len()
    }

    /// Keys of the messages still waiting after this pass, in outbox order.
    pub fn waiting_keys(&self) -> Vec<&str> {
        self.failed.iter().map(|(k, _)| k.as_str()).chain(self.deferred.iter().map(String::as_str)).collect()
    }
}

/// Where messages go.
enum Sink {
    Smtp { transport: SmtpTransport, url: String },
    Files { dir: PathBuf },
}

/// Sends every pending message of the outbox. Errors only for problems no retry can fix (bad
/// configuration, unreadable password, database); per-message failures are in the report.
pub fn deliver_pending(conn: &Connection, cfg: &Config) -> Result<DeliveryReport> {
    let ec = &cfg.email;
    let mut report = DeliveryReport::default();
    let now = chrono::Utc::now().timestamp();
    if ec.transport == Transport::None {
        for id in outbox::pending_ids(conn, now)? {
            outbox::mark_suppressed(conn, id)?;
            report.suppressed += 1;
        }
        return Ok(report);
    }
    let sink = open_sink(cfg)?;
    let from = sender(ec)?;
    let ids = outbox::pending_ids(conn, now)?;
    let lease = lease_secs(ec);
    for (i, id) in ids.iter().enumerate() {
        let now = chrono::Utc::now().timestamp();
        if !outbox::claim(conn, *id, now, now + lease)? {
            continue; // another process is sending it
        }
        let msg = outbox::load(conn, *id)?;
        let built = build(&msg, ec, &from).with_context(|| format!("cannot build outbox message {}", msg.key));
        let built = match built {
            Ok(b) => b,
            Err(e) => {
                // One bad message (or a recipient missing for its kind) must not block the others.
                let e = format!("{e:#}");
                outbox::mark_failed(conn, *id, &e, 0)?;
                report.failed.push((msg.key, e));
                continue;
            }
        };
        let (result, attempts) = send_with_retries(&sink, &built.0, &msg.key, ec);
        match result {
            Ok(via) => {
                outbox::mark_sent(conn, *id, &via, &built.1, attempts)?;
                tracing::info!(key = %msg.key, via = %via, "email sent");
                report.sent.push(msg.key);
            }
            Err(SendError { message, unreachable }) => {
                outbox::mark_failed(conn, *id, &message, attempts)?;
                tracing::warn!(key = %msg.key, error = %message, "email not sent; it stays in the outbox");
                report.failed.push((msg.key, message));
                if unreachable {
                    // The next messages would wait out the same backoff for nothing.
                    report.deferred = outbox::keys(conn, &ids[i + 1..])?;
                    break;
                }
            }
        }
    }
    Ok(report)
}

/// The lettre message and its Message-ID.
fn build(msg: &Message, ec: &EmailConfig, from: &Mailbox) -> Result<(lettre::Message, String)> {
    let (to, cc) = recipients(ec, msg.kind)?;
    let message_id = message_id(msg, from);
    let mut b = lettre::Message::builder()
        .from(from.clone())
        .subject(super::compose::header_safe(&msg.subject))
        .message_id(Some(message_id.clone()))
        .user_agent(format!("alipay-recon/{}", env!("CARGO_PKG_VERSION")));
    for m in to {
        b = b.to(m);
    }
    for m in cc {
        b = b.cc(m);
    }
    let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(msg.text.clone());
    let Some(html) = &msg.html else {
        let attachments: Vec<_> = msg.parts.iter().filter(|p| !p.inline).collect();
        if attachments.is_empty() {
            return Ok((b.singlepart(text)?, message_id));
        }
        let mut mixed = MultiPart::mixed().singlepart(text);
        for p in attachments {
            mixed =
                mixed.singlepart(Attachment::new(p.name.clone()).body(p.bytes.clone(), content_type(&p.content_type)?));
        }
        return Ok((b.multipart(mixed)?, message_id));
    };
    let html_part = SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone());
    let inline: Vec<_> = msg.parts.iter().filter(|p| p.inline).collect();
    let alternative = if inline.is_empty() {
        MultiPart::alternative().singlepart(text).singlepart(html_part)
    } else {
        let mut related = MultiPart::related().singlepart(html_part);
        for p in inline {
            related = related.singlepart(
                Attachment::new_inline_with_name(p.name.clone(), p.name.clone())
                    .body(p.bytes.clone(), content_type(&p.content_type)?),
            );
        }
        MultiPart::alternative().singlepart(text).multipart(related)
    };
    let attachments: Vec<_> = msg.parts.iter().filter(|p| !p.inline).collect();
    if attachments.is_empty() {
        return Ok((b.multipart(alternative)?, message_id));
    }
    let mut mixed = MultiPart::mixed().multipart(alternative);
    for p in attachments {
        mixed = mixed.singlepart(Attachment::new(p.name.clone()).body(p.bytes.clone(), content_type(&p.content_type)?));
    }
    Ok((b.multipart(mixed)?, message_id))
}

/// `<daily.2026-11-25.v1.3f9a…@example.com>`: the same for every attempt and every resend of a key;
/// the merchant hash keeps two stores sending from one address apart.
pub fn message_id(msg: &Message, from: &Mailbox) -> String {
    use sha2::{Digest, Sha256};
    let local: String =
        msg.key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '.' }).collect();
    let h = hex::encode(&Sha256::digest(msg.merchant.as_bytes())[..4]);
    format!("<{local}.{h}@{}>", from.email.domain())
}

fn recipients(ec: &EmailConfig, kind: Kind) -> Result<(Vec<Mailbox>, Vec<Mailbox>)> {
    let specific = ec.routes.get(kind.as_str());
    let alert = if kind.is_alert() { ec.routes.get("alert") } else { None };
    let pick = |f: fn(&crate::config::email::Route) -> Option<&Vec<String>>, default: &Vec<String>| -> Vec<String> {
        specific.and_then(f).or_else(|| alert.and_then(f)).unwrap_or(default).clone()
    };
    let mut to = pick(|r| r.to.as_ref(), &ec.to);
    let cc = pick(|r| r.cc.as_ref(), &ec.cc);
    if to.is_empty() && ec.transport == Transport::File {
        // The demo writes files nobody receives; the envelope still needs an addressee.
        to.push("finance@localhost".into());
    }
    if to.is_empty() {
        bail!("no recipient for {} messages: set `email.to` or `email.routes.{}.to`", kind.as_str(), kind.as_str());
    }
    let parse = |list: Vec<String>| -> Result<Vec<Mailbox>> {
        list.iter().map(|a| a.parse::<Mailbox>().map_err(|e| anyhow!("'{a}' is not an email address: {e}"))).collect()
    };
    Ok((parse(to)?, parse(cc)?))
}

fn sender(ec: &EmailConfig) -> Result<Mailbox> {
    let from = ec.from.clone().unwrap_or_else(|| "alipay-recon <alipay-recon@localhost>".into());
    from.parse().map_err(|e| anyhow!("email.from: '{from}' is not an email address: {e}"))
}

fn content_type(s: &str) -> Result<ContentType> {
    ContentType::parse(s).map_err(|e| anyhow!("bad content type '{s}': {e}"))
}

/// How long a claimed message is reserved: longer than all attempts of one message can take.
fn lease_secs(ec: &EmailConfig) -> i64 {
    let timeout = ec.smtp.as_ref().map(|s| s.timeout_secs).unwrap_or(30);
    let waits: Duration = (1..=ec.attempts).map(|n| backoff(ec).wait(n)).sum();
    (timeout * 4 * ec.attempts as u64 + waits.as_secs() + 60) as i64
}

fn open_sink(cfg: &Config) -> Result<Sink> {
    let ec = &cfg.email;
    match ec.transport {
        Transport::File => {
            let dir = cfg.path(ec.dir.as_deref().unwrap_or(std::path::Path::new("outbox-eml")));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the email folder {} (email.dir)", dir.display()))?;
            Ok(Sink::Files { dir })
        }
        Transport::Smtp => {
            let smtp = ec.smtp.as_ref().context("email.transport = \"smtp\" needs an [email.smtp] section")?;
            Ok(Sink::Smtp { transport: smtp_transport(smtp, cfg)?, url: smtp_url(smtp) })
        }
        Transport::None => unreachable!("handled by the caller"),
    }
}

pub(crate) fn smtp_url(s: &SmtpConfig) -> String {
    let scheme = match s.security {
        Security::Starttls => "smtp+starttls",
        Security::Tls => "smtps",
        Security::Plain => "smtp",
    };
    format!("{scheme}://{}:{}", s.host, s.effective_port())
}

pub(crate) fn smtp_transport(s: &SmtpConfig, cfg: &Config) -> Result<SmtpTransport> {
    let mut b = SmtpTransport::builder_dangerous(s.host.clone())
        .port(s.effective_port())
        .timeout(Some(Duration::from_secs(s.timeout_secs)));
    if s.security != Security::Plain {
        let mut tls = TlsParameters::builder(s.host.clone());
        if let Some(ca) = &s.ca_file {
            let p = cfg.path(ca);
            let pem = std::fs::read(&p)
                .with_context(|| format!("email.smtp.ca_file: cannot read {}: check the path", p.display()))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| anyhow!("email.smtp.ca_file: {} is not a PEM certificate: {e}", p.display()))?;
            tls = tls.add_root_certificate(cert);
        }
        let params = tls.build().map_err(|e| anyhow!("cannot set up TLS for {}: {e}", s.host))?;
        b = b.tls(if s.security == Security::Tls { Tls::Wrapper(params) } else { Tls::Required(params) });
    } else {
        b = b.tls(Tls::None);
    }
    if let Some(user) = &s.user {
        let pass = s.password.resolve("email.smtp.password", &cfg.base_dir)?.with_context(|| {
            "email.smtp.user is set but email.smtp.password is not: add `password = { env = \"SMTP_PASSWORD\" }`"
        })?;
        b = b.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
    }
    Ok(b.build())
}

struct SendError {
    message: String,
    /// The server could not be reached, or refused the login or TLS (as opposed to refusing this
    /// one message): the rest of the pass would fail the same way.
    unreachable: bool,
}

/// Up to `email.attempts` tries, waiting `backoff_ms`, 2×, 4×… (at most [`crate::sys::retry::MAX_WAIT`])
/// between them. Permanent refusals (5xx) are not retried in this pass. Returns where it went (or the
/// last error) and the attempts made.
fn send_with_retries(
    sink: &Sink,
    m: &lettre::Message,
    key: &str,
    ec: &EmailConfig,
) -> (Result<String, SendError>, u32) {
    let (r, attempts) = crate::sys::retry::retry(
        &mut (),
        backoff(ec),
        |_| send_once(sink, m, key),
        |_, e, attempt, wait| {
            let again = attempt < ec.attempts && !e.permanent;
            if again {
                tracing::debug!(key, attempt, wait_ms = wait.as_millis() as u64, error = %e.message, "email attempt failed; retrying");
            }
            again
        },
    );
    (r.map_err(|e| SendError { message: e.message, unreachable: e.unreachable }), attempts)
}

fn backoff(ec: &EmailConfig) -> crate::sys::retry::Backoff {
    crate::sys::retry::Backoff::new(Duration::from_millis(ec.backoff_ms))
}

/// What to do when the server's certificate was refused (unknown CA, a name it does not cover, expired).
pub(crate) const CERTIFICATE_HINT: &str = "the server's TLS certificate was not accepted (issued by an unknown CA, \
     for another host name, or expired): for a private CA set email.smtp.ca_file to its PEM certificate, make \
     email.smtp.host a name the certificate covers, and renew an expired certificate";

/// native-tls reports a refused certificate or a failed handshake as a plain connection error; its text
/// tells. Shared with `doctor`, so both name the same setting for the same failure.
pub(crate) fn looks_like_tls(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["ssl routines", "certificate", "tls", "handshake"].iter().any(|w| t.contains(w))
}

/// A TLS failure caused by the server's certificate (OpenSSL's verify errors).
pub(crate) fn looks_like_certificate(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "certificate verify failed",
        "unknown ca",
        "self-signed certificate",
        "self signed certificate",
        "certificate has expired",
        "hostname mismatch",
        "ip address mismatch",
    ]
    .iter()
    .any(|w| t.contains(w))
}

struct AttemptError {
    message: String,
    permanent: bool,
    unreachable: bool,
}

fn send_once(sink: &Sink, m: &lettre::Message, key: &str) -> Result<String, AttemptError> {
    match sink {
        Sink::Smtp { transport, url } => match transport.send(m) {
            Ok(_) => Ok(url.clone()),
            Err(e) => {
                let code = e.status().map(|c| c.to_string()).unwrap_or_default();
                // Failures that every further message of this pass would hit too.
                let mut stops_pass = false;
                let what = if code == "535" || code == "534" {
                    stops_pass = true;
                    "authentication failed: check email.smtp.user and the password named by email.smtp.password"
                } else if code == "530" {
                    stops_pass = true;
                    "the server requires authentication or STARTTLS first: set email.smtp.user/password or security = \"starttls\""
                } else if e.is_permanent() {
                    "the server refused the message: check the addresses in [email] and the server's policy"
                } else if looks_like_certificate(&e.to_string()) {
                    stops_pass = true;
                    CERTIFICATE_HINT
                } else if e.is_tls() || looks_like_tls(&e.to_string()) {
                    stops_pass = true;
                    "the TLS handshake failed: check email.smtp.security (starttls on 587, tls on 465) and, for a private certificate, email.smtp.ca_file"
                } else if e.is_transient() {
                    "the server asked to try later"
                } else {
                    stops_pass = true;
                    "the server could not be reached: check email.smtp.host/port and that the server is running"
                };
                Err(AttemptError {
                    message: format!("{url}: {e}: {what}; the message stays in the outbox and is retried by the hourly outbox job, the next run or `alipay-recon outbox send`"),
                    permanent: e.is_permanent(),
                    unreachable: stops_pass,
                })
            }
        },
        Sink::Files { dir } => {
            let name: String =
                key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
            let path = dir.join(format!("{name}.eml"));
            let tmp = dir.join(format!(".{name}.eml.tmp"));
            let r = std::fs::write(&tmp, m.formatted()).and_then(|_| std::fs::rename(&tmp, &path));
            r.map(|_| path.display().to_string()).map_err(|e| AttemptError {
                message: format!("cannot write {}: {e}: check email.dir and free space", path.display()),
                permanent: false,
                unreachable: true,
            })
        }
    }
}

#[cfg(test)]
#[path = "deliver_tests.rs"]
mod tests;
