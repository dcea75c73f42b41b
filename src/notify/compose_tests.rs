use super::*;
use crate::domain::{Category, CurrencyTotals};

fn cur(s: &str) -> Currency {
    Currency::parse(s).unwrap()
}

fn summary(counts: &[(Category, i64)], stake: &[(&str, i64)]) -> DaySummary {
    let mut s = DaySummary { business_date: Some("2026-11-25".parse().unwrap()), matched: 120, ..Default::default() };
    for (c, n) in counts {
        s.counts.insert(*c, *n);
    }
    for (c, v) in stake {
        s.at_stake.insert(c.to_string(), *v);
    }
    s.currencies.insert(
        "HKD".into(),
        CurrencyTotals { alipay_payments: 1_234_567, alipay_payment_count: 120, ..Default::default() },
    );
    s
}

fn folder(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (n, b) in files {
        std::fs::write(d.path().join(n), b).unwrap();
    }
    d
}

#[test]
fn header_safe_removes_line_breaks_and_controls() {
    assert_eq!(header_safe("a\r\nBcc: evil@x.y"), "a Bcc: evil@x.y");
    assert_eq!(header_safe("  x \t\u{0}y\u{2028}z\n"), "x y z");
    assert_eq!(header_safe(&"é".repeat(400)).chars().count(), 250);
}

#[test]
fn html_escape_neutralises_markup() {
    assert_eq!(
        html_escape("<script>alert('x')</script> & \"q\""),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
    );
}

#[test]
fn daily_subject_names_date_merchant_count_and_stake() {
    let s = summary(&[(Category::MissingAtAlipay, 2), (Category::AmountMismatch, 1)], &[("HKD", 123_400)]);
    let d = folder(&[
        ("discrepancies.csv", b"a,b\n"),
        ("report.xlsx", b"PK\x03\x04"),
        // A page written before it referred to the chart by file name: already cid:, kept as is.
        ("report.html", b"<img src=\"cid:trend.png\">"),
        ("trend.png", b"\x89PNG"),
    ]);
    let r = DailyReport {
        date: "2026-11-25".parse().unwrap(),
        merchant: "HK-Store",
        version: 1,
        summary: &s,
        folder: d.path(),
        findings: &[],
    };
    let m = daily_message(&r).unwrap();
    assert_eq!(m.subject, "[alipay-recon] 2026-11-25 HK-Store: 3 discrepancies, HKD 1,234.00");
    assert_eq!(m.key, "daily/2026-11-25/v1");
    let names: Vec<(&str, bool)> = m.parts.iter().map(|p| (p.name.as_str(), p.inline)).collect();
    assert_eq!(names, vec![("discrepancies.csv", false), ("report.xlsx", false), ("trend.png", true)]);
    assert_eq!(m.parts[1].bytes, b"PK\x03\x04");
    assert_eq!(m.html.as_deref(), Some("<img src=\"cid:trend.png\">"));
    assert!(
        m.text.contains("MISSING_AT_ALIPAY") && m.text.contains("Attached: discrepancies.csv, report.xlsx."),
        "{}",
        m.text
    );
}

