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

/// Reconciles `date` from stored data and writes `reports/<date>/`.
pub fn reconcile_day(ws: &mut Workspace, date: NaiveDate, run_id: i64) -> Result<DayResult> {
    // The import's parser thread freed its batches into its own malloc arena; hand those pages back
    // before the window load needs as much again (otherwise the day's peak is the sum of both).
    store::shrink_cache(&ws.conn)?;
    release_free_memory();
    let params = Params::from_config(&ws.cfg.business);
    let t = std::time::Instant::now();
    // A run hands over what it already holds (its files' rows, the local records read meanwhile).
    let handoff = ws.handoff.take().unwrap_or_default();
    let mut input = store::window::load_with(&ws.conn, date, &params, handoff)
        .with_context(|| format!("cannot load the data of {date}"))?;
    // Files seen but not read make their day incomplete (contracts.md §2).
    store::skipped::add_to_input(&ws.conn, params.window_start(date), date, &mut input)?;
    let (load_ms, rows, local) = (t.elapsed().as_millis() as u64, input.rows.len(), input.local.len());
    // What the imports' checkpoints have not copied yet is copied while the engine runs.
    ws.checkpoint.wait();
    ws.checkpoint.start(&ws.conn);
    let t = std::time::Instant::now();
    let outcome = reconcile::run(&input, &params).with_context(|| format!("cannot reconcile {date}"))?;
    drop(input);
    let engine_ms = t.elapsed().as_millis() as u64;
    ws.checkpoint.wait();
    let t = std::time::Instant::now();
    store::results::save(&mut ws.conn, Some(run_id), date, &outcome)?;
    let save_ms = t.elapsed().as_millis() as u64;
    tracing::info!(%date, rows, local, load_ms, engine_ms, save_ms, findings = outcome.findings.len(), "reconciled");

    let mut ri = ReportInput::new(date, ws.cfg.merchant.name.clone());
    ri.findings = outcome.findings.clone();
    ri.pending = outcome.pending.clone();
    ri.open_items = outcome.open_items.clone();
    ri.summary = outcome.summary.clone();
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
    let reports_dir = ws.cfg.path(&ws.cfg.store.reports_dir);
    let written = report::write(&reports_dir, &ri, run_id)
        .with_context(|| format!("cannot write the report of {date} under {}", reports_dir.display()))?;
    Ok(DayResult { outcome, report: written, input: ri })
}

/// Returns freed heap pages of every malloc arena to the OS when glibc's malloc is the allocator
/// (it keeps them otherwise; the binary uses mimalloc, which returns them itself and ignores this).
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
