//! Item categories, one table row per rule: Alipay rows of day D, local sales lines, the findings
//! D's report must list (category, payment id, refund id).

use super::*;
use crate::domain::Category::*;

const D: &str = "2026-11-20";
const AT: &str = "2026-11-20T10:00:00+08:00";

/// A sales-v1 line created at 10:00 on D.
fn l(kind: &str, mtid: &str, mrid: &str, amount: &str, ccy: &str, status: &str, aid: &str) -> String {
    format!("{kind},{mtid},{mrid},{amount},{ccy},{status},{AT},S1,T1,{aid}")
}

fn lp(mtid: &str, amount: &str, status: &str) -> String {
    l("PAYMENT", mtid, "", amount, "HKD", status, "")
}

struct Case {
    name: &'static str,
    alipay: Vec<DetailRow>,
    sales: Vec<String>,
    want: Vec<(Category, &'static str, &'static str)>,
    detail: Option<&'static str>,
}

fn case(
    name: &'static str,
    alipay: Vec<DetailRow>,
    sales: Vec<String>,
    want: Vec<(Category, &'static str, &'static str)>,
) -> Case {
    Case { name, alipay, sales, want, detail: None }
}

fn cases() -> Vec<Case> {
    let p1 = || pay("P1", "A1", 5600, AT);
    vec![
        case("matched payment", vec![p1()], vec![lp("P1", "56.00", "SUCCESS")], vec![]),
        case("missing locally", vec![p1()], vec![], vec![(MissingLocally, "P1", "")]),
        case("missing at alipay", vec![], vec![lp("P3", "56.00", "SUCCESS")], vec![(MissingAtAlipay, "P3", "")]),
        case(
            "local cancelled, captured",
            vec![p1()],
            vec![lp("P1", "56.00", "CANCELLED")],
            vec![(StatusMismatch, "P1", "")],
        ),
        case("local failed, captured", vec![p1()], vec![lp("P1", "56.00", "FAILED")], vec![(StatusMismatch, "P1", "")]),
        case(
            "local success, cancelled at alipay",
            vec![p1(), cancel("P1", "A1", 5600, "2026-11-20T10:01:00+08:00")],
            vec![lp("P1", "56.00", "SUCCESS")],
            vec![(StatusMismatch, "P1", "")],
        ),
        Case {
            detail: Some("captured at Alipay: mark SUCCESS"),
            ..case(
                "unknown, captured",
                vec![p1()],
                vec![lp("P1", "56.00", "UNKNOWN")],
                vec![(StatusMismatch, "P1", "")],
            )
        },
        Case {
            detail: Some("not at Alipay: mark FAILED"),
            ..case("unknown, absent", vec![], vec![lp("P7", "56.00", "UNKNOWN")], vec![(StatusMismatch, "P7", "")])
        },
        case(
            "currency differs",
            vec![p1()],
            vec![l("PAYMENT", "P1", "", "56.00", "CNY", "SUCCESS", "")],
            vec![(CurrencyMismatch, "P1", "")],
        ),
        case("amount differs", vec![p1()], vec![lp("P1", "55.00", "SUCCESS")], vec![(AmountMismatch, "P1", "")]),
        case(
            "two PAYMENT rows in a day",
            vec![p1(), pay("P1", "A1b", 5600, "2026-11-20T10:02:00+08:00")],
            vec![lp("P1", "56.00", "SUCCESS")],
            vec![(Duplicate, "P1", "")],
        ),
        case(
            "conflicting local rows",
            vec![p1()],
            vec![lp("P1", "56.00", "SUCCESS"), lp("P1", "57.00", "SUCCESS")],
            vec![(Duplicate, "P1", "")],
        ),
        case("local failed, not at alipay", vec![], vec![lp("P8", "56.00", "FAILED")], vec![]),
        case(
            "local cancelled, paid and cancelled",
            vec![p1(), cancel("P1", "A1", 5600, "2026-11-20T10:01:00+08:00")],
            vec![lp("P1", "56.00", "CANCELLED")],
            vec![],
        ),
        case("lone cancel is a void", vec![cancel("P9", "A9", 100, AT)], vec![], vec![]),
        case(
            "payment by Alipay id when the row has no merchant id",
            vec![DetailRow { merchant_trans_id: None, ..pay("x", "A5", 5600, AT) }],
            vec![l("PAYMENT", "P5", "", "56.00", "HKD", "SUCCESS", "A5")],
            vec![],
        ),
        case(
            "refund matched by refund id",
            vec![p1(), refund("R1", "A1", 1000, "2026-11-20T11:00:00+08:00")],
            vec![lp("P1", "56.00", "SUCCESS"), l("REFUND", "P1", "R1", "10.00", "HKD", "SUCCESS", "A1")],
            vec![],
        ),
        case(
            "refund missing locally names its payment",
            vec![p1(), refund("R1", "A1", 1000, "2026-11-20T11:00:00+08:00")],
            vec![lp("P1", "56.00", "SUCCESS")],
            vec![(MissingLocally, "P1", "R1")],
        ),
        case(
            "refund matched by payment Alipay id and amount",
            vec![p1(), refund("X9", "A1", 1000, "2026-11-20T11:00:00+08:00")],
            vec![lp("P1", "56.00", "SUCCESS"), l("REFUND", "P1", "R1", "10.00", "HKD", "SUCCESS", "A1")],
            vec![],
        ),
        case(
            "refunds exceed the payment",
            vec![
                p1(),
                refund("R1", "A1", 4000, "2026-11-20T11:00:00+08:00"),
                refund("R2", "A1", 2000, "2026-11-20T12:00:00+08:00"),
            ],
            vec![
                lp("P1", "56.00", "SUCCESS"),
                l("REFUND", "P1", "R1", "40.00", "HKD", "SUCCESS", "A1"),
                l("REFUND", "P1", "R2", "20.00", "HKD", "SUCCESS", "A1"),
            ],
            vec![(AmountMismatch, "P1", "R2")],
        ),
        case(
            "local failed refund vs Alipay refund",
            vec![p1(), refund("R1", "A1", 1000, "2026-11-20T11:00:00+08:00")],
            vec![lp("P1", "56.00", "SUCCESS"), l("REFUND", "P1", "R1", "10.00", "HKD", "FAILED", "A1")],
            vec![(StatusMismatch, "P1", "R1")],
        ),
        case(
            "local refund missing at alipay",
            vec![p1()],
            vec![lp("P1", "56.00", "SUCCESS"), l("REFUND", "P1", "R1", "10.00", "HKD", "SUCCESS", "A1")],
            vec![(MissingAtAlipay, "P1", "R1")],
        ),
        case(
            "two REFUND rows for one refund id",
            vec![
                p1(),
                refund("R1", "A1", 1000, "2026-11-20T11:00:00+08:00"),
                refund("R1", "A1", 1000, "2026-11-20T11:05:00+08:00"),
            ],
            vec![lp("P1", "56.00", "SUCCESS"), l("REFUND", "P1", "R1", "10.00", "HKD", "SUCCESS", "A1")],
            vec![(Duplicate, "P1", "R1")],
        ),
        Case {
            detail: Some("refunded at Alipay: mark SUCCESS"),
            ..case(
                "unknown refund done at alipay",
                vec![p1(), refund("R1", "A1", 1000, "2026-11-20T11:00:00+08:00")],
                vec![lp("P1", "56.00", "SUCCESS"), l("REFUND", "P1", "R1", "10.00", "HKD", "UNKNOWN", "A1")],
                vec![(StatusMismatch, "P1", "R1")],
            )
        },
        case(
            "refund in another currency",
            vec![p1(), refund("R1", "A1", 1000, "2026-11-20T11:00:00+08:00")],
            vec![lp("P1", "56.00", "SUCCESS"), l("REFUND", "P1", "R1", "10.00", "CNY", "SUCCESS", "A1")],
            vec![(CurrencyMismatch, "P1", "R1")],
        ),
        case(
            "a refund is never matched to a payment with the same id",
            vec![pay("Z1", "AZ", 1000, AT)],
            vec![l("REFUND", "Q1", "Z1", "10.00", "HKD", "SUCCESS", "")],
            vec![(MissingLocally, "Z1", ""), (MissingAtAlipay, "Q1", "Z1")],
        ),
    ]
}

