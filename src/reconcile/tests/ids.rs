//! The three ids on rows that are not item rows (contracts.md §3): UNSETTLED, SETTLEMENT_MISMATCH and
//! FEE_MISMATCH name a payment or refund exactly as its item rows do — merchant_trans_id the payment's
//! id (for a refund: the refunded payment's), acquirement_id Alipay's id of the payment (for a refund
//! too) — so one payment's rows sort and filter together.

use super::*;
use crate::config::FeeRule;
use crate::domain::Category::*;
use crate::domain::Finding;

const D: &str = "2026-11-20";
const AT: &str = "2026-11-20T10:00:00+08:00";
const LATER: &str = "2026-11-20T11:00:00+08:00";

fn fee_params() -> Params {
    let mut p = Params::default();
    p.fees.push(FeeRule { currency: hkd(), rate_ppm: 18_000, fixed_minor: 0, product_code: None, wallet: None });
    p
}

/// `(category, merchant_trans_id, merchant_refund_id, acquirement_id)` of every finding.
fn ids(o: &Outcome) -> Vec<(Category, String, String, String)> {
    let f =
        |f: &Finding| (f.category, f.merchant_trans_id.clone(), f.merchant_refund_id.clone(), f.acquirement_id.clone());
    o.findings.iter().map(f).collect()
}

fn row(cat: Category, mtid: &str, mrid: &str, acq: &str) -> (Category, String, String, String) {
    (cat, mtid.into(), mrid.into(), acq.into())
}

/// A classic REFUND row: Partner_transaction_id is the refund id; the file names neither the payment
/// nor its Alipay id (alipay-files.md: "use the local refund→payment link").
fn classic_refund(mrid: &str, aid: &str, amount: i64, time: &str) -> DetailRow {
    DetailRow { original_alipay_id: None, alipay_id: Some(aid.into()), ..refund(mrid, "", amount, time) }
}

#[test]
fn refund_settlement_and_fee_rows_carry_the_payments_alipay_id() {
    // intl: the refund row names the payment by its Alipay id only; the local refund has no
    // acquirement_id and is 1.00 short (an AMOUNT_MISMATCH item row to compare with).
    let mut w = World::with(fee_params());
    let (p1, r1) = (pay("P1", "A1", 5600, AT), refund("R1", "A1", 1000, LATER));
    w.txns(D, vec![p1.clone(), r1.clone()]);
    w.sales(&[
        &format!("PAYMENT,P1,,56.00,HKD,SUCCESS,{AT},S1,T1,"),
        &format!("REFUND,P1,R1,9.00,HKD,SUCCESS,{LATER},,,"),
    ]);
    // Settled the next day for 9.00 (the transaction says 10.00), with a fee of 0.50 returned
    // (the rate returns 0.18): a SETTLEMENT_MISMATCH and a FEE_MISMATCH row.
    w.txns("2026-11-21", vec![]);
    w.settlement("2026-11-21", vec![settle(&p1, 101), settle(&DetailRow { amount: Some(900), ..r1 }, -50)]);
    let items = w.run(D);
    assert_eq!(ids(&items), vec![row(AmountMismatch, "P1", "R1", "A1")]);
    let o = w.run("2026-11-21");
    assert_eq!(
        ids(&o),
        vec![row(SettlementMismatch, "P1", "R1", "A1"), row(FeeMismatch, "P1", "R1", "A1")],
        "{:#?}",
        o.findings
    );
}

#[test]
fn classic_refund_rows_name_the_payment_from_the_local_refund_record() {
    // classic: the refund row has only the refund id and the refund's own Alipay id; the local
    // refund record names payment P1 (no acquirement_id), whose Alipay id the PAYMENT row gives.
    let mut w = World::with(fee_params());
    let (p1, r1) = (pay("P1", "A1", 5600, AT), classic_refund("R1", "RA1", 1000, LATER));
    w.txns(D, vec![p1.clone(), r1.clone()]);
    w.sales(&[
        &format!("PAYMENT,P1,,56.00,HKD,SUCCESS,{AT},S1,T1,"),
        &format!("REFUND,P1,R1,9.00,HKD,SUCCESS,{LATER},,,"),
    ]);
    w.txns("2026-11-21", vec![]);
    w.settlement("2026-11-21", vec![settle(&p1, 101), settle(&DetailRow { amount: Some(900), ..r1 }, -50)]);
    let o = w.run("2026-11-21");
    assert_eq!(
        ids(&o),
        vec![row(SettlementMismatch, "P1", "R1", "A1"), row(FeeMismatch, "P1", "R1", "A1")],
        "{:#?}",
        o.findings
    );
    assert_eq!(ids(&w.run(D)), vec![row(AmountMismatch, "P1", "R1", "A1")]);
}

