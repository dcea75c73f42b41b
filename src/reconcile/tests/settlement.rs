//! Settlement-side rules on a Fri–Sun batch settled on Monday: SETTLEMENT_MISMATCH (amount, unknown
//! transaction, voided payment unless P and R net to zero), non-order fee lines, FEE_MISMATCH with a
//! configured rate (refunds pro rata), SUMMARY_MISMATCH with the ½-minor-unit-per-row tolerance.

use super::*;
use crate::config::FeeRule;
use crate::domain::Category::*;

fn fee_params() -> Params {
    let mut p = Params::default();
    p.fees.push(FeeRule { currency: hkd(), rate_ppm: 18_000, fixed_minor: 0, product_code: None, wallet: None });
    p
}

fn lp(mtid: &str, amount: &str, status: &str, at: &str) -> String {
    format!("PAYMENT,{mtid},,{amount},HKD,{status},{at},S1,T1,")
}

fn summary_row(ty: &str, count: i64, net: i64) -> SummaryRow {
    SummaryRow {
        summary_type: ty.into(),
        count: Some(count),
        settle_amount: Some(net),
        settle_currency: Some(hkd()),
        ..Default::default()
    }
}

/// Fri 20 – Sun 22 trading, Monday 23 settles it all.
fn weekend(summary: Vec<SummaryRow>) -> World {
    let mut w = World::with(fee_params());
    let fri = "2026-11-20T10:00:00+08:00";
    let sat = "2026-11-21T10:00:00+08:00";
    let sun = "2026-11-22T10:00:00+08:00";
    let (p1, p2, p3) = (pay("P1", "A1", 5600, fri), pay("P2", "A2", 5600, sat), pay("P3", "A3", 5600, sun));
    let (p8, p9) = (pay("P8", "A8", 2000, sat), pay("P9", "A9", 3000, sat));
    let r1 = DetailRow { merchant_trans_id: Some("P1".into()), ..refund("R1", "A1", 1000, sun) };
    w.txns("2026-11-20", vec![p1.clone()]);
    w.txns(
        "2026-11-21",
        vec![p2.clone(), p8.clone(), cancel("P8", "A8", 2000, sat), p9.clone(), cancel("P9", "A9", 3000, sat)],
    );
    w.txns("2026-11-22", vec![p3.clone(), r1.clone()]);
    w.txns("2026-11-23", vec![]);
    w.sales(&[
        &lp("P1", "56.00", "SUCCESS", fri),
        &lp("P2", "56.00", "SUCCESS", sat),
        &lp("P3", "56.00", "SUCCESS", sun),
        &lp("P8", "20.00", "CANCELLED", sat),
        &lp("P9", "30.00", "CANCELLED", sat),
        &format!("REFUND,P1,R1,10.00,HKD,SUCCESS,{sun},,,A1"),
    ]);
    let fee_line = DetailRow {
        trans_type: crate::formats::TransTypeOrDefault(TransType::Other),
        type_raw: "SETTLEMENT_FEE".into(),
        settle_amount: Some(-50),
        settle_currency: Some(hkd()),
        ..Default::default()
    };
    let unknown = pay("P77", "A77", 1234, fri);
    let p3_wrong = DetailRow { amount: Some(5000), ..p3.clone() };
    let r8 = DetailRow {
        merchant_refund_id: Some("P8".into()),
        original_alipay_id: Some("A8".into()),
        ..refund("RX8", "A8", 2000, sat)
    };
    w.settlement(
        "2026-11-23",
        vec![
            settle(&p1, 101),      // 1.8% of 56.00 = 1.008 → 1.01: right
            settle(&p2, 120),      // wrong fee
            settle(&p3_wrong, 90), // amount differs from the transaction; fee right for 50.00
            settle(&r1, -18),      // refund returns 1.8% of 10.00
            settle(&p8, 36),       // voided, but netted to zero by the R row below
            settle(&r8, -36),
            settle(&p9, 54),      // voided and settled: mismatch
            settle(&unknown, 22), // no transaction in the look-back
            fee_line,
        ],
    );
    w.summary("2026-11-23", summary);
    w
}

/// Sum of the settle_amounts above, by type.
const PAYMENT_NET: i64 = (5600 - 101) + (5600 - 120) + (5000 - 90) + (2000 - 36) + (3000 - 54) + (1234 - 22);
const REFUND_NET: i64 = (-1000 + 18) + (-2000 + 36);

#[test]
fn weekend_batch_settled_on_monday() {
    let w = weekend(vec![
        summary_row("PAYMENT", 6, PAYMENT_NET),
        summary_row("REFUND", 2, REFUND_NET),
        summary_row("TOTAL", 9, PAYMENT_NET + REFUND_NET - 50),
    ]);
    for day in ["2026-11-20", "2026-11-21", "2026-11-22"] {
        let o = w.run(day);
        assert!(o.findings.is_empty(), "{day}: {:#?}", o.findings);
    }
    let o = w.run("2026-11-23");
    assert_eq!(
        cats(&o),
        vec![
            c(SettlementMismatch, "P3", ""),
            c(SettlementMismatch, "P77", ""),
            c(SettlementMismatch, "P9", ""),
            c(FeeMismatch, "P2", ""),
        ],
        "{:#?}",
        o.findings
    );
    let fee = &o.findings[3];
    assert_eq!((fee.local_amount, fee.alipay_amount, fee.difference()), (Some(101), Some(120), Some(19)));
    assert!(o.findings[2].detail.contains("cancelled"), "{}", o.findings[2].detail);
    assert!(o.findings[1].detail.contains("no transaction file of the last 14 days"), "{}", o.findings[1].detail);
    let t = &o.summary.currencies["HKD"];
    assert_eq!(t.fees, 101 + 120 + 90 - 18 + 36 - 36 + 54 + 22);
    assert_eq!(t.expected_net, PAYMENT_NET + REFUND_NET - 50);
    assert_eq!(t.settled_net, PAYMENT_NET + REFUND_NET - 50);
}

