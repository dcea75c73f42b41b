//! Report folder tests: golden CSV/JSON bytes (`UPDATE_GOLDEN=1` rewrites them), determinism of every
//! file, the history move and crash repair, HTML escaping, the workbook's structure.

use super::*;
use crate::domain::{Category, CurrencyTotals, FileFormat, FileKind, Finding, OpenItem, PendingItem, PendingState};
use std::io::Read;
use std::path::PathBuf;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn c(s: &str) -> Option<Currency> {
    Some(Currency::parse(s).unwrap())
}

const DATE: &str = "2026-11-25";

#[allow(clippy::too_many_arguments)]
fn f(
    cat: Category,
    item: &str,
    ids: (&str, &str, &str),
    local: (Option<&str>, Option<i64>),
    alipay: (Option<&str>, Option<i64>),
    types: (&str, &str),
    detail: &str,
) -> Finding {
    Finding {
        business_date: d(DATE),
        item_date: d(item),
        category: cat,
        merchant_trans_id: ids.0.into(),
        merchant_refund_id: ids.1.into(),
        acquirement_id: ids.2.into(),
        currency: local.0.and_then(c),
        local_amount: local.1,
        alipay_currency: alipay.0.and_then(c),
        alipay_amount: alipay.1,
        local_type: types.0.into(),
        alipay_type: types.1.into(),
        detail: detail.into(),
    }
}

