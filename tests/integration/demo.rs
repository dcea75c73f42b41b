//! The README's first command: `demo` runs the whole chain on the embedded fixtures with no config and no
//! server, reports exactly the deliberate faults of fixtures/README.md, writes the emails as .eml files,
//! and gives the same bytes when run again; and the days `gen` writes keep the cash bridge exact.

use crate::harness::Workspace;
use alipay_recon::domain::{parse_major, Currency};
use alipay_recon::report::image_sources;

fn rows(w: &Workspace, date: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(w.file(&format!("alipay-recon-demo/reports/{date}/discrepancies.csv"))).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    r.records().map(|x| x.unwrap()).map(|x| (x[2].to_string(), x[3].to_string())).collect()
}

#[test]
fn demo_reports_exactly_the_deliberate_faults() {
    let w = Workspace::new();
    let r = w.run(&["demo"]).expect_code(1);
    assert!(r.stdout.contains("open the latest report:") && r.stdout.contains("report.html"), "{}", r.stdout);
    let d1 = rows(&w, "2026-11-24");
    assert_eq!(
        d1,
        vec![
            ("MISSING_LOCALLY".into(), "I-20261124-0009".into()),
            ("MISSING_AT_ALIPAY".into(), "C-20261124-0007".into()),
            ("AMOUNT_MISMATCH".into(), "A-20261124-0005".into()),
        ]
    );
    let d2 = rows(&w, "2026-11-25");
    let cats: Vec<&str> = d2.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(cats, ["DUPLICATE", "STATUS_MISMATCH", "STATUS_MISMATCH", "FILE_INTEGRITY", "FILE_INTEGRITY"], "{d2:?}");
    assert_eq!(d2[0].1, "C-20261125-0005");
    assert_eq!(d2[1].1, "A-20261125-0006");
    assert_eq!(d2[2].1, "I-20261125-0004");
    let open = std::fs::read_to_string(w.file("alipay-recon-demo/reports/2026-11-25/open_items.csv")).unwrap();
    for id in ["I-20261124-0009", "C-20261124-0007", "A-20261124-0005"] {
        assert!(open.contains(id), "{id} carried as an open item:\n{open}");
    }
    // The emails, written as files by the embedded default transport.
    let eml: Vec<_> =
        std::fs::read_dir(w.file("alipay-recon-demo/outbox-eml")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(eml.len(), 2, "{eml:?}");

    // Same inputs, same report bytes: run the demo again in a fresh folder.
    let first = std::fs::read(w.file("alipay-recon-demo/reports/2026-11-25/report.xlsx")).unwrap();
    let w2 = Workspace::new();
    w2.run(&["demo"]).expect_code(1);
    for f in [
        "discrepancies.csv",
        "pending.csv",
        "open_items.csv",
        "summary.json",
        "report.html",
        "report.xlsx",
        "trend.png",
    ] {
        let a = std::fs::read(w.file(&format!("alipay-recon-demo/reports/2026-11-25/{f}"))).unwrap();
        let b = std::fs::read(w2.file(&format!("alipay-recon-demo/reports/2026-11-25/{f}"))).unwrap();
        assert!(a == b, "{f} differs between two identical demo runs");
    }
    assert!(!first.is_empty());
}

#[test]
fn demo_says_exit_1_is_expected_and_its_hints_run_as_printed() {
    let w = Workspace::new();
    let r = w.run(&["--log-format", "text", "demo"]).expect_code(1);
    assert!(r.stdout.contains("exit code 1 is expected"), "{}", r.stdout);
    // Terminal logs: short sentences, no Rust debug structures (JSON keeps every field).
    assert!(r.stderr.contains("INFO file processed"), "{}", r.stderr);
    for s in ["Imported {", "Some(", " { "] {
        assert!(!r.stderr.contains(s), "debug text {s:?} in the terminal log:\n{}", r.stderr);
    }
    let json = w.run(&["--log-format", "json", "demo", "--dir", "again"]).expect_code(1);
    assert!(json.stderr.lines().any(|l| l.starts_with('{') && l.contains("\"outcome\"")), "{}", json.stderr);

    let hints: Vec<&str> = r
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("explore"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(str::trim)
        .collect();
    assert_eq!(hints.len(), 3, "{}", r.stdout);
    for h in hints {
        let words: Vec<&str> = h.split_whitespace().collect();
        let out = w.cmd(&[]).args(&words[1..]).output().unwrap();
        // The program is printed as what PATH finds or its full path: here, the binary under test.
        assert_eq!(std::path::Path::new(words[0]), crate::harness::bin().as_path(), "{h}");
        let code = out.status.code().unwrap();
        assert!(code == 0 || code == 1, "{h}: exit {code}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(!out.stdout.is_empty(), "{h} printed nothing");
    }
}

/// The report.html the demo says to open shows its chart from disk (the image it names is in its
/// folder); the demo's emails keep the chart as the inline part `cid:trend.png`.
#[test]
fn demo_report_html_shows_its_chart_from_disk_and_the_email_inlines_it() {
    let w = Workspace::new();
    w.run(&["demo"]).expect_code(1);
    let mut charts = Vec::new();
    for date in ["2026-11-24", "2026-11-25"] {
        let dir = w.file(&format!("alipay-recon-demo/reports/{date}"));
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        let srcs = image_sources(&html);
        for src in &srcs {
            assert!(dir.join(src).is_file(), "{date}/report.html shows {src}, which is not in its folder");
        }
        assert_eq!(srcs, ["trend-narrow.png", "trend.png"], "{date}");
        charts.push(std::fs::read(dir.join("trend.png")).unwrap());
    }
    let mails = crate::harness::smtp::parse_mails(&w.file("alipay-recon-demo/outbox-eml"));
    assert_eq!(mails.len(), 2);
    for m in &mails {
        let html = m.part("text/html").text();
        assert_eq!(image_sources(&html), ["cid:trend-narrow.png", "cid:trend.png"], "{}", m.subject);
        let chart = m.parts.iter().find(|p| p.content_id.as_deref() == Some("<trend.png>")).expect("inline chart");
        assert_eq!(chart.content_type, "image/png", "{}", m.subject);
        let narrow = m.parts.iter().find(|p| p.content_id.as_deref() == Some("<trend-narrow.png>"));
        assert!(narrow.is_some_and(|p| p.content_type == "image/png"), "{}: the phone's chart inline", m.subject);
        assert!(charts.contains(&chart.bytes), "{}: the inline chart is a report folder's trend.png", m.subject);
    }
}

/// The cash bridge's roll-forward adds up on days the real `gen` writes (each file format, faults
/// injected, several seeds, two formats on one day so that ids collide): in every currency of every
/// summary.json, `captured_net + Σ parts = settled_net` and no part is `unexplained`.
#[test]
fn generated_days_roll_forward_adds_up_with_nothing_unexplained() {
    let w = Workspace::new();
    w.write("alipay-recon.toml", crate::harness::dir_config("Gen", &["intl", "classic", "antom"]));
    let days: [(&str, &[&str]); 3] =
        [("2026-11-23", &["intl"]), ("2026-11-24", &["classic"]), ("2026-11-25", &["antom", "intl"])];
    let mut parts_seen = std::collections::BTreeSet::new();
    for (k, (day, formats)) in days.iter().enumerate() {
        for (f, format) in formats.iter().enumerate() {
            let seed = (10 * k + f + 1).to_string();
            let out = w.path().to_str().unwrap();
            w.run(&["gen", "--date", day, "--payments", "300", "--format", format, "--seed", &seed, "--out", out])
                .expect_code(0);
            let sales = w.file(&format!("sales/sales-{day}.csv"));
            w.run(&["import-sales", sales.to_str().unwrap()]).expect_code(0);
        }
        let r = w.run(&["run", "--date", day]);
        assert!(matches!(r.code, 0 | 1), "run {day}: {}", r.stderr);
        let text = std::fs::read_to_string(w.file(&format!("reports/{day}/summary.json"))).unwrap();
        let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
        let currencies = summary["currencies"].as_object().unwrap();
        assert!(!currencies.is_empty(), "{day}");
        for (code, totals) in currencies {
            let cur = Currency::parse(code).unwrap();
            let m = |v: &serde_json::Value| parse_major(v.as_str().unwrap(), cur).unwrap();
            let roll = &totals["bridge"]["roll_forward"];
            let parts = roll["parts"].as_array().unwrap();
            let sum: i64 = parts.iter().map(|p| m(&p["amount"])).sum();
            assert_eq!(m(&roll["captured_net"]) + sum, m(&roll["settled_net"]), "{day} {code}: {roll}");
            assert_eq!(m(&roll["settled_net"]) - m(&roll["captured_net"]), m(&roll["difference"]), "{day} {code}");
            assert_eq!(roll["captured_net"], totals["bridge"]["captured_net"], "{day} {code}");
            for p in parts {
                assert_ne!(p["key"], "unexplained", "{day} {code}: {roll}");
                parts_seen.insert(p["key"].as_str().unwrap().to_string());
            }
        }
    }
    for key in ["fees", "cancels", "settlement_mismatch", "later_day"] {
        assert!(parts_seen.contains(key), "the generated days reach {key}: {parts_seen:?}");
    }
}