/// The folder's report.html shows the chart as the file beside it; the email's HTML part refers to it
/// as `cid:trend.png` and carries trend.png as that inline part. The page's bytes are otherwise the email's.
#[test]
fn email_of_a_written_report_uses_cid_and_carries_the_chart_inline() {
    let s = summary(&[(Category::MissingAtAlipay, 1)], &[("HKD", 100)]);
    let tmp = tempfile::tempdir().unwrap();
    let input = crate::report::ReportInput::new("2026-11-25".parse().unwrap(), "HK-Store");
    let w = crate::report::write(tmp.path(), &input, 1).unwrap();
    let page = std::fs::read_to_string(&w.report_html).unwrap();
    assert!(page.contains("<img src=\"trend.png\"") && !page.contains("cid:"), "the folder's page uses the file");
    let r = DailyReport {
        date: "2026-11-25".parse().unwrap(),
        merchant: "HK-Store",
        version: 1,
        summary: &s,
        folder: &w.dir,
        findings: &[],
    };
    let m = daily_message(&r).unwrap();
    let html = m.html.as_deref().unwrap();
    assert!(html.contains("<img src=\"cid:trend.png\"") && !html.contains("src=\"trend.png\""), "{html}");
    assert_eq!(html.replace("cid:trend", "trend"), page, "only the image references differ");
    let inline: Vec<&Part> = m.parts.iter().filter(|p| p.inline).collect();
    assert_eq!(inline.len(), 2);
    assert_eq!((inline[0].name.as_str(), inline[0].content_type.as_str()), ("trend.png", "image/png"));
    assert_eq!(inline[0].bytes, std::fs::read(&w.trend_png).unwrap());
    assert_eq!(inline[1].name, "trend-narrow.png");
    assert_eq!(inline[1].bytes, std::fs::read(&w.trend_narrow_png).unwrap());

    // A folder without the phone's chart (written before it existed): its <picture> shows the wide one.
    std::fs::remove_file(&w.trend_narrow_png).unwrap();
    let m = daily_message(&r).unwrap();
    let html = m.html.as_deref().unwrap();
    assert_eq!(crate::report::image_sources(html), ["cid:trend.png", "cid:trend.png"], "{html}");
    assert_eq!(m.parts.iter().filter(|p| p.inline).count(), 1);
    assert!(!m.text.contains("trend-narrow.png"), "{}", m.text);

    // Without the chart file the email still uses cid: (nothing else could resolve) and says it is missing.
    std::fs::remove_file(&w.trend_png).unwrap();
    let m = daily_message(&r).unwrap();
    assert!(m.html.as_deref().unwrap().contains("<img src=\"cid:trend.png\""));
    assert!(m.parts.iter().all(|p| !p.inline));
    assert!(m.text.contains("Not found in the report folder") && m.text.contains("trend.png"), "{}", m.text);
}

#[test]
fn resend_and_multi_currency_subjects() {
    let s = summary(&[(Category::Duplicate, 1)], &[("HKD", 100), ("JPY", 5000)]);
    let d = folder(&[]);
    let r = DailyReport {
        date: "2026-11-25".parse().unwrap(),
        merchant: "S",
        version: 2,
        summary: &s,
        folder: d.path(),
        findings: &[],
    };
    let m = daily_message(&r).unwrap();
    assert_eq!(m.subject, "[alipay-recon] 2026-11-25 (v2, resent) S: 1 discrepancy, HKD 1.00 + JPY 5,000");
    assert_eq!(m.key, "daily/2026-11-25/v2");
    assert!(m.text.contains("Not found in the report folder") && m.text.contains("discrepancies.csv"), "{}", m.text);
}

#[test]
fn clean_day_is_an_all_clear_with_totals() {
    let s = summary(&[], &[]);
    let d = folder(&[("discrepancies.csv", b"header\n")]);
    let r = DailyReport {
        date: "2026-11-25".parse().unwrap(),
        merchant: "HK-Store",
        version: 1,
        summary: &s,
        folder: d.path(),
        findings: &[],
    };
    let m = daily_message(&r).unwrap();
    assert_eq!(m.subject, "[alipay-recon] 2026-11-25 HK-Store: all clear, HKD 12,345.67 in 120 payments");
    assert!(m.text.contains("All clear"), "{}", m.text);
    let mut s2 = s.clone();
    s2.pending = 2;
    let r2 = DailyReport { summary: &s2, ..r };
    assert_eq!(
        daily_message(&r2).unwrap().subject,
        "[alipay-recon] 2026-11-25 HK-Store: no new discrepancies, 2 pending, 0 open"
    );
}

#[test]
fn hostile_merchant_and_remarks_are_escaped_and_one_line() {
    let s = summary(&[(Category::MissingLocally, 1)], &[("HKD", 1)]);
    let f = Finding {
        business_date: "2026-11-25".parse().unwrap(),
        item_date: "2026-11-25".parse().unwrap(),
        category: Category::MissingLocally,
        merchant_trans_id: "P1\r\nBcc: x@y.z".into(),
        merchant_refund_id: String::new(),
        acquirement_id: String::new(),
        currency: Some(cur("HKD")),
        local_amount: None,
        alipay_currency: Some(cur("HKD")),
        alipay_amount: Some(1),
        local_type: String::new(),
        alipay_type: "PAYMENT".into(),
        detail: "remark <script>alert(1)</script>\nFAKE ROW".into(),
    };
    let d = folder(&[]);
    let findings = [f];
    let r = DailyReport {
        date: "2026-11-25".parse().unwrap(),
        merchant: "Evil\r\nBcc: a@b.c <b>",
        version: 1,
        summary: &s,
        folder: d.path(),
        findings: &findings,
    };
    let m = daily_message(&r).unwrap();
    assert!(!m.subject.contains('\n') && !m.subject.contains('\r'), "{:?}", m.subject);
    let html = m.html.unwrap();
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;") && !html.contains("<b>"), "{html}");
    assert!(m.text.contains("payment P1  Bcc: x@y.z\n"), "{}", m.text);
    assert!(m.text.contains("     What is wrong: remark <script>alert(1)</script> FAKE ROW\n"), "{}", m.text);
}

