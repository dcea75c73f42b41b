//! Parses every file under `fixtures/sftp` with the parser its path and name select (the default
//! layouts of `config::layouts`) and checks its counts, so a fixture change is a deliberate one.
//! The faults these numbers encode are listed in fixtures/README.md.

use super::*;
use crate::config::FormatLayout;
use crate::domain::{FileFormat, TransType};
use regex::Regex;
use std::path::{Path, PathBuf};

/// (path under fixtures/sftp, encoding, rows, rejects, warnings, declared_count, has_end_marker)
type Expect = (&'static str, &'static str, usize, usize, usize, Option<u64>, Option<bool>);

const EXPECTED: &[Expect] = &[
    ("download/2088000000000001_settlement_20261125.txt", "gb18030", 11, 0, 0, None, None),
    ("download/2088000000000001_transaction_20261124.txt", "gb18030", 13, 0, 0, Some(13), None),
    ("download/2088000000000001_transaction_20261125.txt", "gb18030", 15, 0, 1, Some(14), None),
    ("download/2188000000000001/20261124/ALIPAY_TRANSACTION_DETAIL_CNY_20261124.csv", "utf-8", 4, 0, 0, None, None),
    ("download/2188000000000001/20261124/ALIPAY_TRANSACTION_DETAIL_HKD_20261124.csv", "utf-8", 11, 0, 0, None, None),
    ("download/2188000000000001/20261125/ALIPAY_SETTLEMENT_DETAIL_HKD_20261125.csv", "utf-8", 14, 0, 0, None, None),
    ("download/2188000000000001/20261125/ALIPAY_SETTLEMENT_SUMMARY_HKD_20261125.csv", "utf-8", 3, 0, 0, None, None),
    ("download/2188000000000001/20261125/ALIPAY_TRANSACTION_DETAIL_CNY_20261125.csv", "utf-8", 6, 0, 0, None, None),
    ("download/2188000000000001/20261125/ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv", "utf-8", 12, 0, 0, None, None),
    ("v1/settlements/2188000000000001/20261124/transactionItems_20261124_001.csv", "utf-8", 16, 0, 0, None, Some(true)),
    (
        "v1/settlements/2188000000000001/20261125/settlementItems_HKD_B2026112500001_001.csv",
        "utf-8",
        15,
        0,
        0,
        None,
        Some(true),
    ),
    (
        "v1/settlements/2188000000000001/20261125/settlementSummary_HKD_B2026112500001_001.csv",
        "utf-8",
        4,
        0,
        1,
        None,
        Some(false),
    ),
    ("v1/settlements/2188000000000001/20261125/transactionItems_20261125_001.csv", "utf-8", 16, 0, 0, None, Some(true)),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sftp")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out)
        } else {
            out.push(p)
        }
    }
}

/// The format (by directory) and kind and currency (by the default name patterns) of a fixture.
fn classify(rel: &str) -> (FileFormat, FileKind, Option<String>) {
    let format = if rel.starts_with("v1/settlements/") {
        FileFormat::Antom
    } else if rel.matches('/').count() == 1 {
        FileFormat::Classic
    } else {
        FileFormat::Intl
    };
    let name = rel.rsplit('/').next().unwrap();
    for (kind, pat) in FormatLayout::default_for(format).patterns() {
        if let Some(c) = Regex::new(pat).unwrap().captures(name) {
            return (format, kind, c.name("ccy").map(|m| m.as_str().to_string()));
        }
    }
    panic!("{rel}: no default {format} pattern matches this name");
}

