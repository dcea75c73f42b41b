//! The sample report input of the tests: every category, JPY and KWD amounts, hostile free text,
//! a trend with gaps. Lists are deliberately out of order (the writer sorts).

use crate::domain::{
    Category, Currency, CurrencyTotals, FileFormat, FileKind, Finding, OpenItem, PendingItem, PendingState,
};
use crate::report::{FileWarning, InputFile, ReportInput, TrendPoint};
use chrono::NaiveDate;

pub fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn c(s: &str) -> Option<Currency> {
    Some(Currency::parse(s).unwrap())
}

pub const DATE: &str = "2026-11-25";

#[allow(clippy::too_many_arguments)]
fn f(
    cat: Category,
    item: &str,
    ids: (&str, &str, &str),
    local: (Option<&str>, Option<i64>),
    alipay: (Option<&str>, Option<i64>),
    types: (&str, &str),
    detail: &str,
) -> Finding {
    Finding {
        business_date: d(DATE),
        item_date: d(item),
        category: cat,
        merchant_trans_id: ids.0.into(),
        merchant_refund_id: ids.1.into(),
        acquirement_id: ids.2.into(),
        currency: local.0.and_then(c),
        local_amount: local.1,
        alipay_currency: alipay.0.and_then(c),
        alipay_amount: alipay.1,
        local_type: types.0.into(),
        alipay_type: types.1.into(),
        detail: detail.into(),
    }
}

