//! The ledger as a source of local sales records (contracts.md §1). For ids it issued, the ledger
//! wins over POS files (`Origin::Ledger`). Mapping:
//! paid → PAYMENT SUCCESS; voided by cancel → CANCELLED; failed → FAILED; anything not final →
//! UNKNOWN; voided by refund after the cancel window → PAYMENT SUCCESS plus a REFUND row; each
//! operator refund → a REFUND row (SUCCESS, FAILED, or UNKNOWN while pending).

use super::ledger::{self, Attempt, PayState, Refund, RefundState};
use crate::domain::{BusinessZone, LocalRecord, LocalStatus, RecordType};
use crate::store::local::write_ledger_records;
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
        written += write_ledger_records(&tx, &records)
            .with_context(|| format!("cannot write the local records of payment {id}"))?;
        tx.execute("UPDATE payment_attempts SET synced = 1 WHERE merchant_trans_id = ?1", [id])?;
        tx.execute("UPDATE payment_refunds SET synced = 1 WHERE merchant_trans_id = ?1", [id])?;
    }
    tx.commit()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::core::Amount;
    use crate::store::sales::{upsert_records, Origin};
    use chrono::DateTime;

    fn attempt(id: &str, state: PayState, at: &str) -> Attempt {
        Attempt {
            merchant_trans_id: id.into(),
            protocol: "alipay.intl".into(),
            environment: "sandbox".into(),
            merchant_id: "2188".into(),
            code_hint: "0000".into(),
            amount: Amount { minor: 5600, currency: "HKD".parse().unwrap() },
            title: "t".into(),
            state,
            result_status: None,
            result_code: None,
            result_msg: None,
            alipay_id: Some(format!("A-{id}")),
            paid_at: None,
            queries: 0,
            cancel_tries: 0,
            void_refund_id: None,
            last_error: None,
            created_at: DateTime::parse_from_rfc3339(at).unwrap(),
        }
    }

    fn refund(id: &str, of: &str, state: RefundState, is_void: bool) -> Refund {
        let of = attempt(of, PayState::Paid, "2026-11-26T00:10:00+08:00");
        let at = DateTime::parse_from_rfc3339("2026-11-26T00:20:00+08:00").unwrap();
        Refund { state, ..crate::payment::flow::new_refund(&of, id, of.amount, None, is_void, at) }
    }

    fn local(conn: &Connection) -> Vec<(String, String, String, String)> {
        let mut st = conn
            .prepare("SELECT record_type, record_id, status, business_date FROM local_records ORDER BY record_type, record_id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn every_state_maps_to_the_contract() {
        let conn = crate::store::open_in_memory().unwrap();
        let at = "2026-11-25T23:50:00+08:00";
        for (id, st) in [
            ("P-PAID", PayState::Paid),
            ("P-VOID", PayState::Voided),
            ("P-FAIL", PayState::Failed),
            ("P-UNK", PayState::Unknown),
            ("P-PAYING", PayState::Paying),
            ("P-CP", PayState::CancelPending),
            ("P-MR", PayState::ManualReview),
            ("P-VBR", PayState::VoidedByRefund),
        ] {
            ledger::insert_attempt(&conn, &attempt(id, st, at)).unwrap();
        }
        ledger::insert_refund(&conn, &refund("R-VOID", "P-VBR", RefundState::Success, true)).unwrap();
        ledger::insert_refund(&conn, &refund("R-PEND", "P-PAID", RefundState::Pending, false)).unwrap();
        let zone = BusinessZone::default();
        assert_eq!(sync_local_records(&conn, &zone).unwrap(), 10);
        let d1 = "2026-11-25".to_string();
        let d2 = "2026-11-26".to_string();
        let s = |t: &str, id: &str, st: &str, d: &String| (t.to_string(), id.to_string(), st.to_string(), d.clone());
        assert_eq!(
            local(&conn),
            vec![
                s("PAYMENT", "P-CP", "UNKNOWN", &d1),
                s("PAYMENT", "P-FAIL", "FAILED", &d1),
                s("PAYMENT", "P-MR", "UNKNOWN", &d1),
                s("PAYMENT", "P-PAID", "SUCCESS", &d1),
                s("PAYMENT", "P-PAYING", "UNKNOWN", &d1),
                s("PAYMENT", "P-UNK", "UNKNOWN", &d1),
                s("PAYMENT", "P-VBR", "SUCCESS", &d1),
                s("PAYMENT", "P-VOID", "CANCELLED", &d1),
                s("REFUND", "R-PEND", "UNKNOWN", &d2),
                s("REFUND", "R-VOID", "SUCCESS", &d2),
            ]
        );
        // Nothing changed: nothing rewritten.
        assert_eq!(sync_local_records(&conn, &zone).unwrap(), 0);
        // A state change is picked up, and a POS file cannot overwrite the ledger's record.
        let mut a = ledger::must_attempt(&conn, "P-UNK").unwrap();
        a.state = PayState::Paid;
        ledger::save_attempt(&conn, &a).unwrap();
        assert_eq!(sync_local_records(&conn, &zone).unwrap(), 1, "only the changed payment (it has no refunds)");
        let pos = vec![LocalRecord { status: LocalStatus::Failed, ..records_of(&a, &[], &zone).remove(0) }];
        let (applied, kept) = upsert_records(&conn, &pos, Origin::Pos, None).unwrap();
        assert_eq!((applied, kept), (0, 1));
        assert!(local(&conn).contains(&s("PAYMENT", "P-UNK", "SUCCESS", &d1)));
    }
}
