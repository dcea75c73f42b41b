//! `report.html`: what a finance person reads first, usually inside an email client. Inline CSS only
//! (clients drop `<style>`), no scripts, no external resources; it must read at desktop width and on a
//! phone without sideways scrolling, so item lists are wrapping rows, not wide tables (see [`ROW`]),
//! with the largest amount at stake first (`discrepancies.csv` keeps the contract's order). The trend
//! chart is the file `trend.png` beside the page, so the page shows it when opened from the report
//! folder, in a `<picture>` whose `<source>` picks `trend-narrow.png` below 600 px (a phone: the same
//! chart drawn 384 px wide, its letters as tall as on a desktop); the email's copy refers to both as
//! `cid:` parts instead ([`email_html`]) and embeds the images with those content ids. Stable element ids (`headline`, `totals`, `discrepancies`, `chart` …)
//! are what the browser tests look for. Every string from outside (ids, details, file names, merchant
//! name) passes through [`html_escape`] — there is no other path into the page.

use super::chart;
use super::csv_out::state_text;
use super::summary::{category_counts, pending_counts};
use super::text::{amount, amounts, difference, html_escape as esc};
use super::Prepared;
use crate::domain::{Category, CurrencyTotals, Finding};
use anyhow::Result;
use std::fmt::Write;

/// Rows of all lists together. Gmail clips messages over ~100 KB and a row is about 0.8 KB, so the
/// page stays small; the CSV/XLSX hold everything and the page says where. Lists take rows in page
/// order (largest amount at stake first within each)…
pub const ROW_BUDGET: usize = 100;
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
// Tables (totals, trend) use HTML attributes for borders and padding: every email client honours them.
const TABLE: &str = "border=\"1\" cellpadding=\"4\" cellspacing=\"0\" style=\"border-collapse:collapse;border-color:#cccccc;margin:0 16px 12px 0;font-size:13px;\"";
const TH: &str = "align=\"left\" bgcolor=\"#eeeeee\"";
const OK_BOX: &str = "background:#e8f6ec;border:2px solid #2e8b57;padding:12px;font-size:16px;margin:8px 0 16px 0;";
const ALERT_BOX: &str = "background:#fdf0e6;border:2px solid #c0392b;padding:12px;font-size:16px;margin:8px 0 16px 0;";
const H2: &str = "<h2 style=\"font-size:17px;margin:20px 0 6px 0;\"";
// Item rows: no media queries (most email clients drop <style>), so the layout is "fluid": each row is
// a wrapping flex line of blocks with fixed minimum widths. At desktop width the blocks sit side by
// side like table columns (amount | ids and date | what is wrong and what to do, which takes the rest);
// on a phone they stack into a card. Clients without flexbox (Outlook's Word engine) stack the blocks,
// which reads the same. Styles are short because a row is repeated up to ROW_BUDGET times.
const ROW: &str = "display:flex;flex-wrap:wrap;border-top:1px solid #ccc;padding:6px 0;font-size:13px;";
const CELL_AMOUNT: &str = "width:170px;padding:0 12px 4px 0;";
const CELL_IDS: &str = "width:300px;max-width:100%;padding:0 12px 4px 0;";
const CELL_TEXT: &str = "flex:1 1 300px;max-width:100%;overflow-wrap:anywhere;";
/// An ids block whose ids all have up to this many characters never wraps (about 240 px at 13 px
/// Arial, under a phone's width); a longer id (not Alipay's or a POS's, but outside text) may break
/// anywhere rather than push the page sideways.
const NOWRAP_ID_CHARS: usize = 32;

/// How the page refers to the chart in the report folder: the relative name of the file beside it.
const TREND_IMG_FILE: &str = "<img src=\"trend.png\"";
/// How the email's HTML part refers to it: the content id of the inline image part.
const TREND_IMG_CID: &str = "<img src=\"cid:trend.png\"";
/// The phone's variant (`trend-narrow.png`), which a `<picture>` picks below 600 px; a client that
/// knows no `<picture>` shows the `<img>`.
const TREND_SOURCE_FILE: &str = "<source media=\"(max-width: 600px)\" srcset=\"trend-narrow.png\"";
const TREND_SOURCE_CID: &str = "<source media=\"(max-width: 600px)\" srcset=\"cid:trend-narrow.png\"";

