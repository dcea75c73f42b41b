//! The `alipay-recon` binary: parse arguments, start logging, run the library, map the outcome to the
//! exit code of contracts.md §5.

use clap::Parser;
use std::process::ExitCode;

// mimalloc: the reconciliation allocates and frees hundreds of MB of short-lived vectors and
// strings; with glibc's malloc a 1M-payment `run` spent ~10% of its CPU in malloc/free and in
// re-faulting pages it had returned (16.5 s -> 13.5 s, peak RSS 1.47 -> 1.40 GB; BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // SQLite's allocations through mimalloc, without its global statistics' mutex: the import's
    // inserting thread spent ~20% less time (store::memory, BENCHMARKS.md).
    // SAFETY: first thing in main: no other thread exists and SQLite is not yet in use.
    let sqlite_memory = unsafe { alipay_recon::store::memory::configure() };
    let cli = alipay_recon::cli::Cli::parse();
    alipay_recon::sys::logging::init(cli.log_format, cli.verbosity());
    tracing::debug!(allocator = if sqlite_memory { "process" } else { "sqlite default" }, "sqlite memory");
    let attention_is_ok = cli.attention_is_ok();
    let result = alipay_recon::cli::run(cli);
    if let Err(e) = &result {
        // One readable paragraph: the error and its causes, each saying what to do.
        // Never a panic on a closed stderr (cli::out).
        alipay_recon::cli::out::stderr(format_args!("error: {e:#}"), true);
    }
    ExitCode::from(alipay_recon::sys::exit::code_of(&result, attention_is_ok))
}
