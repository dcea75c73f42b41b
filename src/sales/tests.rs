use super::*;

const HEADER: &str = "record_type,merchant_trans_id,merchant_refund_id,amount,currency,status,created_at,store_id,terminal_id,acquirement_id\n";

fn p(body: &str) -> ParsedSales {
    parse(format!("{HEADER}{body}").as_bytes(), "sales.csv", &BusinessZone::default(), &SalesConfig::default()).unwrap()
}

#[test]
fn valid_rows_load_with_business_date_in_zone() {
    let s = p("PAYMENT,P1,,56.00,HKD,SUCCESS,2026-11-25T23:59:58+08:00,S1,T1,\nREFUND,P1,R1,6.00,HKD,SUCCESS,2026-11-25T16:30:00Z,,,A1\n");
    assert!(s.rejects.is_empty(), "{:?}", s.rejects);
    assert_eq!(s.records.len(), 2);
    assert_eq!(s.records[0].amount, 5600);
    assert_eq!(s.records[0].business_date.to_string(), "2026-11-25");
    // 16:30 UTC is 00:30 the next day in UTC+8.
    assert_eq!(s.records[1].business_date.to_string(), "2026-11-26");
    assert_eq!(s.records[1].key(), (RecordType::Refund, "R1"));
    assert_eq!(s.records[1].line, 3);
}

#[test]
fn bad_rows_are_rejected_with_line_and_field() {
    let cases = [
        ("SALE,P1,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,", "record_type"),
        ("PAYMENT,,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,", "merchant_trans_id"),
        ("REFUND,P1,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,", "merchant_refund_id"),
        ("PAYMENT,P1,R1,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,", "merchant_refund_id"),
        ("PAYMENT,P1,,1.001,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,", "amount"),
        ("PAYMENT,P1,,-1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,", "amount"),
        ("PAYMENT,P1,,0,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,", "amount"),
        ("PAYMENT,P1,,1.00,HK,SUCCESS,2026-11-25T10:00:00+08:00,,,", "currency"),
        ("PAYMENT,P1,,1.00,HKD,PAID,2026-11-25T10:00:00+08:00,,,", "status"),
        ("PAYMENT,P1,,1.00,HKD,SUCCESS,2026-11-25 10:00:00,,,", "created_at"),
    ];
    for (row, field) in cases {
        let s = p(&format!("{row}\nPAYMENT,OK,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n"));
        assert_eq!(s.rejects.len(), 1, "{row}");
        assert_eq!(s.rejects[0].field.as_deref(), Some(field), "{row}: {:?}", s.rejects[0]);
        assert_eq!(s.rejects[0].line, 2);
        assert_eq!(s.records.len(), 1, "the good row still loads");
    }
}

#[test]
fn zero_amount_allowed_on_cancelled_and_failed() {
    let s = p("PAYMENT,P1,,0,HKD,CANCELLED,2026-11-25T10:00:00+08:00,,,\nPAYMENT,P2,,0.00,JPY,FAILED,2026-11-25T10:00:00+08:00,,,\n");
    assert!(s.rejects.is_empty(), "{:?}", s.rejects);
}

#[test]
fn identical_rows_collapse_and_conflicts_are_flagged() {
    let row = "PAYMENT,P1,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n";
    let s = p(&format!("{row}{row}"));
    assert_eq!(s.records.len(), 1);
    assert!(!s.records[0].conflict);
    let s = p(&format!("{row}PAYMENT,P1,,2.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n"));
    assert_eq!(s.records.len(), 2);
    assert!(s.records.iter().all(|r| r.conflict));
    // A refund with the payment's id is a different key: no conflict.
    let s = p(&format!("{row}REFUND,P1,P1,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n"));
    assert_eq!(s.conflict_count(), 0);
}

#[test]
fn wrong_header_explains_sales_v1() {
    let e = parse(b"id,amount\n1,2\n", "pos.csv", &BusinessZone::default(), &SalesConfig::default()).unwrap_err();
    let m = e.to_string();
    assert!(m.contains("pos.csv") && m.contains("record_type") && m.contains("[sales.mapping]"), "{m}");
}

