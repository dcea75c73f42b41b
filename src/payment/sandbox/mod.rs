//! A local Alipay sandbox speaking the same `alipay.intl` protocol as production: signed envelopes
//! with real RSA2 signatures (its own key pair, generated on first start and kept in the state folder),
//! verification of the merchant's requests with the merchant's public key, its own SQLite state,
//! outcomes chosen by magic barcodes ([`scenario`]), and the day's `intl` reconciliation files written
//! into a folder laid out like the SFTP server ([`files`]). Used by `alipay-recon sandbox` and by tests
//! (in-process, on a free loopback port).

pub mod bank;
pub mod files;
pub mod scenario;

use super::client::{beijing_now, CANCEL, PAY, QUERY, REFUND, VERSION};
use super::sign::{self, PrivateKey, PublicKey};
use anyhow::{Context, Result};
use rusqlite::Connection;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct Options {
    /// `127.0.0.1:0` picks a free port.
    pub listen: String,
    /// Holds `sandbox-private.pem`, `sandbox-public.pem`, `merchant-public.pem`, `sandbox.db`.
    pub state_dir: PathBuf,
    /// Where the reconciliation files go (`<dir>/download/<merchantId>/<yyyymmdd>/…`); none: not written.
    pub files_dir: Option<PathBuf>,
    /// The merchant's public key; saved in the state folder. None: use the saved one.
    pub merchant_key: Option<PublicKey>,
    /// How long "slow" scenarios take to answer (longer than the client's read timeout).
    pub slow: Duration,
}

struct Inner {
    db: Mutex<Connection>,
    key: PrivateKey,
    merchant_key: Option<PublicKey>,
    files_dir: Option<PathBuf>,
    slow: Duration,
    /// Set when the sandbox stops: slow answers stop waiting.
    stopping: std::sync::atomic::AtomicBool,
}

/// A running sandbox; stops when dropped.
pub struct Sandbox {
    addr: std::net::SocketAddr,
    server: Arc<tiny_http::Server>,
    inner: Arc<Inner>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub public_key_file: PathBuf,
}

