//! One business date's reconciliation: load the look-back window from the store, run the engine,
//! keep the result, write the report folder. Converts between the leaf modules' types; owns no rules.

use super::Workspace;
use crate::domain::{FileFormat, FileKind};
use crate::reconcile::{self, Params};
use crate::report::{self, FileWarning, InputFile, ReportInput, TrendPoint};
use crate::store;
use anyhow::{Context, Result};
use chrono::NaiveDate;

/// What one day's reconciliation produced.
pub struct DayResult {
    pub outcome: reconcile::Outcome,
    pub report: report::WrittenReport,
    pub input: ReportInput,
}

impl DayResult {
    /// Nothing needs attention: no discrepancy, nothing pending or open.
    pub fn is_clean(&self) -> bool {
        self.input.is_clean()
    }
}

/// Reconciles `date` from stored data and writes `reports/<date>/`, calling `writing_report` between
/// the two (the runner's phases).
pub fn reconcile_day(
    ws: &mut Workspace,
    date: NaiveDate,
    run_id: i64,
    writing_report: &mut dyn FnMut(),
) -> Result<DayResult> {
    // The import's parser thread freed its batches into its own malloc arena; hand those pages back
    // before the window load needs as much again (otherwise the day's peak is the sum of both).
    store::shrink_cache(&ws.conn)?;
    release_free_memory();
    let params = Params::from_config(&ws.cfg.business);
    // A run hands over what it already holds (its files' rows, the local records read meanwhile).
    let handoff = ws.handoff.take().unwrap_or_default();
    // What the imports' checkpoints have not copied yet is copied while the window loads and the
    // engine runs (pages a prefetch statement still reads are copied once the load has joined it). A
    // copy still running from the import goes on to the last file's pages by itself: not waited for.
    ws.checkpoint.start(&ws.conn);
    let (mut outcome, how) = outcome(&ws.conn, date, &params, handoff)?;
    // Resolved items leave the open items (issue 18); this day's resolutions go into the report.
    let resolutions = crate::resolve::for_day(&ws.conn, &ws.cfg, date, &mut outcome.open_items, &mut outcome.summary)?;
    let (load_ms, engine_ms, rows, local) = (how.load_ms, how.engine_ms, how.rows, how.local);
    let t = std::time::Instant::now();
    store::results::save(&mut ws.conn, Some(run_id), date, &outcome)?;
    let save_ms = t.elapsed().as_millis() as u64;
    tracing::info!(%date, rows, local, load_ms, engine_ms, save_ms, findings = outcome.findings.len(),
        incremental_from = how.base.map(|d| d.to_string()), days = how.days, "reconciled");

    let t = std::time::Instant::now();
    let mut ri = ReportInput::new(date, ws.cfg.merchant.name.clone());
    ri.findings = outcome.findings.clone();
    ri.pending = outcome.pending.clone();
    ri.open_items = outcome.open_items.clone();
    ri.summary = outcome.summary.clone();
    ri.resolutions = resolutions;
    ri.config_hash = ws.cfg.fingerprint();
    ri.warnings = store::files::issues_for_date(&ws.conn, date)?
        .into_iter()
        .map(|i| FileWarning { file: i.file_name, line: i.line.map(|l| l as u64), code: i.code, message: i.message })
        .collect();
    ri.input_files = store::files::list(&ws.conn, params.window_start(date), date, true)?
        .into_iter()
        .filter_map(|f| {
            Some(InputFile {
                format: FileFormat::parse(&f.format)?,
                kind: FileKind::parse(&f.kind)?,
                business_date: f.business_date.parse().ok()?,
                name: f.name,
                sha256: f.sha256,
            })
        })
        .collect();
    ri.trend = trend(ws, date, &outcome)?;
    let input_ms = t.elapsed().as_millis() as u64;
    writing_report();
    let t = std::time::Instant::now();
    let reports_dir = ws.cfg.path(&ws.cfg.store.reports_dir);
    let written = report::write(&reports_dir, &ri, run_id)
        .with_context(|| format!("cannot write the report of {date} under {}", reports_dir.display()))?;
    tracing::debug!(%date, input_ms, write_ms = t.elapsed().as_millis() as u64, "report written");
    // The copy ran beside the engine, the result's save and the report (none of their commits
    // checkpoints: `store::shrink_cache`); the next day's import starts from a copied WAL.
    let t = std::time::Instant::now();
    ws.checkpoint.wait();
    tracing::debug!(%date, wait_ms = t.elapsed().as_millis() as u64, "checkpoint waited for");
    Ok(DayResult { outcome, report: written, input: ri })
}

