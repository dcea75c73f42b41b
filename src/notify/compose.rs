//! Composing the daily report email (discrepancies or all-clear) from a report folder plus the day's
//! [`DaySummary`], and the text helpers the alerts share. Only text is produced here; MIME structure
//! and headers are built at delivery time. Everything that reaches a header goes through
//! [`header_safe`]; everything that reaches HTML written here goes through [`html_escape`].

use super::{Kind, Message, Part};
use crate::domain::{display_money, Currency, DaySummary, Finding};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use std::fmt::Write as _;
use std::path::Path;

/// How many findings the plain-text body lists (the attachments have all of them).
const LISTED_FINDINGS: usize = 20;

/// Attachments above this total are left out (largest first) and named in the text instead: many
/// mail servers refuse messages over 10–25 MB, and base64 adds a third.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;

/// Input of the daily email: the report folder written by the report module and its numbers.
pub struct DailyReport<'a> {
    pub date: NaiveDate,
    pub merchant: &'a str,
    /// 1 for the first email of the date; see [`super::plan_daily`].
    pub version: u32,
    pub summary: &'a DaySummary,
    /// `reports/<YYYY-MM-DD>/` with `report.html`, `discrepancies.csv`, `report.xlsx`, `trend.png`.
    pub folder: &'a Path,
    /// The day's findings in report order; the first few are listed in the text body (may be empty).
    pub findings: &'a [Finding],
}

