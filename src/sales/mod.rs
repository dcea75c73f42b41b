//! Local sales records: the `sales-v1` CSV of contracts.md §1, or another POS export through a
//! configured column mapping. A pure parser — bytes in, typed records plus rejected lines out; the
//! store applies snapshot semantics.

use crate::config::SalesConfig;
use crate::domain::{parse_major, parse_timestamp, BusinessZone, Currency, LocalStatus, RecordType};
use std::hash::BuildHasher;
/// foldhash: several times SipHash's speed on short keys (an id per row).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The sales-v1 columns, in contract order.
pub const COLUMNS: [&str; 10] = [
    "record_type",
    "merchant_trans_id",
    "merchant_refund_id",
    "amount",
    "currency",
    "status",
    "created_at",
    "store_id",
    "terminal_id",
    "acquirement_id",
];

/// A canonical column, by its position in [`COLUMNS`] (what [`ColumnIndex`] is indexed by).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    RecordType,
    MerchantTransId,
    MerchantRefundId,
    Amount,
    Currency,
    Status,
    CreatedAt,
    StoreId,
    TerminalId,
    AcquirementId,
}

impl Field {
    fn name(self) -> &'static str {
        COLUMNS[self as usize]
    }
}

/// Each canonical column's index in this file's header (by position in [`COLUMNS`]): looked up
/// ten times a row, so an array, not a map keyed by name.
type ColumnIndex = [Option<usize>; COLUMNS.len()];

/// One local payment or refund: a domain type, so that the payment ledger and the store share it
/// without importing this parser.
pub use crate::domain::parsed::{ParsedSales, SalesReject};
pub use crate::domain::LocalRecord;

impl LocalRecord {
    /// (record_type, id): payments by merchant_trans_id, refunds by merchant_refund_id.
    pub fn key(&self) -> (RecordType, &str) {
        match self.record_type {
            RecordType::Payment => (RecordType::Payment, &self.merchant_trans_id),
            RecordType::Refund => (RecordType::Refund, self.merchant_refund_id.as_deref().unwrap_or("")),
        }
    }

