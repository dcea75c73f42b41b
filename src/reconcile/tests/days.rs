//! Rules that span days: grace and the next day's file, cancels after midnight, refunds of older
//! payments, carry-forward (written once, open, resolved), status updates by later exports, another
//! business zone, missing and truncated files, UNSETTLED, and determinism.

use super::*;
use crate::domain::Category::*;
use crate::domain::PendingState::{Pending, Resolved};

fn lp(mtid: &str, amount: &str, status: &str, at: &str) -> String {
    format!("PAYMENT,{mtid},,{amount},HKD,{status},{at},S1,T1,")
}

#[test]
fn carried_item_is_written_once_then_open_then_resolved() {
    let mut w = World::new();
    w.txns("2026-11-20", vec![]);
    w.sales(&[&lp("P1", "56.00", "SUCCESS", "2026-11-20T10:00:00+08:00")]);
    let d1 = w.run("2026-11-20");
    assert_eq!(cats(&d1), vec![c(MissingAtAlipay, "P1", "")]);

    w.txns("2026-11-21", vec![]);
    let d2 = w.run("2026-11-21");
    assert!(d2.findings.is_empty(), "written once: {:#?}", d2.findings);
    assert_eq!(d2.open_items.len(), 1);
    let open = &d2.open_items[0];
    assert_eq!((open.first_reported, open.age_days, open.finding.item_date), (d("2026-11-20"), 1, d("2026-11-20")));
    assert_eq!(d2.summary.open_items, 1);

    // Alipay's file of the 22nd finally carries it (booked late): resolved on the 22nd, nowhere else.
    w.txns("2026-11-22", vec![pay("P1", "A1", 5600, "2026-11-22T09:00:00+08:00")]);
    let d3 = w.run("2026-11-22");
    assert!(d3.findings.is_empty() && d3.open_items.is_empty(), "{:#?}", d3);
    assert_eq!(pending(&d3, Resolved), vec![(MissingAtAlipay, "P1".to_string())]);
    assert_eq!(d3.pending[0].first_reported, Some(d("2026-11-20")));
    assert_eq!(d3.summary.resolved, 1);
    let d4 = {
        w.txns("2026-11-23", vec![]);
        w.run("2026-11-23")
    };
    assert!(d4.pending.is_empty() && d4.findings.is_empty() && d4.open_items.is_empty(), "{:#?}", d4);
}

#[test]
fn payment_at_235958_booked_next_day_is_pending_then_clean() {
    let mut w = World::new();
    w.txns("2026-11-20", vec![]);
    w.sales(&[&lp("P1", "56.00", "SUCCESS", "2026-11-20T23:59:58+08:00")]);
    let d1 = w.run("2026-11-20");
    assert!(d1.findings.is_empty(), "{:#?}", d1.findings);
    assert_eq!(pending(&d1, Pending), vec![(MissingAtAlipay, "P1".to_string())]);
    assert!(d1.pending[0].reason.contains("30 minutes"), "{}", d1.pending[0].reason);

    w.txns("2026-11-21", vec![pay("P1", "A1", 5600, "2026-11-21T00:00:03+08:00")]);
    let d2 = w.run("2026-11-21");
    assert!(d2.findings.is_empty() && d2.pending.is_empty() && d2.open_items.is_empty(), "{:#?}", d2);
    assert_eq!(d2.summary.matched, 1);
}

#[test]
fn pending_item_not_explained_next_day_becomes_a_finding_of_that_day() {
    let mut w = World::new();
    w.txns("2026-11-20", vec![pay("P1", "A1", 5600, "2026-11-20T23:45:00+08:00")]);
    assert_eq!(pending(&w.run("2026-11-20"), Pending), vec![(MissingLocally, "P1".to_string())]);
    w.txns("2026-11-21", vec![]);
    let d2 = w.run("2026-11-21");
    assert_eq!(cats(&d2), vec![c(MissingLocally, "P1", "")]);
    assert_eq!((d2.findings[0].business_date, d2.findings[0].item_date), (d("2026-11-21"), d("2026-11-20")));
}

#[test]
fn cancel_after_midnight_explains_a_local_cancel() {
    let mut w = World::new();
    w.txns("2026-11-20", vec![pay("P1", "A1", 5600, "2026-11-20T23:58:00+08:00")]);
    w.sales(&[&lp("P1", "56.00", "CANCELLED", "2026-11-20T23:58:00+08:00")]);
    let d1 = w.run("2026-11-20");
    assert!(d1.findings.is_empty(), "{:#?}", d1.findings);
    assert_eq!(pending(&d1, Pending), vec![(StatusMismatch, "P1".to_string())]);
    w.txns("2026-11-21", vec![cancel("P1", "A1", 5600, "2026-11-21T00:05:00+08:00")]);
    let d2 = w.run("2026-11-21");
    assert!(d2.findings.is_empty() && d2.pending.is_empty() && d2.open_items.is_empty(), "{:#?}", d2);
}