/// Builds the daily email. Missing optional files (xlsx, chart, HTML) are named in the text instead
/// of failing: a report email without its spreadsheet beats no email.
pub fn daily_message(r: &DailyReport) -> Result<Message> {
    anyhow::ensure!(
        r.folder.is_dir(),
        "report folder {} does not exist: write the report before composing its email",
        r.folder.display()
    );
    let s = r.summary;
    let discrepancies: i64 = s.counts.values().sum();
    let mut parts = Vec::new();
    let mut absent = Vec::new();
    // Every file the report page's footer names, so the email's footer lists exactly what is attached.
    for (name, ct) in [
        ("discrepancies.csv", "text/csv; charset=utf-8"),
        ("pending.csv", "text/csv; charset=utf-8"),
        ("open_items.csv", "text/csv; charset=utf-8"),
        ("report.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ] {
        match read_opt(&r.folder.join(name))? {
            Some(bytes) => parts.push(Part { name: name.into(), content_type: ct.into(), bytes, inline: false }),
            None => absent.push(name),
        }
    }
    let html = match read_opt(&r.folder.join("report.html"))? {
        // The page refers to the chart as the file beside it; the email, as its inline part.
        Some(b) => Some(crate::report::email_html(&String::from_utf8_lossy(&b))),
        None => {
            absent.push("report.html");
            None
        }
    };
    // The images the email's page shows as inline parts: the chart (`cid:trend.png`), and the phone's
    // chart its <picture> picks below 600 px (`cid:trend-narrow.png`).
    let mut html = html;
    let cids: Vec<String> = html
        .as_deref()
        .map(crate::report::image_sources)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| s.strip_prefix("cid:").map(str::to_string))
        .collect();
    for (name, ct) in [("trend.png", "image/png"), ("trend-narrow.png", "image/png")] {
        if !cids.iter().any(|c| c == name) {
            continue;
        }
        match read_opt(&r.folder.join(name))? {
            Some(bytes) => parts.push(Part { name: name.into(), content_type: ct.into(), bytes, inline: true }),
            // A folder written before the phone's chart existed: its <picture> shows the wide one.
            None if name == "trend-narrow.png" => {
                html = html.map(|h| h.replace("srcset=\"cid:trend-narrow.png\"", "srcset=\"cid:trend.png\""))
            }
            None => absent.push(name),
        }
    }

    let too_large = fit_attachments(&mut parts, MAX_ATTACHMENT_BYTES);

    let merchant = header_safe(r.merchant);
    let version = if r.version > 1 { format!(" (v{}, resent)", r.version) } else { String::new() };
    let outcome = if discrepancies > 0 {
        let stake = at_stake(s);
        let noun = if discrepancies == 1 { "discrepancy" } else { "discrepancies" };
        if stake.is_empty() {
            format!("{discrepancies} {noun}")
        } else {
            format!("{discrepancies} {noun}, {stake}")
        }
    } else if s.pending + s.open_items > 0 {
        format!("no new discrepancies, {} pending, {} open", s.pending, s.open_items)
    } else {
        let totals = payment_totals(s);
        if totals.is_empty() {
            "all clear".to_string()
        } else {
            format!("all clear, {totals}")
        }
    };
    let subject = header_safe(&format!("[alipay-recon] {}{version} {merchant}: {outcome}", r.date));

    let mut t = String::new();
    let _ = writeln!(
        t,
        "Alipay reconciliation for {}, business day {} (report version {}).\n",
        r.merchant, r.date, r.version
    );
    if discrepancies > 0 {
        let _ =
            writeln!(t, "{discrepancies} discrepancies need attention. Amount at stake: {}.\n", or_none(&at_stake(s)));
        let _ = writeln!(t, "By category:");
        for (c, n) in s.counts.iter().filter(|(_, n)| **n > 0) {
            let _ = writeln!(t, "  {:<20} {n}", c.as_str());
        }
        t.push('\n');
    } else {
        let _ = writeln!(t, "All clear: no new discrepancies today.\n");
    }
    let _ = writeln!(
        t,
        "Matched: {}. Pending (may resolve with tomorrow's files): {}. Resolved today: {}. Still open from earlier days: {}.\n",
        s.matched, s.pending, s.resolved, s.open_items
    );
    write_totals(&mut t, s);
    let findings: Vec<&Finding> = r.findings.iter().collect();
    let bridge = crate::report::bridge::bridge(s, &findings, &[]);
    if !bridge.is_empty() {
        let _ = writeln!(t, "\nCash bridge:\n{}", crate::report::bridge::text(&bridge).trim_end());
    }
    crate::report::resolution_email_lines(r.folder).iter().for_each(|l| {
        let _ = writeln!(t, "{l}");
    });
    if !r.findings.is_empty() {
        let listed = r.findings.len().min(LISTED_FINDINGS);
        let _ =
            writeln!(t, "\nDiscrepancies, the first {listed} of {} (all are in discrepancies.csv):", r.findings.len());
        for (i, f) in r.findings.iter().take(LISTED_FINDINGS).enumerate() {
            write_finding(&mut t, i + 1, f);
        }
    }
    let attached: Vec<&str> = parts.iter().filter(|p| !p.inline).map(|p| p.name.as_str()).collect();
    let _ = writeln!(t, "\nAttached: {}.", if attached.is_empty() { "nothing".into() } else { attached.join(", ") });
    if !too_large.is_empty() {
        let _ = writeln!(
            t,
            "Too large to attach (over {} MB together): {}. They are in the report of {}: ask whoever runs alipay-recon.",
            MAX_ATTACHMENT_BYTES / (1024 * 1024),
            too_large.join(", "),
            r.date
        );
    }
    if !absent.is_empty() {
        let _ = writeln!(
            t,
            "Not found in the report folder of {} (rerun the report to regenerate): {}.",
            r.date,
            absent.join(", ")
        );
    }

    let html = Some(html.unwrap_or_else(|| text_as_html(&subject, &t)));
    Ok(Message {
        key: format!("daily/{}/v{}", r.date, r.version),
        kind: Kind::Daily,
        business_date: Some(r.date),
        version: r.version,
        merchant: r.merchant.to_string(),
        subject,
        text: t,
        html,
        parts,
    })
}

/// One discrepancy as the report page's row reads: category and item date, the ids, the amounts, what
/// is wrong and what to do. Rows about no single payment (a file, a summary) name no empty id.
fn write_finding(t: &mut String, n: usize, f: &Finding) {
    let mut head = vec![f.category.as_str().to_string(), format!("item of {}", f.item_date)];
    for (label, id) in
        [("payment", &f.merchant_trans_id), ("refund", &f.merchant_refund_id), ("Alipay id", &f.acquirement_id)]
    {
        if !id.is_empty() {
            head.push(format!("{label} {}", one_line(id)));
        }
    }
    let _ = writeln!(t, "  {n}. {}", head.join(", "));
    let side =
        |v: Option<i64>, c: Option<Currency>| v.zip(c).map(|(v, c)| money(v.checked_abs().unwrap_or(i64::MAX), c));
    let mut amounts = Vec::new();
    if let Some(l) = side(f.local_amount, f.currency) {
        amounts.push(format!("local {l}"));
    }
    if let Some(a) = side(f.alipay_amount, f.alipay_currency) {
        amounts.push(format!("Alipay {a}"));
    }
    if let (Some(d), Some(c)) = (f.difference(), f.currency) {
        amounts.push(format!("difference {}", money(d, c)));
    }
    if !amounts.is_empty() {
        let _ = writeln!(t, "     {}", amounts.join(", "));
    }
    let _ = writeln!(t, "     What is wrong: {}", one_line(&f.detail));
    let _ = writeln!(t, "     What to do: {}", crate::report::action(f.category));
}

