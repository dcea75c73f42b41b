//! Resolutions and their audit trail in the store (sql/0015): the append-only `resolution_events`
//! (every resolve and reopen with the business day it takes effect on) and `audit_log` (a sha256 hash
//! chain over every resolve, reopen and import). The rules (which item, which reason, what a day's
//! report shows) live in `resolve`; this file only reads and appends rows.

use crate::domain::item::{ResolutionAction, ResolutionEntry};
use crate::domain::{Category, Currency};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use rusqlite::{params, Connection, Row};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first audit entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A stored resolve or reopen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub audit_seq: i64,
    pub effective_date: NaiveDate,
    pub entry: ResolutionEntry,
}

/// An audit entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub recorded_at: String,
    pub action: String,
    pub by_user: String,
    pub content: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The chain's hash of an entry: sha256 hex of `prev_hash` `\n` `content`.
pub fn chain_hash(prev_hash: &str, content: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(content.as_bytes());
    hex::encode(h.finalize())
}

/// Appends an audit entry after the current head (call inside the transaction that makes the change
/// it records); returns its sequence number.
pub fn append_audit(conn: &Connection, recorded_at: &str, action: &str, by: &str, content: &str) -> Result<i64> {
    let (seq, prev): (i64, String) = conn
        .query_row("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok((0, GENESIS.to_string())),
            e => Err(e),
        })
        .context("cannot read the head of the audit trail")?;
    let hash = chain_hash(&prev, content);
    conn.execute(
        "INSERT INTO audit_log (seq, recorded_at, action, by_user, content, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![seq + 1, recorded_at, action, by, content, prev, hash],
    )
    .context("cannot append to the audit trail")?;
    Ok(seq + 1)
}

/// Appends a resolve or reopen recorded by audit entry `audit_seq`.
pub fn insert_event(conn: &Connection, audit_seq: i64, effective: NaiveDate, e: &ResolutionEntry) -> Result<i64> {
    conn.execute(
        "INSERT INTO resolution_events (audit_seq, item_id, category, item_key, action, reason, note, by_user,
            effective_date, recorded_at, item_date, currency, amount_minor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            audit_seq,
            e.item_id,
            e.category.as_str(),
            e.key,
            e.action.as_str(),
            e.reason,
            e.note,
            e.by,
            effective.to_string(),
            e.recorded_at,
            e.item_date.to_string(),
            e.currency.map(|c| c.to_string()),
            e.amount
        ],
    )
    .with_context(|| format!("cannot store the {} of item {}", e.action.as_str().to_lowercase(), e.item_id))?;
    Ok(conn.last_insert_rowid())
}

const EVENT_COLUMNS: &str = "id, audit_seq, effective_date, item_id, category, item_key, action, reason, note, by_user,
    recorded_at, item_date, currency, amount_minor";

fn event(r: &Row) -> rusqlite::Result<Event> {
    let bad =
        |i: usize, what: String| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, what.into());
    let date = |i: usize| -> rusqlite::Result<NaiveDate> {
        let s: String = r.get(i)?;
        s.parse().map_err(|_| bad(i, format!("bad date {s:?} in resolution_events")))
    };
    let cat: String = r.get(4)?;
    let action: String = r.get(6)?;
    let cur: Option<String> = r.get(12)?;
    Ok(Event {
        id: r.get(0)?,
        audit_seq: r.get(1)?,
        effective_date: date(2)?,
        entry: ResolutionEntry {
            item_id: r.get(3)?,
            category: Category::parse(&cat).ok_or_else(|| bad(4, format!("unknown category {cat:?}")))?,
            key: r.get(5)?,
            action: ResolutionAction::parse(&action).ok_or_else(|| bad(6, format!("unknown action {action:?}")))?,
            reason: r.get(7)?,
            note: r.get(8)?,
            by: r.get(9)?,
            recorded_at: r.get(10)?,
            item_date: date(11)?,
            currency: match cur {
                Some(c) => Some(Currency::parse(&c).map_err(|_| bad(12, format!("unknown currency {c:?}")))?),
                None => None,
            },
            amount: r.get(13)?,
        },
    })
}

/// Every event taking effect on or before `up_to` (all when `None`), in effect order: by effective
/// day, then as recorded.
pub fn events(conn: &Connection, up_to: Option<NaiveDate>) -> Result<Vec<Event>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM resolution_events WHERE ?1 IS NULL OR effective_date <= ?1 ORDER BY effective_date, id"
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([up_to.map(|d| d.to_string())], event)?;
    rows.collect::<rusqlite::Result<_>>().context("cannot read the resolutions")
}

