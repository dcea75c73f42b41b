//! Report folder tests: golden CSV/JSON bytes (`UPDATE_GOLDEN=1` rewrites them), determinism of every
//! file, the history move and crash repair, HTML escaping, the workbook's structure.

use super::*;
use crate::domain::Category;
use std::io::Read;
use std::path::PathBuf;

mod sample;
use sample::{d, sample, DATE};

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
    // The contract's columns, then the issue-18 addition at the end.
    let header: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header[..csv_out::COLUMNS.len()], csv_out::COLUMNS);
    assert_eq!(header[csv_out::COLUMNS.len()..], ["item_id"]);
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
    // A different run id changes no report file, manifest.json included (contracts v3 §4): the run
    // is named only by the hidden `.run-id` beside the set.
    let c = tempfile::tempdir().unwrap();
    let wc = write(c.path(), &sample(), 6).unwrap();
    for (x, y) in wa.files().iter().zip(wc.files()) {
        assert!(read(x) == read(y), "{} differs between runs 5 and 6", x.display());
    }
    let manifest = String::from_utf8(read(&wc.manifest_json)).unwrap();
    assert!(!manifest.contains("run_id"), "{manifest}");
    assert_eq!(read(&wc.dir.join(folder::RUN_ID)), b"6");
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
    assert_eq!(read(&hist.join(folder::RUN_ID)), b"11");
    assert_eq!(read(&second.dir.join(folder::RUN_ID)), b"12");
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
    assert_eq!(read(&w.dir.join(folder::RUN_ID)), b"22");

    // Crash B: run 23 moved run 22's set to history, then died after placing one new file.
    std::fs::create_dir_all(dir.join("history/22")).unwrap();
    for name in folder::SET.iter().chain([&folder::RUN_ID]) {
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
    assert!(html.contains("src=\"trend.png\"") && !html.contains("cid:"), "the chart is the file beside the page");
    for bad in ["http://", "https://", "<link", "<style", "javascript:", "onerror", "onload"] {
        let outside = html.replace("http://evil.example", ""); // escaped user text, not a resource
        assert!(!outside.contains(bad), "report.html contains {bad}");
    }
    assert!(html.contains("Needs attention"));
    assert!(!html.contains("All clear"));
    assert!(html.contains("<span class=\"neg\" style=\"color:#c0392b;\">KWD -0.004</span>"), "negatives marked");
    assert!(html.contains("JPY 5,600") && html.contains("KWD 1.234"));
    assert!(html.contains("Amount at stake: HKD 267.02, JPY 6,200, KWD 1.238"));
    assert!(html.contains("id=\"headline\"") && html.contains("id=\"chart\""), "stable ids for the browser tests");
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
    assert_eq!(csv, format!("{},item_id\n", csv_out::COLUMNS.join(",")), "header only");
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
    // The earlier sheets keep their places; sheets added later come after them.
    let names = ["Summary", "Discrepancies", "Pending", "Open items", "Cash bridge"];
    let at: Vec<usize> =
        names.iter().map(|n| book.find(&format!("name=\"{n}\"")).unwrap_or_else(|| panic!("sheet {n}"))).collect();
    assert!(at.windows(2).all(|p| p[0] < p[1]), "sheet order {names:?}");
    for i in 1..=5 {
        let sheet = zip_entry(&bytes, &format!("xl/worksheets/sheet{i}.xml"));
        assert!(sheet.contains("state=\"frozen\""), "sheet{i} frozen header");
        assert!(!sheet.contains("<f>") && !sheet.contains("<f "), "sheet{i} has a formula");
        assert!(sheet.contains("<autoFilter"), "sheet{i} autofilter");
    }
    let disc = zip_entry(&bytes, "xl/worksheets/sheet2.xml");
    assert!(disc.contains("<v>-0.004</v>") && disc.contains("<v>5600</v>"), "amounts are numbers");
    assert!(zip_entry(&bytes, "xl/styles.xml").contains("wrapText=\"1\""), "detail text wraps");
    let strings = zip_entry(&bytes, "xl/sharedStrings.xml");
    assert!(strings.contains("&apos;=HYPERLINK") || strings.contains("'=HYPERLINK"), "detail neutralised");
    assert!(strings.contains("&lt;script&gt;"));
    assert!(
        strings.contains("<t>Payment count</t>") && !strings.contains("<t>Payments</t>"),
        "counts are labelled as counts"
    );
    assert!(
        strings.contains("Settlement summaries that disagree with their detail rows"),
        "the bridge is in the workbook"
    );
    let core = zip_entry(&bytes, "docProps/core.xml");
    assert!(core.contains("2026-11-25T00:00:00Z"), "creation time from business date: {core}");
}

