//! What the parsers hand on: a parsed Alipay file (`formats`: its typed detail or summary rows,
//! rejected lines and warnings) and a parsed sales file (`sales`: its local records and rejected
//! lines). Plain data, in the domain so that `store` writes them without importing the parsers.

use super::{Currency, LocalRecord, TransType};
use chrono::{DateTime, FixedOffset};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A transaction or settlement-detail row. Amounts are signed minor units as the *direction* says:
/// `amount` is the pricing (order) amount as a positive magnitude; `settle_amount` is the signed net
/// effect for the merchant (refunds negative); `fee` is the signed cost to the merchant (a charged fee
/// is positive, a returned fee negative), whatever sign convention the layout uses. Raw strings are kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DetailRow {
    /// 1-based physical line number in the file.
    pub line: u32,
    pub trans_type: TransTypeOrDefault,
    /// The type column exactly as in the file (`REVERSAL`, `P`, `PAYMENT_REVERSAL`, …).
    pub type_raw: String,
    /// Merchant's payment id (merchantTransId / partner_trans_id / paymentRequestId). For a REFUND row
    /// only when the file says which payment it refunds (antom originalTransactionRequestId).
    pub merchant_trans_id: Option<String>,
    /// Merchant's refund id, for REFUND rows.
    pub merchant_refund_id: Option<String>,
    /// Alipay's id of this transaction (acquirementId / Transaction_id / transactionId).
    pub alipay_id: Option<String>,
    /// Alipay's id of the original payment, for refunds and cancels.
    pub original_alipay_id: Option<String>,
    /// Pricing (order) amount as a positive magnitude in minor units, and its currency.
    pub amount: Option<i64>,
    pub currency: Option<Currency>,
    pub amount_raw: String,
    pub settle_amount: Option<i64>,
    pub settle_currency: Option<Currency>,
    pub fee: Option<i64>,
    pub fee_currency: Option<Currency>,
    /// Transaction (payment) time with its offset.
    pub trans_time: Option<DateTime<FixedOffset>>,
    pub settle_time: Option<DateTime<FixedOffset>>,
    /// Settlement batch reference (referenceId / settlementBatchId).
    pub batch_ref: Option<String>,
    pub status_raw: Option<String>,
    pub remark: Option<String>,
    pub store_id: Option<String>,
    pub product_code: Option<String>,
    /// Columns this parser does not know, by their header as written, with trimmed values.
    pub extra: Extra,
}

/// The columns of a row that its parser does not know: (header as written, trimmed value) pairs
/// sorted by header, each header once — what a `BTreeMap<String, String>` of them would hold, in
/// its order. A parser shares each header's text between the rows of a file (`Arc`), so a row costs
/// one allocation per value, not a map with a copy of every header (a day's file has a million rows).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extra(Vec<(Arc<str>, String)>);

impl Extra {
    /// From pairs sorted by header, each header once (checked in debug builds).
    pub fn from_sorted(pairs: Vec<(Arc<str>, String)>) -> Extra {
        debug_assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0), "extra columns out of order");
        Extra(pairs)
    }

    /// The value of column `name`.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(name)).ok().map(|i| &self.0[i].1)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// (header, value) in header order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, v.as_str()))
    }
}

impl From<BTreeMap<String, String>> for Extra {
    fn from(m: BTreeMap<String, String>) -> Extra {
        Extra(m.into_iter().map(|(k, v)| (Arc::from(k), v)).collect())
    }
}

/// As the `BTreeMap` of them: an object, its keys in order.
impl serde::Serialize for Extra {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// As a `BTreeMap` collects them: sorted by header, the last value of a header kept.
impl FromIterator<(String, String)> for Extra {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Extra {
        pairs.into_iter().collect::<BTreeMap<String, String>>().into()
    }
}

/// `TransType` with a `Default` so rows can be built field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransTypeOrDefault(pub TransType);
impl Default for TransTypeOrDefault {
    fn default() -> Self {
        TransTypeOrDefault(TransType::Other)
    }
}

/// A settlement-summary row (`PAYMENT`, `REFUND`, `CANCEL`, `TOTAL`, …).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SummaryRow {
    pub line: u32,
    pub summary_type: String,
    pub count: Option<i64>,
    /// Signed as in the file (refunds negative).
    pub settle_amount: Option<i64>,
    pub settle_currency: Option<Currency>,
    /// Signed cost to the merchant (a charged commission is positive).
    pub fee: Option<i64>,
    pub settle_time: Option<DateTime<FixedOffset>>,
    pub batch_ref: Option<String>,
    pub extra: Extra,
}