/// Every category, JPY and KWD amounts, hostile free text; lists deliberately out of order.
fn sample() -> ReportInput {
    use Category::*;
    let mut r = ReportInput::new(d(DATE), "Harbour Tea <House> & \"Co\"");
    r.tool_version = "0.0.0-test".into();
    r.config_hash = "cfg-0123abcd".into();
    r.findings = vec![
        f(
            FileIntegrity,
            DATE,
            ("", "", ""),
            (None, None),
            (None, None),
            ("", ""),
            "\tfile 20261125_HKD_trans.csv line 7 was rejected (bad amount): fix or ask Alipay to resend.",
        ),
        f(
            AmountMismatch,
            DATE,
            ("P-AM-2", "", "2026112522001"),
            (Some("JPY"), Some(5600)),
            (Some("JPY"), Some(5000)),
            ("PAYMENT SUCCESS", "PAYMENT"),
            "Alipay captured 5000 JPY but the receipt says 5600: collect the difference.",
        ),
        f(
            AmountMismatch,
            DATE,
            ("P-AM-1", "R-AM-1", "2026112522002"),
            (Some("HKD"), Some(1000)),
            (Some("HKD"), Some(1250)),
            ("REFUND SUCCESS", "REFUND"),
            "\"quoted, with comma\" refund differs: check the refund slip.",
        ),
        f(
            AmountMismatch,
            DATE,
            ("P-AM-3", "", ""),
            (Some("KWD"), Some(1234)),
            (Some("KWD"), Some(1230)),
            ("PAYMENT SUCCESS", "PAYMENT"),
            "KWD amounts differ by 0.004: check the terminal.",
        ),
        f(
            Duplicate,
            DATE,
            ("P-DUP-1", "", "2026112522003"),
            (Some("HKD"), Some(5600)),
            (Some("HKD"), Some(5600)),
            ("PAYMENT SUCCESS", "PAYMENT"),
            "Alipay lists P-DUP-1 twice (56.00, 56.00): ask Alipay which one is real.",
        ),
        f(
            MissingLocally,
            DATE,
            ("=1+2", "", "2026112522004"),
            (Some("JPY"), None),
            (Some("JPY"), Some(5600)),
            ("", "PAYMENT"),
            "Alipay captured 5600 JPY with no sales record: record the sale.",
        ),
        f(
            MissingAtAlipay,
            DATE,
            ("P-MA-1", "", ""),
            (Some("KWD"), Some(1234)),
            (None, None),
            ("PAYMENT SUCCESS", ""),
            "=HYPERLINK(\"http://evil.example\",\"click\")",
        ),
        f(
            StatusMismatch,
            DATE,
            ("P-SM-1", "", "2026112522005"),
            (Some("HKD"), Some(10000)),
            (Some("HKD"), Some(10000)),
            ("PAYMENT UNKNOWN", "PAYMENT"),
            "captured at Alipay: mark SUCCESS",
        ),
        f(
            CurrencyMismatch,
            DATE,
            ("P-CM-1", "", ""),
            (Some("HKD"), Some(10000)),
            (Some("CNY"), Some(8800)),
            ("PAYMENT SUCCESS", "PAYMENT"),
            "Alipay priced it in CNY, the sale in HKD: check the terminal currency.",
        ),
        f(
            Unsettled,
            "2026-11-17",
            ("P-UN-1", "", "2026111722006"),
            (None, None),
            (Some("HKD"), Some(20000)),
            ("", "PAYMENT"),
            "<script>alert(1)</script> not settled after 7 days: ask Alipay.",
        ),
        f(
            SettlementMismatch,
            DATE,
            ("P-SE-1", "", "2026112422007"),
            (Some("HKD"), Some(5000)),
            (Some("HKD"), Some(4900)),
            ("", "PAYMENT"),
            "Settlement line 4 settles 49.00 for a 50.00 payment: raise it with Alipay.",
        ),
        f(
            FeeMismatch,
            DATE,
            ("P-FE-1", "", "2026112422008"),
            (Some("HKD"), Some(180)),
            (Some("HKD"), Some(200)),
            ("", "PAYMENT"),
            "-fee charged 2.00, expected 1.80 at 1.8%: dispute the fee.",
        ),
        f(
            SummaryMismatch,
            DATE,
            ("", "", ""),
            (Some("HKD"), Some(100000)),
            (Some("HKD"), Some(100001)),
            ("", "PAYMENT"),
            "@summary total 1000.01 vs detail rows 1000.00: ask Alipay to restate.",
        ),
    ];
    let pending_item = f(
        MissingAtAlipay,
        DATE,
        ("P-PD-1", "", ""),
        (Some("HKD"), Some(2000)),
        (None, None),
        ("PAYMENT SUCCESS", ""),
        "Not in Alipay's file yet.",
    );
    let resolved_item = f(
        MissingLocally,
        "2026-11-24",
        ("P-RS-1", "", "2026112422009"),
        (Some("HKD"), None),
        (Some("HKD"), Some(3000)),
        ("", "PAYMENT"),
        "Alipay captured 30.00 with no sales record.",
    );
    r.pending = vec![
        PendingItem {
            state: PendingState::Resolved,
            finding: resolved_item,
            first_reported: Some(d("2026-11-24")),
            reason: "=explained by the sales file of 2026-11-25".into(),
        },
        PendingItem {
            state: PendingState::Pending,
            finding: pending_item,
            first_reported: None,
            reason: "created 23:50, inside the 30-minute grace: waiting for 2026-11-26's file".into(),
        },
    ];
    r.open_items = vec![
        OpenItem {
            finding: f(
                StatusMismatch,
                "2026-11-21",
                ("P-OP-2", "", ""),
                (Some("JPY"), Some(1200)),
                (None, None),
                ("PAYMENT UNKNOWN", ""),
                "not at Alipay: mark FAILED",
            ),
            first_reported: d("2026-11-21"),
            age_days: 4,
        },
        OpenItem {
            finding: f(
                MissingAtAlipay,
                "2026-11-20",
                ("P-OP-1", "", ""),
                (Some("HKD"), Some(4500)),
                (None, None),
                ("PAYMENT SUCCESS", ""),
                "Alipay has no such payment: ask the store.",
            ),
            first_reported: d("2026-11-21"),
            age_days: 5,
        },
    ];
    let hkd = CurrencyTotals {
        alipay_payments: 1_234_500,
        alipay_payment_count: 41,
        alipay_refunds: 5000,
        alipay_refund_count: 2,
        alipay_cancels: 1500,
        alipay_cancel_count: 1,
        local_payments: 1_230_000,
        local_payment_count: 40,
        local_refunds: 4750,
        local_refund_count: 2,
        fees: 2222,
        settled_net: 1_100_000,
        expected_net: 1_100_020,
    };
    let jpy = CurrencyTotals { alipay_payments: 56000, alipay_payment_count: 3, ..Default::default() };
    let kwd = CurrencyTotals { local_payments: 2468, local_payment_count: 2, ..Default::default() };
    r.summary.currencies = [("HKD".to_string(), hkd), ("JPY".to_string(), jpy), ("KWD".to_string(), kwd)].into();
    r.summary.at_stake = [("HKD".to_string(), 26_702), ("JPY".to_string(), 6200), ("KWD".to_string(), 1238)].into();
    r.summary.matched = 38;
    r.warnings = vec![FileWarning {
        file: "20261125_HKD_trans.csv".into(),
        line: Some(7),
        code: "REJECTED_LINE".into(),
        message: "amount '1,2' is not a decimal <b>".into(),
    }];
    // 12 of the 14 days: 2026-11-15 and 2026-11-19 had no report.
    r.trend = d("2026-11-12")
        .iter_days()
        .take(14)
        .filter(|x| *x != d("2026-11-15") && *x != d("2026-11-19"))
        .enumerate()
        .map(|(i, date)| TrendPoint {
            date,
            discrepancies: (i as i64 * 7) % 5,
            at_stake: [("HKD".to_string(), i as i64 * 1000), ("JPY".to_string(), (i as i64 % 3) * 500)].into(),
        })
        .collect();
    r.input_files = vec![
        InputFile {
            name: "20261125_settlement.csv".into(),
            sha256: "bb".repeat(32),
            format: FileFormat::Intl,
            kind: FileKind::SettlementDetail,
            business_date: d(DATE),
        },
        InputFile {
            name: "20261125_HKD_trans.csv".into(),
            sha256: "aa".repeat(32),
            format: FileFormat::Intl,
            kind: FileKind::Transactions,
            business_date: d(DATE),
        },
    ];
    r
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/cases/report-basic/out")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

#[test]
fn golden_csv_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let w = write(tmp.path(), &sample(), 1).unwrap();
    let update = std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1");
    for path in [&w.discrepancies_csv, &w.pending_csv, &w.open_items_csv, &w.summary_json] {
        let name = path.file_name().unwrap();
        let golden = golden_dir().join(name);
        let got = read(path);
        if update {
            std::fs::create_dir_all(golden_dir()).unwrap();
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = read(&golden);
        assert!(
            got == want,
            "{} differs from {} (run with UPDATE_GOLDEN=1 to accept)\n--- got\n{}",
            name.to_string_lossy(),
            golden.display(),
            String::from_utf8_lossy(&got)
        );
    }
}

#[test]
fn discrepancies_csv_follows_the_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let w = write(tmp.path(), &sample(), 1).unwrap();
    let bytes = read(&w.discrepancies_csv);
    assert!(!bytes.starts_with(b"\xEF\xBB\xBF"), "no BOM");
    assert!(!bytes.windows(2).any(|x| x == b"\r\n"), "LF line endings");
    let mut rd = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
    assert_eq!(rd.headers().unwrap().iter().collect::<Vec<_>>(), csv_out::COLUMNS);
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 13);
    let cats: Vec<&str> = rows.iter().map(|r| &r[2]).collect();
    let mut sorted = cats.clone();
    sorted.sort_by_key(|c| Category::parse(c).unwrap());
    assert_eq!(cats, sorted, "category order");
    assert_eq!(
        rows.iter().filter(|r| &r[2] == "AMOUNT_MISMATCH").map(|r| &r[3]).collect::<Vec<_>>(),
        ["P-AM-1", "P-AM-2", "P-AM-3"]
    );
    let by_id = |id: &str| rows.iter().find(|r| &r[3] == id).unwrap().clone();
    // JPY no decimals, KWD three, signed difference, magnitudes.
    let jpy = by_id("P-AM-2");
    assert_eq!((&jpy[7], &jpy[9], &jpy[10]), ("5600", "5000", "-600"));
    let kwd = by_id("P-AM-3");
    assert_eq!((&kwd[7], &kwd[9], &kwd[10]), ("1.234", "1.230", "-0.004"));
    let cm = by_id("P-CM-1");
    assert_eq!((&cm[6], &cm[8], &cm[10]), ("HKD", "CNY", ""), "no difference across currencies");
    // Free text neutralised, ids untouched.
    assert_eq!(&by_id("P-MA-1")[13], "'=HYPERLINK(\"http://evil.example\",\"click\")");
    assert_eq!(&by_id("P-MA-1")[9], "", "no Alipay amount");
    assert_eq!(&by_id("=1+2")[3], "=1+2");
    assert!(rows.iter().any(|r| r[13].starts_with("'\tfile")));
    assert!(rows.iter().all(|r| &r[0] == DATE));
}

