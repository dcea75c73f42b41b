//! Read-only loading of the reconciliation engine's input: the stored data of day T's look-back
//! window and nothing dated after T — current Alipay files dated in the window with their rows,
//! summary rows and issues, and every version of the local records dated in the window whose sales
//! file was visible by T. Rerunning T after T+1 is imported therefore reads the same data.

use crate::domain::{Currency, FileFormat, FileKind, LocalStatus, RecordType, TransType};
use crate::reconcile::{AlipayRow, FileIn, Input, IssueIn, LocalVersion, Params, SummaryIn};
use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset, NaiveDate};
use rusqlite::{params, Connection, OptionalExtension, Row};

fn date(s: &str, what: &str) -> rusqlite::Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| bad(what, s, e))
}

fn bad(what: &str, value: &str, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("stored {what} '{value}' is unreadable ({e}): the database was edited by hand or is damaged").into(),
    )
}

fn ccy(s: Option<String>, what: &str) -> rusqlite::Result<Option<Currency>> {
    s.filter(|s| !s.is_empty()).map(|s| Currency::parse(&s).map_err(|e| bad(what, &s, e))).transpose()
}

fn time(s: Option<String>, what: &str) -> rusqlite::Result<Option<DateTime<FixedOffset>>> {
    s.map(|s| DateTime::parse_from_rfc3339(&s).map_err(|e| bad(what, &s, e))).transpose()
}

