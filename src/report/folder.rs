//! The folder protocol of `reports/<YYYY-MM-DD>/` (contracts.md §4), built so that a crash at any
//! point leaves something the next run repairs without losing an earlier complete set:
//!
//! 1. every new file is written and fsynced into `<date>/.tmp-<run>/` (stale `.tmp-*` folders of
//!    crashed runs are deleted first: they never hold the only copy of anything);
//! 2. if `<date>/manifest.json` exists, the set it describes is moved to `history/<its run id>/`,
//!    manifest last, then its `.run-id` — a crash mid-move leaves the manifest and `.run-id` in place
//!    and the next run finishes the move;
//! 3. the new files are renamed into `<date>/`, then `.run-id`, manifest last. `manifest.json` is
//!    therefore the commit marker: files in `<date>/` without one are leftovers of a crashed step 3
//!    (the earlier set is already in history) and are simply replaced.
//!
//! The run that wrote a set is named by the hidden `.run-id` beside it, not inside `manifest.json`:
//! the report files themselves are byte-identical for identical inputs (contracts.md v3 §4). A set
//! written before v3 has no `.run-id`; its manifest's `run_id` names it.
//!
//! One writer per date at a time: callers hold the run lock of the date (contracts.md §5, exit code 4).

use super::summary::{manifest_run_id, sha256_hex};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const DISCREPANCIES: &str = "discrepancies.csv";
pub const PENDING: &str = "pending.csv";
pub const OPEN_ITEMS: &str = "open_items.csv";
pub const SUMMARY: &str = super::summary::FILE_NAME;
pub const HTML: &str = "report.html";
pub const XLSX: &str = "report.xlsx";
pub const TREND: &str = "trend.png";
/// The chart for a phone: `report.html` picks it below 600 px (`<picture>`).
pub const TREND_NARROW: &str = "trend-narrow.png";
pub const MANIFEST: &str = "manifest.json";
/// The run that committed the set (decimal, no newline); not a report file.
pub const RUN_ID: &str = ".run-id";

/// Every file of a set, the commit marker last.
pub const SET: [&str; 9] = [DISCREPANCIES, PENDING, OPEN_ITEMS, SUMMARY, HTML, XLSX, TREND, TREND_NARROW, MANIFEST];

pub const HISTORY: &str = "history";

/// Where a report was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenReport {
    /// `reports/<YYYY-MM-DD>/`
    pub dir: PathBuf,
    pub discrepancies_csv: PathBuf,
    pub pending_csv: PathBuf,
    pub open_items_csv: PathBuf,
    pub summary_json: PathBuf,
    pub report_html: PathBuf,
    pub report_xlsx: PathBuf,
    /// Referenced by `report.html` as `trend.png` (beside it); the email's copy of the page refers to
    /// it as `cid:trend.png`, so attach it inline with that content id.
    pub trend_png: PathBuf,
    /// `trend-narrow.png`: the same chart for a phone; the email carries it inline as
    /// `cid:trend-narrow.png`.
    pub trend_narrow_png: PathBuf,
    pub manifest_json: PathBuf,
    /// `history/<run id>/` when an earlier set was moved there by this write.
    pub previous: Option<PathBuf>,
}

impl WrittenReport {
    fn new(dir: PathBuf, previous: Option<PathBuf>) -> WrittenReport {
        WrittenReport {
            discrepancies_csv: dir.join(DISCREPANCIES),
            pending_csv: dir.join(PENDING),
            open_items_csv: dir.join(OPEN_ITEMS),
            summary_json: dir.join(SUMMARY),
            report_html: dir.join(HTML),
            report_xlsx: dir.join(XLSX),
            trend_png: dir.join(TREND),
            trend_narrow_png: dir.join(TREND_NARROW),
            manifest_json: dir.join(MANIFEST),
            dir,
            previous,
        }
    }