/// A line that could not become a row: kept and reported, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub line: u32,
    /// The column at fault, when one is.
    pub field: Option<String>,
    pub reason: String,
    /// The line's text (decoded), truncated to 1,000 characters.
    pub raw: String,
}

/// A file-level or row-level check that failed without losing data (e.g. `Total_count` ≠ rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: Option<u32>,
    pub code: WarningCode,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarningCode {
    /// Preamble `Total_count` differs from the number of data rows.
    CountMismatch,
    /// An antom file without its `<END>` trailer (truncated or still uploading).
    MissingEnd,
    /// The raw sign of an amount contradicts the row's type.
    SignContradictsType,
    /// An Alipay row whose amount is zero.
    ZeroAmount,
    /// The file ends inside its last line (no line ending, fewer fields than the header): cut.
    CutLastLine,
    /// Anything else worth a line in the report.
    Other,
}

impl WarningCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            WarningCode::CountMismatch => "COUNT_MISMATCH",
            WarningCode::MissingEnd => "MISSING_END",
            WarningCode::SignContradictsType => "SIGN_CONTRADICTS_TYPE",
            WarningCode::ZeroAmount => "ZERO_AMOUNT",
            WarningCode::CutLastLine => "CUT_LAST_LINE",
            WarningCode::Other => "OTHER",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    Detail(Vec<DetailRow>),
    Summary(Vec<SummaryRow>),
}

impl Rows {
    /// Appends `more` (of the same kind) to these rows.
    pub fn extend(&mut self, more: Rows) {
        match (self, more) {
            (Rows::Detail(a), Rows::Detail(b)) if a.is_empty() => *a = b,
            (Rows::Detail(a), Rows::Detail(mut b)) => a.append(&mut b),
            (Rows::Summary(a), Rows::Summary(b)) if a.is_empty() => *a = b,
            (Rows::Summary(a), Rows::Summary(mut b)) => a.append(&mut b),
            // A parser emits one kind per file; mixing them is a bug, not a file problem.
            (a, b) => panic!("rows of different kinds: {} and {}", a.len(), b.len()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Rows::Detail(r) => r.len(),
            Rows::Summary(r) => r.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything a parser learned from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFile {
    /// `utf-8`, `utf-8-bom` or `gb18030`.
    pub encoding: &'static str,
    /// Header names as written in the file (trimmed).
    pub header: Vec<String>,
    /// Preamble `Total_count` when the layout has one.
    pub declared_count: Option<u64>,
    /// `Some(true/false)` for layouts with an `<END>` trailer, `None` otherwise.
    pub has_end_marker: Option<bool>,
    pub rows: Rows,
    pub rejects: Vec<Reject>,
    pub warnings: Vec<Warning>,
}

impl ParsedFile {
    /// Incomplete: no `<END>` where the layout has one, fewer rows than the preamble declares, or
    /// a cut last line.
    pub fn is_truncated(&self) -> bool {
        self.truncated_with(self.rows.len())
    }

    /// [`ParsedFile::is_truncated`] for a file whose `row_count` rows were streamed elsewhere.
    pub fn truncated_with(&self, row_count: usize) -> bool {
        self.has_end_marker == Some(false)
            || self.is_cut()
            || self.declared_count.is_some_and(|n| (row_count + self.rejects.len()) < n as usize)
    }

    /// The file ends inside its last line (contracts.md §2): still being written, or cut in transit.
    pub fn is_cut(&self) -> bool {
        self.warnings.iter().any(|w| w.code == WarningCode::CutLastLine)
    }
}

/// A line of a sales file that could not become a record: kept and reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesReject {
    pub line: u32,
    pub field: Option<String>,
    pub reason: String,
    pub raw: String,
}

#[derive(Debug, Clone, Default)]
pub struct ParsedSales {
    /// Records in file order; identical rows collapsed; conflicting rows all kept with `conflict`.
    pub records: Vec<LocalRecord>,
    pub rejects: Vec<SalesReject>,
    /// `sales-v1` or `mapped`.
    pub mapping: &'static str,
}

impl ParsedSales {
    pub fn conflict_count(&self) -> usize {
        self.records.iter().filter(|r| r.conflict).count()
    }
}
