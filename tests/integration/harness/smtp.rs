//! A real SMTP server for tests: Debian's python3-aiosmtpd on a free loopback port, delivering into a
//! maildir, plus a parser (Python's `email` package, independent of lettre) that turns the delivered
//! messages into [`Mail`] values. Missing python3-aiosmtpd is a test failure, never a skip.

use serde::Deserialize;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Debian's interpreter: the first `python3` on PATH may not see Debian's packages.
pub const PYTHON: &str = "/usr/bin/python3";

/// How the server accepts connections.
#[derive(Debug, Clone)]
pub enum Mode {
    Plain,
    /// STARTTLS offered and required before MAIL FROM.
    StartTls {
        cert: PathBuf,
        key: PathBuf,
    },
    /// TLS from the first byte (SMTPS).
    Tls {
        cert: PathBuf,
        key: PathBuf,
    },
    /// Plain connection with AUTH PLAIN/LOGIN required, via tests/integration/smtp_auth_server.py.
    Auth {
        user: String,
        password: String,
    },
}

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

/// A port that was free a moment ago (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl SmtpServer {
    /// Starts a server on a free port with its own temp maildir.
    pub fn start(mode: Mode) -> SmtpServer {
        let tmp = tempfile::tempdir().unwrap();
        let maildir = tmp.path().join("maildir");
        let mut s = SmtpServer::start_on(free_port(), &maildir, mode);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on `port` delivering into `maildir` (for "server comes back" tests).
    pub fn start_on(port: u16, maildir: &Path, mode: Mode) -> SmtpServer {
        // A complete maildir: aiosmtpd's Mailbox only creates tmp/new/cur when the folder is absent.
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let log = maildir.with_extension(format!("{port}.log"));
        let listen = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(PYTHON);
        match &mode {
            Mode::Auth { user, password } => {
                let script = crate::harness::repo().join("tests/integration/smtp_auth_server.py");
                cmd.arg(script).arg("127.0.0.1").arg(port.to_string()).arg(maildir).arg(user).arg(password);
            }
            _ => {
                cmd.args(["-m", "aiosmtpd", "-n", "-l", &listen, "-c", "aiosmtpd.handlers.Mailbox"]);
                match &mode {
                    Mode::StartTls { cert, key } => {
                        cmd.arg("--tlscert").arg(cert).arg("--tlskey").arg(key);
                    }
                    Mode::Tls { cert, key } => {
                        cmd.arg("--smtpscert").arg(cert).arg("--smtpskey").arg(key);
                    }
                    _ => {}
                }
                cmd.arg(maildir);
            }
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {PYTHON} (aiosmtpd): {e}: apt-get install python3-aiosmtpd"));
        let mut s = SmtpServer { child, port, maildir: maildir.to_path_buf(), _tmp: None };
        super::wait_until(&format!("the SMTP test server to listen on {listen}"), Duration::from_secs(10), || {
            if let Some(status) = s.child.try_wait().unwrap() {
                let mut err = String::new();
                std::fs::File::open(&log).unwrap().read_to_string(&mut err).unwrap();
                panic!("the SMTP test server exited ({status}) — is python3-aiosmtpd installed (apt-get install python3-aiosmtpd)?\n{err}");
            }
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        s
    }

    /// Every message delivered so far, parsed.
    pub fn mails(&self) -> Vec<Mail> {
        parse_mails(&self.maildir.join("new"))
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One part of a delivered message (leaf of the MIME tree).
#[derive(Debug, Clone, Deserialize)]
pub struct MailPart {
    pub content_type: String,
    pub filename: Option<String>,
    pub content_id: Option<String>,
    pub disposition: Option<String>,
    #[serde(deserialize_with = "from_b64")]
    pub bytes: Vec<u8>,
}

impl MailPart {
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes.clone()).expect("text part is UTF-8")
    }
}

/// A delivered message as Python's `email` package (policy.default) reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Mail {
    pub file: String,
    /// The whole message as received (undecoded, for header-level checks).
    pub raw: String,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub message_id: String,
    /// Envelope recipients as the server saw them (aiosmtpd's X-RcptTo header).
    pub rcpt_to: String,
    /// `multipart/mixed(multipart/alternative(text/plain,…),text/csv)`.
    pub structure: String,
    pub header_names: Vec<String>,
    pub parts: Vec<MailPart>,
}

impl Mail {
    pub fn part(&self, content_type: &str) -> &MailPart {
        self.parts
            .iter()
            .find(|p| p.content_type == content_type && p.disposition.as_deref() != Some("attachment"))
            .unwrap_or_else(|| panic!("no {content_type} part in {}", self.structure))
    }

    pub fn attachment(&self, name: &str) -> &MailPart {
        self.parts.iter().find(|p| p.filename.as_deref() == Some(name)).unwrap_or_else(|| {
            panic!("no part named {name}: {:?}", self.parts.iter().map(|p| &p.filename).collect::<Vec<_>>())
        })
    }
}

fn from_b64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    use base64::Engine;
    let s = String::deserialize(d)?;
    base64::engine::general_purpose::STANDARD.decode(s).map_err(serde::de::Error::custom)
}

const PARSER: &str = r#"
import sys, os, json, base64, email
from email import policy
d = sys.argv[1]
out = []
names = sorted(n for n in os.listdir(d) if not n.startswith('.')) if os.path.isdir(d) else []
def struct(p):
    if p.is_multipart():
        return p.get_content_type() + '(' + ','.join(struct(s) for s in p.iter_parts()) + ')'
    return p.get_content_type()
for n in names:
    raw = open(os.path.join(d, n), 'rb').read()
    m = email.message_from_bytes(raw, policy=policy.default)
    parts = []
    for p in m.walk():
        if p.is_multipart():
            continue
        payload = p.get_payload(decode=True) or b''
        parts.append({'content_type': p.get_content_type(), 'filename': p.get_filename(),
                      'content_id': p.get('Content-ID'), 'disposition': p.get_content_disposition(),
                      'bytes': base64.b64encode(payload).decode()})
    g = lambda k: str(m.get(k, ''))
    out.append({'file': n, 'raw': raw.decode('utf-8', 'replace'), 'subject': g('Subject'), 'from': g('From'),
                'to': g('To'), 'cc': g('Cc'), 'message_id': g('Message-ID'), 'rcpt_to': g('X-RcptTo'),
                'structure': struct(m), 'header_names': list(m.keys()), 'parts': parts})
print(json.dumps(out))
"#;

/// Parses every message file in `dir` (a maildir's `new/`, or a folder of `.eml` files).
pub fn parse_mails(dir: &Path) -> Vec<Mail> {
    let o = Command::new(PYTHON).arg("-c").arg(PARSER).arg(dir).output().expect("run /usr/bin/python3");
    assert!(o.status.success(), "mail parser failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("parser output is JSON")
}

/// A self-signed certificate for 127.0.0.1 / localhost, written as PEM files into `dir`.
pub fn self_signed_cert(dir: &Path) -> (PathBuf, PathBuf) {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509NameBuilder, X509};
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "alipay-recon test SMTP").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&openssl::bn::BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap()).unwrap();
    // A CA:TRUE self-signed certificate can be added as a trust root as is.
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap()).unwrap();
    let san =
        SubjectAlternativeName::new().ip("127.0.0.1").dns("localhost").build(&b.x509v3_context(None, None)).unwrap();
    b.append_extension(san).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = dir.join("smtp-cert.pem");
    let keyf = dir.join("smtp-key.pem");
    std::fs::write(&cert, b.build().to_pem().unwrap()).unwrap();
    std::fs::write(&keyf, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (cert, keyf)
}
