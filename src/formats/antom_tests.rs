//! Tests of the antom parser: `<END>`, shuffled columns, trailing empty field, request-id mapping.

use super::*;
use crate::domain::{Currency, FileFormat, FileKind};
use crate::formats::common::{detail_rows as detail, summary_rows as summary, test_ctx};
use crate::formats::WarningCode;

fn ctx(kind: FileKind) -> ParseContext {
    test_ctx(FileFormat::Antom, kind, None)
}

const TX: &str = "customerId,referenceMerchantId,referenceStoreId,transactionId,originalTransactionId,transactionRequestId,referenceTransactionId,orderDescription,paymentMethodType,pspName,transactionType,paymentTime,productCode,transactionAmountValue,transactionCurrency,originalTransactionRequestId
2188,RM1,ST1,T1,,A-1,,Tea,CONNECT_WALLET,ALIPAY_CN,PAYMENT,2026-11-24T10:00:00+08:00,IN_STORE_PAYMENT,9000,JPY,
2188,RM1,ST1,T2,T1,A-1-R1,,Tea,CONNECT_WALLET,ALIPAY_CN,REFUND,2026-11-24T11:00:00+08:00,IN_STORE_PAYMENT,-9000,JPY,A-1,
2188,RM1,ST1,T3,,A-2,,Tea,CONNECT_WALLET,ALIPAY_CN,CAPTURE,2026-11-24T11:30:00+08:00,IN_STORE_PAYMENT,+120,JPY,
2188,RM1,ST1,T4,T3,A-2,,Tea,CONNECT_WALLET,ALIPAY_CN,VOID,2026-11-24T11:31:00+08:00,IN_STORE_PAYMENT,-120,JPY,
2188,RM1,ST1,T5,,A-3,,Tea,CONNECT_WALLET,ALIPAY_CN,DISPUTE,2026-11-24T12:00:00+08:00,IN_STORE_PAYMENT,-50,JPY,
<END>
";

