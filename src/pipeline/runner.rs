//! A business date's whole run, in order: the payment ledger first (once per command), then for each
//! date its lock, the fetch and import of its files, the readiness check, the reconciliation and its
//! report, the day's email and alerts, and the delivery of what waits in the outbox. `run`,
//! `reconcile` and `demo` all call [`run_days`]; they only choose the options, print what the
//! [`DayObserver`] tells them and map the outcome to an exit code. Nothing here prints.

use super::{day, email, DayImport, Workspace};
use crate::notify::EmailOptions;
use crate::source::{FileSource, RemoteFile};
use crate::sys::exit::Outcome;
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use std::time::Duration;

/// The phases of a day, in the order they start. Fetch and Import overlap: each file is fetched,
/// then imported, before the next one. Report writes the report folder, records it and compares it
/// with the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Fetch,
    Import,
    Reconcile,
    Report,
    Email,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Fetch => "fetch",
            Phase::Import => "import",
            Phase::Reconcile => "reconcile",
            Phase::Report => "report",
            Phase::Email => "email",
        }
    }
}

/// What a run tells its caller as it goes (the CLI prints it and draws progress; tests record it).
/// Every method has an empty default.
pub trait DayObserver {
    /// The payment ledger was swept (online) or only synced into the local records (offline).
    fn ledger(&mut self, _ledger: &Ledger) {}
    /// `phase` of `date` starts.
    fn phase(&mut self, _date: NaiveDate, _phase: Phase) {}
    /// File `done` of `total` (counted from 0) starts its fetch or its import.
    fn file(&mut self, _phase: Phase, _done: usize, _total: usize, _file: &RemoteFile) {}
    /// The date's files are fetched and imported (before the readiness check, which may end the day).
    fn imported(&mut self, _date: NaiveDate, _import: &DayImport) {}
    /// Something the operator should read that does not stop the day.
    fn warning(&mut self, _text: &str) {}
    /// A day is done.
    fn day(&mut self, _run: &DayRun) {}
    /// A day failed; after queueing its alert, the outbox was flushed with this result.
    fn delivered_after_failure(&mut self, _delivery: &email::Delivery) {}
}

/// An observer that ignores everything.
pub struct Unobserved;
impl DayObserver for Unobserved {}

/// The payment ledger's step before the dates.
#[derive(Debug)]
pub enum Ledger {
    /// Online: payments not final were resolved with Alipay, then the local records synced.
    Swept { sweep: crate::payment::flow::SweepReport, synced: usize },
    /// Offline: no sweep, only the local records synced.
    Synced { synced: usize },
}

/// How to run the dates.
#[derive(Debug, Clone)]
pub struct DayOptions {
    /// Recorded in the run history (`run`, `reconcile`, `demo`).
    pub command: &'static str,
    /// Fetch and import the day's files first (otherwise reconcile what is stored).
    pub fetch: bool,
    pub email: EmailOptions,
    /// When another run holds a date's lock, wait up to this long instead of failing (exit 4).
    pub wait: Option<Duration>,
    pub now: DateTime<Utc>,
    /// Run each date as at its file deadline when that is later than `now`: its files are final
    /// (the demo's fixtures are; a missing file is then reported, not waited for).
    pub files_final: bool,
}

/// One date's typed outcome.
pub struct DayRun {
    pub date: NaiveDate,
    pub run_id: i64,
    /// Clean (exit 0) or attention (exit 1): a finding, a file not read, or an email left waiting.
    pub outcome: Outcome,
    /// The fetch and import, when the run fetched.
    pub import: Option<DayImport>,
    pub result: day::DayResult,
    /// How the report differs from the one it replaced, when it replaced one.
    pub change: Option<day::ReportChange>,
    /// The day's email: queued, already queued (and whether the report changed since), or not yet
    /// (`None`: the day is not final).
    pub daily_email: Option<crate::notify::DailyEmail>,
    /// What the delivery at the end of the day sent and left waiting.
    pub delivery: email::Delivery,
}