/// The text part names the report by its date and lists exactly the attached files, never a server
/// path; rows read like the page's (no `CATEGORY : detail` for rows without ids); the bridge is there.
#[test]
fn text_part_names_no_path_and_reads_like_the_page() {
    let mut s = summary(&[(Category::FileIntegrity, 1)], &[]);
    s.currencies.insert(
        "USD".into(),
        CurrencyTotals {
            settled_payments: 1_000_000,
            settled_payment_count: 3,
            fees: 1_000,
            expected_net: 999_000,
            settled_net: 999_000,
            ..Default::default()
        },
    );
    let day = "2026-11-25".parse().unwrap();
    let f = Finding::blank(
        day,
        day,
        Category::FileIntegrity,
        "2088000000000001_transaction_20261125.txt line 1: Total_count says 14 rows but the file has 15".into(),
    );
    let d = folder(&[
        ("discrepancies.csv", b"a\n"),
        ("pending.csv", b"a\n"),
        ("open_items.csv", b"a\n"),
        ("report.xlsx", b"PK\x03\x04"),
    ]);
    let findings = [f];
    let r = DailyReport {
        date: "2026-11-25".parse().unwrap(),
        merchant: "M",
        version: 1,
        summary: &s,
        folder: d.path(),
        findings: &findings,
    };
    let m = daily_message(&r).unwrap();
    let t = &m.text;
    let folder = d.path().to_string_lossy();
    assert!(!t.contains(folder.as_ref()) && !t.contains("Report folder:"), "{t}");
    assert!(t.contains("business day 2026-11-25"), "{t}");
    assert!(t.contains("Attached: discrepancies.csv, pending.csv, open_items.csv, report.xlsx.\n"), "{t}");
    let names: Vec<&str> = m.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["discrepancies.csv", "pending.csv", "open_items.csv", "report.xlsx"]);
    assert!(!t.contains("FILE_INTEGRITY :"), "{t}");
    assert!(
        t.contains("  1. FILE_INTEGRITY, item of 2026-11-25\n     What is wrong: 2088000000000001_transaction"),
        "{t}"
    );
    assert!(t.contains("What to do: Fetch the file again"), "{t}");
    assert!(
        t.contains("  USD Settled today (settlement files, in USD):\n    Gross payments (3): USD 10,000.00\n"),
        "{t}"
    );
    assert!(t.contains("    = Expected net (settlement detail): USD 9,990.00\n"), "{t}");
    assert!(t.contains("HKD: Alipay 120 payments HKD 12,345.67"), "captured totals with separators: {t}");
}

#[test]
fn missing_report_folder_is_an_error_naming_it() {
    let s = summary(&[], &[]);
    let p = std::path::Path::new("/nonexistent/reports/2026-11-25");
    let r = DailyReport {
        date: "2026-11-25".parse().unwrap(),
        merchant: "M",
        version: 1,
        summary: &s,
        folder: p,
        findings: &[],
    };
    let e = daily_message(&r).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/reports/2026-11-25"), "{e}");
}

#[test]
fn oversized_attachments_are_left_out_largest_first() {
    let part = |n: &str, len: usize, inline: bool| Part {
        name: n.into(),
        content_type: "x/y".into(),
        bytes: vec![0; len],
        inline,
    };
    let mut parts =
        vec![part("discrepancies.csv", 40, false), part("report.xlsx", 70, false), part("trend.png", 10, true)];
    assert_eq!(fit_attachments(&mut parts, 200), Vec::<String>::new());
    assert_eq!(fit_attachments(&mut parts, 60), vec!["report.xlsx".to_string()]);
    assert_eq!(parts.len(), 2);
    assert_eq!(fit_attachments(&mut parts, 5), vec!["discrepancies.csv".to_string()]);
    assert_eq!(parts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["trend.png"], "inline image stays");
}