    /// Everything but the line number and conflict flag: what "identical rows" compares.
    fn content(&self) -> impl PartialEq + '_ {
        (
            self.record_type,
            &self.merchant_trans_id,
            &self.merchant_refund_id,
            self.amount,
            self.currency,
            self.status,
            self.created_at,
            &self.store_id,
            &self.terminal_id,
            &self.acquirement_id,
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct SalesError {
    pub file: String,
    pub message: String,
}

/// Parses a sales file. With an empty `cfg.mapping` the file must be `sales-v1`.
pub fn parse(bytes: &[u8], file: &str, zone: &BusinessZone, cfg: &SalesConfig) -> Result<ParsedSales, SalesError> {
    parse_in_chunks(bytes, file, zone, cfg, usize::MAX, |_| {})
}

/// [`parse`], also handing the records to `sink` as they are read, `chunk` at a time (a copy: the
/// parsed file still holds them all), so that they can be stored while the rest of the file is
/// parsed. Each record is handed over once, in file order, with the `conflict` flag it has when it is
/// handed over: a key's disagreeing row later in the file also marks the key's earlier records, and
/// only the returned [`ParsedSales`] has every flag (`store::sales::Importer::finish` sets them).
/// Nothing is handed over when the file cannot be read at all (an error).
pub fn parse_in_chunks(
    bytes: &[u8],
    file: &str,
    zone: &BusinessZone,
    cfg: &SalesConfig,
    chunk: usize,
    mut sink: impl FnMut(Vec<LocalRecord>),
) -> Result<ParsedSales, SalesError> {
    let err = |m: String| SalesError { file: file.to_string(), message: m };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        err(format!("is not UTF-8 (invalid byte at offset {}): save the export as UTF-8", e.valid_up_to()))
    })?;
    let mapped = !cfg.mapping.is_empty();
    let delim = delimiter(cfg).map_err(err)?;
    let mut rdr =
        csv::ReaderBuilder::new().delimiter(delim).has_headers(true).flexible(true).from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| err(format!("cannot read the header line: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let index = column_index(&header, cfg, mapped).map_err(err)?;
    let mut out = ParsedSales { mapping: if mapped { "mapped" } else { "sales-v1" }, ..Default::default() };
    let mut handed = 0;
    let how = RowRules { index, zone, cfg, mapped };
    read_records(&mut rdr, text, &how, &mut out, |records| {
        if records.len() - handed >= chunk {
            sink(records[handed..].to_vec());
            handed = records.len();
        }
    });
    if handed < out.records.len() && chunk != usize::MAX {
        sink(out.records[handed..].to_vec());
    }
    Ok(out)
}

/// The configured field delimiter: one character, or `\t` / `tab`; a comma by default.
fn delimiter(cfg: &SalesConfig) -> Result<u8, String> {
    match cfg.delimiter.as_deref() {
        None | Some("") => Ok(b','),
        Some(d) if d.len() == 1 => Ok(d.as_bytes()[0]),
        Some("\\t") | Some("tab") => Ok(b'\t'),
        Some(d) => Err(format!("sales.delimiter '{d}' must be one character")),
    }
}

/// Canonical column → its index in this file's header (through `[sales.mapping]` when `mapped`); an
/// error naming the required columns the header lacks.
fn column_index(header: &[String], cfg: &SalesConfig, mapped: bool) -> Result<ColumnIndex, String> {
    let mut index: ColumnIndex = [None; COLUMNS.len()];
    for (slot, col) in index.iter_mut().zip(COLUMNS) {
        let wanted = if mapped { cfg.mapping.get(col).map(String::as_str) } else { Some(col) };
        if let Some(w) = wanted {
            *slot = header.iter().position(|h| h.eq_ignore_ascii_case(w));
        }
    }
    use Field::*;
    let required = [RecordType, MerchantTransId, MerchantRefundId, Amount, Currency, Status, CreatedAt];
    let missing: Vec<_> = required
        .iter()
        .filter(|&&c| !(index[c as usize].is_some() || mapped && c == MerchantRefundId))
        .map(|c| c.name())
        .collect();
    if !missing.is_empty() {
        let hint = if mapped {
            "check [sales.mapping] in the config".to_string()
        } else {
            format!(
                "a sales-v1 file starts with the header {}; for another export configure [sales.mapping]",
                COLUMNS.join(",")
            )
        };
        return Err(format!(
            "header has no column {} (found: {}): {hint}",
            missing.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", "),
            header.join(",")
        ));
    }
    Ok(index)
}

/// Reads the records after the header into `out`: parsed records, identical rows collapsed and
/// disagreeing rows of a key all marked `conflict`; rejects with their physical line. `added` sees
/// the records after each row that parsed.
fn read_records(
    rdr: &mut csv::Reader<&[u8]>,
    text: &str,
    how: &RowRules,
    out: &mut ParsedSales,
    mut added: impl FnMut(&[LocalRecord]),
) {
    // Room for the file's records at once (a record's line is longer than this): capacity that is
    // never used is never touched, so it costs address space, not memory — and only a hint: where
    // the system refuses the address space (strict overcommit) they grow as they come.
    let _ = out.records.try_reserve(text.len() / 48);
    let mut keys = KeyRows::default();
    let _ = keys.first.try_reserve(text.len() / 64, |_| 0);
    let mut lines = PhysicalLines { text: text.as_bytes(), at: 0, line: 1 };
    // One record buffer for the whole file (the reader's iterator allocates one per row).
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map(|p| lines.of(p)).unwrap_or(0);
                out.rejects.push(SalesReject {
                    line,
                    field: None,
                    reason: format!("unreadable CSV: {e}"),
                    raw: String::new(),
                });
                continue;
            }
        }
        let line = rec.position().map(|p| lines.of(p)).unwrap_or(0);
        // Every field blank: the fields' concatenation is all whitespace.
        if rec.as_slice().trim().is_empty() {
            continue;
        }
        match parse_row(&rec, how, line) {
            Ok(r) => {
                keys.push(&mut out.records, r);
                added(&out.records);
            }
            Err((field, reason)) => {
                // The line's text, only for rejected lines (built here, not for every row).
                let raw: String = rec.iter().collect::<Vec<_>>().join(",").chars().take(1000).collect();
                out.rejects.push(SalesReject { line, field: field.map(str::to_string), reason, raw })
            }
        }
    }
}

/// Where each key's records are in the parsed list.
#[derive(Default)]
struct KeyRows {
    /// Each key's first record, by its index in the list: the table holds 4-byte indexes and hashes
    /// and compares through the records (a table of key texts was 40 bytes an entry, a million
    /// entries of fresh memory and cache misses per file).
    first: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    /// The rare keys with several rows: all their records, by the first's index.
    more: HashMap<usize, Vec<usize>>,
}

impl KeyRows {
    /// Adds `r` to `records`, unless a record of its key has the same content; a key's disagreeing
    /// records are all marked `conflict`.
    fn push(&mut self, records: &mut Vec<LocalRecord>, mut r: LocalRecord) {
        let next = records.len();
        let hash = self.hasher.hash_one(r.key());
        let Some(&first) = self.first.find(hash, |&i| records[i as usize].key() == r.key()) else {
            let hasher = &self.hasher;
            // A sales file of more than 4 billion records does not fit in memory to begin with.
            let at = u32::try_from(next).expect("fewer than 2^32 records in a sales file");
            self.first.insert_unique(hash, at, |&i| hasher.hash_one(records[i as usize].key()));
            records.push(r);
            return;
        };
        let first = first as usize;
        let same = self.more.entry(first).or_insert_with(|| vec![first]);
        if same.iter().any(|&i| records[i].content() == r.content()) {
            return; // identical rows collapse
        }
        for &i in same.iter() {
            records[i].conflict = true;
        }
        r.conflict = true;
        same.push(next);
        records.push(r);
    }
}