#[test]
fn mapped_export_reads_through_mapping() {
    let mut cfg = SalesConfig::default();
    for (k, v) in [
        ("record_type", "Type"),
        ("merchant_trans_id", "Order"),
        ("merchant_refund_id", "Refund"),
        ("amount", "Amt"),
        ("currency", "Ccy"),
        ("status", "State"),
        ("created_at", "Time"),
    ] {
        cfg.mapping.insert(k.into(), v.into());
    }
    cfg.status_map.insert("PAID".into(), "SUCCESS".into());
    cfg.type_map.insert("SALE".into(), "PAYMENT".into());
    cfg.delimiter = Some(";".into());
    let text = "Type;Order;Refund;Amt;Ccy;State;Time\nSALE;O1;;12.50;HKD;PAID;2026-11-25 10:00:00\n";
    let s = parse(text.as_bytes(), "pos.csv", &BusinessZone::default(), &cfg).unwrap();
    assert!(s.rejects.is_empty(), "{:?}", s.rejects);
    assert_eq!(s.records[0].amount, 1250);
    assert_eq!(s.records[0].created_at.to_rfc3339(), "2026-11-25T10:00:00+08:00");
    assert_eq!(s.mapping, "mapped");
}

#[test]
fn reject_lines_are_physical_lines_with_any_line_ending() {
    // Header line 1; a quoted line break keeps the record on its first line and moves the next one.
    let body = "PAYMENT,P1,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n\
                PAYMENT,P2,,1.00,HK,SUCCESS,2026-11-25T10:00:00+08:00,,,\n\
                PAYMENT,P3,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,\"a\nb\",,\n\
                \n\
                PAYMENT,P4,,1.00,HK,SUCCESS,2026-11-25T10:00:00+08:00,,,\n";
    for eol in ["\n", "\r\n"] {
        let text = format!("{HEADER}{body}").replace('\n', eol);
        let s = parse(text.as_bytes(), "s.csv", &BusinessZone::default(), &SalesConfig::default()).unwrap();
        assert_eq!(s.records.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 4], "{eol:?}");
        assert_eq!(s.rejects.iter().map(|r| r.line).collect::<Vec<_>>(), [3, 7], "{eol:?}");
    }
}

/// A file parsed in chunks hands every record over once, in file order, chunk by chunk, and returns
/// the same parsed file as `parse`; a record handed over before a later row of its key disagreed
/// carries no flag yet (the returned file has it), and blank or rejected lines hand nothing over.
#[test]
fn records_parsed_in_chunks_are_handed_over_once_in_order() {
    let body = "PAYMENT,P1,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n\
                PAYMENT,P2,,1.00,HK,SUCCESS,2026-11-25T10:00:00+08:00,,,\n\
                PAYMENT,P3,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n\
                \n\
                PAYMENT,P3,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n\
                REFUND,P1,R1,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,A1\n\
                PAYMENT,P1,,2.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n";
    let text = format!("{HEADER}{body}");
    let whole = p(body);
    assert_eq!(
        whole.records.iter().map(|r| (r.line, r.conflict)).collect::<Vec<_>>(),
        [(2, true), (4, false), (7, false), (8, true)]
    );
    for chunk in [1, 2, 3, 4, 100] {
        let mut handed: Vec<Vec<LocalRecord>> = Vec::new();
        let s =
            parse_in_chunks(text.as_bytes(), "s.csv", &BusinessZone::default(), &SalesConfig::default(), chunk, |c| {
                handed.push(c)
            })
            .unwrap();
        assert_eq!((&s.records, &s.rejects), (&whole.records, &whole.rejects), "chunk {chunk}");
        assert!(handed.iter().all(|c| !c.is_empty() && c.len() <= chunk), "chunk {chunk}");
        let flat: Vec<LocalRecord> = handed.into_iter().flatten().collect();
        assert_eq!(flat.len(), whole.records.len(), "chunk {chunk}");
        for (got, want) in flat.iter().zip(&whole.records) {
            assert_eq!(LocalRecord { conflict: want.conflict, ..got.clone() }, *want, "chunk {chunk}");
        }
        // P1's first row was handed over before its disagreeing row was read (in a chunk of its own).
        assert_eq!(flat[0].conflict, chunk > 3, "chunk {chunk}");
    }
}