#[test]
fn every_file_is_deterministic() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let wa = write(a.path(), &sample(), 5).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100)); // a wall clock leak would show in seconds
    let wb = write(b.path(), &sample(), 5).unwrap();
    for (x, y) in wa.files().iter().zip(wb.files()) {
        assert!(read(x) == read(y), "{} differs between two writes", x.display());
    }
    // A different run id changes only the manifest.
    let c = tempfile::tempdir().unwrap();
    let wc = write(c.path(), &sample(), 6).unwrap();
    for (x, y) in wa.files().iter().zip(wc.files()) {
        let same = read(x) == read(y);
        assert_eq!(same, !x.ends_with("manifest.json"), "{}", x.display());
    }
    // Input order does not matter.
    let mut shuffled = sample();
    shuffled.findings.reverse();
    shuffled.pending.reverse();
    shuffled.open_items.reverse();
    shuffled.input_files.reverse();
    shuffled.trend.reverse();
    let s = tempfile::tempdir().unwrap();
    let ws = write(s.path(), &shuffled, 5).unwrap();
    for (x, y) in wa.files().iter().zip(ws.files()) {
        assert!(read(x) == read(y), "{} depends on input order", x.display());
    }
}

#[test]
fn rerun_moves_previous_set_to_history() {
    let tmp = tempfile::tempdir().unwrap();
    let first = write(tmp.path(), &ReportInput::new(d(DATE), "M"), 11).unwrap();
    assert_eq!(first.previous, None);
    let first_html = read(&first.report_html);
    let second = write(tmp.path(), &sample(), 12).unwrap();
    let hist = tmp.path().join(DATE).join("history/11");
    assert_eq!(second.previous.as_deref(), Some(hist.as_path()));
    for name in folder::SET {
        assert!(hist.join(name).is_file(), "history/11/{name} missing");
    }
    assert_eq!(read(&hist.join("report.html")), first_html);
    assert_eq!(summary::manifest_run_id(&read(&hist.join("manifest.json"))), Some(11));
    assert_eq!(summary::manifest_run_id(&read(&second.manifest_json)), Some(12));
    assert_ne!(read(&second.report_html), first_html);
    let third = write(tmp.path(), &sample(), 13).unwrap();
    assert!(tmp.path().join(DATE).join("history/12/manifest.json").is_file());
    assert!(tmp.path().join(DATE).join("history/11/manifest.json").is_file(), "older history kept");
    // The same run writing again replaces its own set instead of filing it as history.
    let again = write(tmp.path(), &sample(), 13).unwrap();
    assert_eq!(again.previous, None);
    assert!(!tmp.path().join(DATE).join("history/13").exists());
    assert_eq!(third.dir, again.dir);
}