/// `report.html` as the email's HTML part: the chart's file references become `cid:trend.png` and
/// `cid:trend-narrow.png`. Only the page's own tags can match: outside text is escaped, so it never
/// holds a raw `<` or `"`. A page written before the chart was a file (already `cid:`) is returned
/// unchanged.
pub fn email_html(html: &str) -> String {
    html.replace(TREND_IMG_FILE, TREND_IMG_CID).replace(TREND_SOURCE_FILE, TREND_SOURCE_CID)
}

/// The images a page shows, in page order: the `src` of every `<img>` and the `srcset` of every
/// `<source>` (the report writes them double-quoted, one file each). `notify` attaches the `cid:` ones;
/// the tests check the page's are files of its folder.
pub fn image_sources(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found: Vec<(usize, String)> = Vec::new();
    for (tag, attr) in [("<img", " src=\""), ("<source", " srcset=\"")] {
        for (at, _) in lower.match_indices(tag) {
            let end = lower[at..].find('>').map_or(html.len(), |e| at + e);
            let value = html[at..end].split_once(attr).and_then(|(_, rest)| rest.split_once('"')).map(|(v, _)| v);
            found.push((at, value.unwrap_or_default().to_string()));
        }
    }
    found.sort();
    found.into_iter().map(|(_, v)| v).collect()
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

/// A right-aligned number cell that never wraps; `v` is already HTML (see [`amount`]).
fn td_html(out: &mut String, v: &str) {
    let _ = write!(out, "<td valign=\"top\" align=\"right\" nowrap>{v}</td>");
}

/// An amount comparable across currencies without exchange rates: the major-unit value, scaled to a
/// common number of decimals (so JPY 5,000 ranks above HKD 500.00). Rows are ordered by it, largest
/// first; it is a reading order, never a sum.
fn stake_rank(f: &Finding) -> i128 {
    const DECIMALS: u32 = 4;
    f.at_stake()
        .map(|(c, v)| v.unsigned_abs() as i128 * 10i128.pow(DECIMALS.saturating_sub(c.exponent())))
        .unwrap_or(-1)
}

/// "Showing the N largest of M …": where the rest are, in the page and in the email alike.
fn more_rows(out: &mut String, shown: usize, total: usize, noun: &str, where_rest: &str) {
    if total > shown {
        let _ = writeln!(
            out,
            "<p class=\"more\">Showing the {shown} largest of {total} {noun}. The other {} are in {where_rest}.</p>",
            total - shown
        );
    }
}

/// An id with its label on one line of the ids block; empty ids are left out.
fn id_line(out: &mut String, label: &str, id: &str) {
    if !id.is_empty() {
        let _ = write!(out, "<br>\n<small>{label}</small> {}", esc(id));
    }
}

/// A date (or any short value) that must not break at its hyphens.
fn nowrap(v: impl std::fmt::Display) -> String {
    format!("<span style=\"white-space:nowrap\">{v}</span>")
}

/// The first two blocks of an item row: the amount at stake with the category under it (and the
/// difference when the sides disagree), then the item date and the ids.
fn item_blocks(out: &mut String, f: &Finding) -> Result<()> {
    amounts(f)?; // the same checks as the CSV (an amount without a currency is an engine bug)
    let _ = write!(out, "<div style=\"{CELL_AMOUNT}\">");
    match f.at_stake() {
        Some((c, v)) => {
            let _ = write!(out, "<b>{}</b> <small>at stake</small>", amount(v, c));
        }
        None => out.push_str("<b>no amount</b>"),
    }
    let _ = write!(out, "<br>\n<b>{}</b>", esc(f.category.as_str()));
    if let Some((d, c)) = difference(f).zip(f.currency).filter(|(d, _)| *d != 0) {
        let _ = write!(out, "<br>\n<small>Alipay − local</small> {}", amount(d, c));
    }
    out.push_str("</div>\n");
    let ids = [&f.merchant_trans_id, &f.merchant_refund_id, &f.acquirement_id];
    let wrap = if ids.iter().all(|id| id.chars().count() <= NOWRAP_ID_CHARS) {
        "white-space:nowrap;"
    } else {
        "overflow-wrap:anywhere;"
    };
    let _ = write!(out, "<div style=\"{CELL_IDS}{wrap}\"><small>Item date</small> {}", f.item_date);
    id_line(out, "Payment id", &f.merchant_trans_id);
    id_line(out, "Refund id", &f.merchant_refund_id);
    id_line(out, "Alipay id", &f.acquirement_id);
    out.push_str("</div>\n");
    Ok(())
}

fn row_start(out: &mut String, class: &str) {
    let _ = writeln!(out, "<div class=\"{class}\" style=\"{ROW}\">");
}

fn headline(out: &mut String, p: &Prepared) {
    let date = p.input.business_date;
    let n = p.findings.len();
    let (pending, resolved) = pending_counts(p);
    let open = p.open.len();
    if p.input.is_clean() {
        let _ = writeln!(
            out,
            "<div id=\"headline\" style=\"{OK_BOX}\"><b>All clear.</b> Every Alipay payment and refund of {date} matches the sales records; nothing needs attention.</div>"
        );
        return;
    }
    let _ = write!(
        out,
        "<div id=\"headline\" style=\"{ALERT_BOX}\"><b>Needs attention:</b> {n} discrepanc{} on {}",
        if n == 1 { "y" } else { "ies" },
        nowrap(date)
    );
    let _ = writeln!(
        out,
        ", {pending} pending, {resolved} resolved, {open} open item{}.",
        if open == 1 { "" } else { "s" }
    );
    let counts: Vec<String> =
        category_counts(p).into_iter().filter(|(_, k)| *k > 0).map(|(c, k)| format!("{} {k}", c.as_str())).collect();
    if !counts.is_empty() {
        let _ = write!(out, "<br>\n{}", esc(&counts.join(", ")));
    }
    let stake: Vec<String> = p
        .input
        .summary
        .at_stake
        .iter()
        .filter(|(_, v)| **v != 0)
        .map(|(code, v)| amount(*v, p.currency(code)))
        .collect();
    if !stake.is_empty() {
        let _ = write!(out, "<br>\nAmount at stake: {}", stake.join(", "));
    }
    out.push_str("</div>\n");
}

/// One small two-column table per currency, side by side on a desktop and stacked on a phone.
fn totals(out: &mut String, p: &Prepared) {
    if p.currencies.is_empty() {
        return;
    }
    let _ = writeln!(out, "{H2} id=\"totals\">Totals</h2>\n<div style=\"display:flex;flex-wrap:wrap;\">");
    let zero = CurrencyTotals::default();
    for code in p.currencies.keys() {
        let cur = p.currency(code);
        let t = p.input.summary.currencies.get(code).unwrap_or(&zero);
        let at_stake = p.input.summary.at_stake.get(code).copied().unwrap_or(0);
        let _ = writeln!(out, "<table {TABLE}>");
        let _ = writeln!(out, "<tr><th {TH} colspan=\"2\">{}</th></tr>", esc(code));
        let counted = |v: i64, n: i64| format!("{} <small>({n})</small>", amount(v, cur));
        let mut rows = vec![
            ("Payments", counted(t.alipay_payments, t.alipay_payment_count)),
            ("Refunds", counted(t.alipay_refunds, t.alipay_refund_count)),
            ("Cancels", counted(t.alipay_cancels, t.alipay_cancel_count)),
        ];
        // A pricing currency whose money settles in another has no settlement lines of its own: it
        // says where it settles instead of showing 0.00 (the bridge does the same).
        if !t.settles_in.is_empty() && t.fees == 0 && t.expected_net == 0 && t.settled_net == 0 {
            rows.push(("Settles in", esc(&t.settles_in.join(", "))));
        } else {
            rows.push(("Fees", amount(t.fees, cur)));
            rows.push(("Expected net", amount(t.expected_net, cur)));
            rows.push(("Settled net", amount(t.settled_net, cur)));
        }
        rows.push(("At stake", amount(at_stake, cur)));
        for (label, v) in rows {
            out.push_str("<tr>");
            td(out, label);
            td_html(out, &v);
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
    }
    out.push_str("</div>\n");
}

fn discrepancies(out: &mut String, p: &Prepared, budget: &mut usize) -> Result<()> {
    if p.findings.is_empty() {
        return Ok(());
    }
    let _ = writeln!(
        out,
        "{H2} id=\"discrepancies\">Discrepancies ({}), largest amount at stake first</h2>",
        p.findings.len()
    );
    let mut rows = p.findings.clone();
    rows.sort_by_key(|f| std::cmp::Reverse(stake_rank(f))); // stable: ties keep the contract's order
    let n = shown(budget, rows.len());
    for f in rows.iter().take(n) {
        row_start(out, "item");
        item_blocks(out, f)?;
        let _ = writeln!(
            out,
            "<div style=\"{CELL_TEXT}\">{}<br>\n<b>What to do:</b> {}</div>\n</div>",
            esc(&f.detail),
            esc(action(f.category))
        );
    }
    more_rows(
        out,
        n,
        rows.len(),
        "discrepancies",
        "discrepancies.csv and report.xlsx (sheet Discrepancies), attached to the email and in the report folder",
    );
    Ok(())
}

fn pending(out: &mut String, p: &Prepared, budget: &mut usize) -> Result<()> {
    if p.pending.is_empty() {
        return Ok(());
    }
    let _ = writeln!(out, "{H2} id=\"pending\">Pending and resolved ({})</h2>", p.pending.len());
    let mut rows = p.pending.clone();
    rows.sort_by_key(|i| (i.state, std::cmp::Reverse(stake_rank(&i.finding))));
    let n = shown(budget, rows.len());
    for item in rows.iter().take(n) {
        row_start(out, "item");
        item_blocks(out, &item.finding)?;
        let first = item.first_reported.map(|d| format!(" (first reported {d})")).unwrap_or_default();
        let _ = writeln!(
            out,
            "<div style=\"{CELL_TEXT}\"><b>{}</b>{first}: {}</div>\n</div>",
            state_text(item.state),
            esc(&item.reason)
        );
    }
    more_rows(
        out,
        n,
        rows.len(),
        "pending and resolved items",
        "report.xlsx (sheet Pending) and pending.csv in the report folder",
    );
    Ok(())
}

fn open_items(out: &mut String, p: &Prepared, budget: &mut usize) -> Result<()> {
    if p.open.is_empty() {
        return Ok(());
    }
    let _ = writeln!(out, "{H2} id=\"open-items\">Open items ({})</h2>", p.open.len());
    let mut rows = p.open.clone();
    rows.sort_by_key(|i| std::cmp::Reverse(stake_rank(&i.finding)));
    let n = shown(budget, rows.len());
    for item in rows.iter().take(n) {
        row_start(out, "item");
        item_blocks(out, &item.finding)?;
        let _ = writeln!(
            out,
            "<div style=\"{CELL_TEXT}\"><small>First reported</small> <span style=\"white-space:nowrap\">{}</span>, {} day{} open<br>\n{}</div>\n</div>",
            item.first_reported,
            item.age_days,
            if item.age_days == 1 { "" } else { "s" },
            esc(&item.finding.detail)
        );
    }
    more_rows(
        out,
        n,
        rows.len(),
        "open items",
        "report.xlsx (sheet Open items) and open_items.csv in the report folder",
    );
    Ok(())
}

fn warnings(out: &mut String, p: &Prepared, budget: &mut usize) {
    if p.warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "{H2} id=\"warnings\">File warnings ({})</h2>", p.warnings.len());
    let n = shown(budget, p.warnings.len());
    for w in p.warnings.iter().take(n) {
        row_start(out, "warning");
        let line = w.line.map(|l| format!(" <small>line</small> {l}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "<div style=\"{CELL_AMOUNT}\"><b>{}</b>{line}</div>\n<div style=\"{CELL_TEXT}\">{}<br>\n{}</div>\n</div>",
            esc(&w.code),
            esc(&w.file),
            esc(&w.message)
        );
    }
    more_rows(out, n, p.warnings.len(), "warnings", "the run log");
}

fn trend(out: &mut String, p: &Prepared) {
    let (w, h) = chart::size(p, &chart::WIDE);
    let (nw, nh) = chart::size(p, &chart::NARROW);
    let _ = writeln!(
        out,
        "{H2} id=\"trend\">Last 14 days</h2>\n<picture>{TREND_SOURCE_FILE} width=\"{nw}\" height=\"{nh}\">{TREND_IMG_FILE} id=\"chart\" width=\"{w}\" height=\"{h}\" alt=\"Chart of the last 14 days: discrepancies per day, and the amount at stake per day in each currency; the numbers are in the table below\" style=\"display:block;max-width:100%;height:auto;border:1px solid #ddd;margin-bottom:8px;\"></picture>"
    );
    // Three columns whatever the number of currencies (one line each), so it fits a phone.
    let _ = writeln!(out, "<table {TABLE}>");
    th(out, &["Date", "Discrepancies", "At stake"]);
    let mut days = p.trend.iter().peekable();
    while let Some((date, point)) = days.next() {
        match point {
            None => {
                // A run of days without a report is one row ("2026-11-12 to 2026-11-20").
                let mut last = *date;
                while let Some((d, None)) = days.peek() {
                    last = *d;
                    days.next();
                }
                let span = if last == *date { nowrap(date) } else { format!("{} to {}", nowrap(date), nowrap(last)) };
                let _ = write!(out, "<tr><td valign=\"top\">{span}</td>");
                td_html(out, "no report");
                td_html(out, "");
            }
            Some(t) => {
                let _ = write!(out, "<tr><td valign=\"top\" nowrap>{date}</td>");
                td_html(out, &t.discrepancies.to_string());
                let stake: Vec<String> = p
                    .currencies
                    .iter()
                    .filter_map(|(code, cur)| t.at_stake.get(code).filter(|v| **v != 0).map(|v| amount(*v, *cur)))
                    .collect();
                td_html(out, &if stake.is_empty() { "none".to_string() } else { stake.join("<br>") });
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
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Alipay reconciliation {date} - {merchant}</title>\n</head>\n<body style=\"{BODY}\">"
    );
    let _ = writeln!(out, "<h1 style=\"font-size:20px;margin:0 0 4px 0;\">Alipay reconciliation for {}</h1>\n<p style=\"margin:0 0 8px 0;\">{merchant}</p>", nowrap(date));
    headline(&mut out, p);
    totals(&mut out, p);
    out.push_str(&super::bridge::html(&p.bridge));
    let mut budget = ROW_BUDGET;
    discrepancies(&mut out, p, &mut budget)?;
    pending(&mut out, p, &mut budget)?;
    open_items(&mut out, p, &mut budget)?;
    super::resolutions::html_section(&mut out, p);
    warnings(&mut out, p, &mut budget);
    trend(&mut out, p);
    let _ = writeln!(
        out,
        "<p style=\"color:#666;font-size:12px;\">Every row of {date} is in discrepancies.csv and report.xlsx (attached to the email); pending.csv and open_items.csv are in the report folder. alipay-recon {}</p>\n</body>\n</html>",
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
}
