//! `resolve --from report.xlsx | file.csv`: the rows an accountant filled in, checked all together
//! before anything is recorded (unknown item, unknown reason, an item already resolved differently,
//! the same item twice with different answers); every problem names its sheet (or file) and row and
//! says what to fix. Then all rows are recorded in one transaction, after an IMPORT audit entry.
//!
//! report.xlsx: every sheet whose header row has `item_id` and `resolution` columns (the report's
//! Discrepancies and Open items sheets); rows with an empty `resolution` are skipped. CSV: a header
//! with `item_id`, `reason` (or `resolution`) and optionally `note`; every row must have a reason.

use super::{find, latest_events, plan_resolve, reported_items, Change, ItemRef, Recording};
use crate::domain::item::{normalise_item_id, ResolutionEntry};
use crate::store::resolutions as rs;
use anyhow::{bail, Context, Result};
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::Path;

/// One filled-in row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `sheet 'Open items' row 3` or `line 3`.
    pub place: String,
    pub item: String,
    pub reason: String,
    pub note: String,
}

/// Reads the filled rows of `path` (`.xlsx` by extension, else CSV).
pub fn read(path: &Path) -> Result<(Vec<Row>, Vec<u8>)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}: check the path", path.display()))?;
    let is_xlsx = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    let rows = if is_xlsx { read_xlsx(&bytes) } else { read_csv(&bytes) }
        .with_context(|| format!("cannot read the resolutions in {}", path.display()))?;
    Ok((rows, bytes))
}

fn column(header: &[String], names: &[&str]) -> Option<usize> {
    header.iter().position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
}

/// The rows of a CSV with `item_id`, `reason` (or `resolution`) and an optional `note` column.
pub fn read_csv(bytes: &[u8]) -> Result<Vec<Row>> {
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = r.headers().context("no header row")?.iter().map(str::to_string).collect();
    let (Some(id), Some(reason)) = (column(&header, &["item_id"]), column(&header, &["reason", "resolution"])) else {
        bail!(
            "the header row must name the columns item_id and reason (and optionally note); it has {}",
            header.join(",")
        );
    };
    let note = column(&header, &["note"]);
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("line {line} is not valid CSV"))?;
        let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or_default().trim().to_string();
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        rows.push(Row {
            place: format!("line {line}"),
            item: get(Some(id)),
            reason: get(Some(reason)),
            note: get(note),
        });
    }
    Ok(rows)
}

/// The rows with a `resolution` of every sheet that has `item_id` and `resolution` columns.
pub fn read_xlsx(bytes: &[u8]) -> Result<Vec<Row>> {
    use calamine::{Reader, Xlsx};
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| anyhow::anyhow!("not a readable .xlsx workbook ({e}): save it as Excel Workbook (.xlsx)"))?;
    let mut rows = Vec::new();
    let mut any = false;
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).map_err(|e| anyhow::anyhow!("cannot read sheet '{name}': {e}"))?;
        let Some((r0, _)) = range.start() else { continue };
        let mut it = range.rows();
        let Some(head) = it.next() else { continue };
        let header: Vec<String> = head.iter().map(|c| c.to_string()).collect();
        let (Some(id), Some(res)) = (column(&header, &["item_id"]), column(&header, &["resolution"])) else { continue };
        any = true;
        let note = column(&header, &["note"]);
        for (i, cells) in it.enumerate() {
            let get = |c: Option<usize>| c.and_then(|c| cells.get(c)).map(|v| v.to_string()).unwrap_or_default();
            let reason = get(Some(res)).trim().to_string();
            if reason.is_empty() {
                continue;
            }
            rows.push(Row {
                // Excel's row numbers: 1-based, the header is the range's first row.
                place: format!("sheet '{name}' row {}", r0 as usize + i + 2),
                item: get(Some(id)).trim().to_string(),
                reason,
                note: get(note).trim().to_string(),
            });
        }
    }
    if !any {
        bail!("no sheet has item_id and resolution columns: use the report.xlsx of a report written by this version");
    }
    Ok(rows)
}

/// The changes to record with the place of their row, or every problem found.
pub type Planned = std::result::Result<Vec<(Change, String)>, Vec<String>>;

/// Checks every row; the changes to record (rows already resolved exactly so are left out), or every
/// problem found.
pub fn plan(conn: &Connection, reasons: &[String], open_item_days: u32, rows: &[Row]) -> Result<Planned> {
    let wanted = rows.iter().filter_map(|r| normalise_item_id(&r.item)).collect();
    let items = reported_items(conn, open_item_days, &wanted)?;
    let events = rs::events(conn, None)?;
    let latest = latest_events(&events);
    let mut errors = Vec::new();
    let mut changes = Vec::new();
    let mut first: BTreeMap<String, (&Row, String)> = BTreeMap::new();
    for row in rows {
        let fail = |what: String| format!("{}: {what}", row.place);
        let Some(id) = normalise_item_id(&row.item) else {
            errors
                .push(fail(format!("'{}' is not an item id: copy it from the item_id column of the report", row.item)));
            continue;
        };
        let item = match find(&items, &ItemRef::Id(id.clone())) {
            Ok(item) => item,
            Err(e) => {
                errors.push(fail(e));
                continue;
            }
        };
        if let Some((other, reason)) = first.get(&id) {
            if *reason != row.reason.trim() || other.note.trim() != row.note.trim() {
                errors.push(fail(format!(
                    "item {id} is also on {} with another resolution or note: keep one of the two",
                    other.place
                )));
            }
            continue;
        }
        first.insert(id, (row, row.reason.trim().to_string()));
        match plan_resolve(reasons, &latest, item, &row.reason, &row.note) {
            Ok(Some(c)) => changes.push((c, row.place.clone())),
            Ok(None) => {}
            Err(e) => errors.push(fail(e)),
        }
    }
    Ok(if errors.is_empty() { Ok(changes) } else { Err(errors) })
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub rows: usize,
    pub applied: Vec<ResolutionEntry>,
}

/// Reads, checks and records the rows of `path` all or none. The error lists every problem.
pub fn import(
    conn: &mut Connection,
    reasons: &[String],
    open_item_days: u32,
    path: &Path,
    rec: &Recording,
) -> Result<Imported> {
    let (rows, bytes) = read(path)?;
    let changes = match plan(conn, reasons, open_item_days, &rows)? {
        Ok(c) => c,
        Err(errors) => bail!(
            "{} row(s) of {} cannot be applied, so none was (fix them and run the import again):\n  {}",
            errors.len(),
            path.display(),
            errors.join("\n  ")
        ),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let sha = crate::archive::sha256_hex(&bytes);
    let file = path.display().to_string();
    let sourced: Vec<(Change, String)> = changes.into_iter().map(|(c, place)| (c, format!("{name} {place}"))).collect();
    let rec = Recording { import: Some((file, sha, rows.len())), ..rec.clone() };
    let applied = if sourced.is_empty() { Vec::new() } else { super::record(conn, &sourced, &rec)? };
    Ok(Imported { rows: rows.len(), applied })
}
