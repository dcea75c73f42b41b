//! The report folder (contracts.md §3–§4): turns the engine's findings, pending and open items and the
//! day's totals into `reports/<YYYY-MM-DD>/` — `discrepancies.csv`, `pending.csv`, `open_items.csv`,
//! `summary.json`, `report.html`, `report.xlsx`, `trend.png` and `manifest.json`.
//!
//! Owns: the file layouts (columns, ordering, number and text formats), formula neutralisation, HTML
//! escaping, the cash bridge ([`bridge`]), the trend chart, and the folder protocol (atomic writes,
//! history of earlier runs).
//! It reads nothing from the store and never looks at the wall clock: every output is a function of
//! [`ReportInput`], so identical inputs give byte-identical files, `manifest.json` included (the run
//! id is kept beside the set in the hidden `.run-id`, for the history folder's name).
//!
//! Extra columns (contracts.md allows adding columns only at the end):
//! - `pending.csv` = the `discrepancies.csv` columns, then `state` (`PENDING`/`RESOLVED`),
//!   `first_reported` (date whose report first listed a resolved item; empty while pending) and
//!   `reason` (why it is pending / how it resolved; neutralised like `detail`).
//! - `open_items.csv` = the `discrepancies.csv` columns, then `first_reported` and `age_days`.
//! - Contract additions of issue 18 (`resolutions`): every CSV then ends with `item_id` (the item's
//!   short stable id, for `alipay-recon resolve`), and `open_items.csv` after it with `state`
//!   (`OPEN`, or `EXPIRED` on the item's last day in the open-item look-back: it is not listed again).
//!
//! In all three CSVs `business_date` is the report's date and `item_date` the item's own date.

pub mod bridge;
mod chart;
mod csv_out;
mod folder;
mod html;
mod resolutions;
mod summary;
mod text;
mod xlsx;

#[cfg(test)]
mod tests;

pub use folder::WrittenReport;
pub use html::{action, email_html, image_sources};
pub use resolutions::email_lines as resolution_email_lines;
pub use summary::read_trend_point;
pub use text::{html_escape, neutralise};

use crate::domain::{Currency, DaySummary, FileFormat, FileKind, Finding, OpenItem, PendingItem};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::path::Path;

/// A warning about an input file (a rejected line, a count mismatch …), shown in the HTML report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileWarning {
    pub file: String,
    /// 1-based line in the file, when the warning is about one line.
    pub line: Option<u64>,
    /// A stable machine code such as `REJECTED_LINE` or `COUNT_MISMATCH`.
    pub code: String,
    pub message: String,
}

/// One day of the trend chart. Days absent from [`ReportInput::trend`] are drawn as "no data".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrendPoint {
    pub date: NaiveDate,
    /// Number of rows in that day's `discrepancies.csv`.
    pub discrepancies: i64,
    /// Amount at stake per currency (ISO code → minor units), as in [`DaySummary::at_stake`].
    pub at_stake: BTreeMap<String, i64>,
}

/// An input file of the day, for `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputFile {
    pub name: String,
    pub sha256: String,
    pub format: FileFormat,
    pub kind: FileKind,
    pub business_date: NaiveDate,
}

/// Everything a report is made of. The writer sorts every list itself, so callers may pass them in any
/// order; the output does not depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportInput {
    pub business_date: NaiveDate,
    /// Shown in the HTML title and the workbook (config `merchant.name`).
    pub merchant: String,
    pub findings: Vec<Finding>,
    pub pending: Vec<PendingItem>,
    pub open_items: Vec<OpenItem>,
    /// Totals; `counts`, `pending`, `resolved` and `open_items` are recomputed from the lists above so
    /// that `summary.json` always agrees with the CSVs. `currencies`, `at_stake`, `matched` are used as given.
    pub summary: DaySummary,
    pub warnings: Vec<FileWarning>,
    /// Up to 14 days ending at `business_date` (older entries are ignored).
    pub trend: Vec<TrendPoint>,
    pub input_files: Vec<InputFile>,
    /// Hash of the effective configuration (secrets excluded), for `manifest.json`.
    pub config_hash: String,
    /// `env!("CARGO_PKG_VERSION")` unless a test pins it.
    pub tool_version: String,
    /// The day's resolutions, expired items and written-off totals (`resolve::apply`).
    pub resolutions: crate::domain::item::DayResolutions,
}

impl ReportInput {
    /// An empty (clean) report for `date`; fill in the lists.
    pub fn new(business_date: NaiveDate, merchant: impl Into<String>) -> ReportInput {
        ReportInput {
            business_date,
            merchant: merchant.into(),
            findings: Vec::new(),
            pending: Vec::new(),
            open_items: Vec::new(),
            summary: DaySummary { business_date: Some(business_date), ..Default::default() },
            warnings: Vec::new(),
            trend: Vec::new(),
            input_files: Vec::new(),
            config_hash: String::new(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            resolutions: Default::default(),
        }
    }

    /// Nothing needs attention: no discrepancy, nothing pending, nothing open.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty() && self.pending.is_empty() && self.open_items.is_empty()
    }
}