    /// All file paths of the set, in [`SET`] order.
    pub fn files(&self) -> Vec<&Path> {
        vec![
            &self.discrepancies_csv,
            &self.pending_csv,
            &self.open_items_csv,
            &self.summary_json,
            &self.report_html,
            &self.report_xlsx,
            &self.trend_png,
            &self.trend_narrow_png,
            &self.manifest_json,
        ]
        .into_iter()
        .map(PathBuf::as_path)
        .collect()
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path)
        .with_context(|| format!("cannot create {}: check the folder is writable", path.display()))?;
    f.write_all(bytes).with_context(|| format!("cannot write {}: check free disk space", path.display()))?;
    f.sync_all().with_context(|| format!("cannot flush {} to disk", path.display()))
}

fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot flush folder {} to disk", dir.display()))
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).with_context(|| {
        format!("cannot move {} to {}: check permissions on the reports folder", from.display(), to.display())
    })
}

/// Deletes `.tmp-*` folders left by crashed writes.
fn remove_stale_tmp(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.file_name().to_string_lossy().starts_with(".tmp-") && entry.path().is_dir() {
            fs::remove_dir_all(entry.path()).with_context(|| {
                format!("cannot remove the unfinished report folder {}: delete it by hand", entry.path().display())
            })?;
        }
    }
    Ok(())
}

/// Moves the committed set in `dir` (if any) to `history/<its run id>/`. A set written by `run_id`
/// itself is not history: it is overwritten.
fn archive_previous(dir: &Path, run_id: i64) -> Result<Option<PathBuf>> {
    let manifest = dir.join(MANIFEST);
    let bytes = match fs::read(&manifest) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", manifest.display())),
    };
    let recorded = fs::read_to_string(dir.join(RUN_ID)).ok().and_then(|t| t.trim().parse::<i64>().ok());
    let name = match recorded.or_else(|| manifest_run_id(&bytes)) {
        Some(prev) if prev == run_id => return Ok(None),
        Some(prev) => prev.to_string(),
        // A damaged manifest still marks a set worth keeping; name it by content so reruns agree.
        None => format!("unknown-{}", &sha256_hex(&bytes)[..12]),
    };
    let target = dir.join(HISTORY).join(&name);
    fs::create_dir_all(&target).with_context(|| format!("cannot create {}", target.display()))?;
    for file in SET {
        let from = dir.join(file);
        if from.exists() {
            rename(&from, &target.join(file))?;
        }
    }
    // After the manifest: until the set has left, its run id stays readable for a resumed move.
    if dir.join(RUN_ID).exists() {
        rename(&dir.join(RUN_ID), &target.join(RUN_ID))?;
    }
    sync_dir(&target)?;
    sync_dir(dir)?;
    Ok(Some(target))
}

/// Runs the protocol of the module docs for one set.
pub fn install(
    reports_dir: &Path,
    date: NaiveDate,
    run_id: i64,
    files: Vec<(&'static str, Vec<u8>)>,
    manifest: Vec<u8>,
) -> Result<super::WrittenReport> {
    let dir = reports_dir.join(date.format("%Y-%m-%d").to_string());
    fs::create_dir_all(&dir).with_context(|| {
        format!("cannot create the report folder {}: check `store.reports_dir` and permissions", dir.display())
    })?;
    remove_stale_tmp(&dir)?;
    let tmp = dir.join(format!(".tmp-{run_id}"));
    fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    for (name, bytes) in &files {
        write_synced(&tmp.join(name), bytes)?;
    }
    write_synced(&tmp.join(MANIFEST), &manifest)?;
    write_synced(&tmp.join(RUN_ID), run_id.to_string().as_bytes())?;
    sync_dir(&tmp)?;

    let previous = archive_previous(&dir, run_id)?;
    for name in SET {
        if name == MANIFEST {
            rename(&tmp.join(RUN_ID), &dir.join(RUN_ID))?;
        }
        rename(&tmp.join(name), &dir.join(name))?;
    }
    sync_dir(&dir)?;
    fs::remove_dir(&tmp).with_context(|| format!("cannot remove the empty folder {}", tmp.display()))?;
    Ok(WrittenReport::new(dir, previous))
}
