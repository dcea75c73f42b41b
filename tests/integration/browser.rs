//! The report as the finance team sees it: the demo's `report.html` and the HTML part of its email,
//! rendered by a real headless Chromium (Debian package `chromium`, installed by
//! tests/setup-and-run.sh) at desktop (1280 px) and phone (420 px) width.
//!
//! How: Chromium's command line only (`--headless --dump-dom --screenshot`), no DevTools client. The
//! test copies the page into a temp folder beside its files, adds a probe to the copy — a
//! Content-Security-Policy that reports any load from outside, and a script that measures the page
//! after `load` — and shows the copy in an iframe of the exact width (headless Chromium's window is
//! at least 500 px wide, so the phone width comes from the iframe). The probe posts its JSON to the
//! wrapper page, which writes it into its DOM; `--dump-dom` prints that. The network is mapped to
//! nowhere, so a page can never reach outside even if it tried.
//!
//! Screenshots are written to `<target>/tmp/browser/` (the path is printed). The README's screenshot
//! is regenerated with `UPDATE_SCREENSHOT=1 cargo nextest run -E 'test(screenshot)'`.

use crate::harness::smtp::parse_mails;
use crate::harness::{repo, Workspace};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DESKTOP: u32 = 1280;
const PHONE: u32 = 420;
const DATE: &str = "2026-11-25";
/// One render never takes this long (about 2 s measured); past it the browser is hung.
const RENDER_TIMEOUT: Duration = Duration::from_secs(90);

/// What the probe measured in the page (see PROBE).
#[derive(Debug, Deserialize)]
struct Measured {
    /// The page's viewport width (the iframe's).
    width: u32,
    /// `document.documentElement.scrollWidth`: more than `width` means horizontal scrolling.
    scroll_width: u32,
    /// Elements whose right edge is past the viewport (tag#id.class, at most 5), for the message.
    too_wide: Vec<String>,
    /// `visible`, `hidden` or `missing`, by element id.
    headline: String,
    bridge: String,
    /// The chart's `naturalWidth` (0: it did not load; -1: no `<img id="chart">`).
    chart: i64,
    /// The chart file the browser chose (`currentSrc`: `trend.png` or, on a phone, `trend-narrow.png`)
    /// and the width it is shown at, in CSS px.
    chart_src: String,
    chart_shown: f64,
    /// How many columns the first discrepancy row (`.item`) shows: its cells side by side (desktop) or
    /// stacked as a card (phone, 1).
    item_columns: u32,
    /// `.item` rows on the page.
    items: u32,
    /// The "Showing the N largest of M …" notes (`p.more`) that are visible, as text.
    more: Vec<String>,
    /// Every resource the page loaded (resource timing), and every load the CSP blocked.
    resources: Vec<String>,
    violations: Vec<String>,
    /// The page's own URL (the copy in the temp folder).
    page: String,
}

/// Runs before anything else of the page: records CSP violations, measures after `load`.
const PROBE: &str = r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src file:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<script>
var probeViolations = [];
document.addEventListener('securitypolicyviolation', function (e) { probeViolations.push(e.blockedURI + ' (' + e.violatedDirective + ')'); });
addEventListener('load', function () {
  function vis(id) {
    var e = document.getElementById(id);
    if (!e) return 'missing';
    var r = e.getBoundingClientRect(), s = getComputedStyle(e);
    var shown = r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
    return shown && r.left >= 0 && r.right <= innerWidth + 0.5 ? 'visible' : 'hidden';
  }
  var tooWide = [];
  document.querySelectorAll('body *').forEach(function (e) {
    if (tooWide.length < 5 && e.getBoundingClientRect().right > innerWidth + 0.5) {
      tooWide.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '') + ' right=' + Math.round(e.getBoundingClientRect().right));
    }
  });
  var img = document.getElementById('chart');
  var item = document.querySelector('.item'), lefts = {};
  if (item) Array.prototype.forEach.call(item.children, function (c) { lefts[Math.round(c.getBoundingClientRect().left)] = 1; });
  var more = [];
  document.querySelectorAll('p.more').forEach(function (p) { if (vis2(p)) more.push(p.textContent); });
  function vis2(e) { var r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && r.right <= innerWidth + 0.5; }
  parent.postMessage(JSON.stringify({
    width: innerWidth, scroll_width: document.documentElement.scrollWidth, too_wide: tooWide,
    headline: vis('headline'), bridge: vis('bridge'), chart: img ? img.naturalWidth : -1,
    chart_src: img ? img.currentSrc : '', chart_shown: img ? img.getBoundingClientRect().width : 0,
    item_columns: Object.keys(lefts).length, items: document.querySelectorAll('.item').length, more: more,
    resources: performance.getEntriesByType('resource').map(function (r) { return r.name; }),
    violations: probeViolations, page: location.href
  }), '*');
});
</script>
"#;