#[test]
fn cancel_that_never_comes_becomes_status_mismatch() {
    let mut w = World::new();
    w.txns("2026-11-20", vec![pay("P1", "A1", 5600, "2026-11-20T23:50:00+08:00")]);
    w.sales(&[&lp("P1", "56.00", "CANCELLED", "2026-11-20T23:50:00+08:00")]);
    w.txns("2026-11-21", vec![]);
    assert_eq!(cats(&w.run("2026-11-21")), vec![c(StatusMismatch, "P1", "")]);
}

#[test]
fn refund_of_an_earlier_days_payment() {
    let mut w = World::new();
    w.txns("2026-11-18", vec![pay("P1", "A1", 5600, "2026-11-18T10:00:00+08:00")]);
    w.sales(&[&lp("P1", "56.00", "SUCCESS", "2026-11-18T10:00:00+08:00")]);
    w.txns("2026-11-20", vec![refund("R1", "A1", 5600, "2026-11-20T10:00:00+08:00")]);
    w.sales(&["REFUND,P1,R1,56.00,HKD,SUCCESS,2026-11-20T10:00:00+08:00,,,A1"]);
    let o = w.run("2026-11-20");
    assert!(o.findings.is_empty() && o.pending.is_empty(), "{:#?}", o);
    assert_eq!(o.summary.matched, 2);
    // Without the local refund: MISSING_LOCALLY names the payment found through Alipay's id.
    let mut w = World::new();
    w.txns("2026-11-18", vec![pay("P1", "A1", 5600, "2026-11-18T10:00:00+08:00")]);
    w.txns("2026-11-20", vec![refund("R1", "A1", 6000, "2026-11-20T10:00:00+08:00")]);
    let o = w.run("2026-11-20");
    assert_eq!(cats(&o), vec![c(MissingLocally, "P1", "R1")]);
}

#[test]
fn unknown_resolved_by_a_later_export() {
    let mut w = World::new();
    w.txns("2026-11-20", vec![pay("P1", "A1", 5600, "2026-11-20T10:00:00+08:00")]);
    w.sales(&[&lp("P1", "56.00", "UNKNOWN", "2026-11-20T10:00:00+08:00")]);
    let first = w.run("2026-11-20");
    assert_eq!(cats(&first), vec![c(StatusMismatch, "P1", "")]);
    assert!(first.findings[0].detail.contains("captured at Alipay: mark SUCCESS"));
    // The next day's export restates P1 as SUCCESS.
    w.txns("2026-11-21", vec![pay("P2", "A2", 100, "2026-11-21T10:00:00+08:00")]);
    w.sales(&[
        &lp("P1", "56.00", "SUCCESS", "2026-11-20T10:00:00+08:00"),
        &lp("P2", "1.00", "SUCCESS", "2026-11-21T10:00:00+08:00"),
    ]);
    let next = w.run("2026-11-21");
    assert!(next.findings.is_empty(), "{:#?}", next.findings);
    assert_eq!(pending(&next, Resolved), vec![(StatusMismatch, "P1".to_string())]);
    // Rerunning the 20th after the 21st's data gives the original report (determinism).
    assert_eq!(w.run("2026-11-20"), first);
}

#[test]
fn merchant_in_utc_plus_9() {
    let p = Params { zone: "UTC+9".parse().unwrap(), ..Params::default() };
    let mut w = World::with(p);
    // 23:50 in Tokyo on the 20th: inside the grace of the 20th (a UTC+8 zone would call it 22:50).
    w.txns("2026-11-20", vec![]);
    w.sales(&[&lp("P1", "56.00", "SUCCESS", "2026-11-20T23:50:00+09:00")]);
    let d1 = w.run("2026-11-20");
    assert!(d1.findings.is_empty(), "{:#?}", d1.findings);
    assert_eq!(pending(&d1, Pending), vec![(MissingAtAlipay, "P1".to_string())]);
    // 00:10 on the 21st in Tokyo is still the 20th in Beijing, but the merchant's day is the 21st.
    w.txns("2026-11-21", vec![pay("P1", "A1", 5600, "2026-11-21T00:01:00+09:00")]);
    w.sales(&[&lp("P2", "1.00", "SUCCESS", "2026-11-20T23:10:00+08:00")]);
    let d2 = w.run("2026-11-21");
    assert_eq!(cats(&d2), vec![c(MissingAtAlipay, "P2", "")]);
    assert_eq!(d2.findings[0].item_date, d("2026-11-21"));
    assert!(d2.pending.is_empty(), "{:#?}", d2.pending);
}