#[test]
fn next_run_repairs_a_crashed_write() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(DATE);
    write(tmp.path(), &sample(), 20).unwrap();
    // Crash A: run 21 died mid-move of run 20's set (two files already in history) and left its temp folder.
    let hist = dir.join("history/20");
    std::fs::create_dir_all(&hist).unwrap();
    std::fs::rename(dir.join("discrepancies.csv"), hist.join("discrepancies.csv")).unwrap();
    std::fs::rename(dir.join("pending.csv"), hist.join("pending.csv")).unwrap();
    std::fs::create_dir_all(dir.join(".tmp-21")).unwrap();
    std::fs::write(dir.join(".tmp-21/report.html"), "half").unwrap();
    let w = write(tmp.path(), &sample(), 22).unwrap();
    for name in folder::SET {
        assert!(hist.join(name).is_file(), "history/20/{name} completed");
        assert!(dir.join(name).is_file(), "{name} in place");
    }
    assert!(!dir.join(".tmp-21").exists() && !dir.join(".tmp-22").exists(), "temp folders cleaned");
    assert_eq!(summary::manifest_run_id(&read(&w.manifest_json)), Some(22));

    // Crash B: run 23 moved run 22's set to history, then died after placing one new file.
    std::fs::create_dir_all(dir.join("history/22")).unwrap();
    for name in folder::SET {
        std::fs::rename(dir.join(name), dir.join("history/22").join(name)).unwrap();
    }
    std::fs::write(dir.join("discrepancies.csv"), "partial").unwrap();
    let w = write(tmp.path(), &sample(), 24).unwrap();
    assert_eq!(w.previous, None, "leftovers without a manifest are not a set");
    assert_ne!(read(&w.discrepancies_csv), b"partial");
    assert!(dir.join("history/22/manifest.json").is_file());
}

#[test]
fn html_escapes_outside_text_and_has_no_active_content() {
    let tmp = tempfile::tempdir().unwrap();
    let w = write(tmp.path(), &sample(), 1).unwrap();
    let html = String::from_utf8(read(&w.report_html)).unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.to_lowercase().contains("<script"), "no script element");
    assert!(html.contains("Harbour Tea &lt;House&gt; &amp; &quot;Co&quot;"));
    assert!(html.contains("&quot;quoted, with comma&quot;"));
    assert!(html.contains("amount &#39;1,2&#39; is not a decimal &lt;b&gt;"));
    assert!(html.contains("src=\"cid:trend.png\""));
    for bad in ["http://", "https://", "<link", "<style", "javascript:", "onerror", "onload"] {
        let outside = html.replace("http://evil.example", ""); // escaped user text, not a resource
        assert!(!outside.contains(bad), "report.html contains {bad}");
    }
    assert!(html.contains("Needs attention"));
    assert!(!html.contains("All clear"));
    assert!(html.contains("0.004") && html.contains("JPY 5600"));
}

