//! `alipay-recon daemon` — run the schedule of `schedules/*.toml` until stopped (SIGTERM/Ctrl-C).
//!
//! `daemon` runs the jobs: the daily reconciliation (`run --date D`, retried while not ready, missed
//! days caught up on start), the payment-ledger sweep, retention and the SFTP keep-alive. One daemon
//! per database (a lock file); each job is a child process whose exit code is recorded.
//!
//! `daemon check` prints the jobs and their next fire times without running anything.
//!
//! `daemon with-lock --date D -- PROGRAM ARGS…` runs any program while holding date D's run lock, so
//! operators' own scripts never overlap a reconciliation of that date (exit 4 when it is held).

use crate::ops::schedule::{self, daemon::DaemonSettings, JobSpec, ScheduleSet};
use crate::sys::exit::{Locked, NotReady, Outcome};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Print the jobs of the schedule files and their next fire times, then exit.
    Check {
        /// How many fire times to list per job.
        #[arg(long, default_value_t = 3)]
        count: usize,
    },
    /// Run a program while holding the run lock of one business date.
    WithLock {
        /// The business date: YYYY-MM-DD, today or yesterday (in the business zone).
        #[arg(long)]
        date: String,
        /// Wait up to this many seconds for the lock instead of failing at once.
        #[arg(long)]
        wait: Option<u64>,
        /// The program and its arguments (after `--`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let cfg = g.load_config()?;
    match a.action {
        None => run_daemon(g, &cfg),
        Some(Action::Check { count }) => check(&cfg, count),
        Some(Action::WithLock { date, wait, cmd }) => with_lock(&cfg, &date, wait, &cmd),
    }
}

fn schedule_dir(cfg: &crate::config::Config) -> PathBuf {
    cfg.path(cfg.schedule.dir.as_deref().unwrap_or(std::path::Path::new("schedules")))
}

/// Loads the schedule files and leaves out jobs that call a subcommand this build does not have
/// (say `sweep` before the payment module is installed), with a warning naming file and job.
fn load_jobs(cfg: &crate::config::Config) -> Result<ScheduleSet> {
    let mut set = ScheduleSet::load_dir(&schedule_dir(cfg))?;
    let cli = <super::Cli as clap::CommandFactory>::command();
    let (ok, missing): (Vec<JobSpec>, Vec<JobSpec>) = set
        .jobs
        .into_iter()
        .partition(|j| j.program.is_some() || j.command.first().is_some_and(|c| cli.find_subcommand(c).is_some()));
    for j in &missing {
        tracing::warn!(
            "{}: `alipay-recon {}` does not exist in this version: the job is skipped; fix `command` or set enabled = false",
            j.origin,
            j.command.first().map(String::as_str).unwrap_or("")
        );
    }
    if ok.is_empty() {
        bail!(
            "no runnable jobs in {}: every job calls a subcommand this version does not have",
            schedule_dir(cfg).display()
        );
    }
    set.jobs = ok;
    Ok(set)
}

fn run_daemon(g: &super::Globals, cfg: &crate::config::Config) -> Result<Outcome> {
    let set = load_jobs(cfg)?;
    let _lock = crate::sys::lock::acquire_daemon(&crate::sys::lock::lock_dir(cfg))?;
    let config_path = std::path::absolute(&g.config).unwrap_or_else(|_| g.config.clone());
    let settings = DaemonSettings {
        schedule: set,
        exe: std::env::current_exe().context("cannot find this program's own path to start jobs")?,
        config_path,
        database: cfg.path(&cfg.store.database),
        business_zone: cfg.business.timezone,
        file_deadline: cfg.business.deadline().expect("validated with the config"),
    };
    schedule::daemon::run(settings)?;
    Ok(Outcome::Clean)
}

fn check(cfg: &crate::config::Config, count: usize) -> Result<Outcome> {
    let set = load_jobs(cfg)?;
    let now = chrono::Utc::now();
    outln!("schedule files: {}", set.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
    for j in &set.jobs {
        outln!("{} ({:?}): cron '{}' in {}: {}", j.name, j.kind, j.cron.text, j.cron.zone, j.command.join(" "));
        let mut t = now;
        for _ in 0..count {
            let Some(n) = j.cron.next_after(t) else { break };
            let local = n.with_timezone(&j.cron.zone.offset_at(n));
            match j.kind {
                schedule::JobKind::Daily => {
                    let d = schedule::plan::date_for_fire(j, cfg.business.timezone, n);
                    outln!("  {}  for business date {d}", local.to_rfc3339());
                }
                schedule::JobKind::Periodic => outln!("  {}", local.to_rfc3339()),
            }
            t = n;
        }
    }
    Ok(Outcome::Clean)
}

fn with_lock(cfg: &crate::config::Config, date: &str, wait: Option<u64>, cmd: &[String]) -> Result<Outcome> {
    let d = schedule::parse_date_arg(date, cfg.business.timezone, chrono::Utc::now())?;
    let _lock =
        crate::sys::lock::acquire(&crate::sys::lock::lock_dir(cfg), d, wait.map(std::time::Duration::from_secs))?;
    let status = std::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .env("ALIPAY_RECON_DATE", d.to_string())
        .status()
        .with_context(|| format!("cannot start `{}`: check the program name and PATH", cmd[0]))?;
    match status.code() {
        Some(0) => Ok(Outcome::Clean),
        Some(1) => Ok(Outcome::Attention),
        Some(3) => Err(NotReady(format!("`{}` answered not ready (exit 3)", cmd[0])).into()),
        Some(4) => Err(Locked(format!("`{}` answered locked (exit 4)", cmd[0])).into()),
        other => bail!(
            "`{}` failed ({}) while holding the lock for {d}",
            cmd[0],
            other.map_or("killed by a signal".into(), |c| format!("exit {c}"))
        ),
    }
}
