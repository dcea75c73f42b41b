//! Property tests of the parsers: arbitrary bytes never panic, and generated valid files give back
//! exactly the amounts written into them (no float rounding, sign by type).

use super::*;
use crate::domain::format_minor;
use crate::domain::FileFormat;
use crate::formats::common::test_ctx;
use proptest::prelude::*;

const KINDS: [FileKind; 3] = [FileKind::Transactions, FileKind::SettlementDetail, FileKind::SettlementSummary];

/// Headers that reach past header detection, so the soup exercises row handling too.
const HEADERS: [&str; 4] = [
    "transType,orderAmount,orderCurrency,paymentTime,merchantTransId\n",
    "Partner:1|Payment_time: 2026-11-24|Total_count:3\nPartner_transaction_id|Transaction_id|Transaction_type|Trans_amount|Trans_currency|Payment_time\n",
    "transactionType,transactionAmountValue,transactionCurrency,settlementAmountValue,settlementCurrency\n",
    "type,count,settlementAmount,settlementCurrency,commission\n",
];

fn all_parsers(bytes: &[u8]) {
    for f in FileFormat::ALL {
        for k in KINDS {
            if let Ok(p) = parse(bytes, &test_ctx(*f, k, Some("HKD"))) {
                // Rows and rejects come from distinct non-blank lines after the header.
                let lines = text::lines(&text::decode(bytes).0).len();
                assert!(p.rows.len() + p.rejects.len() <= lines, "{f} {k}: more rows than lines");
                assert!(p.rejects.iter().all(|r| r.raw.chars().count() <= 1000));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn byte_soup_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        all_parsers(&bytes);
    }

    #[test]
    fn row_soup_never_panics(h in 0usize..4, body in "([-+0-9.,|\"A-Z<>:\\r\\n ]|PAYMENT|REFUND|HKD|JPY|<END>|测试){0,200}") {
        let text = format!("{}{}", HEADERS[h], body);
        all_parsers(text.as_bytes());
        let (gbk, _, _) = encoding_rs::GB18030.encode(&text);
        all_parsers(&gbk);
    }

    #[test]
    fn generated_files_round_trip_amounts(
        rows in prop::collection::vec((any::<bool>(), 0i64..1_000_000_000_000, prop::sample::select(vec!["HKD", "JPY", "KWD", "CNY"])), 1..30)
    ) {
        let mut intl = String::from("transType,merchantTransId,orderAmount,orderCurrency,paymentTime\n");
        let mut classic = format!("Partner:2088|Payment_time: 2026-11-24|Total_count:{}\n\
            Partner_transaction_id|Transaction_id|Transaction_type|Trans_amount|Trans_currency|Payment_time\n", rows.len());
        let mut antom = String::from("paymentTime,transactionCurrency,transactionAmountValue,transactionRequestId,transactionType\n");
        for (i, (refund, v, c)) in rows.iter().enumerate() {
            let cur = crate::domain::Currency::parse(c).unwrap();
            let t = if *refund { "REFUND" } else { "PAYMENT" };
            let major = format_minor(*v, cur);
            intl += &format!("{t},X-{i},{major},{c},2026-11-24T10:00:00+08:00\n");
            classic += &format!("X-{i}|T{i}|{t}|{major}|{c}|2026-11-24 10:00:00\n");
            let signed = if *refund { format_minor(-*v, cur) } else { format!("+{major}") };
            antom += &format!("2026-11-24T10:00:00+08:00,{c},{signed},X-{i},{t},\n");
        }
        antom += "<END>\n";
        for (f, text) in [(FileFormat::Intl, intl), (FileFormat::Classic, classic), (FileFormat::Antom, antom)] {
            let p = parse(text.as_bytes(), &test_ctx(f, FileKind::Transactions, None)).unwrap();
            prop_assert!(p.rejects.is_empty(), "{f}: {:?}", p.rejects);
            prop_assert!(p.warnings.iter().all(|w| w.code == WarningCode::ZeroAmount), "{f}: {:?}", p.warnings);
            let Rows::Detail(got) = &p.rows else { panic!("detail") };
            prop_assert_eq!(got.len(), rows.len());
            for (g, (refund, v, c)) in got.iter().zip(&rows) {
                prop_assert_eq!(g.amount, Some(*v));
                prop_assert_eq!(g.currency.map(|c| c.to_string()), Some(c.to_string()));
                let want = if *refund { crate::domain::TransType::Refund } else { crate::domain::TransType::Payment };
                prop_assert_eq!(g.trans_type.0, want);
            }
        }
    }
}