#[test]
fn classic_refund_settled_without_a_transaction_row_is_named_by_the_local_refund() {
    // A classic refund settled but in no transaction file of the look-back: only the local refund
    // record links it to its payment.
    let mut w = World::new();
    w.txns(D, vec![pay("P1", "A1", 5600, AT)]);
    w.sales(&[
        &format!("PAYMENT,P1,,56.00,HKD,SUCCESS,{AT},S1,T1,"),
        &format!("REFUND,P1,R1,10.00,HKD,SUCCESS,{LATER},,,A1"),
    ]);
    w.txns("2026-11-21", vec![]);
    w.settlement("2026-11-21", vec![settle(&classic_refund("R1", "RA1", 1000, LATER), 0)]);
    let o = w.run("2026-11-21");
    assert_eq!(ids(&o), vec![row(SettlementMismatch, "P1", "R1", "A1")], "{:#?}", o.findings);
}

#[test]
fn classic_settled_but_voided_payment_is_named_by_the_merchants_id() {
    // classic settlement: for a cancelled transaction Partner_transaction_id equals Alipay's
    // Transaction_id (alipay-files.md); the row is still about payment P9.
    let mut w = World::with(fee_params());
    let p9 = pay("P9", "A9", 3000, AT);
    let c9 = DetailRow { original_alipay_id: None, alipay_id: Some("A9".into()), ..cancel("P9", "A9", 3000, LATER) };
    w.txns(D, vec![p9.clone(), c9]);
    w.sales(&[&format!("PAYMENT,P9,,30.00,HKD,CANCELLED,{AT},S1,T1,")]);
    w.txns("2026-11-21", vec![]);
    // Settled with a fee of 1.00 where the rate gives 0.54: its FEE_MISMATCH row names P9 too.
    w.settlement("2026-11-21", vec![settle(&DetailRow { merchant_trans_id: Some("A9".into()), ..p9 }, 100)]);
    let o = w.run("2026-11-21");
    assert_eq!(
        ids(&o),
        vec![row(SettlementMismatch, "P9", "", "A9"), row(FeeMismatch, "P9", "", "A9")],
        "{:#?}",
        o.findings
    );
    assert!(o.findings[0].detail.contains("cancelled"), "{}", o.findings[0].detail);
}

#[test]
fn classic_refund_unsettled_row_has_the_payments_alipay_id() {
    let mut w = World::new();
    let (p1, r1) = (pay("P1", "A1", 5600, AT), classic_refund("R1", "RA1", 1000, LATER));
    w.txns(D, vec![p1.clone(), r1]);
    w.sales(&[
        &format!("PAYMENT,P1,,56.00,HKD,SUCCESS,{AT},S1,T1,"),
        &format!("REFUND,P1,R1,10.00,HKD,SUCCESS,{LATER},,,"),
    ]);
    w.settlement("2026-11-21", vec![settle(&p1, 0)]);
    for day in 21..=27 {
        w.txns(&format!("2026-11-{day}"), vec![]);
    }
    let o = w.run("2026-11-27");
    assert_eq!(ids(&o), vec![row(Unsettled, "P1", "R1", "A1")], "{:#?}", o.findings);
}

#[test]
fn a_lone_cancel_names_the_payments_alipay_id() {
    // Alipay has only the CANCEL row (its own id CA1, the payment's A1); local says SUCCESS.
    let mut w = World::new();
    w.txns(D, vec![cancel("P1", "A1", 5600, AT)]);
    w.sales(&[&format!("PAYMENT,P1,,56.00,HKD,SUCCESS,{AT},S1,T1,")]);
    assert_eq!(ids(&w.run(D)), vec![row(StatusMismatch, "P1", "", "A1")]);
}