#[test]
fn item_categories_table() {
    for c in cases() {
        let mut w = World::new();
        w.txns(D, c.alipay);
        let lines: Vec<&str> = c.sales.iter().map(String::as_str).collect();
        if !lines.is_empty() {
            w.sales(&lines);
        }
        let o = w.run(D);
        let want: Vec<_> = c.want.iter().map(|(k, m, r)| super::c(*k, m, r)).collect();
        assert_eq!(cats(&o), want, "case '{}': {:#?}", c.name, o.findings);
        if let Some(text) = c.detail {
            assert!(o.findings[0].detail.contains(text), "case '{}': {}", c.name, o.findings[0].detail);
        }
        assert!(o.pending.is_empty() && o.open_items.is_empty(), "case '{}': {:#?}", c.name, o.pending);
        for f in &o.findings {
            assert_eq!((f.business_date, f.item_date), (d(D), d(D)), "case '{}'", c.name);
            assert!(f.detail.ends_with('.') && !f.detail.contains('\n'), "case '{}': {}", c.name, f.detail);
        }
    }
}

#[test]
fn amount_mismatch_carries_both_amounts_and_tolerance_applies() {
    let mut w = World::new();
    w.txns(D, vec![pay("P1", "A1", 5600, AT)]);
    w.sales(&[&lp("P1", "55.99", "SUCCESS")]);
    let f = &w.run(D).findings[0];
    assert_eq!((f.local_amount, f.alipay_amount, f.difference()), (Some(5599), Some(5600), Some(1)));
    assert_eq!(
        (f.local_type.as_str(), f.alipay_type.as_str(), f.acquirement_id.as_str()),
        ("PAYMENT SUCCESS", "PAYMENT", "A1")
    );
    let mut p = Params::default();
    p.amount_tolerance.insert(hkd(), 1);
    let mut w2 = World::with(p);
    w2.txns(D, vec![pay("P1", "A1", 5600, AT)]);
    w2.sales(&[&lp("P1", "55.99", "SUCCESS")]);
    let o = w2.run(D);
    assert!(o.findings.is_empty(), "{:#?}", o.findings);
    assert_eq!(o.summary.matched, 1);
}

