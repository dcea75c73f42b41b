//! `report.html`: what a finance person reads first, usually inside an email client. Inline CSS only,
//! no scripts, no external resources. The trend chart is the file `trend.png` beside the page, so the
//! page shows it when opened from the report folder; the email's copy refers to it as `cid:trend.png`
//! instead ([`email_html`]) and embeds the image with that content id. Every string from outside (ids,
//! details, file names, merchant name) passes through [`html_escape`] — there is no other path into
//! the page.

use super::chart::{CURRENCY_COLOURS, HEIGHT, WIDTH};
use super::csv_out::state_text;
use super::summary::{category_counts, pending_counts};
use super::text::{amounts, difference, html_escape as esc};
use super::Prepared;
use crate::domain::{format_minor, Category, Currency, CurrencyTotals, Finding};
use anyhow::Result;
use std::fmt::Write;

/// Rows of all tables together. Gmail clips messages over ~100 KB, so the page stays small; the
/// CSV/XLSX hold everything and the page says so. Tables take rows in page order…
pub const ROW_BUDGET: usize = 150;
/// …but a later table always shows at least this many, so pending and open items are never hidden.
pub const MIN_ROWS: usize = 10;

/// How many of `len` rows a table shows, taken from the page's remaining `budget`.
fn shown(budget: &mut usize, len: usize) -> usize {
    let n = len.min((*budget).max(MIN_ROWS));
    *budget = budget.saturating_sub(n);
    n
}

const BODY: &str =
    "font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222;background:#fff;margin:0;padding:16px;";
// Tables use HTML attributes for borders and padding (every email client honours them) so cells need
// no per-cell style: that keeps a 200-row table far below the clipping size.
const TABLE: &str = "border=\"1\" cellpadding=\"4\" cellspacing=\"0\" style=\"border-collapse:collapse;border-color:#cccccc;margin:8px 0 20px 0;font-size:13px;\"";
const TH: &str = "align=\"left\" bgcolor=\"#eeeeee\"";
const OK_BOX: &str = "background:#e8f6ec;border:2px solid #2e8b57;padding:12px;font-size:16px;margin:8px 0 16px 0;";
const ALERT_BOX: &str = "background:#fdf0e6;border:2px solid #c0392b;padding:12px;font-size:16px;margin:8px 0 16px 0;";

/// How the page refers to the chart in the report folder: the relative name of the file beside it.
const TREND_IMG_FILE: &str = "<img src=\"trend.png\"";
/// How the email's HTML part refers to it: the content id of the inline image part.
const TREND_IMG_CID: &str = "<img src=\"cid:trend.png\"";

/// `report.html` as the email's HTML part: the chart's file reference becomes `cid:trend.png`. Only
/// the page's own tag can match: outside text is escaped, so it never holds a raw `<` or `"`. A page
/// written before the chart was a file (already `cid:`) is returned unchanged.
pub fn email_html(html: &str) -> String {
    html.replace(TREND_IMG_FILE, TREND_IMG_CID)
}

/// Money for reading: `format_minor` with thousands separators (`12,345.00`, JPY `56,000`).
pub fn money(minor: i64, cur: Currency) -> String {
    let plain = format_minor(minor, cur);
    let (sign, rest) = plain.strip_prefix('-').map(|r| ("-", r)).unwrap_or(("", plain.as_str()));
    let (int, frac) = rest.split_once('.').map(|(i, f)| (i, Some(f))).unwrap_or((rest, None));
    let mut grouped = String::with_capacity(plain.len() + int.len() / 3);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// What the finance person should do about a category, in one short sentence.
pub fn action(c: Category) -> &'static str {
    match c {
        Category::Duplicate => {
            "Check whether the customer was charged twice; refund or ask Alipay to correct the file."
        }
        Category::MissingLocally => {
            "Find the sale in the POS/ERP and record it, or ask Alipay about a payment you did not take."
        }
        Category::MissingAtAlipay => {
            "Ask the store whether Alipay confirmed the payment; raise it with Alipay support with the ids."
        }
        Category::StatusMismatch => "Correct the status in the sales system, or void/refund at Alipay to match it.",
        Category::CurrencyMismatch => "Check the currency configured at the terminal and in the sales system.",
        Category::AmountMismatch => "Compare the receipt with the Alipay record; refund or collect the difference.",
        Category::Unsettled => "Ask Alipay why this captured payment has not been settled.",
        Category::SettlementMismatch => {
            "Raise the settlement line with Alipay; it disagrees with the transaction data."
        }
        Category::FeeMismatch => "Check the contracted fee rate with Alipay and dispute the overcharge.",
        Category::SummaryMismatch => "Ask Alipay to restate the settlement summary file.",
        Category::FileIntegrity => "Fetch the file again or ask Alipay to resend it; rerun the report afterwards.",
    }
}

