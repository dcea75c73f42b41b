//! What reconciliation finds: the rows of `discrepancies.csv` (contracts.md §3), pending and resolved
//! items (`pending.csv`), open items (`open_items.csv`) and the day's totals (`summary.json`). Shared by
//! the engine that produces them, the store that keeps them and the report that writes them.

use super::Currency;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Discrepancy categories in report order (item categories first, in precedence order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    Duplicate,
    MissingLocally,
    MissingAtAlipay,
    StatusMismatch,
    CurrencyMismatch,
    AmountMismatch,
    Unsettled,
    SettlementMismatch,
    FeeMismatch,
    SummaryMismatch,
    FileIntegrity,
}

impl Category {
    pub const ALL: [Category; 11] = [
        Category::Duplicate,
        Category::MissingLocally,
        Category::MissingAtAlipay,
        Category::StatusMismatch,
        Category::CurrencyMismatch,
        Category::AmountMismatch,
        Category::Unsettled,
        Category::SettlementMismatch,
        Category::FeeMismatch,
        Category::SummaryMismatch,
        Category::FileIntegrity,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Category::Duplicate => "DUPLICATE",
            Category::MissingLocally => "MISSING_LOCALLY",
            Category::MissingAtAlipay => "MISSING_AT_ALIPAY",
            Category::StatusMismatch => "STATUS_MISMATCH",
            Category::CurrencyMismatch => "CURRENCY_MISMATCH",
            Category::AmountMismatch => "AMOUNT_MISMATCH",
            Category::Unsettled => "UNSETTLED",
            Category::SettlementMismatch => "SETTLEMENT_MISMATCH",
            Category::FeeMismatch => "FEE_MISMATCH",
            Category::SummaryMismatch => "SUMMARY_MISMATCH",
            Category::FileIntegrity => "FILE_INTEGRITY",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// Item categories (one row per key, first that applies wins) vs independent rows.
    pub fn is_item(&self) -> bool {
        *self <= Category::AmountMismatch
    }
}

/// One row of `discrepancies.csv`. Amounts are positive magnitudes in minor units of their currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub business_date: NaiveDate,
    pub item_date: NaiveDate,
    pub category: Category,
    pub merchant_trans_id: String,
    pub merchant_refund_id: String,
    pub acquirement_id: String,
    /// Local pricing currency (Alipay's when there is no local record).
    pub currency: Option<Currency>,
    pub local_amount: Option<i64>,
    pub alipay_currency: Option<Currency>,
    pub alipay_amount: Option<i64>,
    /// `PAYMENT SUCCESS`, `REFUND CANCELLED`, …; empty when there is no local record.
    pub local_type: String,
    /// `PAYMENT`, `REFUND`, `PAYMENT+CANCEL`, `CANCEL`, …; empty when Alipay has none.
    pub alipay_type: String,
    /// One plain-English sentence: what is wrong and what to do.
    pub detail: String,
}

impl Finding {
    /// A finding with no ids, amounts or types: those are filled in by the caller where it has them.
    pub fn blank(business_date: NaiveDate, item_date: NaiveDate, category: Category, detail: String) -> Finding {
        Finding {
            business_date,
            item_date,
            category,
            merchant_trans_id: String::new(),
            merchant_refund_id: String::new(),
            acquirement_id: String::new(),
            currency: None,
            local_amount: None,
            alipay_currency: None,
            alipay_amount: None,
            local_type: String::new(),
            alipay_type: String::new(),
            detail,
        }
    }

    /// `alipay_amount − local_amount` when both exist in the same currency.
    pub fn difference(&self) -> Option<i64> {
        match (self.local_amount, self.alipay_amount, self.currency, self.alipay_currency) {
            (Some(l), Some(a), Some(lc), Some(ac)) if lc == ac => Some(a - l),
            _ => None,
        }
    }

    /// The money whose fate this finding questions, with its currency: the difference where both sides
    /// agree the money exists (amount, settlement, fee, summary mismatches); the whole amount where its
    /// fate is in question (missing on a side, wrong status, duplicated, unsettled) — Alipay's amount
    /// when it has one, else the local one. `None` for findings about files. The day's at-stake totals
    /// are the sum of this per currency, and the HTML report lists the largest first.
    pub fn at_stake(&self) -> Option<(Currency, i64)> {
        let by_difference = matches!(
            self.category,
            Category::AmountMismatch | Category::SettlementMismatch | Category::FeeMismatch | Category::SummaryMismatch
        );
        match (self.difference(), self.currency, self.local_amount, self.alipay_currency, self.alipay_amount) {
            (Some(d), Some(c), ..) if by_difference => Some((c, d.abs())),
            (_, _, _, Some(c), Some(a)) => Some((c, a)),
            (_, Some(c), Some(l), _, _) => Some((c, l)),
            _ => None,
        }
    }

    /// The contract's sort key: category order, then ids and detail bytewise.
    pub fn sort_key(&self) -> (Category, &[u8], &[u8], &[u8]) {
        (self.category, self.merchant_trans_id.as_bytes(), self.merchant_refund_id.as_bytes(), self.detail.as_bytes())
    }
}

