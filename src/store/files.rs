//! Alipay files in the store: one transaction per file; the same bytes under the same name and date
//! import once; different bytes under the same name and date are a restatement — a new version that
//! replaces the earlier version's rows (both versions stay recorded).

use crate::domain::parsed::{Extra, ParsedFile, Rows};
use crate::domain::rfc3339::write_rfc3339;
use crate::domain::{Currency, FileFormat, FileKind};
use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};

/// What the store needs to know about a file besides its parsed content.
#[derive(Debug, Clone)]
pub struct FileMeta {
    pub source: String,
    pub source_path: String,
    pub name: String,
    pub format: FileFormat,
    pub kind: FileKind,
    pub business_date: chrono::NaiveDate,
    pub currency: Option<String>,
    pub size: u64,
    pub sha256: String,
    pub archive_path: String,
    pub remote_mtime: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    /// New file (version 1) with this id.
    New { file_id: i64 },
    /// A restatement: version `version` replaced the earlier current version.
    Restated { file_id: i64, version: i64 },
    /// The same bytes were already imported under this name and date: nothing changed.
    Unchanged { file_id: i64 },
}

impl Imported {
    #[cfg(test)]
    pub fn file_id(&self) -> i64 {
        match *self {
            Imported::New { file_id } | Imported::Restated { file_id, .. } | Imported::Unchanged { file_id } => file_id,
        }
    }
}

/// Whether these bytes were already imported under this name and date.
pub fn find_same(conn: &Connection, name: &str, date: chrono::NaiveDate, sha256: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT id FROM files WHERE name = ?1 AND business_date = ?2 AND sha256 = ?3",
            params![name, date.to_string(), sha256],
            |r| r.get(0),
        )
        .optional()?)
}

/// The current version of a file recorded with the same name, date, size and remote mtime: it need
/// not be downloaded again. `None` when the source gives no mtime.
pub fn find_fetched(conn: &Connection, file: &crate::source::RemoteFile) -> Result<Option<i64>> {
    let Some(mtime) = file.mtime else { return Ok(None) };
    Ok(conn
        .query_row(
            "SELECT id FROM files WHERE name = ?1 AND business_date = ?2 AND size = ?3 AND remote_mtime = ?4
             AND current = 1",
            params![file.name.as_str(), file.date.to_string(), file.size as i64, mtime],
            |r| r.get(0),
        )
        .optional()?)
}

/// Imports one parsed file in one transaction.
#[cfg(test)]
pub fn import(conn: &mut Connection, meta: &FileMeta, parsed: &ParsedFile, run_id: Option<i64>) -> Result<Imported> {
    let mut imp = match begin(conn, meta, run_id)? {
        Begun::Open(imp) => imp,
        Begun::Unchanged { file_id } => return Ok(Imported::Unchanged { file_id }),
    };
    imp.add(&parsed.rows)?;
    imp.finish(parsed, parsed.rows.len(), &meta.archive_path)
}

/// Page cache for file imports, in SQLite's negative-KiB convention (-65536 = 64 MiB).
const IMPORT_CACHE_KIB: i64 = -65_536;

/// What [`begin`] found.
#[allow(clippy::large_enum_variant)] // one per file, moved once
pub enum Begun<'c> {
    /// A new version is being imported: add its rows, then [`FileImport::finish`].
    Open(FileImport<'c>),
    /// The same bytes were already imported under this name and date.
    Unchanged { file_id: i64 },
}

/// A file import in progress: ONE open transaction holding the `files` row (its counts still zero)
/// and the rows added so far. Dropping it without [`FileImport::finish`] rolls everything back, so
/// a file is never half-imported.
pub struct FileImport<'c> {
    tx: rusqlite::Transaction<'c>,
    file_id: i64,
    version: i64,
    name: String,
    date: String,
    kind: &'static str,
    rows: usize,
    /// The largest Alipay row id before this import: the file's rows get the ids after it (SQLite
    /// gives a new row the largest id + 1, and this transaction is the only writer).
    id_base: i64,
    /// Detail rows added (summary rows go to their own table).
    detail_rows: i64,
    /// The file's extra column names so far, in position order (`files.extra_columns`, sql/0011).
    extra_columns: Vec<String>,
    /// The ids of the rows added so far (`files.id_zone`, sql/0017).
    zone: super::zones::IdZone,
}

