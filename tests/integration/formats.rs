//! The bundled Alipay fixtures (three layouts, two days) through the real binary's `import`: every
//! file is found by the default layouts, parsed by its layout's parser and stored with its encoding,
//! counts, warnings and integrity flags (fixtures/README.md lists the deliberate faults).

use crate::harness::{copy_tree, fixtures, Workspace};

fn workspace() -> Workspace {
    let w = Workspace::new();
    w.write("alipay-recon.toml", crate::harness::dir_config("Fixture Store", &["intl", "classic", "antom"]));
    copy_tree(&fixtures().join("sftp"), &w.file("sftp"));
    w
}

/// (name, encoding, rows, rejects, warnings, declared_count, has_end_marker, truncated)
type FileRow = (String, String, i64, i64, i64, Option<i64>, Option<bool>, bool);

#[test]
fn fixtures_import_with_all_three_layouts() {
    let w = workspace();
    for day in ["2026-11-24", "2026-11-25"] {
        let r = w.run(&["import", "--date", day]);
        // Both days are long past their deadline, so even the summary without <END> is imported.
        assert!(r.code == 0 || r.code == 1, "{day}: exit {}\n{}\n{}", r.code, r.stdout, r.stderr);
    }
    let db = rusqlite::Connection::open(w.file("data/recon.db")).unwrap();
    let mut st = db
        .prepare(
            "SELECT name, encoding, row_count, reject_count, warning_count, declared_count, has_end_marker, truncated
             FROM files ORDER BY name",
        )
        .unwrap();
    let got: Vec<FileRow> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let want: Vec<FileRow> = [
        ("2088000000000001_settlement_20261125.txt", "gb18030", 11, 0, 0, None, None, false),
        ("2088000000000001_transaction_20261124.txt", "gb18030", 13, 0, 0, Some(13), None, false),
        ("2088000000000001_transaction_20261125.txt", "gb18030", 15, 0, 1, Some(14), None, false),
        ("ALIPAY_SETTLEMENT_DETAIL_HKD_20261125.csv", "utf-8", 14, 0, 0, None, None, false),
        ("ALIPAY_SETTLEMENT_SUMMARY_HKD_20261125.csv", "utf-8", 3, 0, 0, None, None, false),
        ("ALIPAY_TRANSACTION_DETAIL_CNY_20261124.csv", "utf-8", 4, 0, 0, None, None, false),
        ("ALIPAY_TRANSACTION_DETAIL_CNY_20261125.csv", "utf-8", 6, 0, 0, None, None, false),
        ("ALIPAY_TRANSACTION_DETAIL_HKD_20261124.csv", "utf-8", 11, 0, 0, None, None, false),
        ("ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv", "utf-8", 12, 0, 0, None, None, false),
        ("settlementItems_HKD_B2026112500001_001.csv", "utf-8", 15, 0, 0, None, Some(true), false),
        ("settlementSummary_HKD_B2026112500001_001.csv", "utf-8", 4, 0, 1, None, Some(false), true),
        ("transactionItems_20261124_001.csv", "utf-8", 16, 0, 0, None, Some(true), false),
        ("transactionItems_20261125_001.csv", "utf-8", 16, 0, 0, None, Some(true), false),
    ]
    .into_iter()
    .map(|(n, e, r, j, wn, d, end, t)| (n.to_string(), e.to_string(), r, j, wn, d, end, t))
    .collect();
    assert_eq!(got, want);

    let one = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    // PAYMENT+CANCEL pairs: intl CANCEL ×2 (one at 00:05 the next day), classic REVERSAL, antom VOID.
    assert_eq!(one("SELECT COUNT(*) FROM alipay_rows WHERE trans_type = 'CANCEL'"), 4);
    assert_eq!(one("SELECT COUNT(*) FROM alipay_rows WHERE type_raw IN ('REVERSAL', 'VOID')"), 2);
    // GB18030 remarks decoded; refunds keyed by their refund id; fees as a cost to the merchant.
    assert!(one("SELECT COUNT(*) FROM alipay_rows WHERE remark = '鸳鸯走冰'") > 0);
    assert_eq!(
        one("SELECT COUNT(*) FROM alipay_rows WHERE trans_type = 'REFUND' AND kind = 'transactions'
             AND merchant_refund_id LIKE '%-R1'"),
        9
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM alipay_rows WHERE kind = 'settlement_detail' AND trans_type = 'PAYMENT'
             AND (fee <= 0 OR settle_amount <= 0)"),
        0
    );
    assert_eq!(
        one("SELECT amount FROM alipay_rows WHERE merchant_trans_id = 'A-20261124-0005' AND kind = 'transactions'"),
        8000
    );
}