impl DayRun {
    /// What waits in the outbox after the day, and why (also in the run's history).
    pub fn email_waiting(&self) -> Option<String> {
        self.delivery.run_message()
    }
}

/// Runs `dates` in order with `opts`, reporting to `obs`; the worst outcome of the days. The first day
/// that fails (not ready, locked, an error) ends the command with its error, after its alert is queued
/// and the outbox flushed.
pub fn run_days(
    ws: &mut Workspace,
    dates: &[NaiveDate],
    opts: &DayOptions,
    obs: &mut dyn DayObserver,
) -> Result<Outcome> {
    let mut source = if opts.fetch { Some(super::open_source(&ws.cfg)?) } else { None };
    if ws.cfg.payment.enabled {
        obs.ledger(&ledger(ws, opts.fetch)?);
    }
    // Once a date's delivery left mail waiting, later dates of a range do not wait out the same failure.
    let mut mail_down = false;
    let mut worst = Outcome::Clean;
    for &date in dates {
        let run = run_day(ws, source.as_deref_mut(), date, opts, !mail_down, obs)?;
        mail_down |= run.email_waiting().is_some();
        if run.outcome == Outcome::Attention {
            worst = Outcome::Attention;
        }
        obs.day(&run);
    }
    Ok(worst)
}

/// The payment ledger first: resolve what is not final (online only), then feed the local records.
fn ledger(ws: &Workspace, online: bool) -> Result<Ledger> {
    Ok(if online {
        let (sweep, synced) = crate::payment::daily(&ws.cfg, &ws.conn).context("payment ledger sweep")?;
        Ledger::Swept { sweep, synced }
    } else {
        Ledger::Synced { synced: crate::payment::sync_local_records(&ws.conn, &ws.cfg.business.timezone)? }
    })
}