/// Raises the connection's page cache to the import size (negative = KiB; only grows), keeps
/// statement journals in memory (each sales upsert may need one, to undo itself alone, and in a
/// temporary file that cost a write per touched page — a third of a million-record import), and
/// stops this connection from checkpointing the WAL on each commit: copying a day file's pages
/// into the database is a second that the committing thread would wait for. The WAL is copied by
/// a [`super::Checkpointer`] (`import`, `run`) or when the last connection closes; the connection
/// goes back to normal in [`super::shrink_cache`]. Changing `temp_store` drops the connection's
/// TEMP tables and triggers: the store keeps none.
pub(crate) fn widen_cache(conn: &Connection) -> Result<()> {
    let cache: i64 = conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
    if cache > IMPORT_CACHE_KIB {
        conn.pragma_update(None, "cache_size", IMPORT_CACHE_KIB)?;
    }
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(())
}

/// Opens the transaction of a file import: checks "same bytes already imported", marks earlier
/// versions not current and inserts the `files` row. Counts, header and `archive_path` are set by
/// [`FileImport::finish`] (they are known only once the whole file is read and archived).
pub fn begin<'c>(conn: &'c mut Connection, meta: &FileMeta, run_id: Option<i64>) -> Result<Begun<'c>> {
    // A day's file is hundreds of MB of rows and index entries in random key order: with SQLite's
    // default 2 MB page cache the transaction spills the same index pages to the WAL again and
    // again. 64 MiB (allocated only as used) keeps them in memory until the commit.
    widen_cache(conn)?;
    let tx = conn.transaction()?;
    if let Some(id) = find_same(&tx, &meta.name, meta.business_date, &meta.sha256)? {
        return Ok(Begun::Unchanged { file_id: id });
    }
    // A new version of a file dated D changes the answers of D and later days (store::state).
    super::state::invalidate_from(&tx, meta.business_date)?;
    let date = meta.business_date.to_string();
    let prev: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM files WHERE name = ?1 AND business_date = ?2",
        params![meta.name, date],
        |r| r.get(0),
    )?;
    tx.execute("UPDATE files SET current = 0 WHERE name = ?1 AND business_date = ?2", params![meta.name, date])?;
    let version = prev + 1;
    tx.execute(
        "INSERT INTO files (source, source_path, name, format, kind, business_date, currency, size, sha256, encoding,
            header, row_count, reject_count, warning_count, version, current, archive_path, remote_mtime,
            imported_at, run_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, '', '[]', 0, 0, 0, ?10, 1, ?11, ?12, ?13, ?14)",
        params![
            meta.source,
            meta.source_path,
            meta.name,
            meta.format.as_str(),
            meta.kind.as_str(),
            date,
            meta.currency,
            meta.size as i64,
            meta.sha256,
            version,
            meta.archive_path,
            meta.remote_mtime,
            super::now_text(),
            run_id,
        ],
    )?;
    let file_id = tx.last_insert_rowid();
    let id_base: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM alipay_rows", [], |r| r.get(0))?;
    Ok(Begun::Open(FileImport {
        tx,
        file_id,
        version,
        name: meta.name.clone(),
        date,
        kind: meta.kind.as_str(),
        rows: 0,
        id_base,
        detail_rows: 0,
        extra_columns: Vec::new(),
        zone: Default::default(),
    }))
}

