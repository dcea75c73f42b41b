//! Parser for the `antom` layout (alipay-files.md): comma-separated, header-driven (column order
//! differs per merchant), last line `<END>`. Refund amounts and charged fees are negative in the file.
//! `transactionRequestId` is the payment's or the refund's request id depending on the type.

use super::common::{collect, finish, signed_detail, summary_row, SignRule};
use super::text::{decode_cow, read_table, Aliases, Col, Delim, TableSpec};
use super::{ParseContext, ParseError, ParsedFile, Rows, Sink, Warning, WarningCode};
use crate::domain::{FileKind, TransType};

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
    let (text, encoding) = decode_cow(bytes);
    let summary = ctx.kind == FileKind::SettlementSummary;
    let spec = TableSpec {
        delim: Delim::Comma,
        aliases: if summary { SUMMARY } else { DETAIL },
        required: if summary { &[Col::Type, Col::SettleAmount] } else { &[Col::Type, Col::Amount] },
        max_preamble: 0,
        end_marker: true,
        fallback: &[],
    };
    let t = read_table(&text, encoding, &spec, ctx)?;
    let (rows, rejects, mut warnings) = if summary {
        let c = collect(&t, sink, Rows::Summary, |rec, _| summary_row(rec, ctx))?;
        (Rows::Summary(Vec::new()), c.rejects, c.warnings)
    } else {
        let c = collect(&t, sink, Rows::Detail, |rec, w| {
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
        })?;
        (Rows::Detail(Vec::new()), c.rejects, c.warnings)
    };
    if t.has_end_marker == Some(false) {
        warnings.push(Warning {
            line: None,
            code: WarningCode::MissingEnd,
            message: "no <END> line: the file is truncated or was still uploading; download it again".into(),
        });
    }
    Ok(finish(&t, rows, rejects, warnings, None))
}

#[cfg(test)]
#[path = "antom_tests.rs"]
mod tests;