#[test]
fn clean_day_says_all_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let w = write(tmp.path(), &ReportInput::new(d(DATE), "M"), 1).unwrap();
    let html = String::from_utf8(read(&w.report_html)).unwrap();
    assert!(html.contains("All clear"), "{html}");
    assert!(!html.contains("Needs attention"));
    let summary: serde_json::Value = serde_json::from_slice(&read(&w.summary_json)).unwrap();
    assert_eq!(summary["status"], "clean");
    assert_eq!(summary["counts"].as_object().unwrap().len(), Category::ALL.len(), "zeros included");
    let csv = String::from_utf8(read(&w.discrepancies_csv)).unwrap();
    assert_eq!(csv, format!("{}\n", csv_out::COLUMNS.join(",")), "header only");
}

fn zip_entry(bytes: &[u8], name: &str) -> String {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("report.xlsx is a zip");
    let mut s = String::new();
    z.by_name(name).unwrap_or_else(|e| panic!("{name} in xlsx: {e}")).read_to_string(&mut s).unwrap();
    s
}

#[test]
fn workbook_has_frozen_filtered_sheets_and_no_formulas() {
    let tmp = tempfile::tempdir().unwrap();
    let w = write(tmp.path(), &sample(), 1).unwrap();
    let bytes = read(&w.report_xlsx);
    let book = zip_entry(&bytes, "xl/workbook.xml");
    for name in ["Summary", "Discrepancies", "Pending", "Open items"] {
        assert!(book.contains(&format!("name=\"{name}\"")), "sheet {name}");
    }
    for i in 1..=4 {
        let sheet = zip_entry(&bytes, &format!("xl/worksheets/sheet{i}.xml"));
        assert!(sheet.contains("state=\"frozen\""), "sheet{i} frozen header");
        assert!(!sheet.contains("<f>") && !sheet.contains("<f "), "sheet{i} has a formula");
        if i > 1 {
            assert!(sheet.contains("<autoFilter"), "sheet{i} autofilter");
        }
    }
    let disc = zip_entry(&bytes, "xl/worksheets/sheet2.xml");
    assert!(disc.contains("<v>-0.004</v>") && disc.contains("<v>5600</v>"), "amounts are numbers");
    let strings = zip_entry(&bytes, "xl/sharedStrings.xml");
    assert!(strings.contains("&apos;=HYPERLINK") || strings.contains("'=HYPERLINK"), "detail neutralised");
    assert!(strings.contains("&lt;script&gt;"));
    let core = zip_entry(&bytes, "docProps/core.xml");
    assert!(core.contains("2026-11-25T00:00:00Z"), "creation time from business date: {core}");
}

#[test]
fn trend_png_is_a_chart_of_the_window() {
    let tmp = tempfile::tempdir().unwrap();
    let w = write(tmp.path(), &sample(), 1).unwrap();
    let bytes = read(&w.trend_png);
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (chart::WIDTH, chart::HEIGHT));
    let px = |x: u32, y: u32| {
        let i = ((y * info.width + x) * 3) as usize;
        [buf[i], buf[i + 1], buf[i + 2]]
    };
    // The last slot (the report day) has a count bar standing on the baseline.
    let x_last = 14 + 38 * 13 + 19;
    assert_eq!(px(x_last, 107), [192, 57, 43], "count bar drawn");
    // An empty input draws no bars at all.
    let e = tempfile::tempdir().unwrap();
    let we = write(e.path(), &ReportInput::new(d(DATE), "M"), 1).unwrap();
    assert_ne!(read(&we.trend_png), read(&w.trend_png));
}

#[test]
fn bad_currency_key_is_named() {
    let mut r = sample();
    r.summary.at_stake.insert("HK$".into(), 1);
    let tmp = tempfile::tempdir().unwrap();
    let err = format!("{:#}", write(tmp.path(), &r, 1).unwrap_err());
    assert!(err.contains("'HK$'") && err.contains("summary.at_stake"), "{err}");
    assert!(!tmp.path().join(DATE).exists(), "nothing written");
}