/// The lists of a [`ReportInput`] in the contract's order, with currency codes checked once.
pub(crate) struct Prepared<'a> {
    pub input: &'a ReportInput,
    pub findings: Vec<&'a Finding>,
    pub pending: Vec<&'a PendingItem>,
    pub open: Vec<&'a OpenItem>,
    pub warnings: Vec<&'a FileWarning>,
    /// The 14 days ending at the business date, oldest first; `None` where no data was given.
    pub trend: Vec<(NaiveDate, Option<&'a TrendPoint>)>,
    /// Every currency of the summary, at-stake and trend maps.
    pub currencies: BTreeMap<String, Currency>,
    /// The cash bridge per currency of the summary ([`bridge`]).
    pub bridge: Vec<bridge::CurrencyBridge>,
}

pub(crate) const TREND_DAYS: i64 = 14;

impl<'a> Prepared<'a> {
    fn new(input: &'a ReportInput) -> Result<Prepared<'a>> {
        let mut findings: Vec<&Finding> = input.findings.iter().collect();
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let mut pending: Vec<&PendingItem> = input.pending.iter().collect();
        // Pending first, then resolved; within each, the contract's finding order.
        pending.sort_by(|a, b| {
            (a.state, a.finding.sort_key(), a.first_reported, a.reason.as_bytes()).cmp(&(
                b.state,
                b.finding.sort_key(),
                b.first_reported,
                b.reason.as_bytes(),
            ))
        });
        let mut open: Vec<&OpenItem> = input.open_items.iter().collect();
        open.sort_by(|a, b| (a.finding.sort_key(), a.first_reported).cmp(&(b.finding.sort_key(), b.first_reported)));
        let mut warnings: Vec<&FileWarning> = input.warnings.iter().collect();
        warnings.sort_by(|a, b| (&a.file, a.line, &a.code, &a.message).cmp(&(&b.file, b.line, &b.code, &b.message)));

        let first = input.business_date - chrono::Duration::days(TREND_DAYS - 1);
        let trend = first
            .iter_days()
            .take(TREND_DAYS as usize)
            // Duplicate dates should not happen; if they do, pick by value so input order cannot matter.
            .map(|d| (d, input.trend.iter().filter(|p| p.date == d).max_by_key(|p| (p.discrepancies, &p.at_stake))))
            .collect::<Vec<_>>();

        let mut currencies = BTreeMap::new();
        let keys = input
            .summary
            .currencies
            .keys()
            .map(|k| (k, "summary.currencies"))
            .chain(input.summary.at_stake.keys().map(|k| (k, "summary.at_stake")))
            .chain(trend.iter().filter_map(|(_, p)| *p).flat_map(|p| p.at_stake.keys().map(|k| (k, "trend.at_stake"))));
        for (code, place) in keys {
            let cur = Currency::parse(code).with_context(|| {
                format!("report input {place} has currency key '{code}': the engine must key totals by ISO 4217 code")
            })?;
            currencies.insert(code.clone(), cur);
        }
        let bridge = bridge::bridge(&input.summary, &findings, &pending);
        Ok(Prepared { input, findings, pending, open, warnings, trend, currencies, bridge })
    }

    /// The currency of a totals key (checked in [`Prepared::new`]).
    pub fn currency(&self, code: &str) -> Currency {
        self.currencies[code]
    }
}

/// The three CSV files of `input` (`discrepancies.csv`, `pending.csv`, `open_items.csv`) as
/// [`write`] writes them: what the incremental state's tests compare byte for byte.
pub fn csv_files(input: &ReportInput) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let p = Prepared::new(input)?;
    Ok(vec![
        (folder::DISCREPANCIES, csv_out::discrepancies(&p).context("cannot build discrepancies.csv")?),
        (folder::PENDING, csv_out::pending(&p).context("cannot build pending.csv")?),
        (folder::OPEN_ITEMS, csv_out::open_items(&p).context("cannot build open_items.csv")?),
    ])
}

/// Writes the report folder `reports_dir/<YYYY-MM-DD>/` for `input`, moving an earlier set to
/// `history/<its run id>/` first. `run_id` is the run producing this report (recorded beside the set in
/// `.run-id`, never inside a report file).
pub fn write(reports_dir: &Path, input: &ReportInput, run_id: i64) -> Result<WrittenReport> {
    let p = Prepared::new(input)?;
    let date = input.business_date;
    // The workbook on a second thread beside the other files: with a month's open items at 1M payments
    // a day it is most of the report's time (~0.4 s), the others ~0.1 s.
    let files = std::thread::scope(|s| -> Result<Vec<(&'static str, Vec<u8>)>> {
        let xlsx = s.spawn(|| xlsx::workbook(&p).context("cannot build report.xlsx"));
        let mut files: Vec<(&'static str, Vec<u8>)> = vec![
            (folder::DISCREPANCIES, csv_out::discrepancies(&p).context("cannot build discrepancies.csv")?),
            (folder::PENDING, csv_out::pending(&p).context("cannot build pending.csv")?),
            (folder::OPEN_ITEMS, csv_out::open_items(&p).context("cannot build open_items.csv")?),
            (folder::SUMMARY, summary::summary_json(&p).context("cannot build summary.json")?),
            (folder::HTML, html::report_html(&p).context("cannot build report.html")?),
            (folder::TREND, chart::trend_png(&p, &chart::WIDE).context("cannot draw trend.png")?),
            (folder::TREND_NARROW, chart::trend_png(&p, &chart::NARROW).context("cannot draw trend-narrow.png")?),
        ];
        let xlsx = xlsx.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        // In the order the manifest has always listed them.
        files.insert(5, (folder::XLSX, xlsx));
        Ok(files)
    })?;
    let manifest = summary::manifest_json(&p, &files).context("cannot build manifest.json")?;
    folder::install(reports_dir, date, run_id, files, manifest)
}