fn th(out: &mut String, cols: &[&str]) {
    out.push_str("<tr>");
    for c in cols {
        let _ = write!(out, "<th {TH}>{}</th>", esc(c));
    }
    out.push_str("</tr>\n");
}

fn td(out: &mut String, v: &str) {
    let _ = write!(out, "<td valign=\"top\">{}</td>", esc(v));
}

fn tdn(out: &mut String, v: &str) {
    let _ = write!(out, "<td valign=\"top\" align=\"right\" nowrap>{}</td>", esc(v));
}

fn more_rows(out: &mut String, shown: usize, total: usize, file: &str) {
    if total > shown {
        let _ = writeln!(out, "<p>Showing the first {shown} of {total} rows; all rows are in {}.</p>", esc(file));
    }
}

/// The id cells and amounts shared by every item table.
fn item_cells(out: &mut String, f: &Finding) -> Result<()> {
    amounts(f)?; // the same checks as the CSV (an amount without a currency is an engine bug)
    let side = |v: Option<i64>, c: Option<Currency>| match (v, c) {
        (Some(v), Some(c)) => format!("{c} {}", money(v.checked_abs().unwrap_or(i64::MAX), c)),
        _ => String::new(),
    };
    td(out, f.category.as_str());
    td(out, &f.item_date.to_string());
    td(out, &f.merchant_trans_id);
    td(out, &f.merchant_refund_id);
    td(out, &f.acquirement_id);
    tdn(out, &side(f.local_amount, f.currency));
    tdn(out, &side(f.alipay_amount, f.alipay_currency));
    tdn(out, &difference(f).zip(f.currency).map(|(d, c)| money(d, c)).unwrap_or_default());
    Ok(())
}

const ITEM_COLS: [&str; 8] =
    ["Category", "Item date", "Payment id", "Refund id", "Alipay id", "Local", "Alipay", "Difference"];

fn headline(out: &mut String, p: &Prepared) {
    let date = p.input.business_date;
    let n = p.findings.len();
    let (pending, resolved) = pending_counts(p);
    let open = p.open.len();
    if p.input.is_clean() {
        let _ = writeln!(
            out,
            "<div style=\"{OK_BOX}\"><b>All clear.</b> Every Alipay payment and refund of {date} matches the sales records; nothing needs attention.</div>"
        );
        return;
    }
    let _ = write!(
        out,
        "<div style=\"{ALERT_BOX}\"><b>Needs attention:</b> {n} discrepanc{} on {date}",
        if n == 1 { "y" } else { "ies" }
    );
    let _ = writeln!(
        out,
        ", {pending} pending, {resolved} resolved, {open} open item{}.",
        if open == 1 { "" } else { "s" }
    );
    let counts: Vec<String> =
        category_counts(p).into_iter().filter(|(_, k)| *k > 0).map(|(c, k)| format!("{} {k}", c.as_str())).collect();
    if !counts.is_empty() {
        let _ = write!(out, "<br>{}", esc(&counts.join(", ")));
    }
    let stake: Vec<String> = p
        .input
        .summary
        .at_stake
        .iter()
        .filter(|(_, v)| **v != 0)
        .map(|(code, v)| format!("{code} {}", money(*v, p.currency(code))))
        .collect();
    if !stake.is_empty() {
        let _ = write!(out, "<br>Amount at stake: {}", esc(&stake.join(", ")));
    }
    out.push_str("</div>\n");
}

