//! Golden cases: `fixtures/cases/<case>/in` → `out`. Each case has a `case.toml` (formats, zone, fee rules
//! and the CLI steps to run in order); the runner runs the real binary on a fresh SQLite file and compares
//! the report files of each listed date byte for byte with `out/<date>/`. `UPDATE_GOLDEN=1` rewrites them
//! (review the diff before committing: the goldens are the specification's examples).

use crate::harness::{config_with, copy_tree, fixtures, Workspace};
use std::path::Path;

const COMPARED: [&str; 4] = ["discrepancies.csv", "pending.csv", "open_items.csv", "summary.json"];

#[derive(serde::Deserialize)]
struct Case {
    formats: Vec<String>,
    timezone: String,
    steps: Vec<Vec<String>>,
    reports: Vec<String>,
    #[serde(default)]
    fees: Vec<toml::Value>,
    #[serde(default)]
    grace_minutes: Option<u32>,
}

fn config(case: &Case) -> String {
    let mut business = format!("[business]\ntimezone = \"{}\"\n", case.timezone);
    if let Some(g) = case.grace_minutes {
        business.push_str(&format!("grace_minutes = {g}\n"));
    }
    for f in &case.fees {
        business.push_str("[[business.fees]]\n");
        business.push_str(&toml::to_string(f).unwrap());
    }
    let formats: Vec<&str> = case.formats.iter().map(String::as_str).collect();
    config_with("Golden Store", &business, "in/sftp", &formats)
}

/// Runs one case; returns the list of mismatching files (empty when all match).
pub fn run_case(name: &str) -> Vec<String> {
    run_case_in(name).1
}

/// Runs one case; returns its workspace (to inspect other outputs) and the mismatching files.
pub fn run_case_in(name: &str) -> (Workspace, Vec<String>) {
    let dir = fixtures().join("cases").join(name);
    let case: Case = toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap()).unwrap();
    let w = Workspace::new();
    copy_tree(&dir.join("in"), &w.file("in"));
    w.write("alipay-recon.toml", config(&case));
    for step in &case.steps {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        let r = w.run(&args);
        assert!(matches!(r.code, 0 | 1), "{name}: step {args:?} exited {}\n{}\n{}", r.code, r.stdout, r.stderr);
    }
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut bad = Vec::new();
    for date in &case.reports {
        for f in COMPARED {
            let got = std::fs::read(w.file(&format!("reports/{date}/{f}")))
                .unwrap_or_else(|e| panic!("{name}: reports/{date}/{f}: {e}"));
            if f == "summary.json" {
                bad.extend(bridge_adds_up(&got).into_iter().map(|e| format!("{name}/out/{date}/summary.json: {e}")));
            }
            let golden = dir.join("out").join(date).join(f);
            if update {
                std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
                std::fs::write(&golden, &got).unwrap();
                continue;
            }
            let want = std::fs::read(&golden).unwrap_or_default();
            if want != got {
                bad.push(format!(
                    "{name}/out/{date}/{f}:\n--- want\n{}\n--- got\n{}",
                    String::from_utf8_lossy(&want),
                    String::from_utf8_lossy(&got)
                ));
            }
        }
    }
    // Determinism: a date rerun later (e.g. T after T+1 was imported) must give the same bytes as its
    // first run, which the rerun moved to `history/<run>/`.
    for date in &case.reports {
        let Ok(hist) = std::fs::read_dir(w.file(&format!("reports/{date}/history"))) else { continue };
        for h in hist.flatten() {
            for f in COMPARED.iter().chain(["report.html", "report.xlsx", "trend.png"].iter()) {
                let old = std::fs::read(h.path().join(f)).unwrap();
                let new = std::fs::read(w.file(&format!("reports/{date}/{f}"))).unwrap();
                if old != new {
                    bad.push(format!(
                        "{name}: reports/{date}/{f} differs from its earlier run in {}",
                        h.path().display()
                    ));
                }
            }
        }
    }
    (w, bad)
}

