//! `alipay-recon run --date D` (or `--from A --to B`) — the daily job: fetch and import the day's files,
//! reconcile, write the report folder (and email it). `--offline` uses only what is already stored and
//! archived. Before the file deadline, files that are not there yet exit 3 so the scheduler retries.
//!
//! `alipay-recon reconcile --date D` is the same without the fetch (always offline).

use super::dates::{parse_date, range};
use crate::exit::Outcome;
use crate::pipeline::{self, day, Workspace};
use anyhow::{bail, Context, Result};
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
    let mut source = if fetch { Some(pipeline::open_source(&ws.cfg)?) } else { None };
    let mut worst = Outcome::Clean;
    let command = if fetch { "run" } else { "reconcile" };
    let email = crate::notify::EmailOptions { no_email: a.day.no_email, resend: a.day.resend_email };
    if ws.cfg.payment.enabled {
        // The payment ledger first: resolve what is not final (online only), then feed local records.
        if fetch {
            let (sweep, synced) = crate::payment::daily(&ws.cfg, &ws.conn).context("payment ledger sweep")?;
            outln!(
                "payment ledger: {} looked at, {} resolved, {} still open{}; {synced} local records updated",
                sweep.looked_at,
                sweep.resolved,
                sweep.still_open.len(),
                if sweep.still_open.is_empty() { String::new() } else { format!(" ({})", sweep.still_open.join(", ")) }
            );
        } else {
            let synced = crate::payment::sync_local_records(&ws.conn, &ws.cfg.business.timezone)?;
            outln!("payment ledger: {synced} local records updated (offline: no sweep)");
        }
    }
    let lock_dir = crate::lock::lock_dir(&ws.cfg);
    // Once a date's delivery left mail waiting, later dates of a range do not wait out the same failure.
    let mut mail_down = false;
    for date in dates {
        // One run per date at a time, shared with the daemon and other manual runs (exit 4 when held).
        let _lock = crate::lock::acquire(&lock_dir, date, a.day.wait.map(std::time::Duration::from_secs))?;
        let r = pipeline::recorded(&mut ws, command, Some(date), |ws, run_id| {
            let mut attention = false;
            if let Some(src) = source.as_mut() {
                // The day's local records are read while its files import; their rows are kept for
                // the reconciliation (the window is the same as if it read them back).
                let params = crate::reconcile::Params::from_config(&ws.cfg.business);
                ws.handoff = Some(crate::store::handoff::Handoff::start(&ws.conn, date, &params));
                let imported = pipeline::import_day(ws, src.as_mut(), date, now, Some(run_id))?;
                super::import::print_day(&imported);
                if let Some(e) = pipeline::not_ready(ws, &imported, date, now)? {
                    return Err(e.into());
                }
                attention |= !imported.incomplete().is_empty();
                if let Some(w) = pipeline::no_transactions_warning(ws, &imported, date)? {
                    errln!("warning: {w}");
                }
            }
            let res = day::reconcile_day(ws, date, run_id)?;
            let dir = res.report.dir.display().to_string();
            crate::store::runs::set_report_path(&ws.conn, run_id, &dir)?;
            pipeline::email::after_day(ws, date, &res, now, email)?;
            pipeline::email::alerts(ws, date, now, email)?;
            attention |= !res.is_clean();
            // The day's email and alerts are sent before its result is printed: a clean day whose
            // email stays in the outbox is not "all clear" and not exit 0 (contracts.md v3 §5).
            let delivery = pipeline::email::deliver(ws, email, !mail_down);
            let waiting = delivery.run_message();
            print_outcome(date, &res, waiting.is_some());
            delivery.print();
            if let Some(w) = waiting {
                mail_down = true;
                attention = true;
                crate::store::runs::set_message(&ws.conn, run_id, &w)?;
            }
            Ok((if attention { Outcome::Attention } else { Outcome::Clean }, ()))
        })
        .with_context(|| format!("run for {date}"));
        let (o, _) = match r {
            Ok(v) => v,
            Err(e) => {
                if crate::exit::code_of_error(&e) == crate::exit::code::FAILED {
                    pipeline::email::run_failed(&mut ws, Some(date), command, &e, email);
                }
                pipeline::email::finish(&ws, email);
                return Err(e);
            }
        };
        if o == Outcome::Attention {
            worst = Outcome::Attention;
        }
    }
    Ok(worst)
}

pub fn print_result(date: NaiveDate, r: &day::DayResult) {
    print_outcome(date, r, false)
}

/// The day's result; `email_waiting`: its email or an alert was not delivered (the caller says which).
pub fn print_outcome(date: NaiveDate, r: &day::DayResult, email_waiting: bool) {
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
    if let Some(c) = day::change_since_previous(&r.report) {
        if c.rows.is_empty() {
            outln!("rerun: same findings as the previous report (kept in {})", c.previous.display());
        } else {
            let what: Vec<String> = c.rows.iter().map(|(f, a, g)| format!("{f}: {a} new rows, {g} gone")).collect();
            outln!("rerun: changed since the previous report (kept in {}): {}", c.previous.display(), what.join("; "));
        }
    }
}