/// One date under its lock, recorded as one run. `try_send`: deliver the outbox (false once an
/// earlier date of the command found the mail server down: only list what waits).
fn run_day(
    ws: &mut Workspace,
    source: Option<&mut (dyn FileSource + '_)>,
    date: NaiveDate,
    opts: &DayOptions,
    try_send: bool,
    obs: &mut dyn DayObserver,
) -> Result<DayRun> {
    let now = if opts.files_final { opts.now.max(super::deadline(&ws.cfg, date)) } else { opts.now };
    // One run per date at a time, shared with the daemon and other manual runs (exit 4 when held).
    let _lock = crate::sys::lock::acquire(&crate::sys::lock::lock_dir(&ws.cfg), date, opts.wait)?;
    let r = super::recorded(ws, opts.command, Some(date), |ws, run_id| {
        let run = steps(ws, run_id, source, date, now, opts.email, try_send, obs)?;
        Ok((run.outcome, run))
    })
    .with_context(|| format!("run for {date}"));
    match r {
        Ok((_, run)) => Ok(run),
        Err(e) => {
            if crate::sys::exit::code_of_error(&e) == crate::sys::exit::code::FAILED {
                email::run_failed(ws, Some(date), opts.command, &e, opts.email);
            }
            obs.delivered_after_failure(&email::deliver(ws, opts.email, true));
            Err(e)
        }
    }
}

/// The steps of one recorded day.
#[allow(clippy::too_many_arguments)] // one call site; the day's context
fn steps(
    ws: &mut Workspace,
    run_id: i64,
    source: Option<&mut (dyn FileSource + '_)>,
    date: NaiveDate,
    now: DateTime<Utc>,
    mail: EmailOptions,
    try_send: bool,
    obs: &mut dyn DayObserver,
) -> Result<DayRun> {
    let mut attention = false;
    let mut import = None;
    if let Some(src) = source {
        // The day's local records are read while its files import; their rows are kept for the
        // reconciliation (the window is the same as if it read them back).
        let params = crate::reconcile::Params::from_config(&ws.cfg.business);
        ws.handoff = Some(crate::store::handoff::Handoff::start(&ws.conn, date, &params));
        let imported = super::import_day_with(ws, src, date, now, Some(run_id), obs)?;
        obs.imported(date, &imported);
        if let Some(e) = super::not_ready(ws, &imported, date, now)? {
            return Err(e.into());
        }
        attention |= !imported.incomplete().is_empty();
        if let Some(w) = super::no_transactions_warning(ws, &imported, date)? {
            obs.warning(&w);
        }
        import = Some(imported);
    }
    obs.phase(date, Phase::Reconcile);
    let result = day::reconcile_day(ws, date, run_id, &mut || obs.phase(date, Phase::Report))?;
    crate::store::runs::set_report_path(&ws.conn, run_id, &result.report.dir.display().to_string())?;
    let change = day::change_since_previous(&result.report);
    obs.phase(date, Phase::Email);
    let daily_email = email::after_day(ws, date, &result, now, mail)?;
    email::alerts(ws, date, now, mail)?;
    attention |= !result.is_clean();
    // The day's email and alerts are sent before its result is told: a clean day whose email stays
    // in the outbox is not "all clear" and not exit 0 (contracts.md v3 §5).
    let delivery = email::deliver(ws, mail, try_send);
    if let Some(w) = delivery.run_message() {
        attention = true;
        crate::store::runs::set_message(&ws.conn, run_id, &w)?;
    }
    let outcome = if attention { Outcome::Attention } else { Outcome::Clean };
    Ok(DayRun { date, run_id, outcome, import, result, change, daily_email, delivery })
}

#[cfg(test)]
mod tests {
    use super::super::handoff_tests::{date, workspace};
    use super::*;

    fn options(fetch: bool, now: DateTime<Utc>, files_final: bool) -> DayOptions {
        DayOptions { command: "run", fetch, email: EmailOptions::default(), wait: None, now, files_final }
    }

    /// Everything a run tells its observer, one line an event.
    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl DayObserver for Recorder {
        fn phase(&mut self, date: NaiveDate, phase: Phase) {
            self.0.push(format!("{date} {}", phase.as_str()));
        }
        fn file(&mut self, phase: Phase, done: usize, total: usize, _file: &RemoteFile) {
            self.0.push(format!("  {} {done}/{total}", phase.as_str()));
        }
        fn imported(&mut self, date: NaiveDate, import: &DayImport) {
            self.0.push(format!("{date} imported {} files", import.files.len()));
        }
        fn day(&mut self, run: &DayRun) {
            self.0.push(format!("{} done {:?}", run.date, run.outcome));
        }
        fn delivered_after_failure(&mut self, _delivery: &email::Delivery) {
            self.0.push("delivered after failure".into());
        }
    }

    impl Recorder {
        /// The phase and day lines, without the per-file ones.
        fn phases(&self) -> Vec<&str> {
            self.0.iter().filter(|l| !l.starts_with("  ")).map(String::as_str).collect()
        }
    }

    #[test]
    fn the_observer_gets_a_days_phases_in_order() {
        let (_dir, mut ws) = workspace();
        let mut seen = Recorder::default();
        let o = run_days(&mut ws, &[date(24), date(25)], &options(true, Utc::now(), true), &mut seen).unwrap();
        assert_eq!(o, Outcome::Attention, "the fixtures' deliberate faults");
        let day = |d: &str, files: usize| {
            vec![
                format!("{d} fetch"),
                format!("{d} import"),
                format!("{d} imported {files} files"),
                format!("{d} reconcile"),
                format!("{d} report"),
                format!("{d} email"),
                format!("{d} done Attention"),
            ]
        };
        let want = [day("2026-11-24", 4), day("2026-11-25", 9)].concat();
        assert_eq!(seen.phases(), want, "{:#?}", seen.0);
        // Each file is fetched, then imported, before the next one.
        let first: Vec<&str> = seen.0.iter().skip(2).take(8).map(|l| l.trim()).collect();
        let files = ["fetch 0/4", "import 0/4", "fetch 1/4", "import 1/4", "fetch 2/4", "import 2/4", "fetch 3/4"];
        assert_eq!(first[..7], files, "{:#?}", seen.0);
    }

    #[test]
    fn reconcile_has_no_fetch_and_a_rerun_compares_its_report() {
        let (_dir, mut ws) = workspace();
        let opts = options(true, Utc::now(), true);
        run_days(&mut ws, &[date(24)], &opts, &mut Unobserved).unwrap();
        struct Last(Recorder, Option<bool>);
        impl DayObserver for Last {
            fn phase(&mut self, date: NaiveDate, phase: Phase) {
                self.0.phase(date, phase)
            }
            fn day(&mut self, run: &DayRun) {
                self.1 = Some(run.change.as_ref().is_some_and(|c| c.rows.is_empty()));
                self.0.day(run)
            }
        }
        let mut seen = Last(Recorder::default(), None);
        let offline = DayOptions { command: "reconcile", ..options(false, Utc::now(), true) };
        run_days(&mut ws, &[date(24)], &offline, &mut seen).unwrap();
        let want = ["2026-11-24 reconcile", "2026-11-24 report", "2026-11-24 email", "2026-11-24 done Attention"];
        assert_eq!(seen.0.phases(), want);
        assert_eq!(seen.1, Some(true), "the same findings as the report it replaced");
    }

    #[test]
    fn a_rerun_tells_whether_the_report_changed_since_its_email() {
        use crate::notify::DailyEmail;
        let (_dir, mut ws) = workspace();
        let opts = options(true, Utc::now(), true);
        struct Email(Option<DailyEmail>);
        impl DayObserver for Email {
            fn day(&mut self, run: &DayRun) {
                self.0 = run.daily_email.clone();
            }
        }
        let mut seen = Email(None);
        run_days(&mut ws, &[date(24)], &opts, &mut seen).unwrap();
        assert_eq!(seen.0, Some(DailyEmail::Queued { version: 1 }));
        run_days(&mut ws, &[date(24)], &opts, &mut seen).unwrap();
        assert!(matches!(seen.0, Some(DailyEmail::AlreadyQueued { version: 1, changed: false, .. })), "{:?}", seen.0);
        // What the reader sees changes: the CLI says that --resend-email sends version 2.
        ws.cfg.merchant.name = "Demo HK Store (renamed)".into();
        run_days(&mut ws, &[date(24)], &opts, &mut seen).unwrap();
        assert!(matches!(seen.0, Some(DailyEmail::AlreadyQueued { version: 1, changed: true, .. })), "{:?}", seen.0);
    }

    #[test]
    fn a_day_not_ready_stops_after_its_import_and_flushes_the_outbox() {
        let (_dir, mut ws) = workspace();
        // The 26th has no files; an hour before its deadline it is not ready (exit 3), and not reconciled.
        let now = crate::pipeline::deadline(&ws.cfg, date(26)) - chrono::Duration::hours(1);
        let mut seen = Recorder::default();
        let e = run_days(&mut ws, &[date(26)], &options(true, now, false), &mut seen).unwrap_err();
        assert_eq!(crate::sys::exit::code_of_error(&e), crate::sys::exit::code::NOT_READY, "{e:#}");
        let want = ["2026-11-26 fetch", "2026-11-26 import", "2026-11-26 imported 0 files", "delivered after failure"];
        assert_eq!(seen.phases(), want);
        // The same day with its files final is reconciled (a missing file is reported, not waited for).
        let mut seen = Recorder::default();
        run_days(&mut ws, &[date(26)], &options(true, now, true), &mut seen).unwrap();
        assert_eq!(seen.phases().last().copied(), Some("2026-11-26 done Attention"));
    }
}
