//! Tests of the classic parser: the doc samples verbatim, GB18030, the HK 17-column variant.

use super::*;
use crate::domain::FileFormat;
use crate::formats::common::{detail_rows as detail, test_ctx, test_cur as cur};

fn ctx(kind: FileKind) -> ParseContext {
    test_ctx(FileFormat::Classic, kind, None)
}

const DOC_TX: &str = "Partner:208800000000|Payment_time: 2013-12-02|Total_count:4
Partner_transaction_id|Transaction_id|Transaction_amount|Charge_amount|Currency|Payment_time|Transaction_type|Remark|Secondary_merchant_industry|Secondary_merchant_name|Operator_name|Order_scene|Trans_currency|Trans_amount|Trans_forex_rate
0001|201312020445|100|3|HKD|2013-12-02 10:45:42|PAYMENT||5812|xxx|xxx|shopQrCode|TWD|100|0.031
0002|201312020446|100|3|HKD|2013-12-02 10:45:13|REVERSAL||5812|xxx|xxx|shopQrCode|TWD|100|0.031
0003|201312020448|100|3|HKD|2013-12-02 10:45:09|REFUND|Refund|5812|xxx|xxx|shopQrCode|TWD|100|0.031
";

#[test]
fn doc_transaction_sample_with_its_count_mismatch() {
    let p = parse(DOC_TX.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert_eq!(p.declared_count, Some(4));
    assert!(p.is_truncated(), "4 declared, 3 present");
    assert!(p.rejects.is_empty());
    assert_eq!(p.warnings.len(), 1);
    assert_eq!((p.warnings[0].line, p.warnings[0].code), (Some(1), WarningCode::CountMismatch));
    assert!(p.warnings[0].message.contains("says 4 rows but the file has 3"));
    let r = detail(&p);
    let got: Vec<_> = r
        .iter()
        .map(|r| {
            (
                r.trans_type.0,
                r.merchant_trans_id.as_deref(),
                r.merchant_refund_id.as_deref(),
                r.amount,
                r.fee,
                r.settle_amount,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (TransType::Payment, Some("0001"), None, Some(10000), Some(300), Some(9700)),
            (TransType::Cancel, Some("0002"), None, Some(10000), Some(-300), Some(-9700)),
            (TransType::Refund, None, Some("0003"), Some(10000), Some(-300), Some(-9700)),
        ]
    );
    assert_eq!((r[0].currency, r[0].settle_currency, r[0].fee_currency), (cur("TWD"), cur("HKD"), cur("HKD")));
    assert_eq!(r[1].type_raw, "REVERSAL");
    assert_eq!(r[0].trans_time.unwrap().to_rfc3339(), "2013-12-02T10:45:42+08:00");
    assert_eq!(r[0].alipay_id.as_deref(), Some("201312020445"));
    assert_eq!(r[0].extra.get("Trans_forex_rate").map(String::as_str), Some("0.031"));
    assert_eq!(r[2].remark.as_deref(), Some("Refund"));
    assert_eq!(r[0].line, 3);
}

const DOC_SETTLE_ROW: &str = "EASA-20170801233604653-5GP0GVWNY|2017080221001004060213245489|369.30|2001.38|2.22|367.08|1989.37|AUD|5.41940000|2017-08-02 07:36:46|2017-08-03 15:46:00|P|L||5311|xxx|xxx|shopQrCode|AUD|369.30|1";

#[test]
fn doc_settlement_row_with_header_preamble_or_neither() {
    let header = SETTLEMENT_HEADER.join("|");
    let variants = [
        (format!("{header}\n{DOC_SETTLE_ROW}\n"), 2, false),
        (format!("Partner:2088|Settle_date: 2017-08-03\nsecond preamble line\n{header}\n{DOC_SETTLE_ROW}\n"), 4, false),
        (format!("{DOC_SETTLE_ROW}\n"), 1, true),
    ];
    for (f, line, assumed) in variants {
        let p = parse(f.as_bytes(), &ctx(FileKind::SettlementDetail)).unwrap();
        assert!(p.rejects.is_empty(), "{:?}", p.rejects);
        assert_eq!(p.declared_count, None);
        assert_eq!(p.warnings.iter().any(|w| w.message.contains("no header")), assumed);
        let r = &detail(&p)[0];
        assert_eq!(r.line, line);
        assert_eq!((r.trans_type.0, r.type_raw.as_str()), (TransType::Payment, "P"));
        assert_eq!(r.merchant_trans_id.as_deref(), Some("EASA-20170801233604653-5GP0GVWNY"));
        assert_eq!((r.amount, r.currency), (Some(36930), cur("AUD")));
        assert_eq!((r.settle_amount, r.fee), (Some(36708), Some(222)));
        assert_eq!(r.settle_time.unwrap().to_rfc3339(), "2017-08-03T15:46:00+08:00");
        assert_eq!(r.status_raw.as_deref(), Some("L"));
        assert_eq!(r.extra.get("Rate").map(String::as_str), Some("5.41940000"));
    }
}

#[test]
fn settlement_refund_is_negative_and_signs_are_checked() {
    let header = SETTLEMENT_HEADER.join("|");
    let f = format!(
        "{header}\nC-R1|T2|10.00||0.10|9.90||HKD||2026-11-24 10:00:00|2026-11-25 15:00:00|R|L||5812|s|o|q|HKD|10.00|1\n\
         C-P2|T3|-10.00||0.10|9.90||HKD||2026-11-24 10:00:00|2026-11-25 15:00:00|P|L||5812|s|o|q|HKD|10.00|1\n"
    );
    let p = parse(f.as_bytes(), &ctx(FileKind::SettlementDetail)).unwrap();
    let r = detail(&p);
    assert_eq!(
        (r[0].merchant_refund_id.as_deref(), r[0].settle_amount, r[0].fee),
        (Some("C-R1"), Some(-990), Some(-10))
    );
    assert_eq!(p.warnings.len(), 1);
    assert_eq!((p.warnings[0].line, p.warnings[0].code), (Some(3), WarningCode::SignContradictsType));
}

#[test]
fn gb18030_remarks_crlf_and_hk_17_columns() {
    let text = "Partner:2088000000000001|Payment_time: 2026-11-24|Total_count:1\r\n\
Partner_transaction_id|Transaction_id|Transaction_amount|Charge_amount|Currency|Payment_time|Transaction_type|Remark|Secondary_merchant_industry|Secondary_merchant_name|Secondary_merchant_id|Operator_name|Order_scene|Trans_currency|Trans_amount|Trans_forex_rate|Issue\r\n\
C-1|2026112400001|56.00|0.56|HKD|2026-11-24 12:00:00|PAYMENT|奶茶两杯|5812|茶餐厅|SM-7|店员|shopQrCode|HKD|56.00|1|N\r\n";
    let (bytes, _, bad) = encoding_rs::GB18030.encode(text);
    assert!(!bad);
    let p = parse(&bytes, &ctx(FileKind::Transactions)).unwrap();
    assert_eq!(p.encoding, "gb18030");
    assert_eq!(p.header.len(), 17);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let r = &detail(&p)[0];
    assert_eq!(r.remark.as_deref(), Some("奶茶两杯"));
    assert_eq!(r.extra.get("Secondary_merchant_id").map(String::as_str), Some("SM-7"));
    assert_eq!(r.extra.get("Issue").map(String::as_str), Some("N"));
    assert_eq!(r.extra.get("Secondary_merchant_name").map(String::as_str), Some("茶餐厅"));
    assert_eq!((r.amount, r.fee), (Some(5600), Some(56)));
}

#[test]
fn rejects_keep_the_count_honest() {
    let f = "Partner:1|Payment_time: 2026-11-24|Total_count:2\n\
Partner_transaction_id|Transaction_id|Transaction_amount|Charge_amount|Currency|Payment_time|Transaction_type|Trans_currency|Trans_amount\n\
C-1|T1|1.00|0|HKD|2026-11-24 12:00:00|PAYMENT|HKD|1.0.0\n\
C-2|T2|1.00|0|HKD|2026-11-24 12:00:00|PAYMENT|HKD|1.00\n";
    let p = parse(f.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert_eq!((detail(&p).len(), p.rejects.len()), (1, 1));
    assert_eq!((p.rejects[0].line, p.rejects[0].field.as_deref()), (3, Some("Trans_amount")));
    assert!(p.warnings.is_empty(), "2 declared = 1 row + 1 reject: {:?}", p.warnings);
    assert!(!p.is_truncated());
}

#[test]
fn preamble_oddities_and_wrong_files() {
    let f = "Partner:1|Total_count: many\nPartner_transaction_id|Transaction_id|Transaction_type|Trans_amount|Trans_currency\nC-1|T1|PAYMENT|5|HKD\n";
    let p = parse(f.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert_eq!(p.declared_count, None);
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].message.contains("'many'"));
    // An intl file handed to the classic parser, and a summary request: errors, not rows.
    assert!(parse(b"transType,orderAmount\nPAYMENT,1\n", &ctx(FileKind::Transactions)).is_err());
    assert!(parse(DOC_TX.as_bytes(), &ctx(FileKind::SettlementSummary)).is_err());
}

#[test]
fn a_cut_last_line_makes_a_classic_file_truncated() {
    let file = "Partner:208800000000|Payment_time: 2013-12-02|Total_count:2
Partner_transaction_id|Transaction_id|Transaction_amount|Charge_amount|Currency|Payment_time|Transaction_type|Remark|Secondary_merchant_industry|Secondary_merchant_name|Operator_name|Order_scene|Trans_currency|Trans_amount|Trans_forex_rate
0001|201312020445|100|3|HKD|2013-12-02 10:45:42|PAYMENT||5812|xxx|xxx|shopQrCode|TWD|100|0.031
0002|201312020446|100|3|HKD|2013-12-02 10:4";
    let p = parse(file.as_bytes(), &test_ctx(FileFormat::Classic, FileKind::Transactions, None)).unwrap();
    assert!(p.is_cut() && p.is_truncated(), "{:?}", p.warnings);
}
