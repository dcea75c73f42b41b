//! End-to-end benchmark of the daily `run` (issue 3, point 6). Rerun with:
//!   cargo bench --bench run -- [PAYMENTS...]      (default: 100000 1000000)
//! For each size: `gen` writes a seeded intl day (payments, refunds, cancels, faults); then, timed
//! separately, the real release binary runs `import-sales` and `run --date D --no-email` (fetch from a
//! folder, archive, parse, store, reconcile, write every report format). Wall time and peak RSS come
//! from wait4(2). In the same run:
//!   (a) the matching and categories alone — `reconcile::run` on the in-memory window vs the pandas
//!       script's compute step (payments, refunds, settlement detail and summary, grace, totals; both
//!       start from in-memory tables; median of three runs each);
//!   (b) our whole `run` (+ import-sales) vs the pandas script's read + compute on the same files.
//! The pandas script is benches/pandas_recon.py (`pip install pandas`); skipped with a note if absent.

use alipay_recon::domain::{Currency, FileFormat};
use alipay_recon::gen::{generate, GenSpec};
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
        "{:>10} {:>9} {:>10} {:>9} {:>9} {:>11} {:>10} {:>10} {:>8} {:>8}",
        "payments", "rows", "run s", "RSS MB", "sales s", "engine s", "pandas c", "pandas r+c", "(a) x", "(b) x"
    );
    for n in sizes {
        bench(n);
    }
}

/// Runs the binary; returns (wall seconds, peak RSS MB).
// The child is reaped by wait4(2), which also gives its peak RSS; clippy cannot see that.
#[allow(clippy::zombie_processes)]
fn timed(dir: &Path, args: &[&str]) -> (f64, u64) {
    let t = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_alipay-recon"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn alipay-recon");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and ru are valid out-pointers.
    unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let code = libc::WEXITSTATUS(status);
    assert!(code == 0 || code == 1, "alipay-recon {args:?} exited {code}");
    (t.elapsed().as_secs_f64(), ru.ru_maxrss as u64 / 1024)
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

    let (pc, prc, pandas_counts) =
        pandas(&rep.files, &rep.sales_file, dir).unwrap_or((f64::NAN, f64::NAN, serde_json::Value::Null));
    println!(
        "{:>10} {:>9} {:>10.2} {:>9} {:>9.2} {:>11.2} {:>10.2} {:>10.2} {:>8.1} {:>8.2}",
        payments,
        rep.alipay_rows,
        run_s,
        rss,
        sales_s,
        engine_s,
        pc,
        prc,
        pc / engine_s,
        (run_s + sales_s) / prc
    );
    eprintln!("  engine runs: first (cold) {cold:.2} s, median {engine_s:.2} s");
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

/// Runs the pandas baseline on the generated files (transactions, settlement detail, settlement
/// summary); returns (compute seconds, read + compute seconds, its counts per category).
fn pandas(files: &[std::path::PathBuf], sales: &Path, dir: &Path) -> Option<(f64, f64, serde_json::Value)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pandas_recon.py");
    let [tx, detail, summary] = files else {
        eprintln!("  pandas baseline skipped: expected 3 generated files, got {}", files.len());
        return None;
    };
    let out = Command::new("python3")
        .arg(script)
        .args([tx.as_path(), sales, &dir.join("pandas.csv"), detail, summary])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "  pandas baseline unavailable: {}",
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
        );
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let (r, c) = (v["read_s"].as_f64()?, v["compute_s"].as_f64()?);
    eprintln!(
        "  pandas: read {r:.2} s, compute runs {} s (payment and refund matching alone: {} s), categories {}",
        v["compute_runs_s"], v["match_s"], v["counts"]
    );
    Some((c, r + c, v["counts"].clone()))
}