fn parse_fixture(rel: &str) -> ParsedFile {
    let (format, kind, ccy) = classify(rel);
    let ctx = ParseContext {
        file_name: rel.to_string(),
        format,
        kind,
        zone: Default::default(),
        name_currency: ccy.map(|c| crate::domain::Currency::parse(&c).unwrap()),
    };
    let bytes = std::fs::read(root().join(rel)).unwrap();
    parse(&bytes, &ctx).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_fixture_parses_with_the_expected_counts() {
    let mut files = Vec::new();
    walk(&root(), &mut files);
    let mut rels: Vec<String> =
        files.iter().map(|p| p.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/")).collect();
    rels.sort();
    let listed: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    assert_eq!(rels, listed, "fixtures/sftp and the EXPECTED table must list the same files");
    for &(rel, enc, rows, rejects, warnings, declared, end) in EXPECTED {
        let p = parse_fixture(rel);
        let got = (p.encoding, p.rows.len(), p.rejects.len(), p.warnings.len(), p.declared_count, p.has_end_marker);
        assert_eq!(got, (enc, rows, rejects, warnings, declared, end), "{rel}: {:?} {:?}", p.rejects, p.warnings);
    }
}

fn detail(rel: &str) -> Vec<DetailRow> {
    match parse_fixture(rel).rows {
        Rows::Detail(r) => r,
        Rows::Summary(_) => panic!("{rel}: summary"),
    }
}

#[test]
fn fixture_faults_are_in_the_files() {
    let hkd1 = detail("download/2188000000000001/20261124/ALIPAY_TRANSACTION_DETAIL_HKD_20261124.csv");
    let late = hkd1.iter().find(|r| r.merchant_trans_id.as_deref() == Some("I-20261124-0014")).unwrap();
    assert_eq!(late.trans_time.unwrap().to_rfc3339(), "2026-11-24T23:58:10+08:00");
    let hkd2 = detail("download/2188000000000001/20261125/ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv");
    let cancel = hkd2.iter().find(|r| r.merchant_trans_id.as_deref() == Some("I-20261124-0014")).unwrap();
    assert_eq!(
        (cancel.trans_type.0, cancel.original_alipay_id.as_deref()),
        (TransType::Cancel, late.alipay_id.as_deref())
    );

    let antom1 = detail("v1/settlements/2188000000000001/20261124/transactionItems_20261124_001.csv");
    let f3 = antom1.iter().find(|r| r.merchant_trans_id.as_deref() == Some("A-20261124-0005")).unwrap();
    assert_eq!(f3.amount, Some(8000));
    let void = antom1.iter().find(|r| r.type_raw == "VOID").unwrap();
    assert_eq!((void.trans_type.0, void.merchant_trans_id.as_deref()), (TransType::Cancel, Some("A-20261124-0009")));

    let classic2 = detail("download/2088000000000001_transaction_20261125.txt");
    let dups = classic2
        .iter()
        .filter(|r| r.trans_type.0 == TransType::Payment && r.merchant_trans_id.as_deref() == Some("C-20261125-0005"))
        .count();
    assert_eq!(dups, 2);
    assert!(classic2.iter().any(|r| r.remark.as_deref() == Some("鸳鸯走冰")));

    let classic1 = detail("download/2088000000000001_transaction_20261124.txt");
    assert!(!classic1.iter().any(|r| r.merchant_trans_id.as_deref() == Some("C-20261124-0007")));
    assert!(classic1
        .iter()
        .any(|r| r.type_raw == "REVERSAL" && r.merchant_trans_id.as_deref() == Some("C-20261124-0004")));
}

/// The parsed fixtures satisfy the store's schema: every row and reject lands in SQLite.
#[test]
fn fixtures_import_into_the_store() {
    let mut conn = crate::store::open_in_memory().unwrap();
    let mut want_rows = 0usize;
    let digits = Regex::new(r"(\d{8})(?:/[^/]*|_\d+\.csv|\.txt)$").unwrap();
    for &(rel, ..) in EXPECTED {
        let (format, kind, ccy) = classify(rel);
        let p = parse_fixture(rel);
        want_rows += p.rows.len();
        let ymd = digits.captures(rel).map(|c| c[1].to_string()).unwrap_or_else(|| "20261125".into());
        let meta = crate::store::files::FileMeta {
            source: "fixtures".into(),
            source_path: rel.into(),
            name: rel.rsplit('/').next().unwrap().into(),
            format,
            kind,
            business_date: chrono::NaiveDate::parse_from_str(&ymd, "%Y%m%d").unwrap(),
            currency: ccy,
            size: 0,
            sha256: rel.into(),
            archive_path: rel.into(),
            remote_mtime: None,
        };
        crate::store::files::import(&mut conn, &meta, &p, None).unwrap_or_else(|e| panic!("{rel}: {e:#}"));
    }
    let stored: i64 = conn
        .query_row("SELECT (SELECT COUNT(*) FROM alipay_rows) + (SELECT COUNT(*) FROM summary_rows)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored as usize, want_rows);
    let cny_refund: i64 = conn
        .query_row("SELECT amount FROM alipay_rows WHERE merchant_refund_id = 'I-20261124-0006-R1'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(cny_refund, 3950);
}

/// The sales fixtures are valid sales-v1 and cover both days: (file, records, CANCELLED, UNKNOWN).
#[test]
fn sales_fixtures_are_valid_sales_v1() {
    use crate::domain::LocalStatus;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sales");
    let cfg = crate::config::SalesConfig::default();
    for (name, records, cancelled, unknown) in [("sales_2026-11-24.csv", 42, 3, 0), ("sales_2026-11-25.csv", 46, 2, 1)]
    {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let p = crate::sales::parse(&bytes, name, &Default::default(), &cfg).unwrap();
        assert!(p.rejects.is_empty(), "{name}: {:?}", p.rejects);
        assert_eq!(p.conflict_count(), 0, "{name}");
        let count = |s| p.records.iter().filter(|r| r.status == s).count();
        assert_eq!(
            (p.records.len(), count(LocalStatus::Cancelled), count(LocalStatus::Unknown)),
            (records, cancelled, unknown),
            "{name}"
        );
        let day = name[6..16].parse::<chrono::NaiveDate>().unwrap();
        assert!(p.records.iter().all(|r| r.business_date == day), "{name}: a record of another day");
    }
}

/// A streamed parse hands over a thousand rows first, then twice as many each time up to the batch
/// size, and the batches together are the whole parse's rows in order.
#[test]
fn batches_start_small_and_double_up_to_the_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let spec = crate::demo::gen::GenSpec {
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        payments: 20_000,
        format: FileFormat::Intl,
        currency: crate::domain::Currency::parse("HKD").unwrap(),
        merchant_id: "2188000000000001".into(),
        seed: 5,
        zone: Default::default(),
        faults: false,
    };
    let rep = crate::demo::gen::generate(&spec, dir.path()).unwrap();
    let path = rep.files.iter().find(|p| p.to_string_lossy().contains("TRANSACTION")).unwrap();
    let bytes = std::fs::read(path).unwrap();
    let ctx = common::test_ctx(FileFormat::Intl, FileKind::Transactions, Some("HKD"));
    let whole = parse(&bytes, &ctx).unwrap();
    let mut sizes = Vec::new();
    let mut lines = Vec::new();
    let streamed = parse_batched::<()>(&bytes, &ctx, 5_000, &mut |rows| {
        sizes.push(rows.len());
        if let Rows::Detail(d) = rows {
            lines.extend(d.iter().map(|r| r.line));
        }
        Ok(())
    })
    .unwrap();
    let n = whole.rows.len();
    assert!(n > 20_000, "{n} rows");
    assert_eq!(streamed.row_count, n);
    assert_eq!(&sizes[..4], [1_000, 2_000, 4_000, 5_000]);
    assert!(sizes[4..sizes.len() - 1].iter().all(|s| *s == 5_000) && *sizes.last().unwrap() <= 5_000);
    let Rows::Detail(d) = &whole.rows else { panic!("detail rows") };
    assert_eq!(lines, d.iter().map(|r| r.line).collect::<Vec<_>>());
}