#[test]
fn missing_transaction_file_keeps_local_items_pending() {
    let mut w = World::new();
    w.sales(&[&lp("P1", "56.00", "SUCCESS", "2026-11-20T10:00:00+08:00")]);
    let o = w.run("2026-11-20");
    assert_eq!(cats(&o), vec![c(FileIntegrity, "", "")]);
    assert!(o.findings[0].detail.contains("no Alipay transaction file for 2026-11-20"), "{}", o.findings[0].detail);
    assert_eq!(pending(&o, Pending), vec![(MissingAtAlipay, "P1".to_string())]);
    assert!(o.pending[0].reason.contains("waiting for a complete"));
    // Only FAILED local sales and no file: a clean day.
    let mut w = World::new();
    w.sales(&[&lp("P1", "56.00", "FAILED", "2026-11-20T10:00:00+08:00")]);
    assert_eq!(w.run("2026-11-20"), Outcome { summary: w.run("2026-11-20").summary, ..Outcome::default() });
    // The file arrives late: the day's rerun is clean and matched.
    let mut w = World::new();
    w.sales(&[&lp("P1", "56.00", "SUCCESS", "2026-11-20T10:00:00+08:00")]);
    w.txns("2026-11-20", vec![pay("P1", "A1", 5600, "2026-11-20T10:00:00+08:00")]);
    let o = w.run("2026-11-20");
    assert!(o.findings.is_empty() && o.pending.is_empty());
}

#[test]
fn truncated_transaction_file_reports_and_waits() {
    let mut w = World::new();
    w.truncated_txns("2026-11-20", vec![pay("P1", "A1", 5600, "2026-11-20T10:00:00+08:00")]);
    w.sales(&[
        &lp("P1", "56.00", "SUCCESS", "2026-11-20T10:00:00+08:00"),
        &lp("P2", "9.00", "SUCCESS", "2026-11-20T11:00:00+08:00"),
    ]);
    let o = w.run("2026-11-20");
    assert_eq!(cats(&o), vec![c(FileIntegrity, "", "")]);
    assert!(o.findings[0].detail.contains("ALIPAY_TRANSACTION_DETAIL_HKD_20261120.csv"), "{}", o.findings[0].detail);
    assert!(o.findings[0].detail.contains("MISSING_END"));
    assert_eq!(pending(&o, Pending), vec![(MissingAtAlipay, "P2".to_string())]);
    assert_eq!(o.summary.matched, 1);
}

#[test]
fn unsettled_after_the_delay_is_reported_once() {
    let mut w = World::new();
    w.txns(
        "2026-11-10",
        vec![pay("P1", "A1", 5600, "2026-11-10T10:00:00+08:00"), pay("P2", "A2", 100, "2026-11-10T10:00:00+08:00")],
    );
    w.sales(&[
        &lp("P1", "56.00", "SUCCESS", "2026-11-10T10:00:00+08:00"),
        &lp("P2", "1.00", "SUCCESS", "2026-11-10T10:00:00+08:00"),
    ]);
    w.settlement("2026-11-12", vec![settle(&pay("P2", "A2", 100, "2026-11-10T10:00:00+08:00"), 2)]);
    for day in 11..=16 {
        w.txns(&format!("2026-11-{day}"), vec![]);
        assert!(w.run(&format!("2026-11-{day}")).findings.is_empty(), "day {day}");
    }
    w.txns("2026-11-17", vec![]);
    let o = w.run("2026-11-17");
    assert_eq!(cats(&o), vec![c(Unsettled, "P1", "")]);
    assert_eq!(o.findings[0].item_date, d("2026-11-10"));
    w.txns("2026-11-18", vec![]);
    let o = w.run("2026-11-18");
    assert!(o.findings.is_empty());
    assert_eq!(o.open_items.iter().map(|i| i.finding.category).collect::<Vec<_>>(), vec![Unsettled]);
}