/// Sorts findings in the contract's order.
pub fn sort_findings(f: &mut [Finding]) {
    f.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PendingState {
    /// Inside the grace (or waiting for a complete file): not yet a discrepancy.
    Pending,
    /// Reported as a discrepancy on an earlier day, explained by this day's data.
    Resolved,
}

/// A row of `pending.csv`: the finding it would be (or was), and why it is pending or how it resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PendingItem {
    pub state: PendingState,
    /// The category it would have (pending) or had (resolved).
    pub finding: Finding,
    /// For resolved items: the date whose report first listed it.
    pub first_reported: Option<NaiveDate>,
    pub reason: String,
}

/// A row of `open_items.csv`: reported, not yet explained, still inside the open-item look-back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpenItem {
    pub finding: Finding,
    pub first_reported: NaiveDate,
    pub age_days: i64,
}

/// Per-currency money totals of a day (minor units of that currency).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CurrencyTotals {
    /// Captured payments (pricing currency) per Alipay's transaction files.
    pub alipay_payments: i64,
    pub alipay_payment_count: i64,
    pub alipay_refunds: i64,
    pub alipay_refund_count: i64,
    pub alipay_cancels: i64,
    pub alipay_cancel_count: i64,
    /// Local SUCCESS payments and refunds.
    pub local_payments: i64,
    pub local_payment_count: i64,
    pub local_refunds: i64,
    pub local_refund_count: i64,
    /// Settlement currency: fees charged, and net settlement in the day's settlement files.
    pub fees: i64,
    pub settled_net: i64,
    /// Expected net (payments − refunds − fees) of the settled rows vs what the summary says.
    pub expected_net: i64,
    /// The settlement-detail rows of the day in this (settlement) currency, gross of fees, for the cash
    /// bridge (`report::bridge`): `settled_payments − settled_refunds − settled_cancels − fees +
    /// settled_other = expected_net` holds exactly. A fee charged in another currency is not in `fees`
    /// and not added back to the gross.
    pub settled_payments: i64,
    pub settled_payment_count: i64,
    pub settled_refunds: i64,
    pub settled_refund_count: i64,
    pub settled_cancels: i64,
    pub settled_cancel_count: i64,
    /// Non-order lines (settlement fees, adjustments, reserves) and rows of no known type, signed.
    pub settled_other: i64,
    pub settled_other_count: i64,
    /// For a pricing currency: the settlement currencies its rows were settled in (window's settlement
    /// files), other than itself — "priced in CNY, settles in HKD".
    pub settles_in: Vec<String>,
    /// Where `expected_net` and `settled_net` come from, one entry per file format: their sums over the
    /// entries are `expected_net` and, when any entry has a summary, `settled_net`.
    pub settlement_sources: Vec<SettlementSource>,
    /// The roll-forward from the day's captures priced in this currency to its expected net
    /// (`report::bridge`): `captured_net + Σ flow.amount = expected_net` holds exactly, each
    /// transaction row of the day and each settlement-detail row of the day counted in one part.
    pub flow: Vec<FlowPart>,
}

/// One part of the roll-forward of a currency (`CurrencyTotals::flow`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FlowPart {
    /// Stable machine name: `fees`, `settlement_mismatch`, `settled_elsewhere`, `priced_elsewhere`,
    /// `earlier_captures`, `voided_settled`, `other_lines`, `pending`, `later_day`, `not_known_yet`,
    /// `cancels`.
    pub key: &'static str,
    /// Signed, minor units of the currency.
    pub amount: i64,
    /// Transaction or settlement rows in it.
    pub count: i64,
    /// Its first rows in file order, one line each (`FLOW_EXAMPLES` at most): type, id, amount, file
    /// and line.
    pub rows: Vec<String>,
}

/// The keys of [`FlowPart`] in report order.
pub const FLOW_KEYS: [&str; 11] = [
    "fees",
    "settlement_mismatch",
    "settled_elsewhere",
    "pending",
    "later_day",
    "not_known_yet",
    "cancels",
    "earlier_captures",
    "priced_elsewhere",
    "voided_settled",
    "other_lines",
];

/// How many rows a [`FlowPart`] names; its count has them all.
pub const FLOW_EXAMPLES: usize = 10;

/// One file format's settlement files of a day in one settlement currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SettlementSource {
    /// `intl`, `classic`, `antom`.
    pub format: String,
    /// Settlement-detail and -summary file names, sorted.
    pub files: Vec<String>,
    /// Sum of the detail rows' net settlement amounts.
    pub detail_net: i64,
    /// What the summary rows counted into `settled_net` say; `None` when the format had no summary
    /// rows that count (no summary file, or only type rows while another file has a TOTAL row).
    pub summary_net: Option<i64>,
}

/// The day's totals and counts, for `summary.json` and the email.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DaySummary {
    pub business_date: Option<NaiveDate>,
    pub counts: BTreeMap<Category, i64>,
    pub pending: i64,
    pub resolved: i64,
    pub open_items: i64,
    pub matched: i64,
    /// Keyed by ISO code.
    pub currencies: BTreeMap<String, CurrencyTotals>,
    /// Amount at stake per currency: sum of |difference| or the one-sided amount of each finding.
    pub at_stake: BTreeMap<String, i64>,
}