/// How [`outcome`] computed a day (for the log and the tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct How {
    /// The stored state it started from (`None`: the whole window, as on a first day).
    pub base: Option<NaiveDate>,
    /// Days computed (the state's later days up to the date; 1 when the day before had a state).
    pub days: u32,
    /// The last day's input rows and local versions, load and engine times.
    pub rows: usize,
    pub local: usize,
    pub load_ms: u64,
    pub engine_ms: u64,
}

/// Stored rows (Alipay's detail rows and local records) in a window above which a day without a
/// usable state is computed forward, day by day, from an empty state the day before its window (see
/// [`outcome`]) instead of by loading the whole window at once: memory stays about that of a day (a
/// rule change at 1M payments a day needed ~20 GB as one load), time is about a day per day of the
/// window. Below it the one load is faster: at 100k payments a day (6.8M rows in a 22-day window) it
/// took 11.4 s and 2.1 GB against 19.6 s and 1.2 GB forward (BENCHMARKS.md); ~300 bytes a row.
/// `ALIPAY_RECON_BOOTSTRAP_MAX_ROWS` overrides it (docs/operations.md).
pub const BOOTSTRAP_MAX_ROWS: u64 = 12_000_000;

fn bootstrap_max_rows() -> u64 {
    std::env::var("ALIPAY_RECON_BOOTSTRAP_MAX_ROWS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(BOOTSTRAP_MAX_ROWS)
}

/// Day `date`'s outcome from the stored data, and its state for the next day (`store::state`).
///
/// With a state of the day before (for these rules) only the keys that can have a verdict are
/// loaded (`window::load_active`) and the engine runs on them. Without one, from the newest state in
/// the open-item look-back the later days are computed forward, each for its state only
/// (`reconcile::run_state`: the keys with a verdict and the matched counts; no findings, file checks
/// or summary, which nobody reads), then the date in full. Without any (a first run, a gap, a rule
/// change, a database from before sql/0010) a small window is loaded whole and its state stored; a
/// window of more than [`BOOTSTRAP_MAX_ROWS`] rows is computed
/// forward from an empty state on the day before its first day: a day's answer depends only on its
/// window's data, and each key with rows in it is loaded on the days of those rows, so the days before
/// the window are not needed. Either way the next day is incremental, and the answer is the same
/// (tested against the whole-window engine: `reconcile::tests`, `pipeline::state_tests`).
pub fn outcome(
    conn: &rusqlite::Connection,
    date: NaiveDate,
    params: &Params,
    handoff: store::handoff::Handoff,
) -> Result<(reconcile::Outcome, How)> {
    outcome_with(conn, date, params, handoff, bootstrap_max_rows())
}

/// [`outcome`], with the whole-window load's row limit given. Every day it computes before `date`
/// (forward from a stored or an empty state) runs `reconcile::run_state`; `date` itself runs
/// `reconcile::run_keeping`, whose outcome is returned.
pub(crate) fn outcome_with(
    conn: &rusqlite::Connection,
    date: NaiveDate,
    params: &Params,
    handoff: store::handoff::Handoff,
    bootstrap_max_rows: u64,
) -> Result<(reconcile::Outcome, How)> {
    use store::state;
    let hash = state::rules_hash(params);
    let generation = state::generation(conn)?;
    let prev = date - chrono::Duration::days(1);
    let base = if params.open_item_days == 0 {
        None
    } else if state::get(conn, prev, &hash)?.is_some() {
        Some(prev)
    } else {
        state::newest_before(conn, date - chrono::Duration::days(params.open_item_days as i64), prev, &hash)?
    };
    let base = match base {
        Some(b) => state::get(conn, b, &hash)?,
        None => None,
    };
    let mut how = How { base: base.as_ref().map(|b| b.date), ..Default::default() };
    let from = params.window_start(date);
    // From an empty state, a day's computed state is stored only when it is whole: when the window of
    // the day after it starts within the days computed (before that, keys of earlier days are missing).
    let mut empty_from: Option<NaiveDate> = None;
    let base = match base {
        None if store::window::stored_rows(conn, from, date)? > bootstrap_max_rows => {
            empty_from = Some(from);
            let before = from - chrono::Duration::days(1);
            tracing::info!(%date, from = %from, "no usable state: computing the window forward, a day at a time");
            Some(store::state::DayState { date: before, ids: Vec::new(), matched_by_day: Default::default() })
        }
        base => base,
    };
    let Some(mut st) = base else {
        let t = std::time::Instant::now();
        let mut input = store::window::load_with(conn, date, params, handoff)
            .with_context(|| format!("cannot load the data of {date}"))?;
        // Files seen but not read make their day incomplete (contracts.md §2).
        store::skipped::add_to_input(conn, params.window_start(date), date, &mut input)?;
        (how.load_ms, how.rows, how.local, how.days) =
            (t.elapsed().as_millis() as u64, input.rows.len(), input.local.len(), 1);
        let t = std::time::Instant::now();
        let (out, keys) =
            reconcile::run_keeping(&input, params, false).with_context(|| format!("cannot reconcile {date}"))?;
        drop(input);
        how.engine_ms = t.elapsed().as_millis() as u64;
        state::save(conn, generation, date, &hash, &keys.matched_by_day, &keys)?;
        return Ok((out, how));
    };
    // The run's just-imported rows are the date's own files: used on the date itself.
    let mut handoff = Some(handoff);
    let mut d = st.date;
    loop {
        d += chrono::Duration::days(1);
        let t = std::time::Instant::now();
        let held = if d >= date { handoff.take().unwrap_or_default() } else { Default::default() };
        let mut input = store::window::load_active_with(conn, d, params, &st.ids, held)
            .with_context(|| format!("cannot load the data of {d}"))?;
        store::skipped::add_to_input(conn, params.window_start(d), d, &mut input)?;
        (how.load_ms, how.rows, how.local) = (t.elapsed().as_millis() as u64, input.rows.len(), input.local.len());
        let t = std::time::Instant::now();
        // A day before the date is computed for its state only: nobody reads its outcome.
        let (out, keys) = if d >= date {
            let (out, keys) =
                reconcile::run_keeping(&input, params, true).with_context(|| format!("cannot reconcile {d}"))?;
            (Some(out), keys)
        } else {
            (None, reconcile::run_state(&input, params).with_context(|| format!("cannot compute the state of {d}"))?)
        };
        drop(input);
        how.engine_ms = t.elapsed().as_millis() as u64;
        how.days += 1;
        if out.is_none() {
            tracing::debug!(%d, rows = how.rows, local = how.local, load_ms = how.load_ms, engine_ms = how.engine_ms,
                "state recomputed");
        }
        // Keys this run did not load agree at d exactly as they did at d − 1, unless their item date
        // left the open-item look-back: they leave the count by their item date.
        let first_day = d - chrono::Duration::days(params.open_item_days as i64);
        let by_day = reconcile::carry_matched(&st.matched_by_day, &keys, first_day);
        if empty_from.is_none_or(|s| params.window_start(d + chrono::Duration::days(1)) >= s) {
            state::save(conn, generation, d, &hash, &by_day, &keys)?;
        }
        if let Some(mut out) = out {
            out.summary.matched = by_day.values().sum();
            return Ok((out, how));
        }
        st = store::state::DayState { date: d, ids: keys.ids, matched_by_day: by_day };
    }
}

/// Returns freed heap pages of every glibc malloc arena to the OS (glibc keeps them otherwise). Not a
/// no-op beside the binary's mimalloc: SQLite allocates through the C library's malloc, so the page
/// cache that `store::shrink_cache` has just freed goes back to the OS only through this.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The last 14 days' discrepancy counts and amounts at stake: this day from its outcome, earlier days
/// from their current stored results (days never reconciled are left blank).
fn trend(ws: &Workspace, date: NaiveDate, outcome: &reconcile::Outcome) -> Result<Vec<TrendPoint>> {
    let mut points = Vec::new();
    for back in (1..14).rev() {
        let d = date - chrono::Days::new(back);
        if let Some(r) = store::results::current(&ws.conn, d)? {
            let summary: serde_json::Value = serde_json::from_str(&r.summary_json).unwrap_or_default();
            let at_stake =
                summary.get("at_stake").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
            points.push(TrendPoint { date: d, discrepancies: r.findings, at_stake });
        }
    }
    points.push(TrendPoint {
        date,
        discrepancies: outcome.findings.len() as i64,
        at_stake: outcome.summary.at_stake.clone(),
    });
    Ok(points)
}

/// How a rewritten report differs from the one it replaced (moved to `history/<run>/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportChange {
    pub previous: std::path::PathBuf,
    /// Rows of each CSV that are new / gone, by file name; empty when every file is unchanged.
    pub rows: Vec<(&'static str, usize, usize)>,
}

/// Compares the new report's CSVs with the previous set's, row by row.
pub fn change_since_previous(w: &report::WrittenReport) -> Option<ReportChange> {
    let prev = w.previous.clone()?;
    let mut rows = Vec::new();
    for name in ["discrepancies.csv", "pending.csv", "open_items.csv"] {
        let read = |p: std::path::PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let (old, new) = (read(prev.join(name)), read(w.dir.join(name)));
        let old_rows: std::collections::BTreeSet<&str> = old.lines().skip(1).collect();
        let new_rows: std::collections::BTreeSet<&str> = new.lines().skip(1).collect();
        let added = new_rows.difference(&old_rows).count();
        let gone = old_rows.difference(&new_rows).count();
        if added + gone > 0 {
            rows.push((name, added, gone));
        }
    }
    Some(ReportChange { previous: prev, rows })
}
