//! End-to-end benchmark of the daily `run` (issue 3, point 6; issue 14, point 6). Rerun with:
//!   cargo bench --bench run -- [PAYMENTS...]      (default: 100000 1000000)
//! For each size: `gen` writes a seeded intl day (payments, refunds, cancels, faults); then, timed
//! separately as whole processes, side by side on the same files:
//!   - the project: the real release binary's `import-sales` and `run --date D --no-email` (fetch from
//!     a folder, archive, parse, store, reconcile, write every report format);
//!   - what a user would write instead: benches/duckdb_recon.py (`pip install duckdb`), the same
//!     one-day job in DuckDB SQL; then, untimed, its `--check` against the project's
//!     discrepancies.csv on every item row (the bench fails if they disagree);
//!   - benches/pandas_recon.py (`pip install pandas`): one pass of read + compute in its own process.
//!
//! Wall time and peak RSS of each process come from wait4(2). In the same run, (a) the matching and
//! categories alone: `reconcile::run` on the in-memory window (first run and median of three) vs the
//! pandas script's one-pass compute step. A script whose module is missing is skipped with a note.
//! `BENCH_BIN=/path/to/alipay-recon` times another build of the binary (e.g. a baseline).

use alipay_recon::demo::gen::{generate, GenSpec};
use alipay_recon::domain::{Currency, FileFormat};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

// The same allocator as the binary (src/main.rs), so the in-process engine timings match `run`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DATE: &str = "2026-11-25";

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![100_000, 1_000_000] } else { sizes };
    println!(
        "{:>10} {:>9} {:>7} {:>7} {:>8} {:>8} {:>7} {:>8} {:>8} {:>9} {:>7} {:>7} {:>7}",
        "payments",
        "rows",
        "sales s",
        "run s",
        "ours s",
        "RSS MB",
        "duck s",
        "duck MB",
        "pandas s",
        "pandas MB",
        "x duck",
        "x pand",
        "(a) x"
    );
    for n in sizes {
        bench(n);
    }
}

fn binary() -> std::path::PathBuf {
    std::env::var_os("BENCH_BIN").map(Into::into).unwrap_or_else(|| env!("CARGO_BIN_EXE_alipay-recon").into())
}

/// Runs the binary; returns (wall seconds, peak RSS MB).
fn timed(dir: &Path, args: &[&str]) -> (f64, u64) {
    let mut cmd = Command::new(binary());
    cmd.args(args).env("RUST_LOG", "warn");
    let (s, rss, code, _) = wait_timed(cmd, dir);
    assert!(code == 0 || code == 1, "alipay-recon {args:?} exited {code}");
    (s, rss)
}

/// Runs `cmd` in `dir` (stdout captured); returns (wall seconds, peak RSS MB, exit code, stdout).
// The child is reaped by wait4(2), which also gives its peak RSS; clippy cannot see that.
#[allow(clippy::zombie_processes)]
fn wait_timed(mut cmd: Command, dir: &Path) -> (f64, u64, i32, Vec<u8>) {
    use std::io::Read;
    let t = Instant::now();
    let mut child = cmd.current_dir(dir).stdout(std::process::Stdio::piped()).spawn().expect("spawn");
    let mut out = Vec::new();
    child.stdout.take().expect("piped").read_to_end(&mut out).expect("read the child's output");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and ru are valid out-pointers.
    unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    (t.elapsed().as_secs_f64(), ru.ru_maxrss as u64 / 1024, libc::WEXITSTATUS(status), out)
}