fn totals(out: &mut String, p: &Prepared) {
    if p.currencies.is_empty() {
        return;
    }
    out.push_str("<h2 style=\"font-size:17px;\">Totals</h2>\n");
    let _ = writeln!(out, "<table {TABLE}>");
    th(out, &["Currency", "Payments", "Refunds", "Cancels", "Fees", "Expected net", "Settled net", "At stake"]);
    let zero = CurrencyTotals::default();
    for code in p.currencies.keys() {
        let cur = p.currency(code);
        let t = p.input.summary.currencies.get(code).unwrap_or(&zero);
        let at_stake = p.input.summary.at_stake.get(code).copied().unwrap_or(0);
        out.push_str("<tr>");
        td(out, code);
        tdn(out, &format!("{} ({})", money(t.alipay_payments, cur), t.alipay_payment_count));
        tdn(out, &format!("{} ({})", money(t.alipay_refunds, cur), t.alipay_refund_count));
        tdn(out, &format!("{} ({})", money(t.alipay_cancels, cur), t.alipay_cancel_count));
        tdn(out, &money(t.fees, cur));
        tdn(out, &money(t.expected_net, cur));
        tdn(out, &money(t.settled_net, cur));
        tdn(out, &money(at_stake, cur));
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn discrepancies(out: &mut String, p: &Prepared, budget: &mut usize) -> Result<()> {
    if p.findings.is_empty() {
        return Ok(());
    }
    let _ = writeln!(out, "<h2 style=\"font-size:17px;\">Discrepancies ({})</h2>\n<table {TABLE}>", p.findings.len());
    let mut cols = ITEM_COLS.to_vec();
    cols.extend(["What is wrong", "What to do"]);
    th(out, &cols);
    let n = shown(budget, p.findings.len());
    for f in p.findings.iter().take(n) {
        out.push_str("<tr>");
        item_cells(out, f)?;
        td(out, &f.detail);
        td(out, action(f.category));
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    more_rows(out, n, p.findings.len(), "discrepancies.csv");
    Ok(())
}

fn pending(out: &mut String, p: &Prepared, budget: &mut usize) -> Result<()> {
    if p.pending.is_empty() {
        return Ok(());
    }
    let _ =
        writeln!(out, "<h2 style=\"font-size:17px;\">Pending and resolved ({})</h2>\n<table {TABLE}>", p.pending.len());
    let mut cols = vec!["State"];
    cols.extend(ITEM_COLS);
    cols.extend(["First reported", "Why"]);
    th(out, &cols);
    let n = shown(budget, p.pending.len());
    for item in p.pending.iter().take(n) {
        out.push_str("<tr>");
        td(out, state_text(item.state));
        item_cells(out, &item.finding)?;
        td(out, &item.first_reported.map(|d| d.to_string()).unwrap_or_default());
        td(out, &item.reason);
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    more_rows(out, n, p.pending.len(), "pending.csv");
    Ok(())
}

fn open_items(out: &mut String, p: &Prepared, budget: &mut usize) -> Result<()> {
    if p.open.is_empty() {
        return Ok(());
    }
    let _ = writeln!(out, "<h2 style=\"font-size:17px;\">Open items ({})</h2>\n<table {TABLE}>", p.open.len());
    let mut cols = ITEM_COLS.to_vec();
    cols.extend(["First reported", "Age (days)", "What is wrong"]);
    th(out, &cols);
    let n = shown(budget, p.open.len());
    for item in p.open.iter().take(n) {
        out.push_str("<tr>");
        item_cells(out, &item.finding)?;
        td(out, &item.first_reported.to_string());
        tdn(out, &item.age_days.to_string());
        td(out, &item.finding.detail);
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    more_rows(out, n, p.open.len(), "open_items.csv");
    Ok(())
}

fn warnings(out: &mut String, p: &Prepared, budget: &mut usize) {
    if p.warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h2 style=\"font-size:17px;\">File warnings ({})</h2>\n<table {TABLE}>", p.warnings.len());
    th(out, &["File", "Line", "Code", "Message"]);
    let n = shown(budget, p.warnings.len());
    for w in p.warnings.iter().take(n) {
        out.push_str("<tr>");
        td(out, &w.file);
        tdn(out, &w.line.map(|l| l.to_string()).unwrap_or_default());
        td(out, &w.code);
        td(out, &w.message);
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    more_rows(out, n, p.warnings.len(), "the run log");
}

fn trend(out: &mut String, p: &Prepared) {
    let _ = writeln!(
        out,
        "<h2 style=\"font-size:17px;\">Last 14 days</h2>\n{TREND_IMG_FILE} width=\"{WIDTH}\" height=\"{HEIGHT}\" alt=\"Bar chart: discrepancies per day (top) and amount at stake per currency (bottom); numbers in the table below\" style=\"display:block;border:1px solid #ddd;\">"
    );
    let _ = writeln!(out, "<table {TABLE}>");
    out.push_str("<tr>");
    let _ = write!(out, "<th {TH}>Date</th><th {TH}>Discrepancies</th>");
    for (k, code) in p.currencies.keys().enumerate() {
        // The swatch ties a column to its bar colour; currencies past the palette are table-only.
        let swatch = CURRENCY_COLOURS
            .get(k)
            .map(|[r, g, b]| format!("<span style=\"display:inline-block;width:10px;height:10px;background:#{r:02x}{g:02x}{b:02x};\"></span> "))
            .unwrap_or_default();
        let _ = write!(out, "<th {TH}>{swatch}At stake {}</th>", esc(code));
    }
    out.push_str("</tr>\n");
    for (date, point) in &p.trend {
        out.push_str("<tr>");
        td(out, &date.to_string());
        match point {
            None => {
                tdn(out, "no report");
                for _ in p.currencies.keys() {
                    tdn(out, "");
                }
            }
            Some(t) => {
                tdn(out, &t.discrepancies.to_string());
                for code in p.currencies.keys() {
                    tdn(out, &money(t.at_stake.get(code).copied().unwrap_or(0), p.currency(code)));
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

pub fn report_html(p: &Prepared) -> Result<Vec<u8>> {
    let date = p.input.business_date;
    let merchant = esc(&p.input.merchant);
    let mut out = String::with_capacity(16 * 1024);
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Alipay reconciliation {date} - {merchant}</title>\n</head>\n<body style=\"{BODY}\">"
    );
    let _ = writeln!(out, "<h1 style=\"font-size:20px;\">Alipay reconciliation for {date}</h1>\n<p>{merchant}</p>");
    headline(&mut out, p);
    totals(&mut out, p);
    let mut budget = ROW_BUDGET;
    discrepancies(&mut out, p, &mut budget)?;
    pending(&mut out, p, &mut budget)?;
    open_items(&mut out, p, &mut budget)?;
    super::resolutions::html_section(&mut out, p);
    warnings(&mut out, p, &mut budget);
    trend(&mut out, p);
    let _ = writeln!(
        out,
        "<p style=\"color:#666;font-size:12px;\">All rows are in discrepancies.csv, pending.csv, open_items.csv and report.xlsx in the report folder for {date}. alipay-recon {}</p>\n</body>\n</html>",
        esc(&p.input.tool_version)
    );
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_budget_is_shared_but_never_hides_a_table() {
        let mut b = ROW_BUDGET;
        assert_eq!(shown(&mut b, 1000), ROW_BUDGET);
        assert_eq!(shown(&mut b, 3), 3, "small tables still show in full");
        assert_eq!(shown(&mut b, 500), MIN_ROWS);
        let mut b = ROW_BUDGET;
        assert_eq!(shown(&mut b, 40), 40);
        assert_eq!(shown(&mut b, 400), ROW_BUDGET - 40);
    }

    #[test]
    fn money_groups_thousands() {
        let c = |s: &str| Currency::parse(s).unwrap();
        let cases = [
            (1_234_500, "HKD", "12,345.00"),
            (56_000, "JPY", "56,000"),
            (1_234_567_890, "KWD", "1,234,567.890"),
            (-100_000_000, "HKD", "-1,000,000.00"),
            (5, "HKD", "0.05"),
            (999, "JPY", "999"),
        ];
        for (v, cur, want) in cases {
            assert_eq!(money(v, c(cur)), want, "money({v}, {cur})");
        }
    }
}