/// A cancelled payment is never UNSETTLED, but only a cancel dated up to T counts: rerun after a
/// cancel dated T+1 is stored, day T still reports the payment UNSETTLED (the incremental load
/// leaves out the UNSETTLED day's payments cancelled from their day to T, not later).
#[test]
fn a_cancel_after_t_does_not_hide_an_unsettled_payment_of_t() {
    let mut w = World::new();
    w.txns(
        "2026-11-10",
        vec![pay("P1", "A1", 5600, "2026-11-10T10:00:00+08:00"), pay("P2", "A2", 700, "2026-11-10T11:00:00+08:00")],
    );
    w.sales(&[
        &lp("P1", "56.00", "SUCCESS", "2026-11-10T10:00:00+08:00"),
        &lp("P2", "7.00", "SUCCESS", "2026-11-10T11:00:00+08:00"),
    ]);
    for day in 11..=16 {
        w.txns(&format!("2026-11-{day}"), vec![]);
    }
    // P2 is cancelled on the 16th (within the delay): never UNSETTLED. P1 is cancelled on the 18th.
    w.txns("2026-11-16", vec![cancel("P2", "A2", 700, "2026-11-16T09:00:00+08:00")]);
    w.txns("2026-11-17", vec![]);
    w.txns("2026-11-18", vec![cancel("P1", "A1", 5600, "2026-11-18T09:00:00+08:00")]);
    let o = w.run("2026-11-17");
    let unsettled: Vec<_> =
        o.findings.iter().filter(|f| f.category == Unsettled).map(|f| f.merchant_trans_id.as_str()).collect();
    assert_eq!(unsettled, vec!["P1"], "{:#?}", o.findings);
}

#[test]
fn rerun_of_t_after_t_plus_1_is_identical() {
    let mut w = World::new();
    w.txns(
        "2026-11-20",
        vec![
            pay("P1", "A1", 5600, "2026-11-20T10:00:00+08:00"),
            pay("P2", "A2", 700, "2026-11-20T23:59:00+08:00"),
            pay("P3", "A3", 300, "2026-11-20T12:00:00+08:00"),
        ],
    );
    w.sales(&[
        &lp("P1", "56.00", "UNKNOWN", "2026-11-20T10:00:00+08:00"),
        &lp("P2", "7.00", "CANCELLED", "2026-11-20T23:59:00+08:00"),
        &lp("P4", "4.00", "SUCCESS", "2026-11-20T23:59:30+08:00"),
    ]);
    let alone = w.run("2026-11-20");
    assert!(!alone.findings.is_empty() && !alone.pending.is_empty());
    w.txns(
        "2026-11-21",
        vec![cancel("P2", "A2", 700, "2026-11-21T00:03:00+08:00"), pay("P4", "A4", 400, "2026-11-21T00:00:10+08:00")],
    );
    w.sales(&[
        &lp("P1", "56.00", "SUCCESS", "2026-11-20T10:00:00+08:00"),
        &lp("P5", "5.00", "SUCCESS", "2026-11-21T08:00:00+08:00"),
    ]);
    w.settlement("2026-11-21", vec![settle(&pay("P1", "A1", 5600, "2026-11-20T10:00:00+08:00"), 10)]);
    let next = w.run("2026-11-21");
    assert_eq!(w.run("2026-11-20"), alone, "T's result must not change when T+1 arrives");
    assert_eq!(w.run("2026-11-21"), next, "a rerun gives the same result");
}

#[test]
fn missing_file_row_is_open_while_the_file_stays_missing() {
    let mut w = World::new();
    w.sales(&[&lp("P1", "56.00", "SUCCESS", "2026-11-20T10:00:00+08:00")]);
    w.txns("2026-11-21", vec![]);
    let o = w.run("2026-11-21");
    assert!(o.findings.is_empty(), "{:#?}", o.findings);
    assert_eq!(
        o.open_items.iter().map(|i| (i.finding.category, i.first_reported)).collect::<Vec<_>>(),
        vec![(FileIntegrity, d("2026-11-20"))]
    );
    assert_eq!(pending(&o, Pending), vec![(MissingAtAlipay, "P1".to_string())]);
    w.txns("2026-11-20", vec![pay("P1", "A1", 5600, "2026-11-20T10:00:00+08:00")]);
    let o = w.run("2026-11-21");
    assert!(o.findings.is_empty() && o.open_items.is_empty() && o.pending.is_empty(), "{:#?}", o);
}