#[test]
fn payment_again_after_capture_on_an_earlier_day_is_a_duplicate() {
    let mut w = World::new();
    w.txns("2026-11-19", vec![pay("P1", "A1", 5600, "2026-11-19T10:00:00+08:00")]);
    w.sales(&[&l("PAYMENT", "P1", "", "56.00", "HKD", "SUCCESS", "").replace(AT, "2026-11-19T10:00:00+08:00")]);
    assert!(w.run("2026-11-19").findings.is_empty());
    w.txns(D, vec![pay("P1", "A2", 5600, AT)]);
    let o = w.run(D);
    assert_eq!(cats(&o), vec![c(Duplicate, "P1", "")]);
    assert!(o.findings[0].detail.contains("again on 2026-11-20"), "{}", o.findings[0].detail);
}

/// Three PAYMENT rows for one key: the per-day counts come from the engine's exact count for keys
/// with more than two rows (`days_per_key`), not from the first and last day.
#[test]
fn three_payment_rows_are_counted_per_day_exactly() {
    let at = |day: &str| format!("{day}T10:00:00+08:00");
    // The DUPLICATE item of T, whether first found on T or open since an earlier day.
    let duplicate = |o: &Outcome| -> String {
        let all: Vec<_> = o.findings.iter().chain(o.open_items.iter().map(|x| &x.finding)).collect();
        assert_eq!(all.len(), 1, "{all:#?}");
        assert_eq!(all[0].category, Duplicate);
        all[0].detail.clone()
    };
    // Three days, one row each: booked again on later days.
    let mut w = World::new();
    for (i, day) in ["2026-11-18", "2026-11-19", "2026-11-20"].into_iter().enumerate() {
        w.txns(day, vec![pay("P1", &format!("A{i}"), 5600, &at(day))]);
    }
    w.sales(&[&lp("P1", "56.00", "SUCCESS")]);
    let detail = duplicate(&w.run(D));
    assert!(detail.contains("again on 2026-11-20"), "{detail}");
    // Two on one day and one on another: several rows on one day.
    let mut w = World::new();
    w.txns("2026-11-19", vec![pay("P1", "A1", 5600, &at("2026-11-19"))]);
    w.txns(D, vec![pay("P1", "A2", 5600, AT), pay("P1", "A3", 5600, "2026-11-20T11:00:00+08:00")]);
    w.sales(&[&lp("P1", "56.00", "SUCCESS")]);
    let detail = duplicate(&w.run(D));
    assert!(detail.contains("have 3 PAYMENT rows"), "{detail}");
}
