//! Read-only loading of the reconciliation engine's input: the stored data of day T's look-back
//! window and nothing dated after T — current Alipay files dated in the window with their rows,
//! summary rows and issues, and every version of the local records dated in the window whose sales
//! file was visible by T. Rerunning T after T+1 is imported therefore reads the same data.

mod active;

#[cfg(test)]
pub use active::load_active;
pub use active::load_active_with;
pub(super) use active::LocalSeedPrefetch;

use crate::domain::rfc3339::{fast_date, fast_rfc3339};
use crate::domain::rows::{
    AlipayRow, FileIn, Id, Input, IssueIn, LocalVersion, RowColumns, RowTexts, SummaryIn, Texts,
};
use crate::domain::Params;
use crate::domain::{Currency, FileFormat, FileKind, LocalStatus, RecordType, TransType};
use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset, NaiveDate};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::thread::JoinHandle;

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// Reads a `YYYY-MM-DD` column value: the plain form by hand (chrono's format-string parser was a
/// large part of loading millions of rows), anything else through chrono — same value, same error.
fn date(s: &str, what: &str) -> rusqlite::Result<NaiveDate> {
    if let Some(d) = fast_date(s.as_bytes()) {
        return Ok(d);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| bad(what, s, e))
}

fn bad(what: &str, value: &str, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("stored {what} '{value}' is unreadable ({e}): the database was edited by hand or is damaged").into(),
    )
}

/// A text column without allocating (NULL is `None`); a non-text value gives rusqlite's usual error.
fn text<'r>(r: &'r Row, i: usize) -> rusqlite::Result<Option<&'r str>> {
    match r.get_ref(i)?.as_str_or_null() {
        Ok(v) => Ok(v),
        Err(_) => r.get::<_, Option<String>>(i).map(|_| None),
    }
}

/// An optional id column, inline up to 24 bytes (no allocation for most ids).
fn id(r: &Row, i: usize) -> rusqlite::Result<Option<Id>> {
    Ok(text(r, i)?.map(Id::from))
}

/// A required id column.
fn id_req(r: &Row, i: usize) -> rusqlite::Result<Id> {
    Ok(Id::from(text_req(r, i)?))
}

/// A required text column without allocating.
fn text_req<'r>(r: &'r Row, i: usize) -> rusqlite::Result<&'r str> {
    match r.get_ref(i)?.as_str() {
        Ok(v) => Ok(v),
        Err(_) => r.get::<_, String>(i).map(|_| ""),
    }
}

/// Currency columns, parsed once per distinct text in a row (a window's rows share a few codes).
#[derive(Default)]
struct Currencies {
    last: Option<(String, Currency)>,
}

impl Currencies {
    fn get(&mut self, r: &Row, i: usize, what: &str) -> rusqlite::Result<Option<Currency>> {
        let Some(s) = text(r, i)?.filter(|s| !s.is_empty()) else { return Ok(None) };
        if let Some((last, c)) = &self.last {
            if last == s {
                return Ok(Some(*c));
            }
        }
        let c = Currency::parse(s).map_err(|e| bad(what, s, e))?;
        self.last = Some((s.to_string(), c));
        Ok(Some(c))
    }
}

fn time(s: &str, what: &str) -> rusqlite::Result<DateTime<FixedOffset>> {
    if let Some(t) = fast_rfc3339(s.as_bytes()) {
        return Ok(t);
    }
    DateTime::parse_from_rfc3339(s).map_err(|e| bad(what, s, e))
}

/// The local records of one window, read by a background thread.
pub struct LocalPrefetch {
    pub(in crate::store) from: NaiveDate,
    pub(in crate::store) to: NaiveDate,
    pub(in crate::store) handle: JoinHandle<Result<(Vec<LocalVersion>, u64)>>,
}