/// Drops attachments, largest first, until the rest fit in `limit` bytes; returns the dropped names.
/// Inline images stay (they are small and the HTML needs them).
fn fit_attachments(parts: &mut Vec<Part>, limit: usize) -> Vec<String> {
    let mut dropped = Vec::new();
    while parts.iter().map(|p| p.bytes.len()).sum::<usize>() > limit {
        let Some(i) =
            parts.iter().enumerate().filter(|(_, p)| !p.inline).max_by_key(|(_, p)| p.bytes.len()).map(|(i, _)| i)
        else {
            break;
        };
        dropped.push(parts.remove(i).name);
    }
    dropped
}

/// One header-safe line: control characters (CR, LF, tab, …) become spaces, runs of spaces collapse,
/// and the result is capped, so no value from a file or a remark can add or split a header.
pub fn header_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_control() || c == '\u{2028}' || c == '\u{2029}' { ' ' } else { c };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    let trimmed = out.trim_end();
    trimmed.chars().take(250).collect()
}

/// The report's escaping, shared so the email and the report can never disagree.
pub use crate::report::html_escape;

/// `HKD 1,234.00`: the tool's one display format ([`display_money`]), never for files.
pub fn money(minor: i64, cur: Currency) -> String {
    display_money(minor, cur)
}

fn money_code(minor: i64, code: &str) -> String {
    match Currency::parse(code) {
        Ok(c) => money(minor, c),
        Err(_) => format!("{} {minor} (minor units)", one_line(code)),
    }
}

fn at_stake(s: &DaySummary) -> String {
    s.at_stake.iter().filter(|(_, v)| **v != 0).map(|(c, v)| money_code(*v, c)).collect::<Vec<_>>().join(" + ")
}

fn payment_totals(s: &DaySummary) -> String {
    s.currencies
        .iter()
        .filter(|(_, t)| t.alipay_payment_count > 0)
        .map(|(c, t)| format!("{} in {} payments", money_code(t.alipay_payments, c), t.alipay_payment_count))
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_totals(t: &mut String, s: &DaySummary) {
    let captured = |x: &&crate::domain::CurrencyTotals| {
        x.alipay_payment_count
            + x.alipay_refund_count
            + x.alipay_cancel_count
            + x.local_payment_count
            + x.local_refund_count
            > 0
    };
    if !s.currencies.values().any(|x| captured(&x)) {
        let _ = writeln!(t, "No payments on either side this day.");
        return;
    }
    let _ = writeln!(t, "Captured per pricing currency (transaction files and local sales):");
    for (c, x) in s.currencies.iter().filter(|(_, x)| captured(x)) {
        let _ = writeln!(
            t,
            "  {c}: Alipay {} payments {}, {} refunds {}, {} cancels {}; local {} payments {}, {} refunds {}",
            x.alipay_payment_count,
            money_code(x.alipay_payments, c),
            x.alipay_refund_count,
            money_code(x.alipay_refunds, c),
            x.alipay_cancel_count,
            money_code(x.alipay_cancels, c),
            x.local_payment_count,
            money_code(x.local_payments, c),
            x.local_refund_count,
            money_code(x.local_refunds, c),
        );
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "none in money"
    } else {
        s
    }
}

/// A value on one line of the text body (a remark with a newline must not fake a new row).
pub(super) fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

pub(super) fn text_as_html(title: &str, text: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body><pre style=\"font-family:monospace\">{}</pre></body></html>\n",
        html_escape(title),
        html_escape(text)
    )
}

fn read_opt(p: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}: check its permissions", p.display())),
    }
}

#[cfg(test)]
#[path = "compose_tests.rs"]
mod tests;