fn load_or_create_key(state: &Path) -> Result<PrivateKey> {
    let p = state.join("sandbox-private.pem");
    if p.exists() {
        let text = std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        return PrivateKey::parse(&text, &p.display().to_string());
    }
    let key = PrivateKey::generate()?;
    std::fs::write(&p, key.to_pem()?).with_context(|| format!("cannot write {}", p.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
    }
    Ok(key)
}

impl Sandbox {
    pub fn start(opts: Options) -> Result<Sandbox> {
        let state = &opts.state_dir;
        std::fs::create_dir_all(state)
            .with_context(|| format!("cannot create the sandbox state folder {}", state.display()))?;
        let key = load_or_create_key(state)?;
        let public_key_file = state.join("sandbox-public.pem");
        std::fs::write(&public_key_file, key.public()?.to_pem()?)
            .with_context(|| format!("cannot write {}", public_key_file.display()))?;
        let merchant_file = state.join("merchant-public.pem");
        let merchant_key = match opts.merchant_key {
            Some(k) => {
                std::fs::write(&merchant_file, k.to_pem()?)
                    .with_context(|| format!("cannot write {}", merchant_file.display()))?;
                Some(k)
            }
            None if merchant_file.exists() => {
                let text = std::fs::read_to_string(&merchant_file)?;
                Some(PublicKey::parse(&text, &merchant_file.display().to_string())?)
            }
            None => None,
        };
        let db_path = state.join("sandbox.db");
        let db = Connection::open(&db_path).with_context(|| format!("cannot open {}", db_path.display()))?;
        db.busy_timeout(Duration::from_secs(10))?;
        // A test double: speed over durability (its files are rewritten from it after every call).
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "OFF")?;
        db.execute_batch(bank::SCHEMA).context("cannot create the sandbox tables")?;
        let server = tiny_http::Server::http(&opts.listen).map_err(|e| {
            anyhow::anyhow!("sandbox: cannot listen on {}: {e}: choose another --listen address or port", opts.listen)
        })?;
        let addr = server.server_addr().to_ip().context("sandbox: the listener has no IP address")?;
        let server = Arc::new(server);
        let inner = Arc::new(Inner {
            db: Mutex::new(db),
            key,
            merchant_key,
            files_dir: opts.files_dir,
            slow: opts.slow,
            stopping: Default::default(),
        });
        let (s, i) = (server.clone(), inner.clone());
        let thread = std::thread::spawn(move || {
            for req in s.incoming_requests() {
                let i = i.clone();
                // One thread per request: a slow answer must not hold up the queries racing it.
                std::thread::spawn(move || handle(&i, req));
            }
        });
        Ok(Sandbox { addr, server, inner, thread: Some(thread), public_key_file })
    }

    /// `http://127.0.0.1:PORT`: the `api_base_url` for the merchant's config.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn public_key(&self) -> Result<PublicKey> {
        self.inner.key.public()
    }

    pub fn has_merchant_key(&self) -> bool {
        self.inner.merchant_key.is_some()
    }

    /// How many calls of `function` (`pay`, `payQuery`, `payCancel`, `refund`) named this id
    /// (merchantTransId, or merchantRefundId for refunds).
    pub fn calls(&self, function: &str, id: &str) -> usize {
        let db = self.inner.db.lock().expect("sandbox db lock");
        db.query_row(
            "SELECT COUNT(*) FROM calls WHERE function LIKE '%.' || ?1 AND (merchant_trans_id = ?2 OR merchant_refund_id = ?2)",
            rusqlite::params![function, id],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or(0) as usize
    }

    /// (status, was ever paid) of a transaction in the sandbox.
    pub fn status(&self, merchant_trans_id: &str) -> Option<(String, bool)> {
        let db = self.inner.db.lock().expect("sandbox db lock");
        db.query_row("SELECT status, was_paid FROM txns WHERE merchant_trans_id = ?1", [merchant_trans_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .ok()
    }

    /// Number of successful refunds of a payment (by merchantTransId).
    pub fn refunds_done(&self, merchant_trans_id: &str) -> usize {
        let db = self.inner.db.lock().expect("sandbox db lock");
        db.query_row(
            "SELECT COUNT(*) FROM refunds r JOIN txns t ON t.acquirement_id = r.acquirement_id
             WHERE t.merchant_trans_id = ?1 AND r.status = 'SUCCESS'",
            [merchant_trans_id],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or(0) as usize
    }

    /// Blocks until the server stops (the `sandbox` command).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.inner.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        self.server.unblock();
    }
}

fn function_of(path: &str) -> Option<&'static str> {
    [PAY, QUERY, CANCEL, REFUND].into_iter().find(|(_, p)| *p == path).map(|(f, _)| f)
}

fn handle(inner: &Inner, mut req: tiny_http::Request) {
    let path = req.url().split('?').next().unwrap_or_default().to_string();
    let mut raw = String::new();
    let read = req.as_reader().read_to_string(&mut raw);
    let Some(function) = function_of(&path) else {
        let _ = req.respond(tiny_http::Response::from_string(format!("no Alipay API at {path}")).with_status_code(404));
        return;
    };
    let (head, body, answer) = match read {
        Ok(_) => decide(inner, function, &raw),
        Err(e) => (json!({}), json!({}), bank::answer_for_error(&format!("unreadable request: {e}"))),
    };
    let code = answer.body["resultInfo"]["resultCode"].as_str().unwrap_or_default().to_string();
    let now = beijing_now();
    {
        let db = inner.db.lock().expect("sandbox db lock");
        let _ = bank::log_call(&db, function, &body, head["reqMsgId"].as_str().unwrap_or_default(), &code, now);
        if let Some(dir) = &inner.files_dir {
            if let Err(e) = files::write_all(&db, dir) {
                tracing::error!("sandbox: {e:#}");
            }
        }
    }
    if answer.slow {
        let until = std::time::Instant::now() + inner.slow;
        while std::time::Instant::now() < until && !inner.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let resp_head = json!({
        "version": VERSION,
        "function": function,
        "clientId": head["clientId"].as_str().unwrap_or_default(),
        "respTime": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        "reqMsgId": head["reqMsgId"].as_str().unwrap_or_default(),
        "reserve": "{}",
    });
    let inner_text = json!({"head": resp_head, "body": answer.body}).to_string();
    let mut signature = inner.key.sign(inner_text.as_bytes()).unwrap_or_default();
    if answer.tamper {
        // Flip one signature character: the client must notice and treat the answer as unknown.
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        signature.replace_range(0..1, &flipped.to_string());
    }
    let text = sign::envelope("response", &inner_text, &signature);
    let header =
        tiny_http::Header::from_bytes("Content-Type", "application/json; charset=UTF-8").expect("static header");
    let _ = req.respond(tiny_http::Response::from_string(text).with_header(header));
}

/// Verifies and dispatches one request: (head, body, answer).
fn decide(inner: &Inner, function: &str, raw: &str) -> (Value, Value, bank::Answer) {
    let Some(key) = &inner.merchant_key else {
        return (
            json!({}),
            json!({}),
            bank::answer_for_code(
                "KEY_NOT_FOUND",
                "the sandbox has no merchant public key: restart it with --merchant-public-key",
            ),
        );
    };
    let inner_text = match sign::open_envelope(raw, "request", key) {
        Ok(t) => t,
        Err(e) => {
            let head = sign::member_span(raw, "request")
                .and_then(|r| serde_json::from_str::<Value>(r).ok())
                .map(|v| v["head"].clone())
                .unwrap_or(json!({}));
            return (head, json!({}), bank::answer_for_code("INVALID_SIGNATURE", &e.to_string()));
        }
    };
    let Ok(v) = serde_json::from_str::<Value>(inner_text) else {
        return (json!({}), json!({}), bank::answer_for_code("PARAM_ILLEGAL", "request is not JSON"));
    };
    let (head, body) = (v["head"].clone(), v["body"].clone());
    if head["function"].as_str() != Some(function) {
        return (head, body, bank::answer_for_code("INVALID_API", "head.function does not match the URL"));
    }
    let now = beijing_now();
    let db = inner.db.lock().expect("sandbox db lock");
    let result = match function {
        f if f == PAY.0 => bank::pay(&db, &body, now),
        f if f == QUERY.0 => bank::query(&db, &body, now),
        f if f == CANCEL.0 => bank::cancel(&db, &body, now),
        _ => bank::refund(&db, &body, now),
    };
    let answer = result.unwrap_or_else(|e| bank::answer_for_error(&format!("{e:#}")));
    (head, body, answer)
}
