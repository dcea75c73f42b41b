//! The engine's typed input: the stored rows of one look-back window, as `store::window` loads them
//! (or as tests build them). Plain data; no polars, no SQL.

use crate::domain::{Currency, FileFormat, FileKind, LocalStatus, RecordType, TransType};
use chrono::{DateTime, FixedOffset, NaiveDate};
use std::sync::Arc;

/// Everything day `date`'s reconciliation may look at: rows dated in `[from, date]` only.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// Day T, the report date.
    pub date: Option<NaiveDate>,
    /// First day of the loaded window.
    pub from: Option<NaiveDate>,
    /// Current files of the window (all kinds).
    pub files: Vec<FileIn>,
    /// Transaction and settlement-detail rows of those files.
    pub rows: Vec<AlipayRow>,
    /// Settlement-summary rows of those files.
    pub summaries: Vec<SummaryIn>,
    /// Rejected lines and warnings of those files.
    pub issues: Vec<IssueIn>,
    /// Every stored version of every local record of the window (status history included).
    pub local: Vec<LocalVersion>,
}

/// A stored Alipay file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIn {
    pub id: i64,
    pub name: String,
    pub format: FileFormat,
    pub kind: FileKind,
    pub date: NaiveDate,
    /// No `<END>`, or fewer rows than the preamble declares.
    pub truncated: bool,
    pub declared_count: Option<i64>,
    pub row_count: i64,
}

/// An id (merchant, refund, Alipay): up to 24 bytes stored inline, without a heap allocation — a
/// window holds millions (Alipay's ids are 16–28 characters, merchants' usually fewer than 24).
pub type Id = compact_str::CompactString;

/// A transaction or settlement-detail row (see `formats::DetailRow` for the sign conventions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlipayRow {
    pub file_id: i64,
    pub line: i64,
    pub kind: FileKind,
    /// The file's business date.
    pub date: NaiveDate,
    pub trans_type: TransType,
    /// The type as written (few distinct texts, shared between rows: a window holds millions).
    pub type_raw: Arc<str>,
    pub merchant_trans_id: Option<Id>,
    pub merchant_refund_id: Option<Id>,
    pub alipay_id: Option<Id>,
    pub original_alipay_id: Option<Id>,
    /// Pricing amount, positive magnitude.
    pub amount: Option<i64>,
    pub currency: Option<Currency>,
    pub settle_amount: Option<i64>,
    pub settle_currency: Option<Currency>,
    pub fee: Option<i64>,
    pub fee_currency: Option<Currency>,
    pub trans_time: Option<DateTime<FixedOffset>>,
    pub product_code: Option<Arc<str>>,
    /// Wallet (`userSite`) when the file has one.
    pub wallet: Option<Arc<str>>,
}

/// A settlement-summary row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryIn {
    pub file_id: i64,
    pub line: i64,
    pub date: NaiveDate,
    pub summary_type: String,
    pub count: Option<i64>,
    pub settle_amount: Option<i64>,
    pub settle_currency: Option<Currency>,
    pub fee: Option<i64>,
}

/// A rejected line or a warning of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueIn {
    pub file_id: i64,
    pub line: Option<i64>,
    /// `reject` or `warning`.
    pub severity: String,
    /// `REJECTED`, `COUNT_MISMATCH`, `MISSING_END`, `ZERO_AMOUNT`, …
    pub code: String,
    pub field: Option<String>,
    pub message: String,
}

/// One version of a local record, as one sales file (or the ledger) stated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalVersion {
    pub record_type: RecordType,
    pub merchant_trans_id: Id,
    pub merchant_refund_id: Option<Id>,
    pub amount: i64,
    pub currency: Currency,
    pub status: LocalStatus,
    pub created_at: DateTime<FixedOffset>,
    pub business_date: NaiveDate,
    pub acquirement_id: Option<Id>,
    /// The first day whose report may see this version: the record's own date for the key's first
    /// file; for a later restatement, the newest business date in the file that stated it (an export
    /// cannot predate its newest record).
    pub as_of: NaiveDate,
    /// Import order among versions of the same key (later wins).
    pub seq: i64,
    /// Written by the payment module's ledger: wins over POS versions.
    pub ledger: bool,
    /// Its file had other, disagreeing rows for the key.
    pub conflict: bool,
    /// Where it came from, for details (see [`LocalVersion::origin`]): its sales file (shared between
    /// the file's records) and line; no file for the payment ledger.
    pub origin_file: Option<Arc<str>>,
    pub origin_line: Option<i64>,
}

impl LocalVersion {
    /// Where it came from: `sales.csv line 4`, or `payment ledger`.
    pub fn origin(&self) -> String {
        match (&self.origin_file, self.origin_line) {
            (Some(n), Some(l)) => format!("{n} line {l}"),
            (Some(n), None) => n.to_string(),
            _ => "payment ledger".into(),
        }
    }

    /// The record's key id: payment id for payments, refund id for refunds.
    pub fn key(&self) -> &str {
        match self.record_type {
            RecordType::Payment => &self.merchant_trans_id,
            RecordType::Refund => self.merchant_refund_id.as_deref().unwrap_or(""),
        }
    }
}

impl Input {
    pub fn file(&self, id: i64) -> Option<&FileIn> {
        self.files.iter().find(|f| f.id == id)
    }
}
