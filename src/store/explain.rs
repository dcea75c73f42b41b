//! Everything stored about one payment or refund id, for an accountant's "what happened to X":
//! Alipay rows of every file version (current or superseded), local records and their history.

use anyhow::Result;
use rusqlite::{params, Connection};

#[derive(Debug, Clone, serde::Serialize)]
pub struct AlipayTrace {
    pub file: String,
    pub file_date: String,
    pub version: i64,
    pub current: bool,
    pub line: i64,
    pub kind: String,
    pub trans_type: String,
    pub type_raw: String,
    pub merchant_trans_id: Option<String>,
    pub merchant_refund_id: Option<String>,
    pub alipay_id: Option<String>,
    pub original_alipay_id: Option<String>,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub settle_amount: Option<i64>,
    pub fee: Option<i64>,
    pub trans_time: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalTrace {
    pub record_type: String,
    pub record_id: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub created_at: String,
    pub business_date: String,
    pub origin: String,
    pub conflict: bool,
    pub file: Option<String>,
    pub line: Option<i64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryTrace {
    pub record_type: String,
    pub record_id: String,
    pub file: Option<String>,
    pub line: Option<i64>,
    pub row_json: String,
    pub conflict: bool,
    pub recorded_at: String,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Trace {
    pub alipay: Vec<AlipayTrace>,
    pub local: Vec<LocalTrace>,
    pub history: Vec<HistoryTrace>,
}

impl Trace {
    pub fn is_empty(&self) -> bool {
        self.alipay.is_empty() && self.local.is_empty() && self.history.is_empty()
    }
}

/// The Alipay rows of an id and one hop around it. Every term is an index search (sql/0007: the
/// refund and original-id columns have partial indexes), never a scan of the stored history.
const ALIPAY_ROWS_OF_ID: &str = "SELECT f.name, f.business_date, f.version, f.current, r.line, r.kind, r.trans_type, r.type_raw, r.merchant_trans_id,
                r.merchant_refund_id, r.alipay_id, r.original_alipay_id, r.amount, r.currency, r.settle_amount, r.fee, r.trans_time
         FROM alipay_rows r JOIN files f ON f.id = r.file_id
         WHERE r.merchant_trans_id = ?1 OR r.merchant_refund_id = ?1 OR r.alipay_id = ?1 OR r.original_alipay_id = ?1
            OR r.original_alipay_id IN (SELECT alipay_id FROM alipay_rows WHERE merchant_trans_id = ?1 AND alipay_id IS NOT NULL)
            OR r.alipay_id IN (SELECT original_alipay_id FROM alipay_rows WHERE (merchant_refund_id = ?1 OR alipay_id = ?1) AND original_alipay_id IS NOT NULL)
         ORDER BY f.business_date, r.trans_time, f.name, f.version, r.line";

/// The local records of an id: by key (payments' key is their merchant id), refunds of a payment, or
/// the Alipay id the record carries — each an index search (sql/0006, sql/0008).
const LOCAL_RECORDS_OF_ID: &str = "SELECT l.record_type, l.record_id, l.status, l.amount, l.currency, l.created_at, l.business_date, l.origin, l.conflict, s.path, l.line
         FROM local_records l LEFT JOIN sales_files s ON s.id = l.sales_file_id
         WHERE (l.record_type IN ('PAYMENT', 'REFUND') AND l.record_id = ?1)
            OR (l.record_type = 'REFUND' AND l.merchant_trans_id = ?1) OR l.acquirement_id = ?1
         ORDER BY l.created_utc, l.record_type, l.record_id";

/// SQL: one local version as the import's JSON text (the record's fields in `domain::LocalRecord`
/// order), from the columns of table alias `$t`, its time given as `$created`.
macro_rules! version_json {
    ($t:literal, $created:expr) => {
        concat!(
            "json_object('record_type', ",
            $t,
            ".record_type, 'merchant_trans_id', ",
            $t,
            ".merchant_trans_id, ",
            "'merchant_refund_id', ",
            $t,
            ".merchant_refund_id, 'amount', ",
            $t,
            ".amount, 'currency', ",
            $t,
            ".currency, ",
            "'status', ",
            $t,
            ".status, 'created_at', ",
            $created,
            ", 'business_date', ",
            $t,
            ".business_date, ",
            "'store_id', ",
            $t,
            ".store_id, 'terminal_id', ",
            $t,
            ".terminal_id, 'acquirement_id', ",
            $t,
            ".acquirement_id, ",
            "'line', ",
            $t,
            ".line, 'conflict', json(CASE WHEN ",
            $t,
            ".conflict THEN 'true' ELSE 'false' END))"
        )
    };
}

/// Every stored version of the id's local records (each version as the import's JSON text: the
/// record's fields in `domain::LocalRecord` order), found through the key indexes: a key with several
/// versions has them in its history; a key seen once is its `local_records` row (sql/0009). Grouped
/// by record, in import order.
const HISTORY_OF_ID: &str = concat!(
    "WITH keys AS (
        SELECT record_type, record_id, versions FROM local_records
        WHERE (record_type IN ('PAYMENT', 'REFUND') AND record_id = ?1) OR (record_type = 'REFUND' AND merchant_trans_id = ?1))
     SELECT h.record_type, h.record_id, s.path, h.line, ",
    version_json!("h", "h.created_at"),
    ", h.conflict, h.recorded_at, h.id AS seq
     FROM keys k JOIN local_record_history h ON h.record_type = k.record_type AND h.record_id = k.record_id
          LEFT JOIN sales_files s ON s.id = h.sales_file_id
     WHERE k.versions > 1
     UNION ALL
     SELECT l.record_type, l.record_id, s.path, l.line, ",
    version_json!("l", history_created_at!("l.created_at")),
    ", l.conflict, COALESCE(l.recorded_at, ''), 0
     FROM keys k JOIN local_records l ON l.record_type = k.record_type AND l.record_id = k.record_id
          LEFT JOIN sales_files s ON s.id = l.sales_file_id
     WHERE k.versions <= 1
     ORDER BY 1, 2, 8"
);

/// Finds `id` as a merchant payment id, refund id or Alipay id, and follows one hop to related rows
/// (a refund's payment, a payment's refunds and cancels).
pub fn trace(conn: &Connection, id: &str) -> Result<Trace> {
    let mut t = Trace::default();
    let mut st = conn.prepare(ALIPAY_ROWS_OF_ID)?;
    t.alipay = st
        .query_map([id], |r| {
            Ok(AlipayTrace {
                file: r.get(0)?,
                file_date: r.get(1)?,
                version: r.get(2)?,
                current: r.get(3)?,
                line: r.get(4)?,
                kind: r.get(5)?,
                trans_type: r.get(6)?,
                type_raw: r.get(7)?,
                merchant_trans_id: r.get(8)?,
                merchant_refund_id: r.get(9)?,
                alipay_id: r.get(10)?,
                original_alipay_id: r.get(11)?,
                amount: r.get(12)?,
                currency: r.get(13)?,
                settle_amount: r.get(14)?,
                fee: r.get(15)?,
                trans_time: r.get(16)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut st = conn.prepare(LOCAL_RECORDS_OF_ID)?;
    t.local = st
        .query_map([id], |r| {
            Ok(LocalTrace {
                record_type: r.get(0)?,
                record_id: r.get(1)?,
                status: r.get(2)?,
                amount: r.get(3)?,
                currency: r.get(4)?,
                created_at: r.get(5)?,
                business_date: r.get(6)?,
                origin: r.get(7)?,
                conflict: r.get(8)?,
                file: r.get(9)?,
                line: r.get(10)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut st = conn.prepare(HISTORY_OF_ID)?;
    t.history = st
        .query_map(params![id], |r| {
            Ok(HistoryTrace {
                record_type: r.get(0)?,
                record_id: r.get(1)?,
                file: r.get(2)?,
                line: r.get(3)?,
                row_json: r.get(4)?,
                conflict: r.get(5)?,
                recorded_at: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    /// The id lookups read indexes only: a full scan would grow with every day stored.
    #[test]
    fn the_id_lookups_never_scan_the_stored_rows() {
        let c = crate::store::open_in_memory().unwrap();
        for sql in [super::ALIPAY_ROWS_OF_ID, super::LOCAL_RECORDS_OF_ID, super::HISTORY_OF_ID] {
            let plan: Vec<String> = c
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(["X"], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(plan.iter().any(|l| l.contains("MULTI-INDEX OR")), "{plan:#?}");
            assert!(!plan.iter().any(|l| l.starts_with("SCAN")), "{sql}\n{plan:#?}");
        }
    }
}