/// Loads day `day`'s window (`params.window_start(day)` ..= `day`).
pub fn load(conn: &Connection, day: NaiveDate, params: &Params) -> Result<Input> {
    let from = params.window_start(day);
    let (a, b) = (from.to_string(), day.to_string());
    let mut input = Input { date: Some(day), from: Some(from), ..Default::default() };

    let mut st = conn.prepare(
        "SELECT id, name, format, kind, business_date, truncated, declared_count, row_count FROM files
         WHERE current = 1 AND business_date BETWEEN ?1 AND ?2 ORDER BY business_date, name, id",
    )?;
    input.files = st
        .query_map(params![a, b], |r| {
            let format: String = r.get(2)?;
            let kind: String = r.get(3)?;
            Ok(FileIn {
                id: r.get(0)?,
                name: r.get(1)?,
                format: FileFormat::parse(&format).ok_or_else(|| bad("file format", &format, "unknown"))?,
                kind: FileKind::parse(&kind).ok_or_else(|| bad("file kind", &kind, "unknown"))?,
                date: date(&r.get::<_, String>(4)?, "file date")?,
                truncated: r.get(5)?,
                declared_count: r.get(6)?,
                row_count: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()
        .context("cannot read the window's files from the database")?;

    let mut st = conn.prepare(
        "SELECT r.file_id, r.line, r.kind, r.business_date, r.trans_type, r.type_raw, r.merchant_trans_id,
                r.merchant_refund_id, r.alipay_id, r.original_alipay_id, r.amount, r.currency, r.settle_amount,
                r.settle_currency, r.fee, r.fee_currency, r.trans_time, r.product_code,
                json_extract(r.extra, '$.userSite')
         FROM alipay_rows r JOIN files f ON f.id = r.file_id
         WHERE f.current = 1 AND f.business_date BETWEEN ?1 AND ?2 ORDER BY r.file_id, r.line",
    )?;
    input.rows = st
        .query_map(params![a, b], alipay_row)?
        .collect::<rusqlite::Result<_>>()
        .context("cannot read the window's Alipay rows from the database")?;

    let mut st = conn.prepare(
        "SELECT s.file_id, s.line, s.business_date, s.summary_type, s.count, s.settle_amount, s.settle_currency, s.fee
         FROM summary_rows s JOIN files f ON f.id = s.file_id
         WHERE f.current = 1 AND f.business_date BETWEEN ?1 AND ?2 ORDER BY s.file_id, s.line",
    )?;
    input.summaries = st
        .query_map(params![a, b], |r| {
            Ok(SummaryIn {
                file_id: r.get(0)?,
                line: r.get(1)?,
                date: date(&r.get::<_, String>(2)?, "summary date")?,
                summary_type: r.get(3)?,
                count: r.get(4)?,
                settle_amount: r.get(5)?,
                settle_currency: ccy(r.get(6)?, "summary currency")?,
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

    input.local = local_versions(conn, &a, &b).context("cannot read the window's local sales records")?;
    fill_payment_ids(conn, &mut input, &b).context("cannot look up the payments of the window's refunds")?;
    Ok(input)
}

/// A refund or cancel row that names only the payment's Alipay id gets the merchant's payment id from
/// all stored history up to T (the payment may be older than the window).
fn fill_payment_ids(conn: &Connection, input: &mut Input, until: &str) -> Result<()> {
    let mut st = conn.prepare_cached(
        "SELECT r.merchant_trans_id FROM alipay_rows r JOIN files f ON f.id = r.file_id
         WHERE r.alipay_id = ?1 AND r.trans_type = 'PAYMENT' AND f.current = 1 AND f.business_date <= ?2
           AND r.merchant_trans_id IS NOT NULL AND r.merchant_trans_id <> ''
         ORDER BY f.business_date, r.id LIMIT 1",
    )?;
    let mut known: std::collections::HashMap<String, Option<String>> = Default::default();
    for r in input.rows.iter_mut() {
        let wants = matches!(r.trans_type, TransType::Refund | TransType::Cancel)
            && r.merchant_trans_id.as_deref().is_none_or(|m| m.trim().is_empty());
        let Some(orig) = r.original_alipay_id.as_deref().map(str::trim).filter(|o| wants && !o.is_empty()) else {
            continue;
        };
        if !known.contains_key(orig) {
            let found: Option<String> = st.query_row(params![orig, until], |x| x.get(0)).optional()?;
            known.insert(orig.to_string(), found);
        }
        if let Some(m) = known.get(orig).cloned().flatten() {
            r.merchant_trans_id = Some(m);
        }
    }
    Ok(())
}

fn alipay_row(r: &Row) -> rusqlite::Result<AlipayRow> {
    let kind: String = r.get(2)?;
    let tt: String = r.get(4)?;
    Ok(AlipayRow {
        file_id: r.get(0)?,
        line: r.get(1)?,
        kind: FileKind::parse(&kind).ok_or_else(|| bad("row kind", &kind, "unknown"))?,
        date: date(&r.get::<_, String>(3)?, "row date")?,
        trans_type: TransType::parse(&tt).ok_or_else(|| bad("transaction type", &tt, "unknown"))?,
        type_raw: r.get(5)?,
        merchant_trans_id: r.get(6)?,
        merchant_refund_id: r.get(7)?,
        alipay_id: r.get(8)?,
        original_alipay_id: r.get(9)?,
        amount: r.get(10)?,
        currency: ccy(r.get(11)?, "row currency")?,
        settle_amount: r.get(12)?,
        settle_currency: ccy(r.get(13)?, "settlement currency")?,
        fee: r.get(14)?,
        fee_currency: ccy(r.get(15)?, "fee currency")?,
        trans_time: time(r.get(16)?, "transaction time")?,
        product_code: r.get(17)?,
        wallet: r.get(18)?,
    })
}

/// The stored JSON of a local record version (`sales::LocalRecord`).
#[derive(serde::Deserialize)]
struct StoredRecord {
    record_type: RecordType,
    merchant_trans_id: String,
    merchant_refund_id: Option<String>,
    amount: i64,
    currency: Currency,
    status: LocalStatus,
    created_at: DateTime<FixedOffset>,
    business_date: NaiveDate,
    acquirement_id: Option<String>,
}

/// Every version of the local records dated in `[a, b]` that is visible by `b`. A key's first
/// version (and any other row of that same file) is visible from the record's own business date: a
/// sale exists from the day it was made, however late it was exported. A later file's restatement of
/// the key (UNKNOWN → SUCCESS) is visible from that file's "as of" date — the newest business date
/// among its records — so a rerun of day T does not see what a later export changed.
///
/// Most keys have one version: those come from `local_records`' columns; only keys with several
/// versions are read from their history's JSON.
fn local_versions(conn: &Connection, a: &str, b: &str) -> Result<Vec<LocalVersion>> {
    let mut out = single_versions(conn, a, b)?;
    out.extend(multi_versions(conn, a, b)?);
    Ok(out)
}

const VERSIONS: &str = "(SELECT COUNT(*) FROM local_record_history h
                          WHERE h.record_type = lr.record_type AND h.record_id = lr.record_id)";

fn single_versions(conn: &Connection, a: &str, b: &str) -> Result<Vec<LocalVersion>> {
    let mut st = conn.prepare(&format!(
        "SELECT lr.record_type, lr.merchant_trans_id, lr.merchant_refund_id, lr.amount, lr.currency, lr.status,
                lr.created_at, lr.business_date, lr.acquirement_id, lr.origin, lr.line, lr.conflict, sf.name
         FROM local_records lr LEFT JOIN sales_files sf ON sf.id = lr.sales_file_id
         WHERE lr.business_date BETWEEN ?1 AND ?2 AND {VERSIONS} <= 1"
    ))?;
    let rows = st.query_map(params![a, b], |r| {
        let rt: String = r.get(0)?;
        let status: String = r.get(5)?;
        let created: String = r.get(6)?;
        let bd = date(&r.get::<_, String>(7)?, "local record date")?;
        let origin: String = r.get(9)?;
        let line: Option<i64> = r.get(10)?;
        let name: Option<String> = r.get(12)?;
        Ok(LocalVersion {
            record_type: RecordType::parse(&rt).ok_or_else(|| bad("record type", &rt, "unknown"))?,
            merchant_trans_id: r.get(1)?,
            merchant_refund_id: r.get(2)?,
            amount: r.get(3)?,
            currency: ccy(r.get(4)?, "local currency")?.ok_or_else(|| bad("local currency", "", "empty"))?,
            status: LocalStatus::parse(&status).ok_or_else(|| bad("local status", &status, "unknown"))?,
            created_at: time(Some(created), "created_at")?.expect("present"),
            business_date: bd,
            acquirement_id: r.get(8)?,
            as_of: bd,
            seq: 0,
            ledger: origin == "ledger",
            conflict: r.get(11)?,
            origin: origin_text(name, line),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn origin_text(name: Option<String>, line: Option<i64>) -> String {
    match (name, line) {
        (Some(n), Some(l)) => format!("{n} line {l}"),
        (Some(n), None) => n,
        _ => "payment ledger".into(),
    }
}

fn multi_versions(conn: &Connection, a: &str, b: &str) -> Result<Vec<LocalVersion>> {
    let mut st = conn.prepare(&format!(
        "WITH keys AS (
            SELECT lr.record_type, lr.record_id FROM local_records lr
            WHERE lr.business_date BETWEEN ?1 AND ?2 AND {VERSIONS} > 1),
         v AS (
            SELECT h.id, h.sales_file_id, h.line, h.row_json, h.conflict,
                   json_extract(h.row_json, '$.business_date') AS bd,
                   FIRST_VALUE(h.sales_file_id) OVER (PARTITION BY h.record_type, h.record_id ORDER BY h.id) AS first_file
            FROM keys JOIN local_record_history h ON h.record_type = keys.record_type AND h.record_id = keys.record_id),
         asof AS (
            SELECT h.sales_file_id, MAX(json_extract(h.row_json, '$.business_date')) AS as_of
            FROM local_record_history h
            WHERE h.sales_file_id IN (SELECT DISTINCT sales_file_id FROM v WHERE sales_file_id IS NOT first_file)
            GROUP BY h.sales_file_id),
         w AS (
            SELECT v.*, CASE WHEN v.sales_file_id IS v.first_file THEN v.bd ELSE COALESCE(asof.as_of, v.bd) END AS vis
            FROM v LEFT JOIN asof ON asof.sales_file_id = v.sales_file_id)
         SELECT w.id, w.sales_file_id, w.line, w.row_json, w.conflict, w.vis, sf.name
         FROM w LEFT JOIN sales_files sf ON sf.id = w.sales_file_id
         WHERE w.vis <= ?2 AND w.bd BETWEEN ?1 AND ?2
         ORDER BY w.id"
    ))?;
    let rows = st.query_map(params![a, b], |r| {
        let id: i64 = r.get(0)?;
        let file: Option<i64> = r.get(1)?;
        let json: String = r.get(3)?;
        let rec: StoredRecord =
            serde_json::from_str(&json).map_err(|e| bad("local record version", &format!("history id {id}"), e))?;
        let as_of: String = r.get(5)?;
        Ok(LocalVersion {
            record_type: rec.record_type,
            merchant_trans_id: rec.merchant_trans_id,
            merchant_refund_id: rec.merchant_refund_id,
            amount: rec.amount,
            currency: rec.currency,
            status: rec.status,
            created_at: rec.created_at,
            business_date: rec.business_date,
            acquirement_id: rec.acquirement_id,
            as_of: date(&as_of, "sales file date")?,
            seq: id,
            ledger: file.is_none(),
            conflict: r.get(4)?,
            origin: origin_text(r.get(6)?, r.get(2)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SalesConfig;
    use crate::formats::{DetailRow, ParsedFile, Rows, TransTypeOrDefault};
    use crate::store::{files::FileMeta, sales::SalesFileMeta};

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
        let parsed = ParsedFile {
            encoding: "utf-8",
            header: vec![],
            declared_count: None,
            has_end_marker: None,
            rows: Rows::Detail(vec![row]),
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
        let text =
            format!("record_type,merchant_trans_id,merchant_refund_id,amount,currency,status,created_at\n{lines}");
        let zone = Default::default();
        let parsed = crate::sales::parse(text.as_bytes(), "s.csv", &zone, &SalesConfig::default()).unwrap();
        let meta = SalesFileMeta {
            path: "s.csv".into(),
            name: "s.csv".into(),
            sha256: crate::archive::sha256_hex(text.as_bytes()),
            size: 1,
            archive_path: "x".into(),
        };
        crate::store::sales::import(c, &meta, &parsed, None).unwrap();
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