/// Every category, JPY and KWD amounts, hostile free text; lists deliberately out of order.
pub fn sample() -> ReportInput {
    use Category::*;
    let mut r = ReportInput::new(d(DATE), "Harbour Tea <House> & \"Co\"");
    r.tool_version = "0.0.0-test".into();
    r.config_hash = "cfg-0123abcd".into();
    r.findings = vec![
        f(
            FileIntegrity,
            DATE,
            ("", "", ""),
            (None, None),
            (None, None),
            ("", ""),
            "\tfile 20261125_HKD_trans.csv line 7 was rejected (bad amount): fix or ask Alipay to resend.",
        ),
        f(
            AmountMismatch,
            DATE,
            ("P-AM-2", "", "2026112522001"),
            (Some("JPY"), Some(5600)),
            (Some("JPY"), Some(5000)),
            ("PAYMENT SUCCESS", "PAYMENT"),
            "Alipay captured 5000 JPY but the receipt says 5600: collect the difference.",
        ),
        f(
            AmountMismatch,
            DATE,
            ("P-AM-1", "R-AM-1", "2026112522002"),
            (Some("HKD"), Some(1000)),
            (Some("HKD"), Some(1250)),
            ("REFUND SUCCESS", "REFUND"),
            "\"quoted, with comma\" refund differs: check the refund slip.",
        ),
        f(
            AmountMismatch,
            DATE,
            ("P-AM-3", "", ""),
            (Some("KWD"), Some(1234)),
            (Some("KWD"), Some(1230)),
            ("PAYMENT SUCCESS", "PAYMENT"),
            "KWD amounts differ by 0.004: check the terminal.",
        ),
        f(
            Duplicate,
            DATE,
            ("P-DUP-1", "", "2026112522003"),
            (Some("HKD"), Some(5600)),
            (Some("HKD"), Some(5600)),
            ("PAYMENT SUCCESS", "PAYMENT"),
            "Alipay lists P-DUP-1 twice (56.00, 56.00): ask Alipay which one is real.",
        ),
        f(
            MissingLocally,
            DATE,
            ("=1+2", "", "2026112522004"),
            (Some("JPY"), None),
            (Some("JPY"), Some(5600)),
            ("", "PAYMENT"),
            "Alipay captured 5600 JPY with no sales record: record the sale.",
        ),
        f(
            MissingAtAlipay,
            DATE,
            ("P-MA-1", "", ""),
            (Some("KWD"), Some(1234)),
            (None, None),
            ("PAYMENT SUCCESS", ""),
            "=HYPERLINK(\"http://evil.example\",\"click\")",
        ),
        f(
            StatusMismatch,
            DATE,
            ("P-SM-1", "", "2026112522005"),
            (Some("HKD"), Some(10000)),
            (Some("HKD"), Some(10000)),
            ("PAYMENT UNKNOWN", "PAYMENT"),
            "captured at Alipay: mark SUCCESS",
        ),
        f(
            CurrencyMismatch,
            DATE,
            ("P-CM-1", "", ""),
            (Some("HKD"), Some(10000)),
            (Some("CNY"), Some(8800)),
            ("PAYMENT SUCCESS", "PAYMENT"),
            "Alipay priced it in CNY, the sale in HKD: check the terminal currency.",
        ),
        f(
            Unsettled,
            "2026-11-17",
            ("P-UN-1", "", "2026111722006"),
            (None, None),
            (Some("HKD"), Some(20000)),
            ("", "PAYMENT"),
            "<script>alert(1)</script> not settled after 7 days: ask Alipay.",
        ),
        f(
            SettlementMismatch,
            DATE,
            ("P-SE-1", "", "2026112422007"),
            (Some("HKD"), Some(5000)),
            (Some("HKD"), Some(4900)),
            ("", "PAYMENT"),
            "Settlement line 4 settles 49.00 for a 50.00 payment: raise it with Alipay.",
        ),
        f(
            FeeMismatch,
            DATE,
            ("P-FE-1", "", "2026112422008"),
            (Some("HKD"), Some(180)),
            (Some("HKD"), Some(200)),
            ("", "PAYMENT"),
            "-fee charged 2.00, expected 1.80 at 1.8%: dispute the fee.",
        ),
        f(
            SummaryMismatch,
            DATE,
            ("", "", ""),
            (Some("HKD"), Some(100000)),
            (Some("HKD"), Some(100001)),
            ("", "PAYMENT"),
            "@summary total 1000.01 vs detail rows 1000.00: ask Alipay to restate.",
        ),
    ];
    let pending_item = f(
        MissingAtAlipay,
        DATE,
        ("P-PD-1", "", ""),
        (Some("HKD"), Some(2000)),
        (None, None),
        ("PAYMENT SUCCESS", ""),
        "Not in Alipay's file yet.",
    );
    let resolved_item = f(
        MissingLocally,
        "2026-11-24",
        ("P-RS-1", "", "2026112422009"),
        (Some("HKD"), None),
        (Some("HKD"), Some(3000)),
        ("", "PAYMENT"),
        "Alipay captured 30.00 with no sales record.",
    );
    r.pending = vec![
        PendingItem {
            state: PendingState::Resolved,
            finding: resolved_item,
            first_reported: Some(d("2026-11-24")),
            reason: "=explained by the sales file of 2026-11-25".into(),
        },
        PendingItem {
            state: PendingState::Pending,
            finding: pending_item,
            first_reported: None,
            reason: "created 23:50, inside the 30-minute grace: waiting for 2026-11-26's file".into(),
        },
    ];
    r.open_items = vec![
        OpenItem {
            finding: f(
                StatusMismatch,
                "2026-11-21",
                ("P-OP-2", "", ""),
                (Some("JPY"), Some(1200)),
                (None, None),
                ("PAYMENT UNKNOWN", ""),
                "not at Alipay: mark FAILED",
            ),
            first_reported: d("2026-11-21"),
            age_days: 4,
        },
        OpenItem {
            finding: f(
                MissingAtAlipay,
                "2026-11-20",
                ("P-OP-1", "", ""),
                (Some("HKD"), Some(4500)),
                (None, None),
                ("PAYMENT SUCCESS", ""),
                "Alipay has no such payment: ask the store.",
            ),
            first_reported: d("2026-11-21"),
            age_days: 5,
        },
    ];
    let hkd = CurrencyTotals {
        alipay_payments: 1_234_500,
        alipay_payment_count: 41,
        alipay_refunds: 5000,
        alipay_refund_count: 2,
        alipay_cancels: 1500,
        alipay_cancel_count: 1,
        local_payments: 1_230_000,
        local_payment_count: 40,
        local_refunds: 4750,
        local_refund_count: 2,
        fees: 2222,
        settled_net: 1_100_000,
        expected_net: 1_100_020,
        // 1,107,242 − 5,000 − 22.22 = 1,100,020: the bridge's lines add up to expected net.
        settled_payments: 1_107_242,
        settled_payment_count: 40,
        settled_refunds: 5000,
        settled_refund_count: 2,
        settlement_sources: vec![crate::domain::SettlementSource {
            format: "intl".into(),
            files: vec![
                "ALIPAY_SETTLEMENT_DETAIL_HKD_20261125.csv".into(),
                "ALIPAY_SETTLEMENT_SUMMARY_HKD_20261125.csv".into(),
            ],
            detail_net: 1_100_020,
            summary_net: Some(1_100_000),
        }],
        // The roll-forward (`reconcile::flow`): captured net 12,280.00 + these parts = expected net
        // 11,000.20.
        flow: vec![
            flow("fees", -2222, 38, "PAYMENT P-1 HKD -0.58: ALIPAY_SETTLEMENT_DETAIL_HKD_20261125.csv line 2"),
            flow(
                "settlement_mismatch",
                -100,
                1,
                "PAYMENT P-SE-1 HKD -1.00: ALIPAY_SETTLEMENT_DETAIL_HKD_20261125.csv line 4",
            ),
            flow("later_day", -220_900, 3, "PAYMENT P-LA-1 HKD -2,000.00: 20261125_HKD_trans.csv line 40"),
            flow("cancels", 1500, 1, "CANCEL P-CA-1 HKD 15.00: 20261125_HKD_trans.csv line 44"),
            flow(
                "earlier_captures",
                93_742,
                4,
                "PAYMENT P-EA-1 HKD 300.00: ALIPAY_SETTLEMENT_DETAIL_HKD_20261125.csv line 41",
            ),
        ],
        ..Default::default()
    };
    let jpy = CurrencyTotals {
        alipay_payments: 56000,
        alipay_payment_count: 3,
        flow: vec![flow("later_day", -56000, 3, "PAYMENT P-JP-1 JPY 5,600: 20261125_JPY_trans.csv line 2")],
        ..Default::default()
    };
    let kwd = CurrencyTotals { local_payments: 2468, local_payment_count: 2, ..Default::default() };
    r.summary.currencies = [("HKD".to_string(), hkd), ("JPY".to_string(), jpy), ("KWD".to_string(), kwd)].into();
    r.summary.at_stake = [("HKD".to_string(), 26_702), ("JPY".to_string(), 6200), ("KWD".to_string(), 1238)].into();
    r.summary.matched = 38;
    r.warnings = vec![FileWarning {
        file: "20261125_HKD_trans.csv".into(),
        line: Some(7),
        code: "REJECTED_LINE".into(),
        message: "amount '1,2' is not a decimal <b>".into(),
    }];
    // 12 of the 14 days: 2026-11-15 and 2026-11-19 had no report.
    r.trend = d("2026-11-12")
        .iter_days()
        .take(14)
        .filter(|x| *x != d("2026-11-15") && *x != d("2026-11-19"))
        .enumerate()
        .map(|(i, date)| TrendPoint {
            date,
            discrepancies: (i as i64 * 7) % 5,
            at_stake: [("HKD".to_string(), i as i64 * 1000), ("JPY".to_string(), (i as i64 % 3) * 500)].into(),
        })
        .collect();
    r.input_files = vec![
        InputFile {
            name: "20261125_settlement.csv".into(),
            sha256: "bb".repeat(32),
            format: FileFormat::Intl,
            kind: FileKind::SettlementDetail,
            business_date: d(DATE),
        },
        InputFile {
            name: "20261125_HKD_trans.csv".into(),
            sha256: "aa".repeat(32),
            format: FileFormat::Intl,
            kind: FileKind::Transactions,
            business_date: d(DATE),
        },
    ];
    r
}

fn flow(key: &'static str, amount: i64, count: i64, row: &str) -> crate::domain::FlowPart {
    crate::domain::FlowPart { key, amount, count, rows: vec![row.to_string()] }
}