/// The Chromium binary: `chromium` on PATH (Debian), or `ALIPAY_RECON_CHROMIUM`.
fn chromium() -> String {
    let bin = std::env::var("ALIPAY_RECON_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&bin).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    assert!(
        found.is_ok_and(|s| s.success()),
        "the browser tests need Chromium ('{bin} --version' failed): run `bash tests/setup-and-run.sh --install-only` \
         (as root: apt-get install chromium), or set ALIPAY_RECON_CHROMIUM to a Chromium binary"
    );
    bin
}

/// Where screenshots go: `<target>/tmp/browser/` (kept after the test, unlike its temp folder).
fn artefacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Renders `dir/page` at `width` px in headless Chromium; returns the probe's measurements and writes a
/// screenshot to `shot`. The page is probed in a copy (`probed-<page>-<width>.html`) beside its files.
fn render(dir: &Path, page: &str, width: u32, shot: &Path) -> Measured {
    let html = std::fs::read_to_string(dir.join(page)).unwrap();
    let at = html.find("<head>").map(|i| i + "<head>".len()).unwrap_or(0);
    let stem = page.trim_end_matches(".html");
    let probed = format!("probed-{stem}-{width}.html");
    std::fs::write(dir.join(&probed), format!("{}\n{PROBE}{}", &html[..at], &html[at..])).unwrap();
    let wrapper = format!("wrapper-{stem}-{width}.html");
    std::fs::write(
        dir.join(&wrapper),
        format!(
            "<!DOCTYPE html><html><body style=\"margin:0;background:#777;\">\
             <iframe src=\"{probed}\" style=\"display:block;border:0;width:{width}px;height:1800px;background:#fff;\"></iframe>\
             <pre id=\"probe-result\"></pre>\
             <script>addEventListener('message', function (e) {{ document.getElementById('probe-result').textContent = e.data; }});</script>\
             </body></html>"
        ),
    )
    .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox", // the suite runs as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--force-device-scale-factor=1",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={},1800", width.max(500)))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", dir.join(&wrapper).display()))
        .env("HOME", profile.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > RENDER_TIMEOUT {
            let _ = child.kill();
            panic!("chromium did not finish rendering {page} at {width} px within {RENDER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let json = dom
        .split_once("<pre id=\"probe-result\">")
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(j, _)| j.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
        .filter(|j| !j.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "the probe in {page} at {width} px reported nothing (page did not load?)\n--- dom\n{dom}\n--- stderr\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    println!("screenshot: {}", shot.display());
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("probe JSON {json}: {e}"))
}

/// The chart's letters are the 5×7 font drawn at twice its size: 14 px tall in the PNG.
const CHART_TEXT_PX: f64 = 14.0;
/// The smallest the chart's text may be shown (a phone's body text is 13 to 16 px).
const MIN_CHART_TEXT_PX: f64 = 12.0;

/// How tall the chart's letters are on screen: their size in the file, scaled as the image is shown.
fn chart_text_px(m: &Measured) -> f64 {
    CHART_TEXT_PX * m.chart_shown / m.chart.max(1) as f64
}

/// The checks of issue 17 §4 for one page at one width; `what` names the page in messages.
fn assert_readable(m: &Measured, dir: &Path, what: &str, width: u32) {
    assert_eq!(m.width, width, "{what}: the viewport is the requested width");
    assert!(
        m.scroll_width <= m.width,
        "{what} at {width} px scrolls sideways: scroll width {} > {} (too wide: {:?})",
        m.scroll_width,
        m.width,
        m.too_wide
    );
    assert_eq!(m.headline, "visible", "{what} at {width} px: the headline (id=headline)");
    assert_eq!(m.bridge, "visible", "{what} at {width} px: the cash bridge (id=bridge)");
    assert!(m.chart > 0, "{what} at {width} px: the chart did not load (naturalWidth {})", m.chart);
    assert!(
        chart_text_px(m) >= MIN_CHART_TEXT_PX,
        "{what} at {width} px: the chart's text is {:.1} px on screen ({} shown {} px wide of {} px), under {MIN_CHART_TEXT_PX}",
        chart_text_px(m),
        m.chart_src,
        m.chart_shown,
        m.chart
    );
    let variant = if width == PHONE { "trend-narrow.png" } else { "trend.png" };
    assert!(m.chart_src.ends_with(variant), "{what} at {width} px shows {}, not {variant}", m.chart_src);
    assert!(m.violations.is_empty(), "{what} at {width} px tried to load from outside: {:?}", m.violations);
    let folder = format!("file://{}/", dir.display());
    for r in &m.resources {
        assert!(r.starts_with(&folder), "{what} at {width} px fetched {r}, outside its folder {folder}");
    }
    assert!(m.page.starts_with(&folder), "{}", m.page);
}

/// The demo's report folder of its last day, and its email (HTML part with inline images) as a
/// mail client would show it: `cid:` references resolved to the inline parts, written beside it.
struct Demo {
    w: Workspace,
}

impl Demo {
    fn run() -> Demo {
        let w = Workspace::new();
        w.run(&["demo"]).expect_code(1);
        Demo { w }
    }

    fn report_dir(&self) -> PathBuf {
        self.w.file(&format!("alipay-recon-demo/reports/{DATE}"))
    }

    /// A copy of the report folder (so probes never land in the real one).
    fn report_copy(&self) -> PathBuf {
        let to = self.w.file("browser/report");
        crate::harness::copy_tree(&self.report_dir(), &to);
        to
    }

    /// The email's HTML part in a folder of its own, with each inline part saved under a file name
    /// and its `cid:` references pointed at it; a reference without its part stays (and breaks).
    fn email_folder(&self) -> (PathBuf, String) {
        let mails = parse_mails(&self.w.file("alipay-recon-demo/outbox-eml"));
        let mail = mails.iter().find(|m| m.file.contains(DATE)).expect("the demo emails its last day");
        let raw_html = mail.part("text/html").text();
        let dir = self.w.file("browser/email");
        std::fs::create_dir_all(&dir).unwrap();
        let mut html = raw_html.clone();
        for p in mail.parts.iter().filter(|p| p.disposition.as_deref() == Some("inline")) {
            let Some(cid) = p.content_id.as_deref() else { continue };
            let cid = cid.trim_matches(['<', '>']);
            let file = format!("cid-{}", cid.replace(['/', '\\'], "_"));
            std::fs::write(dir.join(&file), &p.bytes).unwrap();
            html = html.replace(&format!("cid:{cid}"), &file);
        }
        std::fs::write(dir.join("email.html"), &html).unwrap();
        (dir, raw_html)
    }
}

/// Both widths of one page in parallel (each render is a separate browser).
fn render_both(dir: &Path, page: &str, name: &str) -> Vec<(u32, Measured)> {
    let art = artefacts();
    std::thread::scope(|s| {
        let jobs: Vec<_> = [DESKTOP, PHONE]
            .into_iter()
            .map(|width| {
                let shot = art.join(format!("{name}-{width}.png"));
                s.spawn(move || (width, render(dir, page, width, &shot)))
            })
            .collect();
        jobs.into_iter().map(|j| j.join().unwrap()).collect()
    })
}

#[test]
fn browser_report_html_fits_desktop_and_phone() {
    let demo = Demo::run();
    let dir = demo.report_copy();
    let t = Instant::now();
    for (width, m) in render_both(&dir, "report.html", "report") {
        assert_readable(&m, &dir, "report.html", width);
    }
    println!("rendered report.html at {DESKTOP} and {PHONE} px in {:?}", t.elapsed());
}

#[test]
fn browser_email_html_part_fits_desktop_and_phone() {
    let demo = Demo::run();
    let (dir, raw) = demo.email_folder();
    assert!(raw.contains("cid:trend.png"), "the email shows the chart as its inline part");
    for (width, m) in render_both(&dir, "email.html", "email") {
        assert_readable(&m, &dir, "the email's HTML part", width);
    }
}

/// Outside strings make the longest ids (`=HYPERLINK("http://evil.example","x")`): they break rather
/// than push a phone's page sideways, and the escaped URL in them is text, never a fetch.
#[test]
fn browser_hostile_report_fits_desktop_and_phone() {
    let (w, bad) = crate::golden::run_case_in("classic-hostile");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let dir = w.file("browser/report");
    crate::harness::copy_tree(&w.file(&format!("reports/{DATE}")), &dir);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("=HYPERLINK(&quot;http://evil.example&quot;"), "the long hostile id is on the page");
    for (width, m) in render_both(&dir, "report.html", "hostile") {
        assert_readable(&m, &dir, "the hostile report.html", width);
    }
}

/// A day with more than 100 discrepancy rows (the demo's last day plus 150 sales Alipay does not
/// have): the page shows the 100 largest, says how many more there are and where (the attached CSV
/// and xlsx), shows each row as a card on a phone (cells stacked) and as one line of cells on a
/// desktop, and fits both widths.
#[test]
fn browser_day_with_more_than_100_rows_shows_the_first_100_as_cards_and_says_where_the_rest_are() {
    let demo = Demo::run();
    let mut sales = String::from(
        "record_type,merchant_trans_id,merchant_refund_id,amount,currency,status,created_at,store_id,terminal_id,acquirement_id\n",
    );
    for i in 0..150 {
        let amount = format!("{}.{:02}", (i * 37) % 500 + 1, i % 100);
        sales.push_str(&format!("PAYMENT,BULK-{i:04},,{amount},HKD,SUCCESS,{DATE}T10:{:02}:00+08:00,S1,T1,\n", i % 60));
    }
    let csv = demo.w.write("bulk-sales.csv", sales);
    let config = "alipay-recon-demo/alipay-recon.toml";
    demo.w.run(&["-c", config, "import-sales", csv.to_str().unwrap()]).expect_code(0);
    demo.w.run(&["-c", config, "reconcile", "--date", DATE]).expect_code(1);
    let rows = std::fs::read_to_string(demo.report_dir().join("discrepancies.csv")).unwrap().lines().count() - 1;
    assert!(rows > 150, "the day has {rows} discrepancy rows");
    let dir = demo.report_copy();
    let note = format!(
        "Showing the 100 largest of {rows} discrepancies. The other {} are in discrepancies.csv and report.xlsx",
        rows - 100
    );
    for (width, m) in render_both(&dir, "report.html", "over-100") {
        assert_readable(&m, &dir, "report.html of a day with more than 100 rows", width);
        assert_eq!(m.items, 100 + 3, "{width} px: the 100 largest discrepancies, and the 3 open items");
        assert!(
            m.more.iter().any(|t| t.starts_with(&note)),
            "{width} px: the note says where the rest are: {:?}",
            m.more
        );
        let columns = if width == PHONE { 1 } else { 3 };
        assert_eq!(m.item_columns, columns, "{width} px: a row's cells (1 = a card of stacked cells)");
    }
}

/// Text inside the tags as a text-only client shows it: inline tags (`b`, `span`, `small` …) vanish,
/// every other tag separates words, white space collapses.
fn as_plain_text(html: &str) -> String {
    const INLINE: [&str; 7] = ["b", "i", "em", "strong", "span", "small", "a"];
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let close = rest[open..].find('>').map(|c| open + c).unwrap_or(rest.len() - 1);
        let name: String = rest[open + 1..close]
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if !INLINE.contains(&name.as_str()) {
            text.push(' ');
        }
        rest = &rest[close + 1..];
    }
    text.push_str(rest);
    let text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'");
    text.replace("&amp;", "&").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Mail clients drop `<style>` and `<script>`, block remote content and may show the text only.
#[test]
fn email_html_part_works_in_mail_client_conditions() {
    let demo = Demo::run();
    let (_, html) = demo.email_folder();
    let lower = html.to_ascii_lowercase();
    for bad in ["<script", "<style", "<link", "<iframe", "<object", "<embed", "<form", "javascript:", "@import"] {
        assert!(!lower.contains(bad), "the email's HTML part contains {bad}");
    }
    for attr in [" onload=", " onerror=", " onclick=", " src=\"http", " href=\"http", "url("] {
        assert!(!lower.contains(attr), "the email's HTML part contains {attr}");
    }
    let text = as_plain_text(&html);
    assert!(text.contains(&format!("Needs attention: 5 discrepancies on {DATE}, 0 pending")), "{text}");
    // The largest amount at stake first, each row readable as words.
    let first = "HKD 388.00 at stake STATUS_MISMATCH Item date 2026-11-25 Payment id A-20261125-0006 Alipay id";
    let second = "HKD 158.00 at stake STATUS_MISMATCH";
    let (a, b) = (text.find(first), text.find(second));
    assert!(a.is_some() && b.is_some() && a < b, "rows by amount at stake, as text:\n{text}");
    assert!(text.contains("What to do: Correct the status in the sales system"), "{text}");
    assert!(text.contains("Amount at stake: HKD 618.50"), "{text}");
    // Nothing but the chart is an image, and it is the inline part.
    assert_eq!(lower.matches("<img").count(), 1);
}

/// The checks can fail: a page with one table wider than a phone is caught at 420 px (and not at
/// 1280 px, where it fits), a page that loads a remote image is caught as well, and so is a page
/// whose only chart is the desktop one (its text about 8 px on a phone).
#[test]
fn browser_checks_catch_a_too_wide_table_and_a_remote_image() {
    let demo = Demo::run();
    let dir = demo.report_copy();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let wide = html.replace(
        "<h2 style=\"font-size:17px;margin:20px 0 6px 0;\" id=\"trend\">",
        "<table border=\"1\" style=\"width:900px\"><tr><td>a deliberately too wide table</td></tr></table>\n<h2 style=\"font-size:17px;margin:20px 0 6px 0;\" id=\"trend\">",
    );
    assert_ne!(wide, html, "the test found where to put the table");
    std::fs::write(dir.join("wide.html"), wide).unwrap();
    let remote = html.replacen("<h1 ", "<img src=\"http://example.invalid/pixel.png\" alt=\"\"><h1 ", 1);
    std::fs::write(dir.join("remote.html"), remote).unwrap();
    let source = html.find("<source ").expect("the page offers the phone's chart");
    let one = format!("{}{}", &html[..source], &html[source + html[source..].find('>').unwrap() + 1..]);
    std::fs::write(dir.join("one-chart.html"), one).unwrap();
    let art = artefacts();
    let (phone, desktop, m, one_chart) = std::thread::scope(|s| {
        let phone = s.spawn(|| render(&dir, "wide.html", PHONE, &art.join("too-wide-420.png")));
        let desktop = s.spawn(|| render(&dir, "wide.html", DESKTOP, &art.join("too-wide-1280.png")));
        let remote = s.spawn(|| render(&dir, "remote.html", DESKTOP, &art.join("remote-1280.png")));
        let one = s.spawn(|| render(&dir, "one-chart.html", PHONE, &art.join("one-chart-420.png")));
        (phone.join().unwrap(), desktop.join().unwrap(), remote.join().unwrap(), one.join().unwrap())
    });
    assert!(phone.scroll_width > PHONE, "a 900 px table must overflow a phone: {phone:?}");
    // Without its phone variant, the 640 px chart scaled into a phone has text too small to read.
    assert!(
        chart_text_px(&one_chart) < MIN_CHART_TEXT_PX && one_chart.chart_src.ends_with("/trend.png"),
        "{:.1} px: {one_chart:?}",
        chart_text_px(&one_chart)
    );
    assert!(phone.too_wide.iter().any(|e| e.starts_with("table")), "{:?}", phone.too_wide);
    assert!(desktop.scroll_width <= DESKTOP, "{desktop:?}");
    assert!(
        m.violations.iter().any(|v| v.contains("example.invalid")),
        "a remote image is reported: {:?} / {:?}",
        m.violations,
        m.resources
    );
}

/// The README's screenshot of the demo report at desktop width (docs/report-screenshot.png). Written
/// to the artefacts always, and into docs/ with UPDATE_SCREENSHOT=1.
#[test]
fn browser_screenshot_of_the_demo_report() {
    let demo = Demo::run();
    let dir = demo.report_copy();
    let shot = artefacts().join("readme-report-1280.png");
    let m = render(&dir, "report.html", DESKTOP, &shot);
    assert!(m.scroll_width <= DESKTOP && m.chart > 0, "{m:?}");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{} is a PNG", shot.display());
    if std::env::var("UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let docs = repo().join("docs/report-screenshot.png");
        std::fs::write(&docs, &png).unwrap();
        println!("wrote {}", docs.display());
    }
}
