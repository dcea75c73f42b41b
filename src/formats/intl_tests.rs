//! Table-driven tests of the intl parser: the doc samples verbatim plus the tolerances.

use super::*;
use crate::domain::{FileFormat, FileKind};
use crate::formats::common::{detail_rows as detail, summary_rows as summary, test_ctx, test_cur as cur};
use crate::formats::WarningCode;

fn ctx(kind: FileKind) -> ParseContext {
    test_ctx(FileFormat::Intl, kind, Some("HKD"))
}

const TX_HEADER: &str = "merchantId,sellerID,storeId,productCode,paymentTime,orderTitle,transType,transStatus,\
merchantTransId,acquirementId,originalAcquirementId,orderAmount,orderCurrency,remark,userSite,siteUserId";

#[test]
fn doc_summary_sample_parses_and_keeps_signs() {
    let doc = "type,settlementTime,count,settlementAmount,settlementCurrency,commission,referenceId,merchantId
PAYMENT,2016-08-06T09:19:54+08:00,120,72.27,CNY,-0.73,135xxx4680,12345678
REFUND,2016-08-06T09:19:54+08:00,10,-7.23,CNY,+0.00,135xxx4680,12345678
TOTAL,2016-08-06T09:19:54+08:00,130,72.04,CNY,-0.73,135xxx4680,12345678
";
    let p = parse(doc.as_bytes(), &ctx(FileKind::SettlementSummary)).unwrap();
    assert_eq!(p.encoding, "utf-8");
    assert_eq!(p.has_end_marker, None);
    assert!(p.rejects.is_empty() && p.warnings.is_empty());
    let s = summary(&p);
    let got: Vec<_> = s.iter().map(|r| (r.summary_type.as_str(), r.count, r.settle_amount, r.fee)).collect();
    assert_eq!(
        got,
        [
            ("PAYMENT", Some(120), Some(7227), Some(73)),
            ("REFUND", Some(10), Some(-723), Some(0)),
            ("TOTAL", Some(130), Some(7204), Some(73))
        ]
    );
    assert_eq!(s[0].settle_currency, cur("CNY"));
    assert_eq!(s[0].batch_ref.as_deref(), Some("135xxx4680"));
    assert_eq!(s[0].extra.get("merchantId").map(String::as_str), Some("12345678"));
    assert_eq!(s[2].line, 4);
}