/// The events with their stored columns by audit sequence (for `audit verify`).
pub fn events_by_audit_seq(conn: &Connection) -> Result<Vec<Event>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM resolution_events ORDER BY audit_seq");
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([], event)?;
    rows.collect::<rusqlite::Result<_>>().context("cannot read the resolutions")
}

/// The whole audit trail in order.
pub fn audit_entries(conn: &Connection) -> Result<Vec<AuditEntry>> {
    let mut st =
        conn.prepare("SELECT seq, recorded_at, action, by_user, content, prev_hash, hash FROM audit_log ORDER BY seq")?;
    let rows = st.query_map([], |r| {
        Ok(AuditEntry {
            seq: r.get(0)?,
            recorded_at: r.get(1)?,
            action: r.get(2)?,
            by_user: r.get(3)?,
            content: r.get(4)?,
            prev_hash: r.get(5)?,
            hash: r.get(6)?,
        })
    })?;
    rows.collect::<rusqlite::Result<_>>().context("cannot read the audit trail")
}

/// A reported row, as stored in the current result of its report date (`recon_items`).
#[derive(Debug, Clone)]
pub struct ReportedRow {
    pub report_date: NaiveDate,
    /// `finding` or `open`.
    pub section: String,
    pub finding: crate::domain::Finding,
}

/// The findings and open items of every current result from `from` on (newest report first).
pub fn reported_rows(conn: &Connection, from: NaiveDate) -> Result<Vec<ReportedRow>> {
    let mut st = conn.prepare(
        "SELECT r.business_date, i.section, i.item_date, i.category, i.merchant_trans_id, i.merchant_refund_id,
                i.acquirement_id, i.currency, i.local_amount, i.alipay_currency, i.alipay_amount, i.local_type,
                i.alipay_type, i.detail
         FROM recon_results r JOIN recon_items i ON i.result_id = r.id
         WHERE r.current = 1 AND r.business_date >= ?1 AND i.section IN ('finding', 'open')
         ORDER BY r.business_date DESC, i.section, i.ord",
    )?;
    let rows = st.query_map([from.to_string()], |r| {
        let d = |i: usize| -> rusqlite::Result<NaiveDate> {
            let s: String = r.get(i)?;
            s.parse().map_err(|_| {
                rusqlite::Error::FromSqlConversionFailure(
                    i,
                    rusqlite::types::Type::Text,
                    format!("bad date {s:?}").into(),
                )
            })
        };
        let cur = |i: usize| -> rusqlite::Result<Option<Currency>> {
            let s: Option<String> = r.get(i)?;
            Ok(s.and_then(|s| Currency::parse(&s).ok()))
        };
        let cat: String = r.get(3)?;
        let report_date = d(0)?;
        Ok(Category::parse(&cat).map(|category| ReportedRow {
            report_date,
            section: r.get(1).unwrap_or_default(),
            finding: crate::domain::Finding {
                business_date: report_date,
                item_date: d(2).unwrap_or(report_date),
                category,
                merchant_trans_id: r.get(4).unwrap_or_default(),
                merchant_refund_id: r.get(5).unwrap_or_default(),
                acquirement_id: r.get(6).unwrap_or_default(),
                currency: cur(7).unwrap_or_default(),
                local_amount: r.get(8).unwrap_or_default(),
                alipay_currency: cur(9).unwrap_or_default(),
                alipay_amount: r.get(10).unwrap_or_default(),
                local_type: r.get(11).unwrap_or_default(),
                alipay_type: r.get(12).unwrap_or_default(),
                detail: r.get(13).unwrap_or_default(),
            },
        }))
    })?;
    let mut out = Vec::new();
    for r in rows {
        out.extend(r.context("cannot read the stored report rows")?);
    }
    Ok(out)
}

/// The newest report date with a current result.
pub fn newest_report_date(conn: &Connection) -> Result<Option<NaiveDate>> {
    let d: Option<String> = conn
        .query_row("SELECT MAX(business_date) FROM recon_results WHERE current = 1", [], |r| r.get(0))
        .context("cannot read the stored results")?;
    Ok(d.and_then(|d| d.parse().ok()))
}