/// Physical line numbers as an editor shows them (contracts.md v3 §1: the header is line 1; a record
/// with a quoted line break is named by its first line). The `csv` crate's own `Position::line` is
/// one short after a CRLF line ending (a record's start is taken before the `\n` of the previous
/// line's `\r\n`, and before blank lines), so the line is counted here from the record's byte offset. Positions only move
/// forward, so the whole file is scanned once.
struct PhysicalLines<'a> {
    text: &'a [u8],
    /// Byte offset counted up to, and the line it is on.
    at: usize,
    line: u32,
}

impl PhysicalLines<'_> {
    fn of(&mut self, pos: &csv::Position) -> u32 {
        let mut b = (pos.byte() as usize).min(self.text.len());
        // A record after `\r\n` starts on that `\n`, which still ends the previous line; blank lines
        // before it are skipped by the reader. A record never starts with a line ending.
        while matches!(self.text.get(b), Some(b'\n' | b'\r')) {
            b += 1;
        }
        if b < self.at {
            (self.at, self.line) = (0, 1);
        }
        self.line += self.text[self.at..b].iter().filter(|&&c| c == b'\n').count() as u32;
        self.at = b;
        self.line
    }
}

type RowError = (Option<&'static str>, String);

/// Upper case, without a copy when it already is (as exports write it).
fn upper(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_lowercase()) {
        std::borrow::Cow::Owned(s.to_ascii_uppercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// How this file's rows are read: where each column is, the business zone, the mapping.
struct RowRules<'a> {
    index: ColumnIndex,
    zone: &'a BusinessZone,
    cfg: &'a SalesConfig,
    mapped: bool,
}

fn parse_row(rec: &csv::StringRecord, how: &RowRules, line: u32) -> Result<LocalRecord, RowError> {
    let RowRules { index, zone, cfg, mapped } = how;
    let mapped = *mapped;
    let get = |c: Field| index[c as usize].and_then(|i| rec.get(i)).map(str::trim).filter(|s| !s.is_empty());
    let need = |c: Field| get(c).ok_or_else(|| (Some(c.name()), format!("{} is empty", c.name())));

    let rt_raw = need(Field::RecordType)?;
    let rt_text = if mapped { cfg.type_map.get(rt_raw).map(String::as_str).unwrap_or(rt_raw) } else { rt_raw };
    let record_type = RecordType::parse(&upper(rt_text))
        .ok_or((Some("record_type"), format!("record_type '{rt_raw}' is not PAYMENT or REFUND")))?;
    let merchant_trans_id = need(Field::MerchantTransId)?.to_string();
    let merchant_refund_id = get(Field::MerchantRefundId).map(str::to_string);
    match (record_type, &merchant_refund_id) {
        (RecordType::Refund, None) => {
            return Err((Some("merchant_refund_id"), "a REFUND needs merchant_refund_id".into()))
        }
        (RecordType::Payment, Some(_)) => {
            return Err((Some("merchant_refund_id"), "merchant_refund_id must be empty for a PAYMENT".into()))
        }
        _ => {}
    }
    let st_raw = need(Field::Status)?;
    let st_text = if mapped { cfg.status_map.get(st_raw).map(String::as_str).unwrap_or(st_raw) } else { st_raw };
    let status = LocalStatus::parse(&upper(st_text))
        .ok_or((Some("status"), format!("status '{st_raw}' is not SUCCESS, CANCELLED, FAILED or UNKNOWN")))?;
    let currency = Currency::parse(need(Field::Currency)?).map_err(|e| (Some("currency"), e.to_string()))?;
    let amount_raw = need(Field::Amount)?;
    if amount_raw.starts_with('+') || amount_raw.starts_with('-') {
        return Err((Some("amount"), format!("amount '{amount_raw}' must be written without a sign")));
    }
    let amount = parse_major(amount_raw, currency).map_err(|e| (Some("amount"), e.to_string()))?;
    if amount == 0 && matches!(status, LocalStatus::Success | LocalStatus::Unknown) {
        return Err((Some("amount"), format!("amount is 0 on a {status} row: only FAILED or CANCELLED rows may be 0")));
    }
    let created_raw = need(Field::CreatedAt)?;
    let created_at = if mapped {
        parse_timestamp(created_raw, zone).map_err(|e| (Some("created_at"), e.to_string()))?
    } else {
        crate::domain::rfc3339::parse_rfc3339(created_raw).map_err(|_| {
            (
                Some("created_at"),
                format!("created_at '{created_raw}' is not RFC 3339 with an offset (2026-11-25T10:30:00+08:00)"),
            )
        })?
    };
    Ok(LocalRecord {
        record_type,
        merchant_trans_id,
        merchant_refund_id,
        amount,
        currency,
        status,
        business_date: zone.date_of(&created_at),
        created_at,
        store_id: get(Field::StoreId).map(str::to_string),
        terminal_id: get(Field::TerminalId).map(str::to_string),
        acquirement_id: get(Field::AcquirementId).map(str::to_string),
        line,
        conflict: false,
    })
}

#[cfg(test)]
mod tests;