impl FileImport<'_> {
    /// Inserts a batch of rows.
    #[cfg(test)]
    pub fn add(&mut self, rows: &Rows) -> Result<()> {
        let mut columns = ExtraColumns::continuing(&self.extra_columns);
        let text = row_text(rows, &mut columns);
        self.add_with_text(rows, &text)
    }

    /// [`FileImport::add`] with the rows' [`row_text`] already made (on another thread, by one
    /// [`ExtraColumns`] for the whole file, batch after batch).
    pub fn add_with_text(&mut self, rows: &Rows, text: &BatchText) -> Result<()> {
        anyhow::ensure!(text.rows.len() == rows.len(), "{}: row text does not match the batch", self.name);
        anyhow::ensure!(
            text.first_new_column == self.extra_columns.len(),
            "{}: the row text's extra columns are out of order (a bug)",
            self.name
        );
        insert_rows(&self.tx, self.file_id, self.kind, &self.date, rows, &text.rows)
            .with_context(|| format!("cannot store the rows of {}", self.name))?;
        self.extra_columns.extend(text.new_columns.iter().cloned());
        self.zone.widen(&text.zone);
        if let Rows::Detail(d) = rows {
            self.detail_rows += d.len() as i64;
        }
        self.rows += rows.len();
        Ok(())
    }

    /// The new file's id.
    pub fn file_id(&self) -> i64 {
        self.file_id
    }

    /// Rows added so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Records the file-level results (`parsed` without its rows is enough; `row_count` rows were
    /// added), its rejects and warnings, and commits.
    pub fn finish(self, parsed: &ParsedFile, row_count: usize, archive_path: &str) -> Result<Imported> {
        anyhow::ensure!(
            row_count == self.rows,
            "{}: the parser reported {row_count} rows but {} were stored; nothing was imported",
            self.name,
            self.rows
        );
        // The rows' id range (sql/0007): ids after the base, as many as were added — checked, so the
        // window never reads a range that holds anything else.
        let range = if self.detail_rows > 0 {
            let last: i64 = self.tx.query_row("SELECT MAX(id) FROM alipay_rows", [], |r| r.get(0))?;
            anyhow::ensure!(
                last - self.id_base == self.detail_rows,
                "{}: its {} rows did not get consecutive ids (another writer?); nothing was imported: run again",
                self.name,
                self.detail_rows
            );
            Some((self.id_base + 1, last))
        } else {
            None
        };
        self.tx.execute(
            "UPDATE files SET encoding = ?2, header = ?3, declared_count = ?4, has_end_marker = ?5, truncated = ?6,
                row_count = ?7, reject_count = ?8, warning_count = ?9, archive_path = ?10, first_row = ?11,
                last_row = ?12, extra_columns = ?13, id_zone = ?14 WHERE id = ?1",
            params![
                self.file_id,
                parsed.encoding,
                serde_json::to_string(&parsed.header)?,
                parsed.declared_count.map(|n| n as i64),
                parsed.has_end_marker,
                parsed.truncated_with(row_count),
                row_count as i64,
                parsed.rejects.len() as i64,
                parsed.warnings.len() as i64,
                archive_path,
                range.map(|(first, _)| first),
                range.map(|(_, last)| last),
                (!self.extra_columns.is_empty()).then(|| serde_json::to_string(&self.extra_columns)).transpose()?,
                (self.kind != FileKind::SettlementSummary.as_str()).then(|| self.zone.to_json()),
            ],
        )?;
        insert_issues(&self.tx, self.file_id, parsed)
            .with_context(|| format!("cannot store the issues of {}", self.name))?;
        self.tx.commit()?;
        let file_id = self.file_id;
        Ok(if self.version == 1 {
            Imported::New { file_id }
        } else {
            Imported::Restated { file_id, version: self.version }
        })
    }
}

/// The stored text of a row that costs formatting: its extra values and the RFC 3339 times. Made by
/// [`row_text`] — on the parser thread in a streamed import, so the inserting thread only binds.
#[derive(Debug, Clone, Default)]
pub struct RowText {
    extra: Option<String>,
    trans_time: Option<String>,
    settle_time: Option<String>,
}

/// The [`RowText`]s of a batch, and the extra columns its rows named first (appended to the file's
/// list in this order).
#[derive(Debug, Clone, Default)]
pub struct BatchText {
    rows: Vec<RowText>,
    /// How many columns the file's list had before this batch (checked: batches are stored in order).
    first_new_column: usize,
    new_columns: Vec<String>,
    /// The batch's ids (detail rows).
    zone: super::zones::IdZone,
}

/// A file's extra columns (those the parser does not know) by position: the names are stored once
/// per file (`files.extra_columns`, a JSON array) and each row stores only its values, as a JSON array
/// by the same positions (`null` where the row has no value; trailing `null`s left out) — sql/0011.
/// Before, every row repeated the names (`{"name":"value",…}`, about 70 of a row's 300 bytes). A
/// column gets its position the first time a row has a value for it; positions never change.
#[derive(Debug, Clone, Default)]
pub struct ExtraColumns {
    names: Vec<String>,
    /// `names.len()` when the current batch started.
    batch_start: usize,
}

impl ExtraColumns {
    /// Continues a file whose list already has `names`.
    #[cfg(test)]
    pub fn continuing(names: &[String]) -> ExtraColumns {
        ExtraColumns { names: names.to_vec(), batch_start: names.len() }
    }

    /// The column names in position order.
    #[cfg(test)]
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The stored values of one row's extra columns; `None` when it has none. Rows of one file name
    /// the same columns in the same (sorted) order, so a name is almost always found where the
    /// previous one ended.
    pub fn encode(&mut self, extra: &Extra) -> Option<String> {
        if extra.is_empty() {
            return None;
        }
        let mut at: Vec<Option<&str>> = vec![None; self.names.len()];
        let mut next = 0;
        for (name, value) in extra.iter() {
            let i = if self.names.get(next).is_some_and(|n| n == name) {
                next
            } else if let Some(i) = self.names.iter().position(|n| n == name) {
                i
            } else {
                self.names.push(name.to_string());
                at.push(None);
                self.names.len() - 1
            };
            at[i] = Some(value);
            next = i + 1;
        }
        while at.last() == Some(&None) {
            at.pop();
        }
        serde_json::to_string(&at).ok()
    }

