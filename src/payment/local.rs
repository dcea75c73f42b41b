//! The ledger as a source of local sales records (contracts.md §1). For ids it issued, the ledger
//! wins over POS files (`Origin::Ledger`). Mapping:
//! paid → PAYMENT SUCCESS; voided by cancel → CANCELLED; failed → FAILED; anything not final →
//! UNKNOWN; voided by refund after the cancel window → PAYMENT SUCCESS plus a REFUND row; each
//! operator refund → a REFUND row (SUCCESS, FAILED, or UNKNOWN while pending).

use super::ledger::{self, Attempt, PayState, Refund, RefundState};
use crate::domain::{BusinessZone, LocalStatus, RecordType};
use crate::sales::LocalRecord;
use crate::store::sales::{upsert_records, Origin};
use anyhow::{Context, Result};
use rusqlite::Connection;

fn payment_status(state: PayState) -> LocalStatus {
    match state {
        PayState::Paid | PayState::VoidedByRefund => LocalStatus::Success,
        PayState::Voided => LocalStatus::Cancelled,
        PayState::Failed => LocalStatus::Failed,
        // A paid payment whose void refund is pending is still money taken; the refund row says the rest.
        PayState::RefundPending => LocalStatus::Success,
        PayState::Paying | PayState::Unknown | PayState::CancelPending | PayState::ManualReview => LocalStatus::Unknown,
    }
}

fn refund_status(state: RefundState) -> LocalStatus {
    match state {
        RefundState::Success => LocalStatus::Success,
        RefundState::Failed => LocalStatus::Failed,
        RefundState::Pending | RefundState::ManualReview => LocalStatus::Unknown,
    }
}

/// The local records of one attempt and its refunds.
pub fn records_of(a: &Attempt, refunds: &[Refund], zone: &BusinessZone) -> Vec<LocalRecord> {
    // Alipay files date a payment by its payment time; use it when Alipay told us.
    let created_at = a.paid_at.unwrap_or(a.created_at);
    let mut out = vec![LocalRecord {
        record_type: RecordType::Payment,
        merchant_trans_id: a.merchant_trans_id.clone(),
        merchant_refund_id: None,
        amount: a.amount.minor,
        currency: a.amount.currency,
        status: payment_status(a.state),
        created_at,
        business_date: zone.date_of(&created_at),
        store_id: None,
        terminal_id: None,
        acquirement_id: a.alipay_id.clone(),
        line: 0,
        conflict: false,
    }];
    for r in refunds {
        // A void refund exists only once the payment is known paid (REFUND_PENDING and after).
        let t = r.refunded_at.unwrap_or(r.created_at);
        out.push(LocalRecord {
            record_type: RecordType::Refund,
            merchant_trans_id: a.merchant_trans_id.clone(),
            merchant_refund_id: Some(r.merchant_refund_id.clone()),
            amount: r.amount.minor,
            currency: r.amount.currency,
            status: refund_status(r.state),
            created_at: t,
            business_date: zone.date_of(&t),
            store_id: None,
            terminal_id: None,
            acquirement_id: a.alipay_id.clone(),
            line: 0,
            conflict: false,
        });
    }
    out
}

/// Writes the local records of every attempt changed since the last sync (the daily run calls this
/// before matching). Returns the number of records written.
pub fn sync_local_records(conn: &Connection, zone: &BusinessZone) -> Result<usize> {
    // Unchecked: callers hold a shared connection; nothing else is open on it at this point.
    let tx = conn.unchecked_transaction()?;
    let ids: Vec<String> = {
        let mut st =
            tx.prepare("SELECT merchant_trans_id FROM payment_attempts WHERE synced = 0 ORDER BY created_at")?;
        let rows = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows
    };
    let mut written = 0;
    for id in &ids {
        let a = ledger::must_attempt(&tx, id)?;
        let refunds = ledger::refunds_of(&tx, id)?;
        let records = records_of(&a, &refunds, zone);
        let (applied, _) = upsert_records(&tx, &records, Origin::Ledger, None)
            .with_context(|| format!("cannot write the local records of payment {id}"))?;
        written += applied;
        tx.execute("UPDATE payment_attempts SET synced = 1 WHERE merchant_trans_id = ?1", [id])?;
        tx.execute("UPDATE payment_refunds SET synced = 1 WHERE merchant_trans_id = ?1", [id])?;
    }
    tx.commit()?;
    Ok(written)
}