#[test]
fn transactions_map_ids_by_type() {
    let f = format!(
        "{TX_HEADER}
M1,S1,ST1,OFFLINE_PAY,2016-08-06T09:19:54+08:30,Tea,PAYMENT,Success,I-1,2016080621001,,555.0,HKD,,ALIPAY_HK,u1
M1,S1,ST1,OFFLINE_PAY,2016-08-06T10:00:00+08:00,Tea,REFUND,Success,I-1-R1,2016080621002,2016080621001, 100.00 ,HKD,退款,ALIPAY_HK,u1
M1,S1,ST1,OFFLINE_PAY,2016-08-06T10:01:00+08:00,Tea,CANCEL,Success,I-2,2016080621004,2016080621003,+20,,,ALIPAY_CN,u2
M1,S1,ST1,OFFLINE_PAY,2016-08-06T10:02:00+08:00,Tea,REVERSAL,Success,I-3,2016080621006,2016080621005,1,JPY,,ALIPAY_CN,u2
"
    );
    let p = parse(f.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert!(p.rejects.is_empty(), "{:?}", p.rejects);
    let r = detail(&p);
    assert_eq!(r.len(), 4);
    assert_eq!(
        (r[0].trans_type.0, r[0].merchant_trans_id.as_deref(), r[0].merchant_refund_id.as_deref()),
        (TransType::Payment, Some("I-1"), None)
    );
    assert_eq!(r[0].amount, Some(55500));
    assert_eq!(r[0].trans_time.unwrap().offset().local_minus_utc(), 8 * 3600 + 1800);
    assert_eq!(r[0].store_id.as_deref(), Some("ST1"));
    assert_eq!(r[0].product_code.as_deref(), Some("OFFLINE_PAY"));
    assert_eq!(r[0].status_raw.as_deref(), Some("Success"));
    assert_eq!(r[0].extra.get("userSite").map(String::as_str), Some("ALIPAY_HK"));
    assert_eq!(
        (r[1].trans_type.0, r[1].merchant_trans_id.as_deref(), r[1].merchant_refund_id.as_deref()),
        (TransType::Refund, None, Some("I-1-R1"))
    );
    assert_eq!(r[1].original_alipay_id.as_deref(), Some("2016080621001"));
    assert_eq!((r[1].amount, r[1].amount_raw.as_str()), (Some(10000), "100.00"));
    assert_eq!(r[1].remark.as_deref(), Some("退款"));
    // No currency cell: the file name's currency; `+` accepted.
    assert_eq!((r[2].trans_type.0, r[2].amount, r[2].currency), (TransType::Cancel, Some(2000), cur("HKD")));
    assert_eq!(r[2].merchant_trans_id.as_deref(), Some("I-2"));
    assert_eq!(
        (r[3].trans_type.0, r[3].type_raw.as_str(), r[3].amount, r[3].currency),
        (TransType::Cancel, "REVERSAL", Some(1), cur("JPY"))
    );
}

#[test]
fn bom_crlf_blank_lines_unknown_columns_and_trailing_comma() {
    let f = "\u{FEFF}Trans_Type , ORDER_AMOUNT,orderCurrency,merchantTransId,newColumn\r\n\r\nPAYMENT,10.00,HKD,I-9,x,\r\n  \r\n";
    let p = parse(f.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert_eq!(p.encoding, "utf-8-bom");
    assert_eq!(p.header, ["Trans_Type", "ORDER_AMOUNT", "orderCurrency", "merchantTransId", "newColumn"]);
    let r = detail(&p);
    assert_eq!((r.len(), r[0].line, r[0].amount), (1, 3, Some(1000)));
    assert_eq!(r[0].extra.get("newColumn").map(String::as_str), Some("x"));
}

#[test]
fn bad_cells_reject_the_row_only() {
    let cases: &[(&str, &str, &str)] = &[
        ("PAYMENT,12.3x,HKD,2016-08-06T09:19:54+08:00", "orderAmount", "not a decimal"),
        ("PAYMENT,12.345,HKD,2016-08-06T09:19:54+08:00", "orderAmount", "more decimals"),
        ("PAYMENT,12.00,HK,2016-08-06T09:19:54+08:00", "orderCurrency", "ISO 4217"),
        ("PAYMENT,12.00,HKD,06/08/2016", "paymentTime", "not a timestamp"),
        ("PAYMENT,,HKD,2016-08-06T09:19:54+08:00", "orderAmount", "without an amount"),
        (",12.00,HKD,2016-08-06T09:19:54+08:00", "transType", "empty"),
    ];
    for (line, field, why) in cases {
        let f =
            format!("transType,orderAmount,orderCurrency,paymentTime\nPAYMENT,1.00,HKD,\n{line}\nREFUND,2.00,HKD,\n");
        let p = parse(f.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
        assert_eq!(detail(&p).len(), 2, "{line}");
        assert_eq!(p.rejects.len(), 1, "{line}");
        let rj = &p.rejects[0];
        assert_eq!((rj.line, rj.field.as_deref()), (3, Some(*field)), "{line}");
        assert!(rj.reason.contains(why), "{line}: {}", rj.reason);
        assert_eq!(rj.raw, *line);
    }
    let p = parse(b"transType,orderAmount\nPAYMENT,1,2,3\nPAYMENT\n", &ctx(FileKind::Transactions)).unwrap();
    assert_eq!(p.rejects.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3]);
    assert!(p.rejects[0].reason.contains("has 4 fields but the header has 2"));
}

#[test]
fn warnings_for_sign_and_zero() {
    let f = "transType,orderAmount,settlementAmount,settlementCurrency,fee\n\
PAYMENT,-5.00,5.00,HKD,-0.05\nREFUND,5.00,-5.00,HKD,+0.05\nREFUND,5.00,5.00,HKD,\nPAYMENT,0.00,0,HKD,\n";
    let p = parse(f.as_bytes(), &ctx(FileKind::SettlementDetail)).unwrap();
    let codes: Vec<_> = p.warnings.iter().map(|w| (w.line, w.code)).collect();
    assert_eq!(
        codes,
        [
            (Some(2), WarningCode::SignContradictsType),
            (Some(4), WarningCode::SignContradictsType),
            (Some(5), WarningCode::ZeroAmount)
        ]
    );
    let r = detail(&p);
    assert_eq!((r[0].amount, r[0].settle_amount, r[0].fee), (Some(500), Some(500), Some(5)));
    assert_eq!((r[1].amount, r[1].settle_amount, r[1].fee), (Some(500), Some(-500), Some(-5)));
    assert_eq!(r[2].settle_amount, Some(-500));
    assert_eq!(r[0].fee_currency, cur("HKD"));
}

#[test]
fn a_status_other_than_success_is_flagged() {
    let f = "transType,transStatus,orderAmount,orderCurrency\nPAYMENT,Success,1.00,HKD\nPAYMENT,FAIL,2.00,HKD\nPAYMENT,,3.00,HKD\n";
    let p = parse(f.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert_eq!(p.rows.len(), 3);
    let w: Vec<_> = p.warnings.iter().map(|w| (w.line, w.code)).collect();
    assert_eq!(w, [(Some(3), WarningCode::Other)]);
    assert!(p.warnings[0].message.contains("'FAIL'"));
}

#[test]
fn no_header_is_an_error_naming_the_file() {
    for f in ["", "\n\n", "hello,world\n1,2\n", "PAYMENT,1.00,HKD\n"] {
        let e = parse(f.as_bytes(), &ctx(FileKind::Transactions)).unwrap_err();
        assert_eq!(e.file, "test");
        assert!(e.message.contains("transType"), "{}", e.message);
    }
}

/// A quoted field with a line break inside (RFC 4180) is one record, named by its first physical
/// line; the break is the field's content, and the next record keeps its own physical line number.
#[test]
fn quoted_line_breaks_stay_inside_their_record() {
    let file = format!(
        "{TX_HEADER}\n\
         2188,S1,ST1,OFFLINE_PAY,2026-11-25T10:00:00+08:00,\"Coffee\nand cake, \"\"large\"\"\",PAYMENT,Success,M1,A1,,12.50,HKD,\"line one\r\nline two\",ALIPAY_HK,U1\n\
         2188,S1,ST1,OFFLINE_PAY,2026-11-25T10:01:00+08:00,Tea,PAYMENT,Success,M2,A2,,3.00,HKD,,ALIPAY_HK,U2\n"
    );
    let p = parse(file.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert!(p.rejects.is_empty(), "{:?}", p.rejects);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let rows = detail(&p);
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].line, rows[0].merchant_trans_id.as_deref(), rows[0].amount), (2, Some("M1"), Some(1250)));
    assert_eq!((rows[1].line, rows[1].merchant_trans_id.as_deref(), rows[1].amount), (5, Some("M2"), Some(300)));
    assert_eq!(rows[0].extra.get("orderTitle").map(String::as_str), Some("Coffee\nand cake, \"large\""));
    assert_eq!(rows[0].remark.as_deref(), Some("line one\r\nline two"));
}

/// A stray quote that never closes does not swallow the rest of the file: each line is read alone.
#[test]
fn an_unclosed_quote_does_not_swallow_the_file() {
    let mut file = format!("{TX_HEADER}\n");
    file.push_str(
        "2188,S1,ST1,OFFLINE_PAY,2026-11-25T10:00:00+08:00,\"Coffee,PAYMENT,Success,M1,A1,,12.50,HKD,,ALIPAY_HK,U1\n",
    );
    for i in 0..100 {
        file.push_str(&format!(
            "2188,S1,ST1,OFFLINE_PAY,2026-11-25T10:01:00+08:00,Tea,PAYMENT,Success,N{i},B{i},,3.00,HKD,,ALIPAY_HK,U2\n"
        ));
    }
    let p = parse(file.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert_eq!(detail(&p).len(), 100);
    assert_eq!(p.rejects.len(), 1);
    assert_eq!(p.rejects[0].line, 2);
}

/// A last line without a line ending and with fewer fields than the header: the file was cut. It is
/// truncated (contracts.md §2), with a CUT_LAST_LINE warning naming the line; the rows before it load.
#[test]
fn a_cut_last_line_makes_the_file_truncated() {
    let row = |i: u32| {
        format!(
            "2188,S1,ST1,OFFLINE_PAY,2026-11-25T10:00:00+08:00,Tea,PAYMENT,Success,M{i},A{i},,3.00,HKD,,ALIPAY_HK,U1"
        )
    };
    let cut = format!("{TX_HEADER}\n{}\n{}\n2188,S1,ST1,OFFLINE_PAY,2026-11-25T10:00:00+08:00,Tea,PAY", row(1), row(2));
    let p = parse(cut.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert_eq!(detail(&p).len(), 2);
    assert!(p.is_truncated() && p.is_cut());
    let w: Vec<_> = p.warnings.iter().filter(|w| w.code == WarningCode::CutLastLine).collect();
    assert_eq!(w.len(), 1, "{:?}", p.warnings);
    assert_eq!(w[0].line, Some(4));
    assert!(w[0].message.contains("7 of 16 fields"), "{}", w[0].message);
    // The same lines with a line ending: a rejected line, but the file is not cut.
    let p = parse(format!("{cut}\n").as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert!(!p.is_truncated() && !p.is_cut());
    assert_eq!(p.rejects.len(), 1);
    // A complete last line without a line ending is a whole row.
    let whole = format!("{TX_HEADER}\n{}\n{}", row(1), row(2));
    let p = parse(whole.as_bytes(), &ctx(FileKind::Transactions)).unwrap();
    assert_eq!(detail(&p).len(), 2);
    assert!(!p.is_truncated() && p.warnings.is_empty());
}
