//! A local sales record: one payment or refund as the merchant's side knows it, from a POS export
//! (`sales`) or the payment ledger (`payment`), as the store keeps it.

use super::{Currency, LocalStatus, RecordType};
use chrono::{DateTime, FixedOffset, NaiveDate};

/// One local payment or refund.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LocalRecord {
    pub record_type: RecordType,
    /// The payment's id (for a refund: the refunded payment's id).
    pub merchant_trans_id: String,
    pub merchant_refund_id: Option<String>,
    /// Minor units of `currency`, ≥ 0.
    pub amount: i64,
    pub currency: Currency,
    pub status: LocalStatus,
    pub created_at: DateTime<FixedOffset>,
    /// Day of `created_at` in the business zone.
    pub business_date: NaiveDate,
    pub store_id: Option<String>,
    pub terminal_id: Option<String>,
    pub acquirement_id: Option<String>,
    /// 1-based line in its file.
    pub line: u32,
    /// The file had other, disagreeing rows with this key.
    pub conflict: bool,
}