/// Opened from disk (file://), the page finds its chart: every image is a relative name of a file in
/// the report folder (not `cid:`, which only the email resolves).
#[test]
fn report_html_opened_from_the_folder_finds_its_chart() {
    // Outside text that imitates the chart's tag stays escaped text: no image, no rewrite for the email.
    let fake = "<img src=\"trend.png\" onerror=\"alert(1)\">";
    let mut hostile = ReportInput::new(d(DATE), fake);
    hostile.warnings = vec![FileWarning { file: fake.into(), line: Some(1), code: "X".into(), message: fake.into() }];
    for input in [sample(), ReportInput::new(d(DATE), "M"), hostile] {
        let tmp = tempfile::tempdir().unwrap();
        let w = write(tmp.path(), &input, 1).unwrap();
        let html = String::from_utf8(read(&w.report_html)).unwrap();
        let srcs = image_sources(&html);
        for src in &srcs {
            assert!(w.dir.join(src).is_file(), "report.html shows {src}, which is not in {}", w.dir.display());
            assert!(!src.contains([':', '/', '\\']), "{src} is not a plain file name in the folder");
        }
        assert_eq!(srcs, ["trend-narrow.png", "trend.png"], "the page shows the trend chart, and the phone's");
        let email = email_html(&html);
        assert_eq!(
            image_sources(&email),
            ["cid:trend-narrow.png", "cid:trend.png"],
            "the email's copy uses the inline parts"
        );
        assert_eq!(email.replace("cid:trend", "trend"), html, "nothing else of the page changes");
    }
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
    let input = sample();
    let panels = 1 + 3; // discrepancies, then HKD, JPY and KWD
    assert_eq!((info.width, info.height), chart::size(&Prepared::new(&input).unwrap(), &chart::WIDE));
    assert_eq!(info.height, 8 + panels * 120 - 14 + 24, "one panel per currency");
    let px = |x: u32, y: u32| {
        let i = ((y * info.width + x) * 3) as usize;
        [buf[i], buf[i + 1], buf[i + 2]]
    };
    // The last slot (the report day) has a count bar standing on the baseline of the first panel
    // (left margin 84, slots of 38 px, baseline at 8 + 26 + 80).
    let x_last = 84 + 38 * 13 + 19;
    assert_eq!(px(x_last, 113), [192, 57, 43], "count bar drawn");
    // Its date under the axis is drawn inverted (white text on a dark box).
    let y_axis = 8 + panels * 120 - 14 + 6;
    let dark = (x_last - 30..x_last + 30).filter(|x| px(*x, y_axis - 2) == [34, 34, 34]).count();
    assert!(dark > 50, "the report day's date is marked ({dark} dark pixels)");
    // An empty input draws no bars at all.
    let e = tempfile::tempdir().unwrap();
    let we = write(e.path(), &ReportInput::new(d(DATE), "M"), 1).unwrap();
    assert_ne!(read(&we.trend_png), read(&w.trend_png));
}

/// The phone's chart: the same panels 384 px wide, every panel's title and value and the report day's
/// inverted date inside the canvas (nothing cut at its right edge), and the same bytes on a rerun.
#[test]
fn trend_narrow_png_is_the_same_chart_for_a_phone() {
    let tmp = tempfile::tempdir().unwrap();
    let w = write(tmp.path(), &sample(), 1).unwrap();
    let bytes = read(&w.trend_narrow_png);
    let mut r = png::Decoder::new(std::io::Cursor::new(bytes.clone())).read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    let input = sample();
    assert_eq!((info.width, info.height), chart::size(&Prepared::new(&input).unwrap(), &chart::NARROW));
    assert_eq!(info.width, 384);
    let px = |x: u32, y: u32| {
        let i = ((y * info.width + x) * 3) as usize;
        [buf[i], buf[i + 1], buf[i + 2]]
    };
    // Nothing is drawn in the last two columns: the right-aligned values and the inverted date end
    // inside the canvas.
    let touched = (0..info.height).filter(|y| (info.width - 2..info.width).any(|x| px(x, *y) != [255, 255, 255]));
    assert_eq!(touched.count(), 0, "something is cut at the right edge");
    // The report day's date is drawn inverted under the axis (left 66, slots of 21 px).
    let y_axis = info.height - 24 + 6;
    let x_last = 66 + 21 * 13 + 10;
    let dark = (x_last - 30..x_last + 30).filter(|x| px(*x, y_axis - 2) == [34, 34, 34]).count();
    assert!(dark > 50, "the report day's date is marked ({dark} dark pixels)");
    let again = tempfile::tempdir().unwrap();
    assert_eq!(read(&write(again.path(), &input, 1).unwrap().trend_narrow_png), bytes, "same inputs, same bytes");
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

#[test]
fn trend_point_reads_back_an_earlier_summary() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), &sample(), 1).unwrap();
    let t = read_trend_point(tmp.path(), d(DATE)).unwrap().expect("report exists");
    assert_eq!(t.discrepancies, 13);
    assert_eq!(t.at_stake.get("KWD"), Some(&1238));
    assert_eq!(t.at_stake.get("JPY"), Some(&6200));
    assert_eq!(read_trend_point(tmp.path(), d("2026-11-24")).unwrap(), None);
    std::fs::write(tmp.path().join(DATE).join("summary.json"), "{").unwrap();
    let err = format!("{:#}", read_trend_point(tmp.path(), d(DATE)).unwrap_err());
    assert!(err.contains("summary.json") && err.contains("rerun the report of 2026-11-25"), "{err}");
}

