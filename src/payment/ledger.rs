//! The payment ledger in the same SQLite database (`sql/0003_payment.sql`): payment attempts, refunds
//! and the event log. Rows are written before the call they describe and after every answer; the
//! state machine in `flow` reads them back, so a killed process resumes from here.

use super::core::{Amount, Reply};
use crate::domain::Currency;
use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, FixedOffset};
use rusqlite::{params, Connection, OptionalExtension, Row};

macro_rules! states {
    ($name:ident { $($v:ident => $t:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($v),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn as_str(&self) -> &'static str { match self { $($name::$v => $t),+ } }
            pub fn parse(s: &str) -> Option<$name> { match s { $($t => Some($name::$v),)+ _ => None } }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

states!(PayState {
    Paying => "PAYING",
    Unknown => "UNKNOWN",
    Paid => "PAID",
    Failed => "FAILED",
    CancelPending => "CANCEL_PENDING",
    Voided => "VOIDED",
    RefundPending => "REFUND_PENDING",
    VoidedByRefund => "VOIDED_BY_REFUND",
    ManualReview => "MANUAL_REVIEW",
});

states!(RefundState { Pending => "PENDING", Success => "SUCCESS", Failed => "FAILED", ManualReview => "MANUAL_REVIEW" });

impl PayState {
    /// No further call will change it (manual review waits for the sweep or a person).
    pub fn is_final(&self) -> bool {
        matches!(self, PayState::Paid | PayState::Failed | PayState::Voided | PayState::VoidedByRefund)
    }
}

/// One payment attempt (one scan). Times carry their offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub merchant_trans_id: String,
    pub protocol: String,
    pub environment: String,
    pub merchant_id: String,
    pub code_hint: String,
    pub amount: Amount,
    pub title: String,
    pub state: PayState,
    pub result_status: Option<String>,
    pub result_code: Option<String>,
    pub result_msg: Option<String>,
    pub alipay_id: Option<String>,
    pub paid_at: Option<DateTime<FixedOffset>>,
    pub queries: u32,
    pub cancel_tries: u32,
    pub void_refund_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub merchant_refund_id: String,
    pub merchant_trans_id: String,
    pub amount: Amount,
    pub reason: Option<String>,
    pub is_void: bool,
    pub state: RefundState,
    pub result_status: Option<String>,
    pub result_code: Option<String>,
    pub result_msg: Option<String>,
    pub refund_alipay_id: Option<String>,
    pub tries: u32,
    pub last_error: Option<String>,
    pub refunded_at: Option<DateTime<FixedOffset>>,
    pub created_at: DateTime<FixedOffset>,
}

fn ts(s: Option<String>) -> rusqlite::Result<Option<DateTime<FixedOffset>>> {
    s.map(|t| {
        DateTime::parse_from_rfc3339(&t)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
    })
    .transpose()
}

fn bad(what: &str, v: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("{what} '{v}'").into())
}

fn amount(minor: i64, cur: String) -> rusqlite::Result<Amount> {
    let currency = Currency::parse(&cur).map_err(|_| bad("currency", cur))?;
    Ok(Amount { minor, currency })
}

const ATTEMPT_COLS: &str = "merchant_trans_id, protocol, environment, merchant_id, code_hint, amount, currency, title, state,
    result_status, result_code, result_msg, alipay_id, paid_at, queries, cancel_tries, void_refund_id, last_error, created_at";

fn attempt_row(r: &Row) -> rusqlite::Result<Attempt> {
    let state: String = r.get(8)?;
    Ok(Attempt {
        merchant_trans_id: r.get(0)?,
        protocol: r.get(1)?,
        environment: r.get(2)?,
        merchant_id: r.get(3)?,
        code_hint: r.get(4)?,
        amount: amount(r.get(5)?, r.get(6)?)?,
        title: r.get(7)?,
        state: PayState::parse(&state).ok_or_else(|| bad("payment state", state))?,
        result_status: r.get(9)?,
        result_code: r.get(10)?,
        result_msg: r.get(11)?,
        alipay_id: r.get(12)?,
        paid_at: ts(r.get(13)?)?,
        queries: r.get(14)?,
        cancel_tries: r.get(15)?,
        void_refund_id: r.get(16)?,
        last_error: r.get(17)?,
        created_at: ts(Some(r.get(18)?))?.expect("some"),
    })
}

const REFUND_COLS: &str =
    "merchant_refund_id, merchant_trans_id, amount, currency, reason, is_void, state, result_status,
    result_code, result_msg, refund_alipay_id, tries, last_error, refunded_at, created_at";

fn refund_row(r: &Row) -> rusqlite::Result<Refund> {
    let state: String = r.get(6)?;
    Ok(Refund {
        merchant_refund_id: r.get(0)?,
        merchant_trans_id: r.get(1)?,
        amount: amount(r.get(2)?, r.get(3)?)?,
        reason: r.get(4)?,
        is_void: r.get(5)?,
        state: RefundState::parse(&state).ok_or_else(|| bad("refund state", state))?,
        result_status: r.get(7)?,
        result_code: r.get(8)?,
        result_msg: r.get(9)?,
        refund_alipay_id: r.get(10)?,
        tries: r.get(11)?,
        last_error: r.get(12)?,
        refunded_at: ts(r.get(13)?)?,
        created_at: ts(Some(r.get(14)?))?.expect("some"),
    })
}

fn rfc(t: &Option<DateTime<FixedOffset>>) -> Option<String> {
    t.map(|t| t.to_rfc3339())
}

/// Writes a new attempt; fails if the id exists (ids are never reused across scans).
pub fn insert_attempt(conn: &Connection, a: &Attempt) -> Result<()> {
    conn.execute(
        &format!("INSERT INTO payment_attempts ({ATTEMPT_COLS}, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20)"),
        params![
            a.merchant_trans_id, a.protocol, a.environment, a.merchant_id, a.code_hint, a.amount.minor,
            a.amount.currency.as_str(), a.title, a.state.as_str(), a.result_status, a.result_code, a.result_msg,
            a.alipay_id, rfc(&a.paid_at), a.queries, a.cancel_tries, a.void_refund_id, a.last_error,
            a.created_at.to_rfc3339(), crate::store::now_text()
        ],
    )
    .with_context(|| format!("cannot record payment {} in the ledger", a.merchant_trans_id))?;
    Ok(())
}

/// Saves the mutable fields of `a` and marks it for the next local-records sync.
pub fn save_attempt(conn: &Connection, a: &Attempt) -> Result<()> {
    let n = conn.execute(
        "UPDATE payment_attempts SET state=?2, result_status=?3, result_code=?4, result_msg=?5, alipay_id=?6, paid_at=?7,
            queries=?8, cancel_tries=?9, void_refund_id=?10, last_error=?11, updated_at=?12, synced=0
         WHERE merchant_trans_id=?1",
        params![
            a.merchant_trans_id, a.state.as_str(), a.result_status, a.result_code, a.result_msg, a.alipay_id,
            rfc(&a.paid_at), a.queries, a.cancel_tries, a.void_refund_id, a.last_error, crate::store::now_text()
        ],
    )?;
    anyhow::ensure!(n == 1, "payment {} is not in the ledger", a.merchant_trans_id);
    Ok(())
}

pub fn get_attempt(conn: &Connection, id: &str) -> Result<Option<Attempt>> {
    Ok(conn
        .query_row(
            &format!("SELECT {ATTEMPT_COLS} FROM payment_attempts WHERE merchant_trans_id=?1"),
            [id],
            attempt_row,
        )
        .optional()?)
}

/// The attempt, or an error telling the operator how to find ids.
pub fn must_attempt(conn: &Connection, id: &str) -> Result<Attempt> {
    get_attempt(conn, id)?
        .ok_or_else(|| anyhow!("payment '{id}' is not in the ledger: list payments with `alipay-recon payments`"))
}

/// Attempts filtered by state and by creation date range (inclusive, `YYYY-MM-DD` in the attempt's
/// own offset), oldest first.
pub fn list_attempts(
    conn: &Connection,
    states: &[PayState],
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<Attempt>> {
    let mut st =
        conn.prepare(&format!("SELECT {ATTEMPT_COLS} FROM payment_attempts ORDER BY created_at, merchant_trans_id"))?;
    let rows = st.query_map([], attempt_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter(|a| states.is_empty() || states.contains(&a.state))
        .filter(|a| {
            let d = a.created_at.date_naive().to_string();
            from.is_none_or(|f| d.as_str() >= f) && to.is_none_or(|t| d.as_str() <= t)
        })
        .collect())
}

pub fn insert_refund(conn: &Connection, r: &Refund) -> Result<()> {
    conn.execute(
        &format!("INSERT INTO payment_refunds ({REFUND_COLS}, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)"),
        params![
            r.merchant_refund_id, r.merchant_trans_id, r.amount.minor, r.amount.currency.as_str(), r.reason, r.is_void,
            r.state.as_str(), r.result_status, r.result_code, r.result_msg, r.refund_alipay_id, r.tries, r.last_error,
            rfc(&r.refunded_at), r.created_at.to_rfc3339(), crate::store::now_text()
        ],
    )
    .with_context(|| format!("cannot record refund {} in the ledger", r.merchant_refund_id))?;
    Ok(())
}

pub fn save_refund(conn: &Connection, r: &Refund) -> Result<()> {
    conn.execute(
        "UPDATE payment_refunds SET state=?2, result_status=?3, result_code=?4, result_msg=?5, refund_alipay_id=?6, tries=?7,
            last_error=?8, refunded_at=?9, updated_at=?10, synced=0 WHERE merchant_refund_id=?1",
        params![
            r.merchant_refund_id, r.state.as_str(), r.result_status, r.result_code, r.result_msg, r.refund_alipay_id,
            r.tries, r.last_error, rfc(&r.refunded_at), crate::store::now_text()
        ],
    )?;
    // The payment's local rows include its refunds: resync it too.
    conn.execute("UPDATE payment_attempts SET synced=0 WHERE merchant_trans_id=?1", [&r.merchant_trans_id])?;
    Ok(())
}

pub fn get_refund(conn: &Connection, id: &str) -> Result<Option<Refund>> {
    Ok(conn
        .query_row(&format!("SELECT {REFUND_COLS} FROM payment_refunds WHERE merchant_refund_id=?1"), [id], refund_row)
        .optional()?)
}

pub fn refunds_of(conn: &Connection, merchant_trans_id: &str) -> Result<Vec<Refund>> {
    let mut st = conn.prepare(&format!(
        "SELECT {REFUND_COLS} FROM payment_refunds WHERE merchant_trans_id=?1 ORDER BY created_at, merchant_refund_id"
    ))?;
    let rows = st.query_map([merchant_trans_id], refund_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Refunds that a sweep should retry (not void refunds: those follow their payment).
pub fn open_refunds(conn: &Connection) -> Result<Vec<Refund>> {
    let mut st = conn.prepare(&format!(
        "SELECT {REFUND_COLS} FROM payment_refunds WHERE state IN ('PENDING','MANUAL_REVIEW') AND is_void=0 ORDER BY created_at"
    ))?;
    let rows = st.query_map([], refund_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Appends to the event log: one row per call (with its reqMsgId) and per state change.
pub fn event(
    conn: &Connection,
    trans_id: &str,
    refund_id: Option<&str>,
    action: &str,
    reply: Option<&Reply>,
    detail: Option<&str>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO payment_events (merchant_trans_id, merchant_refund_id, at, action, req_msg_id, result_status, result_code, detail)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
        params![
            trans_id,
            refund_id,
            crate::store::now_text(),
            action,
            reply.map(|r| r.req_msg_id.as_str()),
            reply.map(|r| r.status.letter()),
            reply.map(|r| r.code.as_str()),
            detail
        ],
    )?;
    Ok(())
}

/// (action, merchant_refund_id, result_code) of one event.
pub type EventRow = (String, Option<String>, Option<String>);

/// Every event of a payment, in order — for tests and audits.
pub fn events_of(conn: &Connection, trans_id: &str) -> Result<Vec<EventRow>> {
    let mut st = conn.prepare(
        "SELECT action, merchant_refund_id, result_code FROM payment_events WHERE merchant_trans_id=?1 ORDER BY id",
    )?;
    let rows =
        st.query_map([trans_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// An answer that failed verification (bad signature or not bound to its request), waiting for its
/// alert email (sql/0013_payment_alarms.sql).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    pub id: i64,
    pub at: String,
    pub merchant_trans_id: String,
    pub merchant_refund_id: Option<String>,
    pub action: String,
    pub req_msg_id: String,
    pub detail: String,
}

/// Records a failed verification; the caller that runs the flow queues its alert.
pub fn alarm(
    conn: &Connection,
    trans_id: &str,
    refund_id: Option<&str>,
    action: &str,
    e: &super::core::CallError,
) -> Result<()> {
    tracing::error!(merchant_trans_id = %trans_id, "{action}: unverified answer: {e}");
    conn.execute(
        "INSERT INTO payment_alarms (at, merchant_trans_id, merchant_refund_id, action, req_msg_id, detail)
         VALUES (?1,?2,?3,?4,?5,?6)",
        params![crate::store::now_text(), trans_id, refund_id, action, e.req_msg_id(), e.to_string()],
    )?;
    Ok(())
}

/// Alarms whose alert is not queued yet, oldest first.
pub fn unalerted_alarms(conn: &Connection) -> Result<Vec<Alarm>> {
    let mut st = conn.prepare(
        "SELECT id, at, merchant_trans_id, merchant_refund_id, action, req_msg_id, detail FROM payment_alarms
         WHERE alerted_at IS NULL ORDER BY id",
    )?;
    let rows = st
        .query_map([], |r| {
            Ok(Alarm {
                id: r.get(0)?,
                at: r.get(1)?,
                merchant_trans_id: r.get(2)?,
                merchant_refund_id: r.get(3)?,
                action: r.get(4)?,
                req_msg_id: r.get(5)?,
                detail: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Marks alarms as alerted (their alert is in the outbox).
pub fn mark_alerted(conn: &Connection, ids: &[i64]) -> Result<()> {
    let now = crate::store::now_text();
    for id in ids {
        conn.execute("UPDATE payment_alarms SET alerted_at = ?2 WHERE id = ?1", params![id, now])?;
    }
    Ok(())
}