#[test]
fn transactions_with_end_and_trailing_comma() {
    let p = parse(TX.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert_eq!(p.has_end_marker, Some(true));
    assert!(!p.is_truncated());
    assert!(p.rejects.is_empty(), "{:?}", p.rejects);
    let r = detail(&p);
    let got: Vec<_> = r
        .iter()
        .map(|r| (r.trans_type.0, r.merchant_trans_id.as_deref(), r.merchant_refund_id.as_deref(), r.amount))
        .collect();
    assert_eq!(
        got,
        [
            (TransType::Payment, Some("A-1"), None, Some(9000)),
            (TransType::Refund, Some("A-1"), Some("A-1-R1"), Some(9000)),
            (TransType::Payment, Some("A-2"), None, Some(120)),
            (TransType::Cancel, Some("A-2"), None, Some(120)),
            (TransType::Other, Some("A-3"), None, Some(50)),
        ]
    );
    assert_eq!(r[1].original_alipay_id.as_deref(), Some("T1"));
    assert_eq!(r[1].amount_raw, "-9000");
    assert_eq!(r[0].store_id.as_deref(), Some("ST1"));
    assert_eq!(r[2].type_raw, "CAPTURE");
    assert_eq!(r[0].currency, Some(Currency::parse("JPY").unwrap()));
    // DISPUTE is exotic: kept as OTHER with a warning.
    assert_eq!(p.warnings.len(), 1);
    assert_eq!((p.warnings[0].line, p.warnings[0].code), (Some(6), WarningCode::Other));
}

#[test]
fn shuffled_columns_read_the_same() {
    let lines: Vec<Vec<&str>> = TX.lines().filter(|l| *l != "<END>").map(|l| l.split(',').collect()).collect();
    // Reverse the 16 header columns (and each row's first 16 fields; the trailing empty one is dropped).
    let shuffled: String =
        lines.iter().map(|f| f[..16].iter().rev().copied().collect::<Vec<_>>().join(",") + "\n").collect::<String>()
            + "<END>\n";
    let a = parse(TX.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    let b = parse(shuffled.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert_eq!(detail(&a), detail(&b));
}

#[test]
fn missing_end_header_only_and_text_after_end() {
    let no_end = TX.replace("<END>\n", "");
    let p = parse(no_end.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert_eq!(p.has_end_marker, Some(false));
    assert!(p.is_truncated());
    assert_eq!(detail(&p).len(), 5);
    assert!(p.warnings.iter().any(|w| w.code == WarningCode::MissingEnd && w.line.is_none()));

    let empty = "transactionType,transactionAmountValue,transactionCurrency\r\n<END>\r\n";
    let p = parse(empty.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert_eq!((p.has_end_marker, p.rows.len(), p.rejects.len(), p.warnings.len()), (Some(true), 0, 0, 0));

    let after = "transactionType,transactionAmountValue,transactionCurrency\n<END>\nPAYMENT,1,JPY\n";
    let p = parse(after.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert_eq!((p.rows.len(), p.rejects.len(), p.rejects[0].line), (0, 1, 3));

    assert!(parse(b"<END>\n", &ctx(FileKind::Transactions)).is_err());
}

#[test]
fn settlement_items_signs_fees_and_non_order_lines() {
    let f = "settlementBatchId,customerId,transactionId,originalTransactionId,transactionRequestId,transactionType,paymentTime,settlementTime,transactionAmountValue,transactionCurrency,settlementAmountValue,settlementCurrency,quoteCurrencyPair,quotePrice,feeAmountValue,feeCurrency
B1,2188,T1,,A-1,PAYMENT,2026-11-24T10:00:00+08:00,2026-11-25T10:00:00+08:00,100.00,HKD,100.00,HKD,,,-1.00,HKD
B1,2188,T2,T1,A-1-R1,REFUND,2026-11-24T11:00:00+08:00,2026-11-25T10:00:00+08:00,-40.00,HKD,-40.00,HKD,,,0.40,HKD
B1,2188,,,,SETTLEMENT_FEE,,2026-11-25T10:00:00+08:00,,,-5.00,HKD,,,,
B1,2188,T9,,A-9,REFUND,2026-11-24T11:00:00+08:00,2026-11-25T10:00:00+08:00,40.00,HKD,-40.00,HKD,,,,
<END>
";
    let p = parse(f.as_bytes(), &ctx(FileKind::SettlementDetail)).unwrap();
    assert!(p.rejects.is_empty(), "{:?}", p.rejects);
    let r = detail(&p);
    let got: Vec<_> = r.iter().map(|r| (r.trans_type.0, r.amount, r.settle_amount, r.fee)).collect();
    assert_eq!(
        got,
        [
            (TransType::Payment, Some(10000), Some(10000), Some(100)),
            (TransType::Refund, Some(4000), Some(-4000), Some(-40)),
            (TransType::Other, None, Some(-500), None),
            (TransType::Refund, Some(4000), Some(-4000), None),
        ]
    );
    assert_eq!(r[0].batch_ref.as_deref(), Some("B1"));
    assert_eq!(r[0].extra.get("customerId").map(String::as_str), Some("2188"));
    // Only the positive refund amount on line 5 contradicts its type; the fee line is expected.
    let w: Vec<_> = p.warnings.iter().map(|w| (w.line, w.code)).collect();
    assert_eq!(w, [(Some(5), WarningCode::SignContradictsType)]);
}

#[test]
fn summary_with_total() {
    let f = "settlementBatchId,customerId,summaryType,count,settlementAmountValue,settlementCurrency,feeAmountValue,feeCurrency
B1,2188,PAYMENT,2,200.00,HKD,-2.00,HKD
B1,2188,REFUND,1,-40.00,HKD,0.40,HKD
B1,2188,TOTAL,3,160.00,HKD,-1.60,HKD
<END>
";
    let p = parse(f.as_bytes(), &ctx(FileKind::SettlementSummary)).unwrap();
    let s = summary(&p);
    let got: Vec<_> = s.iter().map(|r| (r.summary_type.as_str(), r.count, r.settle_amount, r.fee)).collect();
    assert_eq!(
        got,
        [
            ("PAYMENT", Some(2), Some(20000), Some(200)),
            ("REFUND", Some(1), Some(-4000), Some(-40)),
            ("TOTAL", Some(3), Some(16000), Some(160))
        ]
    );
    assert_eq!(s[0].batch_ref.as_deref(), Some("B1"));
    let bad = f.replace(",2,200.00", ",two,200.00");
    let p = parse(bad.as_bytes(), &ctx(FileKind::SettlementSummary)).unwrap();
    assert_eq!((p.rows.len(), p.rejects[0].field.as_deref()), (2, Some("count")));
}