impl LocalPrefetch {
    /// The records of `[from, to]` if that is what was read; `None` for another window.
    pub(in crate::store) fn take(self, from: NaiveDate, to: NaiveDate) -> Option<Result<(Vec<LocalVersion>, u64)>> {
        if (self.from, self.to) != (from, to) {
            return None;
        }
        Some(self.handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    }
}

/// What [`load_with`] takes instead of reading it: what a run already holds for its day's window.
/// A run fills it (`store::handoff`: `Handoff::start` and the rows made on the parser thread); the
/// loader only reads it.
#[derive(Default)]
pub struct Handoff {
    /// Rows of the files imported by this process, file after file in import (= id) order.
    pub(in crate::store) rows: Vec<AlipayRow>,
    /// Those files: id and number of rows, in the order of `rows`.
    pub(in crate::store) files: Vec<(i64, usize)>,
    pub(in crate::store) local: Option<LocalPrefetch>,
    /// An incremental run's local seeds, read meanwhile (`window::active`).
    pub(in crate::store) local_seeds: Option<LocalSeedPrefetch>,
}

/// Loads day `day`'s window (`params.window_start(day)` ..= `day`).
pub fn load(conn: &Connection, day: NaiveDate, params: &Params) -> Result<Input> {
    load_with(conn, day, params, Handoff::default())
}

/// [`load`], taking from `handoff` what the run already holds: the rows of files it has just
/// imported and the local records it read meanwhile. The input is the same as [`load`]'s.
pub fn load_with(conn: &Connection, day: NaiveDate, params: &Params, handoff: Handoff) -> Result<Input> {
    let t = std::time::Instant::now();
    let from = params.window_start(day);
    let (a, b) = (from.to_string(), day.to_string());
    let mut input = Input { date: Some(day), from: Some(from), ..Default::default() };
    let Handoff { rows, files, local: prefetched, .. } = handoff;
    let held_files = files.len();
    let held = Held { rows, ranges: files };

    // The local records are read on a second connection by a second thread while this one reads the
    // Alipay rows (an in-memory database — tests — reads them after) — or were read so while the
    // files imported. As before, the window's queries are separate read transactions: a sales import
    // committing meanwhile is seen whole or not at all, as if it had committed just before or after.
    let prefetched = prefetched.and_then(|p| p.take(from, day));
    let reader = conn.path().filter(|p| !p.is_empty() && prefetched.is_none());
    let (alipay, local) = std::thread::scope(|s| {
        let local = reader.map(|path| s.spawn(|| local_on_reader(std::path::Path::new(path), &a, &b)));
        let alipay = alipay_part(conn, &mut input, &a, &b, Some(held)).map(|()| t.elapsed().as_millis() as u64);
        let local = match (local, prefetched) {
            (Some(h), _) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            (None, Some(done)) => done,
            (None, None) => {
                let t = std::time::Instant::now();
                local_versions(conn, &a, &b).map(|v| (v, t.elapsed().as_millis() as u64))
            }
        };
        (alipay, local)
    });
    let rows_ms = alipay?;
    let (local, local_ms) = local.context("cannot read the window's local sales records")?;
    input.local = local;
    let t = std::time::Instant::now();
    fill_payment_ids(conn, &mut input, &b).context("cannot look up the payments of the window's refunds")?;
    let ids_ms = t.elapsed().as_millis() as u64;
    tracing::debug!(rows_ms, local_ms, ids_ms, held_files, "window loaded");
    Ok(input)
}

/// The rows a run hands over: its imported files' rows, file after file.
struct Held {
    rows: Vec<AlipayRow>,
    ranges: Vec<(i64, usize)>,
}

/// The window's Alipay side: its current files, their rows (unless `held` is `None`: the incremental
/// load reads its own), summary rows and issues.
fn alipay_part(conn: &Connection, input: &mut Input, a: &str, b: &str, held: Option<Held>) -> Result<()> {
    let mut st = conn.prepare(
        "SELECT id, name, format, kind, business_date, truncated, declared_count, row_count, first_row, last_row
         FROM files WHERE current = 1 AND business_date BETWEEN ?1 AND ?2 ORDER BY business_date, name, id",
    )?;
    let files: Vec<(FileIn, Option<(i64, i64)>)> = st
        .query_map(params![a, b], |r| {
            let format: String = r.get(2)?;
            let kind: String = r.get(3)?;
            let range = match (r.get::<_, Option<i64>>(8)?, r.get::<_, Option<i64>>(9)?) {
                (Some(first), Some(last)) => Some((first, last)),
                _ => None,
            };
            let file = FileIn {
                id: r.get(0)?,
                name: r.get(1)?,
                format: FileFormat::parse(&format).ok_or_else(|| bad("file format", &format, "unknown"))?,
                kind: FileKind::parse(&kind).ok_or_else(|| bad("file kind", &kind, "unknown"))?,
                date: date(text_req(r, 4)?, "file date")?,
                truncated: r.get(5)?,
                declared_count: r.get(6)?,
                row_count: r.get(7)?,
            };
            Ok((file, range))
        })?
        .collect::<rusqlite::Result<_>>()
        .context("cannot read the window's files from the database")?;

    // A detail file with rows but no recorded range was written by a build older than sql/0007 into
    // this database (a downgrade and upgrade): its rows are read by the whole key range — slow, but
    // nothing is missed.
    let mut ranges: Vec<(i64, (i64, i64))> = files
        .iter()
        .filter(|(f, r)| r.is_some() || (f.kind != FileKind::SettlementSummary && f.row_count > 0))
        .map(|(f, r)| (f.id, r.unwrap_or((i64::MIN, i64::MAX))))
        .collect();
    ranges.sort_unstable();
    input.files = files.into_iter().map(|(f, _)| f).collect();
    if let Some(held) = held {
        read_rows(conn, input, ranges, held)?;
    }
    summaries_and_issues(conn, input, a, b)
}

/// The rows of the window's files (`ranges`: file id and row id range), taking the held ones: read
/// file by file in id order — a file's rows are one range of the table's key
/// (`files.first_row..=last_row`, sql/0007), read without an index or a sort (one query over all
/// files made SQLite sort millions of whole rows in a temporary B-tree) — and imported in line order
/// (checked, sorted if not). The file id is checked too.
fn read_rows(conn: &Connection, input: &mut Input, ranges: Vec<(i64, (i64, i64))>, held: Held) -> Result<()> {
    let mut st = conn.prepare(
        "SELECT r.file_id, r.line, r.kind, r.business_date, r.trans_type, r.type_raw, r.merchant_trans_id,
                r.merchant_refund_id, r.alipay_id, r.original_alipay_id, r.amount, r.currency, r.settle_amount,
                r.settle_currency, r.fee, r.fee_currency, r.trans_time, r.product_code, r.extra
         FROM alipay_rows r WHERE r.id BETWEEN ?2 AND ?3 AND r.file_id = ?1 ORDER BY r.id",
    )?;
    let mut ccys = [Currencies::default(), Currencies::default(), Currencies::default()];
    let mut texts = RowTexts::default();
    let span = |(first, last): (i64, i64)| usize::try_from(last.saturating_sub(first).saturating_add(1)).ok();
    // The run's just-imported files are the whole window (a first day; a benchmark): their rows are it.
    let whole = held.ranges.len() == ranges.len()
        && held.ranges.iter().zip(&ranges).all(|(&(hid, n), &(id, r))| hid == id && span(r) == Some(n));
    if whole {
        input.rows = held.rows;
    } else {
        // The files' row counts size the vector once (millions of rows: no doubling and copying).
        input.rows = Vec::with_capacity(input.files.iter().map(|f| f.row_count.max(0) as usize).sum());
        // Held files are in id order, as `ranges`: one pass moves each held file's rows in its place
        // and drops those of files the window does not read (not current any more).
        let in_order = held.ranges.is_sorted_by_key(|&(id, _)| id);
        let (mut hrows, mut hfiles) = (held.rows.into_iter(), held.ranges.into_iter().filter(|_| in_order).peekable());
        for &(id, range) in &ranges {
            while let Some((_, n)) = hfiles.next_if(|&(hid, _)| hid < id) {
                hrows.by_ref().take(n).for_each(drop);
            }
            if let Some((_, n)) = hfiles.next_if(|&(hid, _)| hid == id) {
                if span(range) == Some(n) {
                    input.rows.extend(hrows.by_ref().take(n));
                    continue;
                }
                hrows.by_ref().take(n).for_each(drop);
            }
            let (first, last) = range;
            let wallet_at = wallet_position(conn, id)?;
            for row in st.query_map(params![id, first, last], |r| alipay_row(r, &mut ccys, &mut texts, wallet_at))? {
                input.rows.push(row.context("cannot read the window's Alipay rows from the database")?);
            }
        }
    }
    // Rows were imported in line order (checked, sorted if not).
    for file_rows in input.rows.chunk_by_mut(|x, y| x.file_id == y.file_id) {
        if !file_rows.is_sorted_by_key(|r| r.line) {
            file_rows.sort_by_key(|r| r.line);
        }
    }
    Ok(())
}

/// The window's summary rows and file issues.
fn summaries_and_issues(conn: &Connection, input: &mut Input, a: &str, b: &str) -> Result<()> {
    let mut st = conn.prepare(
        "SELECT s.file_id, s.line, s.business_date, s.summary_type, s.count, s.settle_amount, s.settle_currency, s.fee
         FROM summary_rows s JOIN files f ON f.id = s.file_id
         WHERE f.current = 1 AND f.business_date BETWEEN ?1 AND ?2 ORDER BY s.file_id, s.line",
    )?;
    let mut ccys = Currencies::default();
    input.summaries = st
        .query_map(params![a, b], |r| {
            Ok(SummaryIn {
                file_id: r.get(0)?,
                line: r.get(1)?,
                date: date(text_req(r, 2)?, "summary date")?,
                summary_type: r.get(3)?,
                count: r.get(4)?,
                settle_amount: r.get(5)?,
                settle_currency: ccys.get(r, 6, "summary currency")?,
                fee: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()
        .context("cannot read the window's settlement summaries from the database")?;

    let mut st = conn.prepare(
        "SELECT i.file_id, i.line, i.severity, i.code, i.field, i.message
         FROM file_issues i JOIN files f ON f.id = i.file_id
         WHERE f.current = 1 AND f.business_date BETWEEN ?1 AND ?2 ORDER BY i.file_id, i.line, i.id",
    )?;
    input.issues = st
        .query_map(params![a, b], |r| {
            Ok(IssueIn {
                file_id: r.get(0)?,
                line: r.get(1)?,
                severity: r.get(2)?,
                code: r.get(3)?,
                field: r.get(4)?,
                message: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()
        .context("cannot read the window's file issues from the database")?;

    Ok(())
}

/// A refund or cancel row that names only the payment's Alipay id gets the merchant's payment id:
/// from the window's own PAYMENT rows when it has one with that Alipay id (the earliest by date, file
/// and line), else from all stored history up to T (the payment may be older than the window; the
/// earliest by date and row). The window's rows answer nearly every refund without a query (on a
/// 10M-payment day, 300k lookups took ~6 s); the rest are looked up once each, in sorted order, so
/// neighbouring lookups read neighbouring index pages.
fn fill_payment_ids(conn: &Connection, input: &mut Input, until: &str) -> Result<()> {
    fn wanted(r: &AlipayRow) -> Option<&str> {
        let wants = matches!(r.trans_type, TransType::Refund | TransType::Cancel)
            && r.merchant_trans_id.as_deref().is_none_or(|m| m.trim().is_empty());
        r.original_alipay_id().as_deref().map(str::trim).filter(|o| wants && !o.is_empty())
    }
    let wanted_ids: HashSet<&str> = input.rows.iter().filter_map(wanted).collect();
    if wanted_ids.is_empty() {
        return Ok(());
    }
    // The window's earliest PAYMENT row with a merchant id, per wanted Alipay id.
    let mut found: HashMap<&str, ((NaiveDate, i64, i64), &Id)> = HashMap::default();
    for r in &input.rows {
        let (Some(a), Some(m)) = (r.alipay_id.as_deref(), r.merchant_trans_id.as_ref()) else { continue };
        if r.trans_type == TransType::Payment && !m.is_empty() && wanted_ids.contains(a) {
            let at = (r.date, r.file_id, r.line);
            let f = found.entry(a).or_insert((at, m));
            if at < f.0 {
                *f = (at, m);
            }
        }
    }
    let mut rest: Vec<&str> = wanted_ids.into_iter().filter(|a| !found.contains_key(a)).collect();
    rest.sort_unstable();
    let mut known: HashMap<String, Id> = found.into_iter().map(|(a, (_, m))| (a.to_string(), m.clone())).collect();
    let mut st = conn.prepare_cached(
        "SELECT r.merchant_trans_id FROM alipay_rows r JOIN files f ON f.id = r.file_id
         WHERE r.alipay_id = ?1 AND r.trans_type = 'PAYMENT' AND f.current = 1 AND f.business_date <= ?2
           AND r.merchant_trans_id IS NOT NULL AND r.merchant_trans_id <> ''
         ORDER BY f.business_date, r.id LIMIT 1",
    )?;
    for orig in rest {
        if let Some(m) = st.query_row(params![orig, until], |x| id_req(x, 0)).optional()? {
            known.insert(orig.to_string(), m);
        }
    }
    for r in input.rows.iter_mut() {
        if let Some(m) = wanted(r).and_then(|o| known.get(o)) {
            r.merchant_trans_id = Some(m.clone());
        }
    }
    Ok(())
}

fn alipay_row(
    r: &Row,
    ccys: &mut [Currencies; 3],
    texts: &mut RowTexts,
    wallet_at: WalletAt,
) -> rusqlite::Result<AlipayRow> {
    let kind = text_req(r, 2)?;
    let tt = text_req(r, 4)?;
    Ok(AlipayRow::build(
        RowColumns {
            file_id: r.get(0)?,
            line: r.get(1)?,
            kind: FileKind::parse(kind).ok_or_else(|| bad("row kind", kind, "unknown"))?,
            date: date(text_req(r, 3)?, "row date")?,
            trans_type: TransType::parse(tt).ok_or_else(|| bad("transaction type", tt, "unknown"))?,
            type_raw: text_req(r, 5)?,
            merchant_trans_id: text(r, 6)?,
            merchant_refund_id: text(r, 7)?,
            alipay_id: text(r, 8)?,
            original_alipay_id: text(r, 9)?,
            amount: r.get(10)?,
            currency: ccys[0].get(r, 11, "row currency")?,
            settle_amount: r.get(12)?,
            settle_currency: ccys[1].get(r, 13, "settlement currency")?,
            fee: r.get(14)?,
            fee_currency: ccys[2].get(r, 15, "fee currency")?,
            trans_time: text(r, 16)?.map(|s| time(s, "transaction time")).transpose()?,
            product_code: text(r, 17)?,
            wallet: match wallet_at {
                WalletAt::Object => wallet(text(r, 18)?)?,
                WalletAt::Position(i) => text(r, 18)?.map(|x| nth_value(x, i)).transpose()?.flatten(),
                WalletAt::Nowhere => None,
            }
            .as_deref(),
        },
        texts,
    ))
}

/// Where a file's rows keep the wallet (`userSite`) in their `extra` values (sql/0011).
#[derive(Debug, Clone, Copy)]
enum WalletAt {
    /// The file has no column list: its rows' `extra` is an object (written before sql/0011), if any.
    Object,
    /// At this position of each row's array of values.
    Position(usize),
    /// The file has no such column.
    Nowhere,
}

/// The position of a file's `userSite` column among its extra columns (`files.extra_columns`).
fn wallet_position(conn: &Connection, file_id: i64) -> Result<WalletAt> {
    let (listed, at): (bool, Option<i64>) = conn
        .query_row(
            "SELECT extra_columns IS NOT NULL, (SELECT j.key FROM json_each(extra_columns) j WHERE j.value = 'userSite')
             FROM files WHERE id = ?1",
            [file_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .with_context(|| format!("cannot read the extra columns of file {file_id}"))?;
    Ok(match (listed, at) {
        (false, _) => WalletAt::Object,
        (true, Some(i)) => WalletAt::Position(i as usize),
        (true, None) => WalletAt::Nowhere,
    })
}

/// Value `n` of a row's `extra` array of values (`["v",null,…]`, store::files::ExtraColumns): read in
/// place when the array is compact and has no escapes (as the store writes it), else through the
/// JSON parser. `None` for a null or a position past the end.
fn nth_value(x: &str, n: usize) -> rusqlite::Result<Option<std::borrow::Cow<'_, str>>> {
    if !x.contains('\\') && x.starts_with('[') {
        let b = x.as_bytes();
        let (mut i, mut k) = (1, 0);
        loop {
            let value = match b.get(i) {
                Some(b'"') => match x[i + 1..].find('"') {
                    Some(len) => {
                        let v = &x[i + 1..i + 1 + len];
                        i += len + 2;
                        Some(v)
                    }
                    None => break,
                },
                Some(b'n') if x[i..].starts_with("null") => {
                    i += 4;
                    None
                }
                Some(b']') if k == 0 => return Ok(None),
                _ => break,
            };
            if k == n {
                return Ok(value.map(std::borrow::Cow::Borrowed));
            }
            match b.get(i) {
                Some(b',') => (i, k) = (i + 1, k + 1),
                Some(b']') => return Ok(None),
                _ => break,
            }
        }
    }
    let values: Vec<Option<String>> = serde_json::from_str(x).map_err(|e| bad("row extra values", x, e))?;
    Ok(values.into_iter().nth(n).flatten().map(std::borrow::Cow::Owned))
}

/// The wallet (`userSite`) in a row's `extra` JSON object (rows written before sql/0011). The store writes it compactly from a map of
/// strings (`{"k":"v",…}`): a plain value is read in place; anything else (escapes, other spacing)
/// goes through the JSON parser.
fn wallet(extra: Option<&str>) -> rusqlite::Result<Option<std::borrow::Cow<'_, str>>> {
    const KEY: &str = "\"userSite\":\"";
    let Some(x) = extra.filter(|x| x.contains("userSite")) else { return Ok(None) };
    if let Some(i) = x.find(KEY).filter(|&i| i > 0 && matches!(x.as_bytes()[i - 1], b'{' | b',')) {
        let rest = &x[i + KEY.len()..];
        if let Some(end) = rest.find(['"', '\\']).filter(|&e| rest.as_bytes()[e] == b'"') {
            return Ok(Some(std::borrow::Cow::Borrowed(&rest[..end])));
        }
    }
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(x).map_err(|e| bad("row extra columns", x, e))?;
    Ok(map.get("userSite").and_then(|v| v.as_str()).map(|w| std::borrow::Cow::Owned(w.to_string())))
}

/// [`local_versions`] on a second, read-only connection to the database file at `path` (for a thread
/// of its own), with how long the read took in ms.
pub(super) fn local_on_reader(path: &std::path::Path, a: &str, b: &str) -> Result<(Vec<LocalVersion>, u64)> {
    let c = super::open_reader(path)?;
    let t = std::time::Instant::now();
    let v = local_versions(&c, a, b)?;
    Ok((v, t.elapsed().as_millis() as u64))
}

/// Every version of the local records dated in `[a, b]` that is visible by `b`. A key's first
/// version (and any other row of that same file) is visible from the record's own business date: a
/// sale exists from the day it was made, however late it was exported. A later file's restatement of
/// the key (UNKNOWN → SUCCESS) is visible from that file's "as of" date — the newest business date
/// among its records — so a rerun of day T does not see what a later export changed.
///
/// Most keys have one version: those come from `local_records`' columns (its `versions` count says
/// which); only keys with several versions are read from their history.
fn local_versions(conn: &Connection, a: &str, b: &str) -> Result<Vec<LocalVersion>> {
    let mut out = single_versions(conn, a, b, ALL_RECORDS)?;
    out.extend(multi_versions(conn, a, b, ALL_RECORDS)?);
    Ok(out)
}

/// The local records the readers below read: all of them, or the keys in `temp.active_local` (CROSS
/// JOIN: the key list is the outer loop, one probe per key, never a scan of every record).
const ALL_RECORDS: &str = "local_records lr";
const ACTIVE_RECORDS: &str =
    "temp.active_local k CROSS JOIN local_records lr ON lr.record_type = k.record_type AND lr.record_id = k.record_id";

fn single_versions(conn: &Connection, a: &str, b: &str, records: &str) -> Result<Vec<LocalVersion>> {
    let mut st = conn.prepare(&format!(
        "SELECT lr.record_type, lr.merchant_trans_id, lr.merchant_refund_id, lr.amount, lr.currency, lr.status,
                lr.created_at, lr.business_date, lr.acquirement_id, lr.origin, lr.line, lr.conflict, sf.name
         FROM {records} LEFT JOIN sales_files sf ON sf.id = lr.sales_file_id
         WHERE lr.business_date BETWEEN ?1 AND ?2 AND lr.versions <= 1"
    ))?;
    let mut ccys = Currencies::default();
    let mut files = Texts::default();
    let rows = st.query_map(params![a, b], |r| {
        let rt = text_req(r, 0)?;
        let status = text_req(r, 5)?;
        let bd = date(text_req(r, 7)?, "local record date")?;
        let line: Option<i64> = r.get(10)?;
        Ok(LocalVersion {
            record_type: RecordType::parse(rt).ok_or_else(|| bad("record type", rt, "unknown"))?,
            merchant_trans_id: id_req(r, 1)?,
            merchant_refund_id: id(r, 2)?,
            amount: r.get(3)?,
            currency: ccys.get(r, 4, "local currency")?.ok_or_else(|| bad("local currency", "", "empty"))?,
            status: LocalStatus::parse(status).ok_or_else(|| bad("local status", status, "unknown"))?,
            created_at: time(text_req(r, 6)?, "created_at")?,
            business_date: bd,
            acquirement_id: id(r, 8)?,
            as_of: bd,
            seq: 0,
            ledger: text_req(r, 9)? == "ledger",
            conflict: r.get(11)?,
            origin_file: files.opt(text(r, 12)?),
            origin_line: line,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The versions of the window's keys that have several. A version from the key's first file is
/// visible from its own business date, one from a later file from that file's "as of" date.
fn multi_versions(conn: &Connection, a: &str, b: &str, records: &str) -> Result<Vec<LocalVersion>> {
    let mut st = conn.prepare(&format!(
        "WITH keys AS (
            SELECT lr.record_type, lr.record_id FROM {records}
            WHERE lr.business_date BETWEEN ?1 AND ?2 AND lr.versions > 1),
         v AS (
            SELECT h.*,
                   FIRST_VALUE(h.sales_file_id) OVER (PARTITION BY h.record_type, h.record_id ORDER BY h.id) AS first_file
            FROM keys JOIN local_record_history h ON h.record_type = keys.record_type AND h.record_id = keys.record_id),
         w AS (
            SELECT v.*, sf.name,
                   CASE WHEN v.sales_file_id IS v.first_file THEN v.business_date
                        ELSE COALESCE(sf.as_of, v.business_date) END AS vis
            FROM v LEFT JOIN sales_files sf ON sf.id = v.sales_file_id)
         SELECT w.id, w.sales_file_id, w.line, w.record_type, w.merchant_trans_id, w.merchant_refund_id, w.amount,
                w.currency, w.status, w.created_at, w.business_date, w.acquirement_id, w.conflict, w.vis, w.name
         FROM w
         WHERE w.vis <= ?2 AND w.business_date BETWEEN ?1 AND ?2
         ORDER BY w.id"
    ))?;
    let mut ccys = Currencies::default();
    let mut files = Texts::default();
    let rows = st.query_map(params![a, b], |r| {
        let file: Option<i64> = r.get(1)?;
        let rt = text_req(r, 3)?;
        let status = text_req(r, 8)?;
        Ok(LocalVersion {
            record_type: RecordType::parse(rt).ok_or_else(|| bad("record type", rt, "unknown"))?,
            merchant_trans_id: id_req(r, 4)?,
            merchant_refund_id: id(r, 5)?,
            amount: r.get(6)?,
            currency: ccys.get(r, 7, "local currency")?.ok_or_else(|| bad("local currency", "", "empty"))?,
            status: LocalStatus::parse(status).ok_or_else(|| bad("local status", status, "unknown"))?,
            created_at: time(text_req(r, 9)?, "created_at")?,
            business_date: date(text_req(r, 10)?, "local record date")?,
            acquirement_id: id(r, 11)?,
            as_of: date(text_req(r, 13)?, "sales file date")?,
            seq: r.get(0)?,
            ledger: file.is_none(),
            conflict: r.get(12)?,
            origin_file: files.opt(text(r, 14)?),
            origin_line: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many rows the window `from..=to` holds: the current files' detail rows and the local records
/// dated in it (the size of a whole-window load; `pipeline::day::outcome` picks how to start from it).
pub fn stored_rows(conn: &Connection, from: NaiveDate, to: NaiveDate) -> Result<u64> {
    let (a, b) = (from.to_string(), to.to_string());
    let what =
        || format!("cannot count the rows stored for {from} … {to} (is the database readable? `alipay-recon doctor`)");
    let rows: i64 = conn
        .query_row(
            "SELECT (SELECT COALESCE(SUM(row_count), 0) FROM files WHERE current = 1 AND business_date BETWEEN ?1 AND ?2)
                  + (SELECT COUNT(*) FROM local_records WHERE business_date BETWEEN ?1 AND ?2)",
            rusqlite::params![a, b],
            |r| r.get(0),
        )
        .with_context(what)?;
    Ok(rows.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_texts_are_read_as_written() {
        assert_eq!(date("2026-11-25", "d").unwrap(), NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        assert!(date("2026-02-30", "d").is_err());
        assert_eq!(time("2026-11-25t10:00:00Z", "t").ok(), DateTime::parse_from_rfc3339("2026-11-25t10:00:00Z").ok());
        assert!(time("2026-11-25T10:00:00", "t").is_err());
        let w = |x: &str| wallet(Some(x)).unwrap().map(|c| c.into_owned());
        assert_eq!(w(r#"{"merchantId":"2188","userSite":"ALIPAY_HK"}"#).as_deref(), Some("ALIPAY_HK"));
        assert_eq!(w(r#"{"userSite":"A\"B"}"#).as_deref(), Some("A\"B"));
        assert_eq!(w(r#"{"x":"\"userSite\":\"no"}"#), None);
        assert_eq!(w(r#"{ "userSite" : "SPACED" }"#).as_deref(), Some("SPACED"));
        assert_eq!(w(r#"{"sellerID":"S1"}"#), None);
        assert_eq!(wallet(None).unwrap(), None);
        assert!(wallet(Some("{userSite")).is_err());
    }

    /// Values by position (sql/0011): read in place when compact and unescaped, else parsed.
    #[test]
    fn extra_values_are_read_by_position() {
        let v = |x: &str, n: usize| nth_value(x, n).unwrap().map(|c| c.into_owned());
        assert_eq!(v(r#"["2188","ALIPAY_HK"]"#, 1).as_deref(), Some("ALIPAY_HK"));
        assert_eq!(v(r#"["2188","ALIPAY_HK"]"#, 0).as_deref(), Some("2188"));
        assert_eq!(v(r#"["2188","ALIPAY_HK"]"#, 2), None);
        assert_eq!(v(r#"[null,"a,b",null,"x"]"#, 1).as_deref(), Some("a,b"));
        assert_eq!(v(r#"[null,"a,b",null,"x"]"#, 2), None);
        assert_eq!(v(r#"[null,"a,b",null,"x"]"#, 3).as_deref(), Some("x"));
        assert_eq!(v(r#"["a\"b","W"]"#, 0).as_deref(), Some("a\"b"));
        assert_eq!(v(r#"[ "spaced" , "W" ]"#, 1).as_deref(), Some("W"));
        assert_eq!(v("[]", 0), None);
        assert!(nth_value("[\"open", 0).is_err());
    }

    use crate::formats::{DetailRow, ParsedFile, Rows, TransTypeOrDefault};
    use crate::store::files::FileMeta;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn txn_file(c: &mut Connection, date: &str, mtid: &str) {
        let row = DetailRow {
            line: 2,
            trans_type: TransTypeOrDefault(TransType::Payment),
            type_raw: "PAYMENT".into(),
            merchant_trans_id: Some(mtid.into()),
            amount: Some(100),
            currency: Some(Currency::parse("HKD").unwrap()),
            extra: [("userSite".to_string(), "ALIPAY_HK".to_string())].into_iter().collect(),
            ..Default::default()
        };
        detail_file(c, date, vec![row]);
    }

    /// A row of type `tt` with these ids (merchant payment id, Alipay id, original Alipay id).
    fn id_row(line: u32, tt: TransType, mtid: Option<&str>, aid: &str, orig: Option<&str>) -> DetailRow {
        DetailRow {
            line,
            trans_type: TransTypeOrDefault(tt),
            type_raw: tt.as_str().into(),
            merchant_trans_id: mtid.map(Into::into),
            merchant_refund_id: (tt == TransType::Refund).then(|| format!("R{line}")),
            alipay_id: Some(aid.into()),
            original_alipay_id: orig.map(Into::into),
            amount: Some(100),
            currency: Some(Currency::parse("HKD").unwrap()),
            ..Default::default()
        }
    }

    fn detail_file(c: &mut Connection, date: &str, rows: Vec<DetailRow>) {
        let parsed = ParsedFile {
            encoding: "utf-8",
            header: vec![],
            declared_count: None,
            has_end_marker: None,
            rows: Rows::Detail(rows),
            rejects: vec![],
            warnings: vec![],
        };
        let meta = FileMeta {
            source: "t".into(),
            source_path: date.into(),
            name: format!("t_{date}"),
            format: FileFormat::Intl,
            kind: FileKind::Transactions,
            business_date: d(date),
            currency: None,
            size: 1,
            sha256: date.into(),
            archive_path: "x".into(),
            remote_mtime: None,
        };
        crate::store::files::import(c, &meta, &parsed, None).unwrap();
    }

    fn sales(c: &mut Connection, lines: &str) {
        crate::store::zones::tests::import_sales(c, "", lines);
    }

    /// The incremental load looks up an id only where a file or a day's local records may hold it
    /// (`store::zones`): a local refund found only by its payment's id and a local sale found only by
    /// its acquirement id are each the one record of their day that names the id, so each day's zone
    /// must hold that id for the record to be loaded; an earlier Alipay row is found by its ids.
    #[test]
    fn the_incremental_load_finds_records_by_every_id_the_zones_hold() {
        use TransType::{Payment, Refund};
        let dir = tempfile::tempdir().unwrap();
        let mut c = crate::store::open(&dir.path().join("z.db")).unwrap();
        let all = |c: &mut Connection, lines: &str| {
            crate::store::zones::tests::import_sales(c, ",store_id,terminal_id,acquirement_id", lines)
        };
        // The 20th and 21st have transaction files (so their sales are not all seeds of the 25th).
        detail_file(
            &mut c,
            "2026-11-20",
            vec![id_row(2, Payment, Some("K20"), "AK20", None), id_row(3, Refund, Some("OLD"), "AR", Some("AOLD"))],
        );
        txn_file(&mut c, "2026-11-21", "K21");
        // P1 was paid before the window; the till refunded it on the 20th (R1, never at Alipay).
        all(&mut c, "REFUND,P1,R1,1.00,HKD,SUCCESS,2026-11-20T10:00:00+08:00,,,\n");
        // C1: a sale of the 21st that only its acquirement id links to Alipay.
        all(&mut c, "PAYMENT,C1,,2.00,HKD,SUCCESS,2026-11-21T10:00:00+08:00,,,AC1\nPAYMENT,K21,,1.00,HKD,SUCCESS,2026-11-21T11:00:00+08:00,,,\n");
        // The 25th: Alipay refunds P1 again, refunds AC1 (no merchant id), and refunds OLD again.
        detail_file(
            &mut c,
            "2026-11-25",
            vec![
                id_row(2, Refund, Some("P1"), "B1", Some("APOLD")),
                id_row(3, Refund, None, "B2", Some("AC1")),
                id_row(4, Refund, Some("OLD"), "B3", Some("AOLD")),
            ],
        );
        let input = super::active::load_active(&c, d("2026-11-25"), &Params::default(), &[]).unwrap();
        let mut local: Vec<&str> = input.local.iter().map(|v| v.key()).collect();
        local.sort_unstable();
        assert_eq!(local, vec!["C1", "R1"], "the local records the day's ids name");
        let mut rows: Vec<(NaiveDate, i64)> = input.rows.iter().map(|r| (r.date, r.line)).collect();
        rows.sort_unstable();
        assert_eq!(rows, vec![(d("2026-11-20"), 3), (d("2026-11-25"), 2), (d("2026-11-25"), 3), (d("2026-11-25"), 4)]);
    }

    /// A database file is read on two connections (local records on a second thread); the window is
    /// the same as the one read on a single connection.
    #[test]
    fn a_file_database_loads_the_same_window_on_two_connections() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = crate::store::open(&dir.path().join("w.db")).unwrap();
        let mut mem = crate::store::open_in_memory().unwrap();
        for c in [&mut files, &mut mem] {
            txn_file(c, "2026-11-20", "P1");
            txn_file(c, "2026-11-21", "P2");
            sales(c, "PAYMENT,P1,,1.00,HKD,UNKNOWN,2026-11-20T10:00:00+08:00\nPAYMENT,P3,,3.00,HKD,SUCCESS,2026-11-21T10:00:00+08:00\n");
            sales(c, "PAYMENT,P1,,1.00,HKD,SUCCESS,2026-11-20T10:00:00+08:00\nPAYMENT,P2,,1.00,HKD,SUCCESS,2026-11-21T10:00:00+08:00\n");
        }
        let (a, b) = (
            load(&files, d("2026-11-21"), &Params::default()).unwrap(),
            load(&mem, d("2026-11-21"), &Params::default()).unwrap(),
        );
        assert_eq!(a.local.len(), 4);
        assert_eq!(format!("{:?}", (&a.files, &a.rows, &a.local)), format!("{:?}", (&b.files, &b.rows, &b.local)));
    }

    /// An import leaves its pages in the WAL (no checkpoint on the committing thread), and so does the
    /// reconciliation after it (a commit of its state or result would copy what the background copy
    /// has not reached yet); the background checkpoint copies all of them, once a reader holding an
    /// older snapshot is done.
    #[test]
    fn imports_leave_the_checkpoint_to_the_background_thread() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = crate::store::open(&dir.path().join("w.db")).unwrap();
        let wal = |c: &Connection| {
            c.query_row("PRAGMA wal_checkpoint(NOOP)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))).unwrap()
        };
        let auto = |c: &Connection| c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get::<_, i64>(0)).unwrap();
        txn_file(&mut c, "2026-11-20", "P1");
        assert_eq!(auto(&c), 0);
        let (log, done) = wal(&c);
        assert!(log > 0 && done < log, "{log} {done}");
        crate::store::shrink_cache(&c).unwrap();
        assert_eq!(auto(&c), 0);
        // A reader in the middle of a statement on the snapshot before the second file.
        let reader = Connection::open(c.path().unwrap()).unwrap();
        let mut st = reader.prepare("SELECT id FROM files").unwrap();
        let mut rows = st.query([]).unwrap();
        rows.next().unwrap().unwrap();
        txn_file(&mut c, "2026-11-22", "P3");
        let mut ck = crate::store::Checkpointer::default();
        ck.start(&c);
        std::thread::sleep(std::time::Duration::from_millis(100));
        let (log, done) = wal(&c);
        assert!(done < log, "held back by the reader: {log} {done}");
        assert!(ck.running.as_ref().is_some_and(|r| !r.handle.is_finished()), "it keeps trying");
        drop(rows);
        drop(st);
        // Once the reader is done the thread copies the rest by itself, without being asked.
        let copied = (0..500).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            ck.running.as_ref().is_some_and(|r| r.handle.is_finished())
        });
        assert!(copied, "the checkpoint thread did not finish once the reader was done");
        ck.wait();
        let (log, done) = wal(&c);
        assert_eq!(done, log);
        // Asked to stop, it stops even while a reader holds pages back.
        let mut st = reader.prepare("SELECT id FROM files").unwrap();
        let mut rows = st.query([]).unwrap();
        rows.next().unwrap().unwrap();
        txn_file(&mut c, "2026-11-23", "P4");
        ck.start(&c);
        ck.wait();
        let (log, done) = wal(&c);
        assert!(done < log, "{log} {done}");
        drop(rows);
        drop(st);
        // A second file's pages: the checkpointer started while nothing runs copies them too.
        txn_file(&mut c, "2026-11-21", "P2");
        ck.start(&c);
        drop(ck); // waits
        let (log, done) = wal(&c);
        assert_eq!(done, log);
        let mut ck = crate::store::Checkpointer::default();
        ck.start(&crate::store::open_in_memory().unwrap());
        assert!(ck.running.is_none(), "an in-memory database has no WAL to copy");
    }

    /// Refunds and cancels that name only the payment's Alipay id get its merchant id: from the window's
    /// own payment rows first (the earliest), else from older history; an unknown id stays empty.
    #[test]
    fn refunds_get_their_payment_id_from_the_window_first_then_history() {
        use TransType::{Cancel, Payment, Refund};
        let mut c = crate::store::open_in_memory().unwrap();
        detail_file(&mut c, "2026-10-01", vec![id_row(2, Payment, Some("OLD"), "A1", None)]);
        detail_file(&mut c, "2026-10-02", vec![id_row(2, Payment, Some("M3_OLD"), "A3", None)]);
        detail_file(
            &mut c,
            "2026-11-24",
            vec![id_row(2, Payment, Some("M2"), "A2", None), id_row(3, Payment, Some("M3"), "A3", None)],
        );
        detail_file(
            &mut c,
            "2026-11-25",
            vec![
                id_row(2, Refund, None, "B1", Some("A1")),
                id_row(3, Refund, Some(" "), "B2", Some(" A2 ")),
                id_row(4, Refund, None, "B3", Some("A3")),
                id_row(5, Refund, None, "B9", Some("A9")),
                id_row(6, Cancel, Some("KEEP"), "B4", Some("A2")),
                id_row(7, Payment, Some("M3_LATER"), "A3", None),
            ],
        );
        let w = load(&c, d("2026-11-25"), &Params::default()).unwrap();
        let filled: Vec<_> = w
            .rows
            .iter()
            .filter(|r| r.date == d("2026-11-25") && r.trans_type != Payment)
            .map(|r| r.merchant_trans_id.as_deref().unwrap_or("-"))
            .collect();
        assert_eq!(filled, vec!["OLD", "M2", "M3", "-", "KEEP"]);
    }

    #[test]
    fn window_never_reads_data_dated_after_t_and_hides_later_restatements() {
        let mut c = crate::store::open_in_memory().unwrap();
        let p = Params::default();
        txn_file(&mut c, "2026-11-20", "P1");
        txn_file(&mut c, "2026-11-21", "P2");
        txn_file(&mut c, "2026-10-01", "P0"); // before the window
        sales(&mut c, "PAYMENT,P1,,1.00,HKD,UNKNOWN,2026-11-20T10:00:00+08:00\n");
        sales(&mut c, "PAYMENT,P1,,1.00,HKD,SUCCESS,2026-11-20T10:00:00+08:00\nPAYMENT,P2,,1.00,HKD,SUCCESS,2026-11-21T10:00:00+08:00\n");
        let w = load(&c, d("2026-11-20"), &p).unwrap();
        assert_eq!(w.from, Some(d("2026-11-20") - chrono::Duration::days(21)));
        assert_eq!(w.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), vec!["t_2026-11-20"]);
        assert_eq!(w.rows.len(), 1);
        assert_eq!(w.rows[0].wallet.as_deref(), Some("ALIPAY_HK"));
        assert_eq!(w.rows.capacity(), 1);
        // P1's restatement came in a file holding the 21st: not visible on the 20th.
        assert_eq!(w.local.iter().map(|v| (v.key(), v.status)).collect::<Vec<_>>(), vec![("P1", LocalStatus::Unknown)]);
        let w = load(&c, d("2026-11-21"), &p).unwrap();
        assert_eq!(w.files.len(), 2);
        let mut v: Vec<_> = w.local.iter().map(|v| (v.key(), v.status, v.as_of)).collect();
        v.sort();
        assert_eq!(
            v,
            vec![
                ("P1", LocalStatus::Success, d("2026-11-21")),
                ("P1", LocalStatus::Unknown, d("2026-11-20")),
                ("P2", LocalStatus::Success, d("2026-11-21"))
            ]
        );
    }
}