#[test]
fn summary_mismatch_beyond_half_a_minor_unit_per_row() {
    // REFUND: 2 rows allow |Δ| ≤ 1; PAYMENT: count off by one.
    let w = weekend(vec![
        summary_row("PAYMENT", 5, PAYMENT_NET),
        summary_row("REFUND", 2, REFUND_NET + 1),
        summary_row("TOTAL", 9, PAYMENT_NET + REFUND_NET - 50 + 5),
    ]);
    let o = w.run("2026-11-23");
    let summaries: Vec<_> =
        o.findings.iter().filter(|f| f.category == SummaryMismatch).map(|f| f.alipay_type.clone()).collect();
    assert_eq!(summaries, vec!["PAYMENT".to_string(), "TOTAL".to_string()], "{:#?}", o.findings);
}

#[test]
fn fee_rounding_is_half_up_in_integers() {
    use crate::reconcile::checks::fee_of;
    for (amount, ppm, want) in [
        (5600, 18_000, 101),
        (2500, 20_000, 50),
        (25, 20_000, 1),
        (24, 20_000, 0),
        (0, 18_000, 0),
        (1_000_000_000_000, 18_000, 18_000_000_000),
    ] {
        assert_eq!(fee_of(amount, ppm), want, "{amount} at {ppm} ppm");
    }
}

#[test]
fn no_fee_rule_means_no_fee_check() {
    let mut w = World::new();
    w.txns("2026-11-20", vec![pay("P1", "A1", 5600, "2026-11-20T10:00:00+08:00")]);
    w.settlement("2026-11-20", vec![settle(&pay("P1", "A1", 5600, "2026-11-20T10:00:00+08:00"), 999)]);
    w.sales(&[&lp("P1", "56.00", "SUCCESS", "2026-11-20T10:00:00+08:00")]);
    assert!(w.run("2026-11-20").findings.is_empty());
}

#[test]
fn zero_amount_row_is_a_file_integrity_row_once() {
    let mut w = World::new();
    let zero = pay("P0", "A0", 0, "2026-11-20T10:00:00+08:00");
    w.file(FileKind::Transactions, "2026-11-20", Rows::Detail(vec![zero.clone()]), |_| {});
    let o = w.run("2026-11-20");
    let rows: Vec<_> = o.findings.iter().filter(|f| f.category == FileIntegrity).collect();
    assert_eq!(rows.len(), 1, "{:#?}", o.findings);
    assert!(rows[0].detail.contains("line 2") && rows[0].detail.contains("zero amount"), "{}", rows[0].detail);
    // Flagged by the parser: the parser's warning is the one row.
    let mut w = World::new();
    w.file(FileKind::Transactions, "2026-11-20", Rows::Detail(vec![zero]), |p| {
        p.warnings.push(Warning { line: Some(2), code: WarningCode::ZeroAmount, message: "amount is zero".into() })
    });
    let o = w.run("2026-11-20");
    let rows: Vec<_> = o.findings.iter().filter(|f| f.category == FileIntegrity).collect();
    assert_eq!(rows.len(), 1, "{:#?}", o.findings);
    assert!(rows[0].detail.contains("ZERO_AMOUNT"), "{}", rows[0].detail);
}

#[test]
fn a_voided_payment_settled_on_its_own_day_is_its_own_roll_forward_part() {
    // P8 is paid and cancelled on the 20th and settled the same day together with the refund row that
    // nets it to zero: the check accepts the pair, and the roll-forward names both rows
    // `voided_settled` (the cancel itself is `cancels`), so the bridge still adds up.
    let mut w = World::with(fee_params());
    let at = "2026-11-20T10:00:00+08:00";
    let (p1, p8) = (pay("P1", "A1", 5600, at), pay("P8", "A8", 2000, at));
    w.txns("2026-11-20", vec![p1.clone(), p8.clone(), cancel("P8", "A8", 2000, at)]);
    w.sales(&[&lp("P1", "56.00", "SUCCESS", at), &lp("P8", "20.00", "CANCELLED", at)]);
    let r8 = DetailRow {
        merchant_refund_id: Some("P8".into()),
        original_alipay_id: Some("A8".into()),
        ..refund("RX8", "A8", 2000, at)
    };
    w.settlement("2026-11-20", vec![settle(&p1, 101), settle(&p8, 36), settle(&r8, -36)]);
    let o = w.run("2026-11-20");
    assert!(o.findings.iter().all(|f| f.merchant_trans_id != "P8"), "{:#?}", o.findings);
    let flow = &o.summary.currencies["HKD"].flow;
    let part = |k: &str| flow.iter().find(|p| p.key == k).map(|p| (p.amount, p.count));
    assert_eq!(part("voided_settled"), Some(((2000 - 36) + (-2000 + 36), 2)), "{flow:#?}");
    assert_eq!(part("cancels"), Some((2000, 1)), "{flow:#?}");
    let (findings, pending): (Vec<_>, Vec<_>) = (o.findings.iter().collect(), o.pending.iter().collect());
    let b = crate::report::bridge::bridge(&o.summary, &findings, &pending);
    let r = b[0].roll.as_ref().expect("a roll-forward for HKD");
    assert!(r.unexplained.is_none(), "{:#?}", r.unexplained);
    assert_eq!(r.sum(), r.difference());
}
