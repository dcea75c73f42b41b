//! `alipay-recon run --date D` (or `--from A --to B`) — the daily job: fetch and import the day's files,
//! reconcile, write the report folder (and email it). `--offline` uses only what is already stored and
//! archived. Before the file deadline, files that are not there yet exit 3 so the scheduler retries.
//!
//! `alipay-recon reconcile --date D` is the same without the fetch (always offline).
//!
//! The day itself is `pipeline::run_days`; this file parses the options, prints what the run tells its
//! observer ([`Printer`]) and returns the outcome for the exit code.

use super::dates::{parse_date, range};
use crate::pipeline::runner::Ledger;
use crate::pipeline::{self, day, DayObserver, DayOptions, DayRun, Phase, Workspace};
use crate::sys::exit::Outcome;
use anyhow::{bail, Result};
use chrono::{DateTime, NaiveDate, Utc};

/// The options `run` and `reconcile` share: which days, email, waiting for the date's lock.
#[derive(Debug, clap::Args)]
pub struct DayArgs {
    /// Business date: YYYY-MM-DD, `today` or `yesterday` (in the business zone).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub date: Option<String>,
    /// First date of a range (rerun in date order).
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// Last date of a range.
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// Do not send or queue email for this run.
    #[arg(long)]
    pub no_email: bool,
    /// Email the day's report again as a new version even though it was already sent.
    #[arg(long, conflicts_with = "no_email")]
    pub resend_email: bool,
    /// When another run holds the date's lock, wait up to this many seconds instead of exiting 4.
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub day: DayArgs,
    /// Do not fetch: reconcile from the stored and archived data only.
    #[arg(long)]
    pub offline: bool,
    /// Download files again even when a file of the same name, size and time was already fetched.
    #[arg(long, conflicts_with = "offline")]
    pub refetch: bool,
}

/// `reconcile`'s options: `run`'s without those that only concern fetching (`--offline` is implied,
/// `--refetch` would be ignored), so passing them is an error rather than silently nothing.
#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub day: DayArgs,
}

impl From<ReconcileArgs> for Args {
    fn from(a: ReconcileArgs) -> Args {
        Args { day: a.day, offline: true, refetch: false }
    }
}

/// The dates named by --date or --from/--to.
pub fn dates(a: &Args, zone: &crate::domain::BusinessZone, now: DateTime<Utc>) -> Result<Vec<NaiveDate>> {
    match (&a.day.date, &a.day.from, &a.day.to) {
        (Some(d), _, _) => Ok(vec![parse_date(d, zone, now)?]),
        (None, Some(f), Some(t)) => range(parse_date(f, zone, now)?, parse_date(t, zone, now)?),
        _ => bail!("say which day: --date YYYY-MM-DD (or today/yesterday), or --from … --to … for a range"),
    }
}

pub fn run(g: &super::Globals, a: Args, fetch: bool) -> Result<Outcome> {
    let cfg = g.load_config()?;
    let now = Utc::now();
    let dates = dates(&a, &cfg.business.timezone, now)?;
    let mut ws = Workspace::open(cfg)?;
    ws.refetch = a.refetch;
    let fetch = fetch && !a.offline;
    let opts = DayOptions {
        command: if fetch { "run" } else { "reconcile" },
        fetch,
        email: crate::notify::EmailOptions { no_email: a.day.no_email, resend: a.day.resend_email },
        wait: a.day.wait.map(std::time::Duration::from_secs),
        now,
        files_final: false,
    };
    pipeline::run_days(&mut ws, &dates, &opts, &mut Printer::new(false))
}

/// Prints a run as it goes: the ledger line, each date's files, warnings, its result and emails; draws
/// the phases' progress on a terminal (super::progress). `headers`: a `== DATE` line before each date.
pub struct Printer {
    bars: Option<super::progress::PhaseBars>,
    headers: bool,
}