#[test]
fn pair_by_alipay_id_is_carried_as_one_item() {
    let mut w = World::new();
    w.txns(
        "2026-11-20",
        vec![DetailRow { merchant_trans_id: None, ..pay("x", "A5", 5600, "2026-11-20T10:00:00+08:00") }],
    );
    w.sales(&["PAYMENT,P5,,55.00,HKD,SUCCESS,2026-11-20T10:00:00+08:00,,,A5"]);
    assert_eq!(cats(&w.run("2026-11-20")), vec![c(AmountMismatch, "P5", "")]);
    w.txns("2026-11-21", vec![]);
    let o = w.run("2026-11-21");
    assert!(o.findings.is_empty(), "{:#?}", o.findings);
    assert_eq!(o.open_items.len(), 1);
    assert_eq!(o.open_items[0].finding.acquirement_id, "A5");
}

#[test]
fn late_sale_waits_while_the_next_days_file_is_missing() {
    let mut w = World::new();
    w.txns("2026-11-20", vec![]);
    w.sales(&[
        &lp("P1", "56.00", "SUCCESS", "2026-11-20T23:59:58+08:00"),
        &lp("P2", "5.00", "SUCCESS", "2026-11-21T09:00:00+08:00"),
    ]);
    let o = w.run("2026-11-21");
    assert_eq!(cats(&o), vec![c(FileIntegrity, "", "")]);
    let mut p = pending(&o, Pending);
    p.sort();
    assert_eq!(p, vec![(MissingAtAlipay, "P1".to_string()), (MissingAtAlipay, "P2".to_string())]);
    assert!(o.pending.iter().all(|p| p.reason.contains("file of 2026-11-21")), "{:#?}", o.pending);
    w.txns(
        "2026-11-21",
        vec![pay("P1", "A1", 5600, "2026-11-21T00:00:02+08:00"), pay("P2", "A2", 500, "2026-11-21T09:00:00+08:00")],
    );
    let o = w.run("2026-11-21");
    assert!(o.findings.is_empty() && o.pending.is_empty() && o.open_items.is_empty(), "{:#?}", o);
}

#[test]
fn refund_of_a_payment_older_than_the_window_names_it() {
    let mut w = World::new();
    w.txns("2026-10-01", vec![pay("OLD1", "AOLD", 5600, "2026-10-01T10:00:00+08:00")]);
    w.txns("2026-11-20", vec![refund("R9", "AOLD", 1000, "2026-11-20T10:00:00+08:00")]);
    let o = w.run("2026-11-20");
    assert_eq!(cats(&o), vec![c(MissingLocally, "OLD1", "R9")]);
}

#[test]
fn success_cancelled_at_alipay_on_a_later_day() {
    let mut w = World::new();
    w.txns("2026-11-20", vec![pay("P1", "A1", 5600, "2026-11-20T22:00:00+08:00")]);
    w.sales(&[&lp("P1", "56.00", "SUCCESS", "2026-11-20T22:00:00+08:00")]);
    assert!(w.run("2026-11-20").findings.is_empty());
    w.txns("2026-11-21", vec![cancel("P1", "A1", 5600, "2026-11-21T00:10:00+08:00")]);
    let o = w.run("2026-11-21");
    assert_eq!(cats(&o), vec![c(StatusMismatch, "P1", "")]);
    assert_eq!((o.findings[0].item_date, o.findings[0].alipay_type.as_str()), (d("2026-11-20"), "PAYMENT+CANCEL"));
}

#[test]
fn an_old_local_refund_alipay_never_had_counts_when_its_payment_is_refunded_again() {
    // P1 is paid on the 2nd; the till records a refund R1 on the 3rd that never reaches Alipay
    // (MISSING_AT_ALIPAY, open for the open-item look-back, then past it). On the 14th Alipay refunds
    // R2 of P1: the incremental day must load R1 as well — by its payment id only (no Alipay row
    // names it, and it has no acquirement id) — or its state differs from the whole window's.
    let mut w = World::new();
    w.txns("2026-11-02", vec![pay("P1", "A1", 10_000, "2026-11-02T10:00:00+08:00")]);
    w.sales(&[&lp("P1", "100.00", "SUCCESS", "2026-11-02T10:00:00+08:00")]);
    w.txns("2026-11-03", vec![]);
    w.sales(&["REFUND,P1,R1,60.00,HKD,SUCCESS,2026-11-03T10:00:00+08:00,,,"]);
    for day in 4..=13 {
        w.txns(&format!("2026-11-{day:02}"), vec![]);
    }
    w.txns("2026-11-14", vec![refund("R2", "A1", 5_000, "2026-11-14T10:00:00+08:00")]);
    w.sales(&["REFUND,P1,R2,50.00,HKD,SUCCESS,2026-11-14T10:00:00+08:00,,,A1"]);
    let o = w.run("2026-11-14");
    assert!(!o.findings.is_empty(), "R1 and R2 refund more than P1 took: {:#?}", o);
}