    /// The stored values of a row back as the object of its extra columns (as `extra` was stored
    /// before sql/0011, and as the parser gave it). A stored object (written by a build before
    /// sql/0011) is read as it is.
    #[cfg(test)]
    pub fn decode(names: &[String], values: &str) -> Result<std::collections::BTreeMap<String, String>> {
        if values.trim_start().starts_with('{') {
            return Ok(serde_json::from_str(values)?);
        }
        let at: Vec<Option<String>> = serde_json::from_str(values)?;
        anyhow::ensure!(
            at.len() <= names.len(),
            "a row has {} extra values for {} extra columns",
            at.len(),
            names.len()
        );
        Ok(names.iter().zip(at).filter_map(|(n, v)| Some((n.clone(), v?))).collect())
    }
}

/// The [`RowText`] of each row of a batch; `columns` is the file's, kept across its batches.
pub fn row_text(rows: &Rows, columns: &mut ExtraColumns) -> BatchText {
    columns.batch_start = columns.names.len();
    let zone = batch_zone(rows);
    let rows = match rows {
        Rows::Detail(rows) => rows
            .iter()
            .map(|r| RowText {
                extra: columns.encode(&r.extra),
                trans_time: r.trans_time.map(write_rfc3339),
                settle_time: r.settle_time.map(write_rfc3339),
            })
            .collect(),
        Rows::Summary(rows) => rows
            .iter()
            .map(|r| RowText {
                extra: columns.encode(&r.extra),
                trans_time: None,
                settle_time: r.settle_time.map(write_rfc3339),
            })
            .collect(),
    };
    BatchText {
        rows,
        first_new_column: columns.batch_start,
        new_columns: columns.names[columns.batch_start..].to_vec(),
        zone,
    }
}

/// The ids of a batch's detail rows by kind, as the columns store them (sql/0017).
fn batch_zone(rows: &Rows) -> super::zones::IdZone {
    let Rows::Detail(rows) = rows else { return Default::default() };
    let (mut merchant, mut alipay) = (super::zones::SpanOf::default(), super::zones::SpanOf::default());
    for r in rows {
        merchant.add(r.merchant_trans_id.as_deref());
        merchant.add(r.merchant_refund_id.as_deref());
        alipay.add(r.alipay_id.as_deref());
        alipay.add(r.original_alipay_id.as_deref());
    }
    super::zones::IdZone { merchant: merchant.owned(), alipay: alipay.owned() }
}

/// Stored text of an optional currency, without allocating.
fn ccy(c: &Option<Currency>) -> Option<&str> {
    c.as_ref().map(|c| c.as_str())
}

/// Detail rows per `INSERT` statement of an import.
const DETAIL_PER_INSERT: usize = 32;

/// Per-row parameters of [`detail_insert`]; the file id, kind and date are ?1..?3, shared. A full
/// statement has 3 + 32 × 23 = 739, under the 999 of SQLite builds before 3.32.
const DETAIL_ROW_PARAMS: usize = 23;

/// `INSERT INTO alipay_rows` of `n` rows (1..=DETAIL_PER_INSERT), made once per size.
fn detail_insert(n: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        (1..=DETAIL_PER_INSERT)
            .map(|n| {
                let tuples: Vec<String> = (0..n)
                    .map(|j| {
                        let b = 3 + j * DETAIL_ROW_PARAMS;
                        let p = |k: usize| format!("?{}", b + k);
                        let mut cols = vec![String::from("?1"), p(1), String::from("?2"), String::from("?3")];
                        cols.extend((2..=DETAIL_ROW_PARAMS).map(p));
                        format!("({})", cols.join(", "))
                    })
                    .collect();
                format!(
                    "INSERT INTO alipay_rows (file_id, line, kind, business_date, trans_type, type_raw, merchant_trans_id,
                        merchant_refund_id, alipay_id, original_alipay_id, amount, currency, amount_raw, settle_amount,
                        settle_currency, fee, fee_currency, trans_time, trans_time_utc, settle_time, batch_ref, status_raw,
                        remark, store_id, product_code, extra)
                     VALUES {}",
                    tuples.join(",\n")
                )
            })
            .collect()
    });
    &all[n - 1]
}

