//! `alipay-recon demo [--dir DIR]` — the whole chain on the bundled fixtures with embedded defaults: no
//! config file, no server. Fixtures are written to DIR/fixtures, the database, archive, reports and
//! emails (.eml files) under DIR. Prints where the reports are.

use crate::config::Config;
use crate::pipeline::{self, DayObserver, DayOptions, DayRun, Phase, Workspace};
use crate::sys::exit::Outcome;
use anyhow::{Context, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Work folder for the demo (created if missing).
    #[arg(long, default_value = "alipay-recon-demo")]
    pub dir: PathBuf,
}

pub fn run(_g: &super::Globals, a: Args) -> Result<Outcome> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("cannot create the demo folder {}", a.dir.display()))?;
    let dir = a.dir.canonicalize()?;
    let fixtures = dir.join("fixtures");
    crate::demo::materialize(&fixtures)?;
    let cfg = Config::demo(&dir, &fixtures.join("sftp"));
    let cfg_path = dir.join("alipay-recon.toml");
    std::fs::write(&cfg_path, Config::demo_toml(&fixtures.join("sftp")))
        .with_context(|| format!("cannot write {}", cfg_path.display()))?;
    outln!(
        "demo: embedded defaults, files from {}, everything written under {}",
        fixtures.join("sftp").display(),
        dir.display()
    );
    let mut ws = Workspace::open(cfg)?;

    let mut sales: Vec<PathBuf> = std::fs::read_dir(fixtures.join("sales"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "csv")).collect()
        })
        .unwrap_or_default();
    sales.sort();
    pipeline::recorded(&mut ws, "demo", None, |ws, run_id| {
        for s in &sales {
            let (parsed, res) = pipeline::import_sales(ws, s, Some(run_id))?;
            outln!(
                "sales {}: {} loaded, {} rejected",
                s.file_name().unwrap_or_default().to_string_lossy(),
                res.loaded,
                parsed.rejects.len()
            );
        }
        Ok((Outcome::Clean, ()))
    })?;
    // Each date as `run` does it (lock, import, reconcile, report, email, alerts), with the fixtures'
    // files final: as if run after each date's deadline.
    let opts = DayOptions {
        command: "demo",
        fetch: true,
        email: Default::default(),
        wait: None,
        now: chrono::Utc::now(),
        files_final: true,
    };
    let mut seen = Seen { printer: super::run::Printer::new(true), last_report: None, example_id: None };
    let dates = local_dates(&ws)?;
    let outcome = pipeline::run_days(&mut ws, &dates, &opts, &mut seen)?;
    let Seen { last_report, example_id, .. } = seen;
    outln!("database: {}", ws.cfg.path(&ws.cfg.store.database).display());
    if let Some(r) = last_report {
        outln!("open the latest report: {}", r.display());
    }
    if let Some(d) = dates_seen(&ws)? {
        // Each hint is a whole command line that runs as printed (tests/integration/demo.rs runs them).
        let me = program_name();
        let cfg = shell_word(&cfg_path.display().to_string());
        outln!("explore (each line runs as printed):");
        outln!("  {me} -c {cfg} status --from {} --to {}", d.0, d.1);
        outln!("  {me} -c {cfg} runs");
        if let Some(id) = example_id {
            outln!("  {me} -c {cfg} explain {id}");
        }
    }
    if outcome == Outcome::Attention {
        outln!(
            "exit code 1 is expected here: it means \"done, items need attention\" — the fixtures hold deliberate faults \
             (0 = nothing to look at, 2 = failed; README \"Exit codes\")."
        );
    }
    Ok(outcome)
}

/// Prints as `run` does, and keeps what the closing lines name: the last report and an id to explain.
struct Seen {
    printer: super::run::Printer,
    last_report: Option<PathBuf>,
    example_id: Option<String>,
}

impl DayObserver for Seen {
    fn ledger(&mut self, l: &pipeline::runner::Ledger) {
        self.printer.ledger(l)
    }
    fn phase(&mut self, date: chrono::NaiveDate, phase: Phase) {
        self.printer.phase(date, phase)
    }
    fn file(&mut self, phase: Phase, done: usize, total: usize, file: &crate::source::RemoteFile) {
        self.printer.file(phase, done, total, file)
    }
    fn imported(&mut self, date: chrono::NaiveDate, import: &pipeline::DayImport) {
        self.printer.imported(date, import)
    }
    fn warning(&mut self, text: &str) {
        self.printer.warning(text)
    }
    fn day(&mut self, run: &DayRun) {
        self.printer.day(run);
        self.last_report = Some(run.result.report.dir.join("report.html"));
        if let Some(f) = run.result.outcome.findings.iter().find(|f| !f.merchant_trans_id.is_empty()) {
            self.example_id.get_or_insert_with(|| f.merchant_trans_id.clone());
        }
    }
    fn delivered_after_failure(&mut self, delivery: &pipeline::email::Delivery) {
        self.printer.delivered_after_failure(delivery)
    }
}

/// The first and last business dates with local sales records.
fn dates_seen(ws: &Workspace) -> Result<Option<(chrono::NaiveDate, chrono::NaiveDate)>> {
    let d = local_dates(ws)?;
    Ok(d.first().copied().zip(d.last().copied()))
}

/// How to call this program in a hint: `alipay-recon` when that is what PATH finds, else its full path
/// (e.g. target/debug/alipay-recon after `cargo run`).
fn program_name() -> String {
    let Ok(exe) = std::env::current_exe() else { return "alipay-recon".into() };
    let on_path = std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| d.join("alipay-recon").canonicalize().ok().as_deref() == Some(exe.as_path()))
    });
    if on_path {
        "alipay-recon".into()
    } else {
        shell_word(&exe.display().to_string())
    }
}

/// A path as one shell word (quoted when it holds anything but plain path characters).
fn shell_word(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The business dates that have local sales records, in order.
fn local_dates(ws: &Workspace) -> Result<Vec<chrono::NaiveDate>> {
    crate::store::local::local_dates(&ws.conn)
}