#[test]
fn big_day_html_stays_email_sized() {
    let mut r = sample();
    let base = r.findings.clone();
    for i in 0..1000 {
        let mut f = base[i % base.len()].clone();
        f.merchant_trans_id = format!("P-{i:08}");
        r.findings.push(f);
    }
    let tmp = tempfile::tempdir().unwrap();
    let w = write(tmp.path(), &r, 1).unwrap();
    let html = String::from_utf8(read(&w.report_html)).unwrap();
    assert!(html.len() < 100_000, "report.html is {} bytes: email clients clip it", html.len());
    assert!(
        html.contains(
            "Showing the 100 largest of 1013 discrepancies. The other 913 are in discrepancies.csv and report.xlsx"
        ),
        "the limit says where the rest are"
    );
    let csv_rows = read(&w.discrepancies_csv).iter().filter(|b| **b == b'\n').count();
    assert_eq!(csv_rows, 1014, "the CSV has every row");
}

#[test]
fn a_set_written_before_v3_is_filed_under_its_manifests_run_id() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(DATE);
    write(tmp.path(), &sample(), 30).unwrap();
    // What an older version left: the run id inside manifest.json and no `.run-id`.
    std::fs::remove_file(dir.join(folder::RUN_ID)).unwrap();
    std::fs::write(dir.join(folder::MANIFEST), br#"{"business_date":"x","run_id":29}"#).unwrap();
    let w = write(tmp.path(), &sample(), 31).unwrap();
    assert_eq!(w.previous.as_deref(), Some(dir.join("history/29").as_path()));
    assert_eq!(read(&dir.join(folder::RUN_ID)), b"31");
}

/// report.html carries the cash bridge as `#bridge`; each part's count links to the list of its rows.
#[test]
fn report_html_has_the_bridge_with_linked_parts() {
    let tmp = tempfile::tempdir().unwrap();
    let w = write(tmp.path(), &sample(), 1).unwrap();
    let html = String::from_utf8(read(&w.report_html)).unwrap();
    assert!(html.contains("<section id=\"bridge\""), "bridge section");
    for key in ["summary_mismatch", "unsettled", "settlement_mismatch", "later_day", "cancels", "earlier_captures"] {
        assert!(html.contains(&format!("href=\"#bridge-HKD-{key}\"")), "{key} count links");
        assert!(html.contains(&format!("id=\"bridge-HKD-{key}\"")), "{key} rows listed");
    }
    assert!(html.contains("HKD 11,000.20") && html.contains("HKD -0.20"), "bridge amounts in the one money format");
}

