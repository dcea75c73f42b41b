//! The payment sandbox for tests: an in-process [`Sandbox`] on a free loopback port with a fresh
//! merchant key pair, and a workspace config (`alipay-recon.toml`) whose sandbox environment points
//! at it with millisecond timings. The reconciliation files it writes are the config's `source.dir`,
//! so `alipay-recon run --date <day>` reconciles what was paid here (see [`PaymentWorld::days`]).

use super::Workspace;
use alipay_recon::payment::sandbox::{Options, Sandbox};
use alipay_recon::payment::sign::PrivateKey;
use std::path::PathBuf;
use std::time::Duration;

pub const MERCHANT_ID: &str = "2188000000004242";

/// Timings small enough for tests; the sandbox's slow answers take longer than `read_timeout_ms`.
pub const FAST: &str = "
enabled = true
connect_timeout_ms = 1000
read_timeout_ms = 1000
query_interval_ms = 40
query_deadline_ms = 1500
not_exist_requeries = 2
not_exist_interval_ms = 40
cancel_attempts = 3
cancel_interval_ms = 20
refund_attempts = 4
refund_interval_ms = 20
";

/// A workspace wired to a running sandbox.
pub struct PaymentWorld {
    pub w: Workspace,
    pub sandbox: Sandbox,
    pub merchant_key: PrivateKey,
}

impl PaymentWorld {
    /// A sandbox whose slow answers take `slow_ms`, and a config with `payment` timings.
    pub fn start(slow_ms: u64, payment: &str) -> PaymentWorld {
        let w = Workspace::new();
        let merchant_key = PrivateKey::generate().expect("merchant key");
        let sandbox = Sandbox::start(Options {
            listen: "127.0.0.1:0".into(),
            state_dir: w.file("sandbox-state"),
            files_dir: Some(w.file("sandbox-files")),
            merchant_key: Some(merchant_key.public().unwrap()),
            slow: Duration::from_millis(slow_ms),
        })
        .expect("sandbox starts");
        w.write("keys/merchant-private.pem", merchant_key.to_pem().unwrap());
        std::fs::create_dir_all(w.file("sandbox-files")).unwrap();
        std::fs::copy(&sandbox.public_key_file, w.file("keys/alipay-sandbox-public.pem")).unwrap();
        let world = PaymentWorld { w, sandbox, merchant_key };
        world.write_config(payment);
        world
    }

    /// The default: slow answers take 4 s against a 1 s read timeout (margin for a loaded machine).
    pub fn fast() -> PaymentWorld {
        PaymentWorld::start(4000, FAST)
    }

    pub fn write_config(&self, payment: &str) {
        self.w.write("alipay-recon.toml", config_text(&self.sandbox.url(), payment));
    }

    /// Runs the daily job for every day the sandbox wrote files for (for the lead's end-to-end test:
    /// after paying, cancelling and refunding here, each day should reconcile with zero discrepancies).
    pub fn run_days(&self, extra: &[&str]) -> Vec<(String, super::Run)> {
        self.days()
            .into_iter()
            .map(|d| {
                let mut args = vec!["run", "--date", d.as_str()];
                args.extend_from_slice(extra);
                let r = self.w.run(&args);
                (d.clone(), r)
            })
            .collect()
    }

    /// The data rows of `reports/<day>/discrepancies.csv` (empty when the day reconciled cleanly).
    pub fn discrepancies(&self, day: &str) -> Vec<String> {
        let p = self.w.file(&format!("reports/{day}/discrepancies.csv"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        text.lines().skip(1).filter(|l| !l.is_empty()).map(str::to_string).collect()
    }

    /// The data rows of `reports/<day>/pending.csv`.
    pub fn pending(&self, day: &str) -> Vec<String> {
        let p = self.w.file(&format!("reports/{day}/pending.csv"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        text.lines().skip(1).filter(|l| !l.is_empty()).map(str::to_string).collect()
    }

    pub fn files_dir(&self) -> PathBuf {
        self.w.file("sandbox-files")
    }

    /// The sandbox's own state (its `txns` and `calls` tables).
    pub fn sandbox_db(&self) -> PathBuf {
        self.w.file("sandbox-state/sandbox.db")
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.w.file("data/recon.db")).expect("ledger database")
    }

    /// Business days (YYYY-MM-DD) that have sandbox files: what the daily `run` should be given.
    pub fn days(&self) -> Vec<String> {
        let root = self.files_dir().join("download").join(MERCHANT_ID);
        let mut days: Vec<String> = std::fs::read_dir(&root)
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        days.sort();
        days.into_iter().map(|d| format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..])).collect()
    }

    /// Ledger state of a payment.
    pub fn state(&self, id: &str) -> String {
        self.db()
            .query_row("SELECT state FROM payment_attempts WHERE merchant_trans_id = ?1", [id], |r| r.get(0))
            .unwrap_or_else(|e| panic!("payment {id} not in the ledger: {e}"))
    }

    /// The newest payment's id.
    pub fn last_id(&self) -> String {
        self.db()
            .query_row("SELECT merchant_trans_id FROM payment_attempts ORDER BY rowid DESC LIMIT 1", [], |r| r.get(0))
            .expect("a payment in the ledger")
    }

    /// (record_type, record_id, status, origin) of the local records of a payment.
    pub fn local_records(&self, id: &str) -> Vec<(String, String, String, String)> {
        let db = self.db();
        let mut st = db
            .prepare("SELECT record_type, record_id, status, origin FROM local_records WHERE merchant_trans_id = ?1 ORDER BY record_type, record_id")
            .unwrap();
        st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect()
    }
}

/// A workspace config whose sandbox environment points at `url`; keys under `keys/`, files in
/// `sandbox-files/` (the `dir` source), the database in `data/recon.db`.
pub fn config_text(url: &str, payment: &str) -> String {
    format!(
        r#"environment = "sandbox"
[merchant]
name = "Sandbox Test Store"
[environments.sandbox]
merchant_id = "{MERCHANT_ID}"
client_id = "385SANDBOX0000042"
api_base_url = "{url}"
private_key = {{ file = "keys/merchant-private.pem" }}
alipay_public_key_file = "keys/alipay-sandbox-public.pem"
[source]
kind = "dir"
dir = "sandbox-files"
formats = ["intl"]
[store]
database = "data/recon.db"
archive_dir = "archive"
reports_dir = "reports"
[payment]
{payment}
"#
    )
}
