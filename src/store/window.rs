//! Read-only loading of the reconciliation engine's input: the stored data of day T's look-back
//! window and nothing dated after T — current Alipay files dated in the window with their rows,
//! summary rows and issues, and every version of the local records dated in the window whose sales
//! file was visible by T. Rerunning T after T+1 is imported therefore reads the same data.

use crate::domain::{Currency, FileFormat, FileKind, LocalStatus, RecordType, TransType};
use crate::reconcile::{AlipayRow, FileIn, Input, IssueIn, LocalVersion, Params, SummaryIn};
use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset, NaiveDate};
use rusqlite::{params, Connection, Row};

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
    Ok(input)
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

/// Every version of the local records dated in `[a, b]` that was visible by `b`. A key's first version
/// is visible from its own business date, whatever file brought it (a sales export may also hold
/// records of later days, e.g. sales just after midnight). A later version (a status update such as
/// UNKNOWN → SUCCESS) is visible from its file's "as of" date — the newest business date among the
/// file's records — so rerunning day T after T+1's export gives the same T report. The ledger's
/// versions are visible from their own date.
fn local_versions(conn: &Connection, a: &str, b: &str) -> Result<Vec<LocalVersion>> {
    let mut st = conn.prepare(
        "WITH v AS (
            SELECT h.id, h.sales_file_id, h.line, h.row_json, h.conflict,
                   json_extract(h.row_json, '$.business_date') AS bd,
                   NOT EXISTS (SELECT 1 FROM local_record_history e
                               WHERE e.record_type = h.record_type AND e.record_id = h.record_id AND e.id < h.id
                                 AND e.sales_file_id IS NOT h.sales_file_id) AS first_version
            FROM local_record_history h
            WHERE json_extract(h.row_json, '$.business_date') BETWEEN ?1 AND ?2),
         asof AS (
            SELECT h.sales_file_id, MAX(json_extract(h.row_json, '$.business_date')) AS as_of
            FROM local_record_history h
            WHERE h.sales_file_id IN (SELECT DISTINCT sales_file_id FROM v WHERE sales_file_id IS NOT NULL)
            GROUP BY h.sales_file_id)
         SELECT v.id, v.sales_file_id, v.line, v.row_json, v.conflict,
                CASE WHEN v.first_version THEN v.bd ELSE COALESCE(asof.as_of, v.bd) END AS visible, sf.name
         FROM v LEFT JOIN asof ON asof.sales_file_id = v.sales_file_id
                LEFT JOIN sales_files sf ON sf.id = v.sales_file_id
         WHERE visible <= ?2
         ORDER BY v.id",
    )?;
    let rows = st.query_map(params![a, b], |r| {
        let id: i64 = r.get(0)?;
        let file: Option<i64> = r.get(1)?;
        let line: Option<i64> = r.get(2)?;
        let json: String = r.get(3)?;
        let rec: StoredRecord =
            serde_json::from_str(&json).map_err(|e| bad("local record version", &format!("history id {id}"), e))?;
        let as_of: String = r.get(5)?;
        let name: Option<String> = r.get(6)?;
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
            origin: match (name, line) {
                (Some(n), Some(l)) => format!("{n} line {l}"),
                (Some(n), None) => n,
                _ => "payment ledger".into(),
            },
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
