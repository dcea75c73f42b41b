//! Parser for the `intl` layout ("files v2.0.4", alipay-files.md): comma-separated with a header,
//! one file per currency, ISO-8601 times with offsets. Refund rows carry the merchant's *refund* id in
//! `merchantTransId`; charged commission is negative in the file.

use super::common::{parse_comma, signed_detail, CommaLayout, SignRule};
use super::text::{Aliases, Col};
use super::{ParseContext, ParseError, ParsedFile, Sink};
use crate::domain::TransType;

/// Transaction and settlement-detail columns. The settlement file's amount/fee names could not be
/// retrieved from the docs, so the likely spellings are all listed.
const DETAIL: &Aliases = &[
    (Col::Type, &["transType", "transactionType", "type"]),
    (Col::Status, &["transStatus", "status"]),
    (Col::MerchantId, &["merchantTransId"]),
    (Col::AlipayId, &["acquirementId"]),
    (Col::OrigAlipayId, &["originalAcquirementId"]),
    (Col::Amount, &["orderAmount", "transAmount"]),
    (Col::Currency, &["orderCurrency", "transCurrency", "currency"]),
    (Col::SettleAmount, &["settlementAmount", "settleAmount"]),
    (Col::SettleCurrency, &["settlementCurrency", "settleCurrency"]),
    (Col::Fee, &["fee", "commission", "feeAmount"]),
    (Col::FeeCurrency, &["feeCurrency", "commissionCurrency"]),
    (Col::TransTime, &["paymentTime", "transTime", "transactionTime"]),
    (Col::SettleTime, &["settlementTime", "settleTime"]),
    (Col::BatchRef, &["referenceId"]),
    (Col::Remark, &["remark", "remarks"]),
    (Col::StoreId, &["storeId"]),
    (Col::ProductCode, &["productCode"]),
];

const SUMMARY: &Aliases = &[
    (Col::Type, &["type", "summaryType"]),
    (Col::Count, &["count"]),
    (Col::SettleAmount, &["settlementAmount", "settleAmount"]),
    (Col::SettleCurrency, &["settlementCurrency", "settleCurrency", "currency"]),
    (Col::Fee, &["commission", "fee"]),
    (Col::FeeCurrency, &["commissionCurrency", "feeCurrency"]),
    (Col::SettleTime, &["settlementTime"]),
    (Col::BatchRef, &["referenceId"]),
];

pub fn parse(bytes: &[u8], ctx: &ParseContext) -> Result<ParsedFile, ParseError> {
    super::collect_all(bytes, ctx, parse_into)
}

/// Streams the rows to `sink`; the returned file has no rows.
pub(super) fn parse_into(bytes: &[u8], ctx: &ParseContext, sink: &mut Sink<'_>) -> Result<ParsedFile, ParseError> {
    let layout = CommaLayout { detail: DETAIL, summary: SUMMARY, max_preamble: 2, end_marker: false };
    parse_comma(bytes, ctx, sink, &layout, |rec, w| {
        let mut r = signed_detail(rec, ctx, SignRule::PaymentsPositive, w)?;
        // Only successful rows are documented; anything else would be matched as if it moved money.
        if let Some(st) = rec.get(Col::Status).filter(|s| !s.eq_ignore_ascii_case("success")) {
            let m = format!(
                "{} is '{st}', not Success: matched like any other row; check it by hand",
                rec.name(Col::Status)
            );
            w.push(super::common::other_warning(rec.line, m));
        }
        let id = rec.get(Col::MerchantId).map(str::to_string);
        // A REFUND row's merchantTransId is the merchant's refund id; which payment it refunds is
        // only known through originalAcquirementId.
        if r.trans_type.0 == TransType::Refund {
            r.merchant_refund_id = id;
        } else {
            r.merchant_trans_id = id;
        }
        Ok(r)
    })
}

#[cfg(test)]
#[path = "intl_tests.rs"]
mod tests;
