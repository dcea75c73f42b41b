//! The reconciliation engine alone on a stored day, for profiling (issue 3):
//!   cargo bench --bench engine -- CONFIG DATE [RUNS]
//! loads DATE's window once from the database CONFIG points at, then runs `reconcile::run` RUNS times
//! (default 3), printing the wall time of each run and the findings count. Set
//! RUST_LOG=alipay_recon=debug for the engine's phase timings.

use std::time::Instant;

// The same allocator as the binary (src/main.rs), so the in-process engine timings match `run`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Peak and current resident set (MB) from /proc/self/status.
fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
    };
    format!("RSS {} MB, peak {} MB", kb("VmRSS:").unwrap_or(0) / 1024, kb("VmHWM:").unwrap_or(0) / 1024)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let [config, date, rest @ ..] = args.as_slice() else {
        eprintln!("usage: cargo bench --bench engine -- CONFIG DATE [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = rest.first().and_then(|r| r.parse().ok()).unwrap_or(3);
    println!(
        "row sizes: AlipayRow {} B, LocalVersion {} B (plus their strings)",
        std::mem::size_of::<alipay_recon::reconcile::AlipayRow>(),
        std::mem::size_of::<alipay_recon::reconcile::LocalVersion>()
    );
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let cfg = alipay_recon::config::Config::load(std::path::Path::new(config), &[]).expect("config");
    let conn = alipay_recon::store::open(&cfg.path(&cfg.store.database)).expect("database");
    let params = alipay_recon::reconcile::Params::from_config(&cfg.business);
    let date = date.parse().expect("DATE is YYYY-MM-DD");
    let t = Instant::now();
    let input = alipay_recon::store::window::load(&conn, date, &params).expect("window");
    println!(
        "load {:.2} s: {} Alipay rows, {} local versions; {}",
        t.elapsed().as_secs_f64(),
        input.rows.len(),
        input.local.len(),
        rss()
    );
    for _ in 0..runs {
        let t = Instant::now();
        let out = alipay_recon::reconcile::run(&input, &params).expect("engine");
        println!(
            "engine {:.3} s: {} findings, {} pending; {}",
            t.elapsed().as_secs_f64(),
            out.findings.len(),
            out.pending.len(),
            rss()
        );
    }
}