/// The page lists the largest amount at stake first (in major units across currencies, file findings
/// last); `discrepancies.csv` keeps the contract's order.
#[test]
fn html_lists_the_largest_amount_at_stake_first_and_the_csv_keeps_the_contract_order() {
    let tmp = tempfile::tempdir().unwrap();
    let w = write(tmp.path(), &sample(), 1).unwrap();
    let html = String::from_utf8(read(&w.report_html)).unwrap();
    let start = html.find("id=\"discrepancies\"").unwrap();
    let section = &html[start..start + html[start..].find("<h2 ").unwrap()];
    // JPY 5,600 missing locally, JPY 600 amount difference, HKD 200.00 unsettled, HKD 100.00 status,
    // KWD 1.234 missing at Alipay, KWD 0.004 amount difference, then the file finding.
    let order = ["=1+2", "P-AM-2", "P-UN-1", "P-SM-1", "P-MA-1", "P-AM-3", "FILE_INTEGRITY"];
    let at: Vec<usize> =
        order.iter().map(|id| section.find(id).unwrap_or_else(|| panic!("{id} in the section"))).collect();
    assert!(at.windows(2).all(|p| p[0] < p[1]), "largest amount at stake first: {order:?} at {at:?}");
    assert!(
        section.contains("<b>JPY 5,600</b> <small>at stake</small><br>\n<b>MISSING_LOCALLY</b>"),
        "category beside it"
    );
    let csv = String::from_utf8(read(&w.discrepancies_csv)).unwrap();
    let second_line = csv.lines().nth(1).unwrap();
    assert!(second_line.contains(",DUPLICATE,"), "the CSV starts with the contract's first category: {second_line}");
}

/// A pricing currency whose money settles in another shows where it settles in the Totals table,
/// not 0.00 fees and nets of its own; a currency that settles itself keeps its settlement lines.
#[test]
fn totals_of_a_currency_settling_in_another_say_where_it_settles() {
    let mut input = sample();
    let jpy = input.summary.currencies.get_mut("JPY").unwrap();
    jpy.settles_in = vec!["HKD".into()];
    let tmp = tempfile::tempdir().unwrap();
    let w = write(tmp.path(), &input, 1).unwrap();
    let html = String::from_utf8(read(&w.report_html)).unwrap();
    let start = html.find("id=\"totals\"").unwrap();
    let totals = &html[start..start + html[start..].find("<h2 ").unwrap()];
    let table = |code: &str| {
        let at = totals.find(&format!(">{code}</th>")).unwrap_or_else(|| panic!("{code} table"));
        &totals[at..at + totals[at..].find("</table>").unwrap()]
    };
    assert!(table("JPY").contains("Settles in") && table("JPY").contains("HKD"), "{}", table("JPY"));
    assert!(!table("JPY").contains("Expected net"), "no 0.00 nets for JPY: {}", table("JPY"));
    assert!(table("HKD").contains("Expected net") && !table("HKD").contains("Settles in"));
}

/// The roll-forward's parts are the same lines, with the same counts and amounts, in report.html (each
/// count linking to its rows), the email's text part and the workbook's Cash bridge sheet.
#[test]
fn roll_forward_is_the_same_in_the_page_the_text_part_and_the_workbook() {
    let tmp = tempfile::tempdir().unwrap();
    let input = sample();
    let w = write(tmp.path(), &input, 1).unwrap();
    let html = String::from_utf8(read(&w.report_html)).unwrap();
    let strings = zip_entry(&read(&w.report_xlsx), "xl/sharedStrings.xml");
    let p = Prepared::new(&input).unwrap();
    let text = bridge::text(&p.bridge);
    let hkd = p.bridge.iter().find(|b| b.currency.as_str() == "HKD").unwrap();
    let roll = hkd.roll.as_ref().unwrap();
    let cur = hkd.currency;
    let flow: i64 = roll.to_expected.iter().map(|p| p.amount).sum();
    assert_eq!(roll.captured_net() + flow, roll.expected_net().unwrap(), "the sample's flow ends at its expected net");
    assert!(roll.unexplained.is_none());
    assert_eq!(roll.to_expected.len(), 5);
    for part in &roll.to_expected {
        let money = crate::domain::display_money(part.amount, cur);
        let cell = if part.amount < 0 {
            format!("<span class=\"neg\" style=\"color:#c0392b;\">{money}</span>")
        } else {
            money.clone()
        };
        let row = format!(
            "<td>  {}</td><td align=\"right\" nowrap><a href=\"#bridge-HKD-{}\">{}</a></td><td align=\"right\" nowrap>{cell}</td>",
            html_escape(&part.label),
            part.key,
            part.count
        );
        assert!(html.contains(&row), "report.html: {row}");
        assert!(html.contains(&format!("id=\"bridge-HKD-{}\"", part.key)), "{}: its rows are listed", part.key);
        let line = format!("    {} ({}): {money}", part.label, part.counted());
        assert!(text.contains(&line), "text part: {line}\n{text}");
        let label = part.label.replace('\'', "&apos;");
        assert!(strings.contains(&part.label) || strings.contains(&label), "workbook: {}", part.label);
    }
    assert!(text.contains("HKD Roll-forward: today's captures to the settled net (in HKD):"), "{text}");
    assert!(strings.contains("Roll-forward: today"), "the workbook's Cash bridge sheet has the roll-forward");
}
