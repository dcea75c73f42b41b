//! Parser for the `antom` layout (alipay-files.md): comma-separated, header-driven (column order
//! differs per merchant), last line `<END>`. Refund amounts and charged fees are negative in the file.
//! `transactionRequestId` is the payment's or the refund's request id depending on the type.

use super::common::{parse_comma, signed_detail, CommaLayout, SignRule};
use super::text::{Aliases, Col};
use super::{ParseContext, ParseError, ParsedFile, Sink};
use crate::domain::TransType;

/// transactionItems and settlementItems columns.
const DETAIL: &Aliases = &[
    (Col::Type, &["transactionType", "type"]),
    (Col::Status, &["status", "transactionStatus"]),
    (Col::MerchantId, &["transactionRequestId"]),
    (Col::OrigMerchantId, &["originalTransactionRequestId"]),
    (Col::AlipayId, &["transactionId"]),
    (Col::OrigAlipayId, &["originalTransactionId"]),
    (Col::Amount, &["transactionAmountValue", "transactionAmount"]),
    (Col::Currency, &["transactionCurrency", "transactionAmountCurrency"]),
    (Col::SettleAmount, &["settlementAmountValue", "settlementAmount"]),
    (Col::SettleCurrency, &["settlementCurrency", "settlementAmountCurrency"]),
    (Col::Fee, &["feeAmountValue", "feeAmount", "fee"]),
    (Col::FeeCurrency, &["feeCurrency", "feeAmountCurrency"]),
    (Col::TransTime, &["paymentTime", "transactionTime"]),
    (Col::SettleTime, &["settlementTime"]),
    (Col::BatchRef, &["settlementBatchId"]),
    (Col::Remark, &["remark", "remarks"]),
    (Col::StoreId, &["referenceStoreId"]),
    (Col::ProductCode, &["productCode"]),
];

const SUMMARY: &Aliases = &[
    (Col::Type, &["summaryType", "type"]),
    (Col::Count, &["count", "transactionCount"]),
    (Col::SettleAmount, &["settlementAmountValue", "settlementAmount"]),
    (Col::SettleCurrency, &["settlementCurrency", "settlementAmountCurrency"]),
    (Col::Fee, &["feeAmountValue", "totalFeeAmountValue", "feeAmount", "fee"]),
    (Col::FeeCurrency, &["feeCurrency", "feeAmountCurrency"]),
    (Col::SettleTime, &["settlementTime", "settlementInitiatedDate"]),
    (Col::BatchRef, &["settlementBatchId"]),
];

pub fn parse(bytes: &[u8], ctx: &ParseContext) -> Result<ParsedFile, ParseError> {
    super::collect_all(bytes, ctx, parse_into)
}

/// Streams the rows to `sink`; the returned file has no rows.
pub(super) fn parse_into(bytes: &[u8], ctx: &ParseContext, sink: &mut Sink<'_>) -> Result<ParsedFile, ParseError> {
    let layout = CommaLayout { detail: DETAIL, summary: SUMMARY, max_preamble: 0, end_marker: true };
    parse_comma(bytes, ctx, sink, &layout, |rec, w| {
        let mut r = signed_detail(rec, ctx, SignRule::Signed, w)?;
        let id = rec.get(Col::MerchantId).map(str::to_string);
        let orig = rec.get(Col::OrigMerchantId).map(str::to_string);
        match r.trans_type.0 {
            TransType::Refund => {
                r.merchant_refund_id = id;
                r.merchant_trans_id = orig;
            }
            // A cancel is requested with the payment's id; the original's id wins when given.
            TransType::Cancel => r.merchant_trans_id = orig.or(id),
            TransType::Payment | TransType::Other => r.merchant_trans_id = id,
        }
        Ok(r)
    })
}

#[cfg(test)]
#[path = "antom_tests.rs"]
mod tests;