fn bench(payments: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let spec = GenSpec {
        date: DATE.parse().unwrap(),
        payments,
        format: FileFormat::Intl,
        currency: Currency::parse("HKD").unwrap(),
        merchant_id: "2188000000000001".into(),
        seed: 42,
        zone: Default::default(),
        faults: true,
    };
    let rep = generate(&spec, dir).unwrap();
    // The generator's hundreds of MB of dirty pages are flushed first: otherwise the kernel writes
    // them back during the timed import (the first fsync of the import waited for them: +2.5 s at 1M).
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    std::fs::write(
        dir.join("alipay-recon.toml"),
        "environment = \"production\"\n[merchant]\nname = \"Bench\"\n[environments.production]\nmerchant_id = \"2188000000000001\"\n\
         [source]\nkind = \"dir\"\ndir = \"sftp\"\n[store]\ndatabase = \"recon.db\"\narchive_dir = \"archive\"\nreports_dir = \"reports\"\n[email]\ntransport = \"none\"\n",
    )
    .unwrap();
    let sales = rep.sales_file.to_str().unwrap().to_string();
    let (sales_s, _) = timed(dir, &["import-sales", &sales]);
    // The sales import's last checkpoint leaves its pages dirty in the page cache; in production the
    // export lands hours before the run, so they are flushed here instead of during the timed run
    // (where the kernel's writeback cost it ~1 s at 1M).
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    let (run_s, rss) = timed(dir, &["run", "--date", DATE, "--no-email"]);
    let ours = run_s + sales_s;
    unsafe { libc::sync() };
    let duck = duckdb(&rep.files, &rep.sales_file, dir);
    unsafe { libc::sync() };
    let (pandas_s, pandas_rss, pc, pandas_counts) =
        pandas(&rep.files, &rep.sales_file, dir).unwrap_or((f64::NAN, 0, f64::NAN, serde_json::Value::Null));

    // (a) the engine alone on the in-memory window.
    let cfg = alipay_recon::config::Config::load(&dir.join("alipay-recon.toml"), &[]).unwrap();
    let conn = alipay_recon::store::open(&dir.join("recon.db")).unwrap();
    let params = alipay_recon::reconcile::Params::from_config(&cfg.business);
    let input = alipay_recon::store::window::load(&conn, spec.date, &params).unwrap();
    // Three runs on the same in-memory window, the median reported (the pandas script does the same).
    let mut times = Vec::new();
    let mut out = None;
    for _ in 0..3 {
        let t = Instant::now();
        out = Some(alipay_recon::reconcile::run(&input, &params).unwrap());
        times.push(t.elapsed().as_secs_f64());
    }
    let out = out.expect("three runs");
    let cold = times[0];
    times.sort_by(f64::total_cmp);
    let engine_s = times[1];
    drop(input);

    let (duck_s, duck_rss) = duck.unwrap_or((f64::NAN, 0));
    println!(
        "{:>10} {:>9} {:>7.2} {:>7.2} {:>8.2} {:>8} {:>7.2} {:>8} {:>8.2} {:>9} {:>7.2} {:>7.2} {:>7.1}",
        payments,
        rep.alipay_rows,
        sales_s,
        run_s,
        ours,
        rss,
        duck_s,
        duck_rss,
        pandas_s,
        pandas_rss,
        ours / duck_s,
        ours / pandas_s,
        pc / cold
    );
    eprintln!(
        "  engine runs: first (cold) {cold:.2} s, median {engine_s:.2} s; pandas one-pass compute {pc:.2} s: (a) = pandas compute / engine's first run"
    );
    eprintln!(
        "  findings: {} (generated faults: {} missing locally, {} missing at Alipay, {} amount, {} unknown)",
        out.findings.len(),
        rep.missing_locally,
        rep.missing_at_alipay,
        rep.amount_mismatches,
        rep.local_unknown
    );
    // Both tools must find the same things, or the comparison means nothing.
    if let Some(theirs) = pandas_counts.as_object() {
        let mut ours: std::collections::BTreeMap<String, u64> = Default::default();
        for f in &out.findings {
            *ours.entry(f.category.as_str().to_string()).or_default() += 1;
        }
        let theirs: std::collections::BTreeMap<String, u64> =
            theirs.iter().filter(|(k, _)| *k != "PENDING").map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect();
        eprintln!("  categories: ours {ours:?}, pandas {theirs:?}");
        assert_eq!(ours, theirs, "the pandas baseline and the engine disagree: fix one before comparing their times");
    }
}

/// The generated (transactions, settlement detail, settlement summary) files.
fn day_files(files: &[std::path::PathBuf]) -> Option<[&Path; 3]> {
    match files {
        [tx, detail, summary] => Some([tx.as_path(), detail.as_path(), summary.as_path()]),
        _ => {
            eprintln!("  scripts skipped: expected 3 generated files, got {}", files.len());
            None
        }
    }
}

/// Runs the DuckDB script on the day's files (timed, one process), then its `--check` against the
/// project's discrepancies.csv (untimed); panics if they disagree. Returns (wall s, peak RSS MB).
fn duckdb(files: &[std::path::PathBuf], sales: &Path, dir: &Path) -> Option<(f64, u64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/duckdb_recon.py");
    let [tx, detail, summary] = day_files(files)?;
    let args = |check: bool| {
        let mut c = Command::new("python3");
        c.arg(&script).args(["--date", DATE, "--sales"]).arg(sales).arg("--transactions").arg(tx);
        c.arg("--settlement-detail").arg(detail).arg("--settlement-summary").arg(summary);
        c.arg("--out").arg(dir.join("duckdb.csv"));
        if check {
            c.arg("--check").arg(dir.join("reports").join(DATE).join("discrepancies.csv"));
        }
        c
    };
    let (s, rss, code, out) = wait_timed(args(false), dir);
    if code != 0 {
        eprintln!("  DuckDB script unavailable (exit {code}; `pip install duckdb`?)");
        return None;
    }
    eprintln!("  duckdb: {}", String::from_utf8_lossy(&out).trim());
    let (_, _, code, _) = wait_timed(args(true), dir);
    assert_eq!(
        code, 0,
        "the DuckDB script and the project disagree on discrepancies.csv: fix one before comparing their times"
    );
    Some((s, rss))
}

/// Runs the pandas baseline on the generated files (one pass, its own process); returns (wall s,
/// peak RSS MB, its compute seconds, its counts per category).
fn pandas(files: &[std::path::PathBuf], sales: &Path, dir: &Path) -> Option<(f64, u64, f64, serde_json::Value)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pandas_recon.py");
    let [tx, detail, summary] = day_files(files)?;
    let mut cmd = Command::new("python3");
    cmd.arg(script).args([tx, sales, &dir.join("pandas.csv"), detail, summary]);
    let (s, rss, code, out) = wait_timed(cmd, dir);
    if code != 0 {
        eprintln!("  pandas baseline unavailable (exit {code}; `pip install pandas`?)");
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out).ok()?;
    let (r, c) = (v["read_s"].as_f64()?, v["compute_s"].as_f64()?);
    eprintln!("  pandas: read {r:.2} s, compute {c:.2} s (one pass), process {s:.2} s, categories {}", v["counts"]);
    Some((s, rss, c, v["counts"].clone()))
}