impl Printer {
    pub fn new(headers: bool) -> Printer {
        Printer { bars: super::progress::PhaseBars::on_terminal(), headers }
    }

    fn clear_bars(&mut self) {
        if let Some(b) = self.bars.as_mut() {
            b.clear();
        }
    }
}

impl DayObserver for Printer {
    fn ledger(&mut self, l: &Ledger) {
        match l {
            Ledger::Swept { sweep, synced } => outln!(
                "payment ledger: {} looked at, {} resolved, {} still open{}; {synced} local records updated",
                sweep.looked_at,
                sweep.resolved,
                sweep.still_open.len(),
                if sweep.still_open.is_empty() { String::new() } else { format!(" ({})", sweep.still_open.join(", ")) }
            ),
            Ledger::Synced { synced } => outln!("payment ledger: {synced} local records updated (offline: no sweep)"),
        }
    }

    fn phase(&mut self, date: NaiveDate, phase: Phase) {
        if let Some(b) = self.bars.as_mut() {
            b.phase(date, phase);
        }
    }

    fn file(&mut self, phase: Phase, done: usize, total: usize, file: &crate::source::RemoteFile) {
        if let Some(b) = self.bars.as_mut() {
            b.file(phase, done, total, file.name.as_str());
        }
    }

    fn imported(&mut self, date: NaiveDate, import: &pipeline::DayImport) {
        if let Some(b) = self.bars.as_mut() {
            b.files_done();
        }
        if self.headers {
            outln!("== {date}");
        }
        super::import::print_day(import);
    }

    fn warning(&mut self, text: &str) {
        errln!("warning: {text}");
    }

    fn day(&mut self, run: &DayRun) {
        self.clear_bars();
        if let Some(crate::notify::DailyEmail::AlreadyQueued { version, changed: true, .. }) = &run.daily_email {
            outln!(
                "{}: the report changed since email version {version}; pass --resend-email to send version {}",
                run.date,
                version + 1
            );
        }
        let waiting = run.delivery.waiting_sentence().is_some();
        print_outcome(run.date, &run.result, run.change.as_ref(), waiting);
        run.delivery.print();
    }

    fn delivered_after_failure(&mut self, delivery: &pipeline::email::Delivery) {
        self.clear_bars();
        delivery.print();
    }
}

/// The day's result; `change`: how its report differs from the one it replaced; `email_waiting`: its
/// email or an alert was not delivered (the delivery's lines say which).
pub fn print_outcome(date: NaiveDate, r: &day::DayResult, change: Option<&day::ReportChange>, email_waiting: bool) {
    let s = &r.outcome.summary;
    if r.is_clean() && email_waiting {
        outln!("{date}: no discrepancies — {} matched, but its email is not delivered yet (below)", s.matched);
    } else if r.is_clean() {
        outln!("{date}: all clear — {} matched, no discrepancies", s.matched);
    } else {
        let stake: Vec<String> = s
            .at_stake
            .iter()
            .filter_map(|(c, v)| {
                crate::domain::Currency::parse(c).ok().map(|cur| crate::domain::display_money(*v, cur))
            })
            .collect();
        outln!(
            "{date}: {} discrepancies, {} pending, {} resolved, {} open items{}",
            r.outcome.findings.len(),
            s.pending,
            s.resolved,
            r.outcome.open_items.len(),
            if stake.is_empty() { String::new() } else { format!(" — at stake {}", stake.join(", ")) }
        );
    }
    outln!("report: {}", r.report.dir.join("report.html").display());
    if let Some(c) = change {
        if c.rows.is_empty() {
            outln!("rerun: same findings as the previous report (kept in {})", c.previous.display());
        } else {
            let what: Vec<String> = c.rows.iter().map(|(f, a, g)| format!("{f}: {a} new rows, {g} gone")).collect();
            outln!("rerun: changed since the previous report (kept in {}): {}", c.previous.display(), what.join("; "));
        }
    }
}