/// Binds the parameters of [`detail_insert`]`(rows.len())`.
fn bind_detail(
    st: &mut rusqlite::CachedStatement<'_>,
    file_id: i64,
    kind: &str,
    date: &str,
    rows: &[crate::domain::parsed::DetailRow],
    text: &[RowText],
) -> rusqlite::Result<()> {
    st.raw_bind_parameter(1, file_id)?;
    st.raw_bind_parameter(2, kind)?;
    st.raw_bind_parameter(3, date)?;
    for (j, (r, x)) in rows.iter().zip(text).enumerate() {
        let b = 3 + j * DETAIL_ROW_PARAMS;
        st.raw_bind_parameter(b + 1, r.line)?;
        st.raw_bind_parameter(b + 2, r.trans_type.0.as_str())?;
        st.raw_bind_parameter(b + 3, &r.type_raw)?;
        st.raw_bind_parameter(b + 4, &r.merchant_trans_id)?;
        st.raw_bind_parameter(b + 5, &r.merchant_refund_id)?;
        st.raw_bind_parameter(b + 6, &r.alipay_id)?;
        st.raw_bind_parameter(b + 7, &r.original_alipay_id)?;
        st.raw_bind_parameter(b + 8, r.amount)?;
        st.raw_bind_parameter(b + 9, ccy(&r.currency))?;
        st.raw_bind_parameter(b + 10, &r.amount_raw)?;
        st.raw_bind_parameter(b + 11, r.settle_amount)?;
        st.raw_bind_parameter(b + 12, ccy(&r.settle_currency))?;
        st.raw_bind_parameter(b + 13, r.fee)?;
        st.raw_bind_parameter(b + 14, ccy(&r.fee_currency))?;
        st.raw_bind_parameter(b + 15, &x.trans_time)?;
        st.raw_bind_parameter(b + 16, r.trans_time.map(|t| t.timestamp()))?;
        st.raw_bind_parameter(b + 17, &x.settle_time)?;
        st.raw_bind_parameter(b + 18, &r.batch_ref)?;
        st.raw_bind_parameter(b + 19, &r.status_raw)?;
        st.raw_bind_parameter(b + 20, &r.remark)?;
        st.raw_bind_parameter(b + 21, &r.store_id)?;
        st.raw_bind_parameter(b + 22, &r.product_code)?;
        st.raw_bind_parameter(b + 23, &x.extra)?;
    }
    Ok(())
}

fn insert_rows(
    tx: &rusqlite::Transaction<'_>,
    file_id: i64,
    kind: &str,
    date: &str,
    rows: &Rows,
    text: &[RowText],
) -> Result<()> {
    match rows {
        Rows::Detail(rows) => {
            // Rows go in DETAIL_PER_INSERT at a time: one statement step per row costs the
            // inserting thread (the import's bottleneck) more than the row's own B-tree work. The
            // full statement is looked up once; a batch's last, shorter chunk has its own.
            let mut full = tx.prepare_cached(detail_insert(DETAIL_PER_INSERT))?;
            for (rows, text) in rows.chunks(DETAIL_PER_INSERT).zip(text.chunks(DETAIL_PER_INSERT)) {
                let mut rest;
                let st = match rows.len() {
                    DETAIL_PER_INSERT => &mut full,
                    n => {
                        rest = tx.prepare_cached(detail_insert(n))?;
                        &mut rest
                    }
                };
                bind_detail(st, file_id, kind, date, rows, text)?;
                st.raw_execute()?;
            }
        }
        Rows::Summary(rows) => {
            let mut st = tx.prepare_cached(
                "INSERT INTO summary_rows (file_id, line, business_date, summary_type, count, settle_amount,
                    settle_currency, fee, settle_time, batch_ref, extra)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for (r, x) in rows.iter().zip(text) {
                st.execute(params![
                    file_id,
                    r.line,
                    date,
                    r.summary_type,
                    r.count,
                    r.settle_amount,
                    ccy(&r.settle_currency),
                    r.fee,
                    x.settle_time,
                    r.batch_ref,
                    x.extra,
                ])?;
            }
        }
    }
    Ok(())
}

fn insert_issues(tx: &rusqlite::Transaction<'_>, file_id: i64, parsed: &ParsedFile) -> Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO file_issues (file_id, line, severity, code, field, message, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for r in &parsed.rejects {
        st.execute(params![file_id, r.line, "reject", "REJECTED", r.field, r.reason, r.raw])?;
    }
    for w in &parsed.warnings {
        st.execute(params![
            file_id,
            w.line,
            "warning",
            w.code.as_str(),
            Option::<String>::None,
            w.message,
            Option::<String>::None
        ])?;
    }
    Ok(())
}

