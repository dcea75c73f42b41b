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

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Business date: YYYY-MM-DD, `today` or `yesterday` (in the business zone).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub date: Option<String>,
    /// First date of a range (rerun in date order).
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// Last date of a range.
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// Do not fetch: reconcile from the stored and archived data only.
    #[arg(long)]
    pub offline: bool,
    /// Download files again even when a file of the same name, size and time was already fetched.
    #[arg(long, conflicts_with = "offline")]
    pub refetch: bool,
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

/// The dates named by --date or --from/--to.
pub fn dates(a: &Args, zone: &crate::domain::BusinessZone, now: DateTime<Utc>) -> Result<Vec<NaiveDate>> {
    match (&a.date, &a.from, &a.to) {
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
    let email = crate::notify::EmailOptions { no_email: a.no_email, resend: a.resend_email };
    if ws.cfg.payment.enabled {
        // The payment ledger first: resolve what is not final (online only), then feed local records.
        if fetch {
            let (sweep, synced) = crate::payment::daily(&ws.cfg, &ws.conn).context("payment ledger sweep")?;
            println!(
                "payment ledger: {} looked at, {} resolved, {} still open{}; {synced} local records updated",
                sweep.looked_at,
                sweep.resolved,
                sweep.still_open.len(),
                if sweep.still_open.is_empty() { String::new() } else { format!(" ({})", sweep.still_open.join(", ")) }
            );
        } else {
            let synced = crate::payment::sync_local_records(&ws.conn, &ws.cfg.business.timezone)?;
            println!("payment ledger: {synced} local records updated (offline: no sweep)");
        }
    }
    let lock_dir = crate::lock::lock_dir(&ws.cfg);
    for date in dates {
        // One run per date at a time, shared with the daemon and other manual runs (exit 4 when held).
        let _lock = crate::lock::acquire(&lock_dir, date, a.wait.map(std::time::Duration::from_secs))?;
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
            }
            let res = day::reconcile_day(ws, date, run_id)?;
            let dir = res.report.dir.display().to_string();
            crate::store::runs::set_report_path(&ws.conn, run_id, &dir)?;
            print_result(date, &res);
            pipeline::email::after_day(ws, date, &res, now, email)?;
            pipeline::email::alerts(ws, date, now, email)?;
            attention |= !res.is_clean();
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
    pipeline::email::finish(&ws, email);
    Ok(worst)
}

pub fn print_result(date: NaiveDate, r: &day::DayResult) {
    let s = &r.outcome.summary;
    if r.is_clean() {
        println!("{date}: all clear — {} matched, no discrepancies", s.matched);
    } else {
        let stake: Vec<String> = s
            .at_stake
            .iter()
            .filter_map(|(c, v)| {
                crate::domain::Currency::parse(c)
                    .ok()
                    .map(|cur| format!("{c} {}", crate::domain::format_minor(*v, cur)))
            })
            .collect();
        println!(
            "{date}: {} discrepancies, {} pending, {} resolved, {} open items{}",
            r.outcome.findings.len(),
            s.pending,
            s.resolved,
            r.outcome.open_items.len(),
            if stake.is_empty() { String::new() } else { format!(" — at stake {}", stake.join(", ")) }
        );
    }
    println!("report: {}", r.report.dir.join("report.html").display());
    if let Some(c) = day::change_since_previous(&r.report) {
        if c.rows.is_empty() {
            println!("rerun: same findings as the previous report (kept in {})", c.previous.display());
        } else {
            let what: Vec<String> = c.rows.iter().map(|(f, a, g)| format!("{f}: {a} new rows, {g} gone")).collect();
            println!(
                "rerun: changed since the previous report (kept in {}): {}",
                c.previous.display(),
                what.join("; ")
            );
        }
    }
}
