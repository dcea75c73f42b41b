//! The command line: argument definitions and dispatch. Each subcommand is one file with its help
//! text on top and a `run` that calls the library; no business logic lives here.

use crate::sys::exit::Outcome;
use crate::sys::logging::LogFormat;
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub mod audit;
pub mod daemon;
pub mod dates;
pub mod demo;
pub mod doctor;
pub mod explain;
pub mod gen;
pub mod import;
pub mod import_sales;
pub mod init;
pub mod items;
pub mod out;
pub mod outbox;
pub mod pay;
pub mod payments;
pub mod progress;
pub mod resolve;
pub mod retention;
pub mod run;
pub mod runs;
pub mod sandbox;
pub mod status;

/// The help heading of the options every command takes, listed apart from each command's own.
pub const GLOBAL: &str = "Global options";

/// `--version`: the package version and the commit it was built from (build.rs; "unknown commit" when
/// built outside a git checkout, e.g. from a source tarball).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("ALIPAY_RECON_COMMIT"), ")");

#[derive(Debug, Parser)]
#[command(
    name = "alipay-recon",
    version = VERSION,
    about = "Reconcile Alipay barcode payments: fetch the daily files, match them against local sales, report and email the discrepancies."
)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, short = 'c', global = true, env = "ALIPAY_RECON_CONFIG", default_value = "alipay-recon.toml", help_heading = GLOBAL)]
    pub config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "auto", help_heading = GLOBAL)]
    pub log_format: LogFormat,
    /// More logging (-v debug, -vv trace).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,
    /// Only warnings and errors on stderr.
    #[arg(long, short = 'q', global = true, help_heading = GLOBAL)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole chain on the bundled fixtures with embedded defaults (no config, no server).
    Demo(demo::Args),
    /// Everything stored about one payment or refund: Alipay rows, local records, history.
    Explain(explain::Args),
    /// Write a synthetic day (Alipay files + sales CSV) for benchmarks and trials.
    Gen(gen::Args),
    /// Write an annotated example configuration file.
    Init(init::Args),
    /// The email outbox: list what is waiting, send it now.
    Outbox(outbox::Args),
    /// Take a barcode payment (amount in major units); prints the outcome for the cashier.
    Pay(pay::PayArgs),
    /// Ask Alipay for the current state of a payment.
    Query(pay::IdArgs),
    /// Void a payment (refunded in full when past the cancel window).
    Cancel(pay::IdArgs),
    /// Refund part or all of a paid payment.
    Refund(pay::RefundArgs),
    /// List the payment ledger, filtered by state and date.
    Payments(payments::Args),
    /// Resolve every payment and refund that is not final (queries, cancels, refunds with the same ids).
    Sweep,
    /// Run a local Alipay sandbox speaking the real protocol (magic codes: docs/payment.md).
    Sandbox(sandbox::Args),
    /// Check the setup: DNS, TCP, host key, login, remote folders, writable paths, SMTP, RSA keys (exit 2 on failure).
    Doctor(doctor::Args),
    /// Housekeeping: warn (and alert) before Alipay deletes missing files; prune old email attachments
    /// and stale downloads. Exit 1 when a date is at risk.
    Retention(retention::Args),
    /// Run the schedule (daily reconciliation, retries, housekeeping) until stopped.
    Daemon(daemon::Args),
    /// Fetch, archive and load the Alipay files of a business date.
    Import(import::Args),
    /// Load local sales records (sales-v1 CSV or a mapped POS export).
    ImportSales(import_sales::Args),
    /// The daily job for a date or range: fetch, import, reconcile, report (and email).
    Run(run::Args),
    /// Reconcile a date or range from stored data only, and rewrite its report.
    Reconcile(run::ReconcileArgs),
    /// The run history.
    Runs(runs::Args),
    /// Show what is loaded for which dates.
    Status(status::Args),
    /// Close a reported item with a reason and a note (or apply a filled-in report.xlsx / CSV).
    Resolve(resolve::Args),
    /// Open a resolved item again.
    Reopen(resolve::ReopenArgs),
    /// List reported items: open, resolved or expired, with filters.
    Items(items::Args),
    /// The audit trail of resolutions: verify the hash chain, export it as CSV.
    Audit(audit::Args),
}

/// Options every subcommand sees.
#[derive(Debug, Clone)]
pub struct Globals {
    pub config: PathBuf,
}

impl Globals {
    /// Loads the configuration file named by --config, with environment overrides.
    pub fn load_config(&self) -> Result<crate::config::Config> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        crate::config::Config::load(&self.config, &env)
    }
}

impl Cli {
    pub fn verbosity(&self) -> i8 {
        if self.quiet {
            -1
        } else {
            self.verbose.min(3) as i8
        }
    }

    /// Whether exit code 1 ("attention") should be reported as 0.
    pub fn attention_is_ok(&self) -> bool {
        false
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<Outcome> {
    let g = Globals { config: cli.config.clone() };
    match cli.command {
        Command::Demo(a) => demo::run(&g, a),
        Command::Explain(a) => explain::run(&g, a),
        Command::Gen(a) => gen::run(&g, a),
        Command::Init(a) => init::run(&g, a),
        Command::Outbox(a) => outbox::run(&g, a),
        Command::Pay(a) => pay::pay(&g, a),
        Command::Query(a) => pay::query(&g, a),
        Command::Cancel(a) => pay::cancel(&g, a),
        Command::Refund(a) => pay::refund(&g, a),
        Command::Payments(a) => payments::run(&g, a),
        Command::Sweep => pay::sweep(&g),
        Command::Sandbox(a) => sandbox::run(&g, a),
        Command::Doctor(a) => doctor::run(&g, a),
        Command::Retention(a) => retention::run(&g, a),
        Command::Daemon(a) => daemon::run(&g, a),
        Command::Import(a) => import::run(&g, a),
        Command::ImportSales(a) => import_sales::run(&g, a),
        Command::Run(a) => run::run(&g, a, true),
        Command::Reconcile(a) => run::run(&g, a.into(), false),
        Command::Runs(a) => runs::run(&g, a),
        Command::Status(a) => status::run(&g, a),
        Command::Resolve(a) => resolve::run(&g, a),
        Command::Reopen(a) => resolve::reopen(&g, a),
        Command::Items(a) => items::run(&g, a),
        Command::Audit(a) => audit::run(&g, a),
    }
}