/// A file as recorded, for `status` and the reconciliation's integrity checks.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileRecord {
    pub id: i64,
    pub name: String,
    pub format: String,
    pub kind: String,
    pub business_date: String,
    pub sha256: String,
    pub encoding: String,
    pub row_count: i64,
    pub reject_count: i64,
    pub warning_count: i64,
    pub declared_count: Option<i64>,
    pub has_end_marker: Option<bool>,
    pub truncated: bool,
    pub version: i64,
    pub current: bool,
    pub imported_at: String,
}

/// Files recorded for dates in `[from, to]`, newest version first within a name.
pub fn list(
    conn: &Connection,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    current_only: bool,
) -> Result<Vec<FileRecord>> {
    let mut st = conn.prepare(
        "SELECT id, name, format, kind, business_date, sha256, encoding, row_count, reject_count, warning_count,
                declared_count, has_end_marker, truncated, version, current, imported_at
         FROM files WHERE business_date BETWEEN ?1 AND ?2 AND (?3 = 0 OR current = 1)
         ORDER BY business_date, kind, name, version DESC",
    )?;
    let rows = st.query_map(params![from.to_string(), to.to_string(), current_only], |r| {
        Ok(FileRecord {
            id: r.get(0)?,
            name: r.get(1)?,
            format: r.get(2)?,
            kind: r.get(3)?,
            business_date: r.get(4)?,
            sha256: r.get(5)?,
            encoding: r.get(6)?,
            row_count: r.get(7)?,
            reject_count: r.get(8)?,
            warning_count: r.get(9)?,
            declared_count: r.get(10)?,
            has_end_marker: r.get(11)?,
            truncated: r.get(12)?,
            version: r.get(13)?,
            current: r.get(14)?,
            imported_at: r.get(15)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A file issue (rejected line or warning) as recorded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileIssue {
    pub file_id: i64,
    pub file_name: String,
    pub line: Option<i64>,
    pub severity: String,
    pub code: String,
    pub field: Option<String>,
    pub message: String,
}

/// Issues of the current files of `date`.
pub fn issues_for_date(conn: &Connection, date: chrono::NaiveDate) -> Result<Vec<FileIssue>> {
    let mut st = conn.prepare(
        "SELECT i.file_id, f.name, i.line, i.severity, i.code, i.field, i.message
         FROM file_issues i JOIN files f ON f.id = i.file_id
         WHERE f.business_date = ?1 AND f.current = 1 ORDER BY f.name, i.line, i.id",
    )?;
    let rows = st.query_map([date.to_string()], |r| {
        Ok(FileIssue {
            file_id: r.get(0)?,
            file_name: r.get(1)?,
            line: r.get(2)?,
            severity: r.get(3)?,
            code: r.get(4)?,
            field: r.get(5)?,
            message: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{DetailRow, TransTypeOrDefault};
    use std::collections::BTreeMap;

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Names once, values by position: a column first named by a later row is appended, a missing
    /// value is null, trailing nulls are left out, and every row decodes to the object it had.
    #[test]
    fn extra_values_are_stored_by_position_and_decode_to_the_same_object() {
        let rows = [
            map(&[("merchantId", "2188"), ("userSite", "ALIPAY_HK")]),
            map(&[("merchantId", "2188")]),
            map(&[]),
            map(&[("aNew", "x,\"y\"\\z"), ("userSite", "茶")]),
            map(&[("aNew", "")]),
        ];
        let mut cols = ExtraColumns::default();
        let stored: Vec<Option<String>> = rows.iter().map(|r| cols.encode(&r.clone().into())).collect();
        assert_eq!(cols.names(), ["merchantId", "userSite", "aNew"]);
        assert_eq!(
            stored,
            [
                Some(r#"["2188","ALIPAY_HK"]"#.to_string()),
                Some(r#"["2188"]"#.to_string()),
                None,
                Some(r#"[null,"茶","x,\"y\"\\z"]"#.to_string()),
                Some(r#"[null,null,""]"#.to_string()),
            ]
        );
        for (row, s) in rows.iter().zip(&stored) {
            let back = s.as_deref().map(|s| ExtraColumns::decode(cols.names(), s).unwrap()).unwrap_or_default();
            assert_eq!(&back, row);
        }
        // The old form (an object per row) still reads; more values than names is an error.
        assert_eq!(ExtraColumns::decode(&[], r#"{"k":"v"}"#).unwrap(), map(&[("k", "v")]));
        assert!(ExtraColumns::decode(cols.names(), r#"["1","2","3","4"]"#).is_err());
    }

    fn row(line: u32, extra: &[(&str, &str)]) -> DetailRow {
        DetailRow {
            line,
            trans_type: TransTypeOrDefault(crate::domain::TransType::Payment),
            type_raw: "PAYMENT".into(),
            merchant_trans_id: Some(format!("P{line}")),
            amount: Some(100),
            currency: Some(Currency::parse("HKD").unwrap()),
            extra: map(extra).into(),
            ..Default::default()
        }
    }

    /// A file `f.csv` of `kind` dated 2026-11-20.
    fn meta(kind: FileKind) -> FileMeta {
        FileMeta {
            source: "t".into(),
            source_path: "f.csv".into(),
            name: "f.csv".into(),
            format: FileFormat::Intl,
            kind,
            business_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            currency: None,
            size: 1,
            sha256: "x".into(),
            archive_path: "a".into(),
            remote_mtime: None,
        }
    }

    /// A parsed file's file-level results with nothing to report (its rows were added batch by batch).
    fn no_rows() -> ParsedFile {
        ParsedFile {
            encoding: "utf-8",
            header: vec![],
            declared_count: None,
            has_end_marker: None,
            rows: Rows::Detail(vec![]),
            rejects: vec![],
            warnings: vec![],
        }
    }

    /// A row whose every column differs from the other rows' (by its line number).
    fn full_row(line: u32) -> DetailRow {
        use chrono::TimeZone;
        let t =
            |h: i32| chrono::FixedOffset::east_opt(h * 3600).unwrap().with_ymd_and_hms(2026, 11, 20, 10, 0, line % 60);
        let ccy = |c: &str| Some(Currency::parse(c).unwrap());
        let types =
            [crate::domain::TransType::Payment, crate::domain::TransType::Refund, crate::domain::TransType::Cancel];
        DetailRow {
            line,
            trans_type: TransTypeOrDefault(types[line as usize % 3]),
            type_raw: format!("T{line}"),
            merchant_trans_id: Some(format!("P{line}")),
            merchant_refund_id: line.is_multiple_of(2).then(|| format!("R{line}")),
            alipay_id: Some(format!("A{line}")),
            original_alipay_id: line.is_multiple_of(3).then(|| format!("O{line}")),
            amount: Some(100 + line as i64),
            currency: ccy(["HKD", "CNY"][line as usize % 2]),
            amount_raw: format!("{line}.00"),
            settle_amount: Some(-(line as i64)),
            settle_currency: ccy(["USD", "EUR"][line as usize % 2]),
            fee: (!line.is_multiple_of(4)).then_some(line as i64 * 7),
            fee_currency: ccy(["JPY", "SGD"][line as usize % 2]),
            trans_time: t(8).single(),
            settle_time: (!line.is_multiple_of(5)).then(|| t(-5).single().unwrap()),
            batch_ref: Some(format!("B{line}")),
            status_raw: Some(format!("S{line}")),
            remark: Some(format!("r,\"{line}\"")),
            store_id: Some(format!("st{line}")),
            product_code: Some(format!("pc{line}")),
            extra: map(&[("k", &format!("v{line}"))]).into(),
        }
    }

    /// Rows go in several to an `INSERT` (full statements, then the rest): every column of every row
    /// is stored from its own row, in order, with ids in line order.
    #[test]
    fn rows_inserted_several_at_a_time_keep_every_column_of_their_own_row() {
        let mut c = crate::store::open_in_memory().unwrap();
        let meta = meta(FileKind::SettlementDetail);
        let n = 2 * DETAIL_PER_INSERT as u32 + 5;
        let rows: Vec<DetailRow> = (2..n + 2).map(full_row).collect();
        let Begun::Open(mut imp) = begin(&mut c, &meta, None).unwrap() else { panic!("new file") };
        imp.add(&Rows::Detail(rows[..3].to_vec())).unwrap();
        imp.add(&Rows::Detail(rows[3..].to_vec())).unwrap();
        let file_id = imp.file_id();
        let parsed = no_rows();
        imp.finish(&parsed, n as usize, "a").unwrap();
        let mut st = c
            .prepare(
                "SELECT file_id, line, kind, business_date, trans_type, type_raw, merchant_trans_id, merchant_refund_id,
                    alipay_id, original_alipay_id, amount, currency, amount_raw, settle_amount, settle_currency, fee,
                    fee_currency, trans_time, trans_time_utc, settle_time, batch_ref, status_raw, remark, store_id,
                    product_code, extra
                 FROM alipay_rows ORDER BY id",
            )
            .unwrap();
        let got: Vec<Vec<rusqlite::types::Value>> = st
            .query_map([], |r| (0..26).map(|i| r.get(i)).collect())
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        use rusqlite::types::Value::{Integer as I, Null, Text as T};
        let text = |o: &Option<String>| o.clone().map(T).unwrap_or(Null);
        let int = |o: Option<i64>| o.map(I).unwrap_or(Null);
        let ccy = |o: &Option<Currency>| o.map(|c| T(c.as_str().to_string())).unwrap_or(Null);
        let want: Vec<Vec<rusqlite::types::Value>> = rows
            .iter()
            .map(|r| {
                vec![
                    I(file_id),
                    I(r.line as i64),
                    T("settlement_detail".into()),
                    T("2026-11-20".into()),
                    T(r.trans_type.0.as_str().into()),
                    T(r.type_raw.clone()),
                    text(&r.merchant_trans_id),
                    text(&r.merchant_refund_id),
                    text(&r.alipay_id),
                    text(&r.original_alipay_id),
                    int(r.amount),
                    ccy(&r.currency),
                    T(r.amount_raw.clone()),
                    int(r.settle_amount),
                    ccy(&r.settle_currency),
                    int(r.fee),
                    ccy(&r.fee_currency),
                    text(&r.trans_time.map(write_rfc3339)),
                    int(r.trans_time.map(|t| t.timestamp())),
                    text(&r.settle_time.map(write_rfc3339)),
                    text(&r.batch_ref),
                    text(&r.status_raw),
                    text(&r.remark),
                    text(&r.store_id),
                    text(&r.product_code),
                    T(format!(r#"["v{}"]"#, r.line)),
                ]
            })
            .collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w);
        }
        let ids: Vec<i64> = c
            .prepare("SELECT id FROM alipay_rows ORDER BY line")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "ids follow the lines");
    }

    /// A file imported in several batches keeps one list of names (batch by batch, in order) and the
    /// `alipay_rows_extra` view gives back each row's object exactly as it was stored before sql/0011.
    #[test]
    fn a_files_extra_columns_are_listed_once_and_the_view_gives_the_old_objects() {
        let mut c = crate::store::open_in_memory().unwrap();
        let meta = meta(FileKind::Transactions);
        let batches = [
            vec![row(2, &[("userSite", "ALIPAY_HK"), ("merchantId", "2188")]), row(3, &[])],
            vec![row(4, &[("aNew", "1"), ("userSite", "ALIPAY_CN")])],
        ];
        let Begun::Open(mut imp) = begin(&mut c, &meta, None).unwrap() else { panic!("new file") };
        let mut cols = ExtraColumns::default();
        for b in &batches {
            let rows = Rows::Detail(b.clone());
            let text = row_text(&rows, &mut cols);
            imp.add_with_text(&rows, &text).unwrap();
        }
        // Texts made by another encoder (out of order) are refused.
        let rows = Rows::Detail(vec![row(5, &[("zzz", "1")])]);
        assert!(imp.add_with_text(&rows, &row_text(&rows, &mut ExtraColumns::default())).is_err());
        imp.add(&Rows::Detail(vec![row(6, &[("merchantId", "7"), ("zLast", "z")])])).unwrap();
        let parsed = no_rows();
        imp.finish(&parsed, 4, "a").unwrap();
        let names: String = c.query_row("SELECT extra_columns FROM files", [], |r| r.get(0)).unwrap();
        assert_eq!(names, r#"["merchantId","userSite","aNew","zLast"]"#);
        let got: Vec<(i64, Option<String>, Option<String>)> = c
            .prepare("SELECT r.line, r.extra, v.extra FROM alipay_rows r LEFT JOIN alipay_rows_extra v ON v.id = r.id ORDER BY r.line")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let want = |line: i64, stored: Option<&str>, row: &[(&str, &str)]| {
            (line, stored.map(String::from), (!row.is_empty()).then(|| serde_json::to_string(&map(row)).unwrap()))
        };
        assert_eq!(
            got,
            [
                want(2, Some(r#"["2188","ALIPAY_HK"]"#), &[("userSite", "ALIPAY_HK"), ("merchantId", "2188")]),
                want(3, None, &[]),
                want(4, Some(r#"[null,"ALIPAY_CN","1"]"#), &[("aNew", "1"), ("userSite", "ALIPAY_CN")]),
                want(6, Some(r#"["7",null,null,"z"]"#), &[("merchantId", "7"), ("zLast", "z")]),
            ]
        );
    }
}