/// The cash bridge of every currency in a `summary.json`: the settlement lines add up to expected net,
/// and the parts add up to settled − expected exactly, with no unexplained remainder.
fn bridge_adds_up(summary: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(summary).unwrap();
    let cents = |v: &serde_json::Value| -> i64 {
        let s = v.as_str().unwrap_or_else(|| panic!("{v} is not a money string"));
        s.replace('.', "").parse().unwrap()
    };
    let mut bad = Vec::new();
    for (code, c) in v["currencies"].as_object().unwrap() {
        let s = &c["bridge"]["settlement"];
        if s.is_null() {
            continue;
        }
        let lines = cents(&s["gross_payments"]) - cents(&s["refunds"]) - cents(&s["cancels"]) - cents(&s["fees"])
            + cents(&s["other_lines"]);
        if lines != cents(&s["expected_net"]) {
            bad.push(format!("{code}: bridge lines add up to {lines}, expected net is {}", s["expected_net"]));
        }
        let parts = s["parts"].as_array().unwrap();
        let sum: i64 = parts.iter().map(|p| cents(&p["amount"])).sum();
        if sum != cents(&s["difference"])
            || cents(&s["difference"]) != cents(&s["settled_net"]) - cents(&s["expected_net"])
        {
            bad.push(format!("{code}: bridge parts add up to {sum}, difference is {}", s["difference"]));
        }
        if parts.iter().any(|p| p["key"] == "unexplained") {
            bad.push(format!("{code}: the bridge has an unexplained remainder"));
        }
    }
    bad
}

fn check(name: &str) {
    let bad = run_case(name);
    assert!(bad.is_empty(), "golden mismatch (UPDATE_GOLDEN=1 rewrites; review the diff):\n{}", bad.join("\n"));
}

#[test]
fn every_case_has_a_test() {
    let listed = ["carry-forward", "classic-hostile", "missing-truncated", "settlement-weekend", "tokyo-utc9"];
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures().join("cases"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| Path::new(&e.path()).join("case.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut l: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
    l.sort();
    assert_eq!(on_disk, l, "add a #[test] for each case in fixtures/cases");
}

#[test]
fn carry_forward() {
    check("carry-forward");
}

#[test]
fn classic_hostile() {
    check("classic-hostile");
}

#[test]
fn missing_truncated() {
    check("missing-truncated");
}

#[test]
fn settlement_weekend() {
    check("settlement-weekend");
}

#[test]
fn tokyo_utc9() {
    check("tokyo-utc9");
}

/// Outside strings (ids, remarks) from the hostile case are inert in every output: escaped in HTML,
/// plain strings (never formulas) in the workbook, unaltered ids in the CSV.
#[test]
fn hostile_strings_are_inert_in_html_and_xlsx() {
    let (w, bad) = run_case_in("classic-hostile");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let dir = w.file("reports/2026-11-25");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!html.contains("<script>alert(1)</script>"), "raw script tag in report.html");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the hostile id is shown escaped");
    assert!(!html.contains("<img src=x"), "no image tag from outside text");
    let csv = std::fs::read_to_string(dir.join("discrepancies.csv")).unwrap();
    assert!(csv.contains(r#""=HYPERLINK(""http://evil.example"",""x"")""#), "ids are never altered: {csv}");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(dir.join("report.xlsx")).unwrap()).unwrap();
    let mut saw_hostile = false;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        if !f.name().starts_with("xl/worksheets/") && f.name() != "xl/sharedStrings.xml" {
            continue;
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut f, &mut text).unwrap();
        assert!(!text.contains("<f>") && !text.contains("<f "), "{} has a formula", f.name());
        saw_hostile |= text.contains("HYPERLINK");
    }
    assert!(saw_hostile, "the hostile id is in the workbook as text");
}
