//! Text safety shared by every output: formula neutralisation for spreadsheet-bound free text, HTML
//! escaping for the email body, and amount formatting of a finding's columns.

use crate::domain::{display_money, format_minor, Currency, Finding};
use anyhow::{bail, Result};

/// Prefixes `'` to free text a spreadsheet would read as a formula (leading `=`, `+`, `-`, `@`, tab or
/// CR; contracts.md §3). Only free text (detail, reason) goes through this: ids are never altered.
pub fn neutralise(s: &str) -> String {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

const NEG_STYLE: &str = "color:#c0392b;";

/// `HKD 1,234.00` as HTML (report.html and its cash bridge); a negative amount is marked twice, for
/// people (red, and its minus sign) and for tests and readers of the source (`class="neg"`).
pub fn amount(minor: i64, cur: Currency) -> String {
    let text = display_money(minor, cur);
    if minor < 0 {
        format!("<span class=\"neg\" style=\"{NEG_STYLE}\">{}</span>", html_escape(&text))
    } else {
        html_escape(&text)
    }
}

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A positive magnitude with the currency's decimals; `None` → empty. A stray sign from the engine is
/// dropped because direction lives in the type columns (contracts.md §3).
pub(crate) fn magnitude(amount: Option<i64>, currency: Option<Currency>, what: &str, f: &Finding) -> Result<String> {
    match (amount, currency) {
        (None, _) => Ok(String::new()),
        (Some(v), Some(c)) => Ok(format_minor(v.checked_abs().unwrap_or(i64::MAX), c)),
        (Some(_), None) => bail!(
            "finding {} {}/{} has a {what} but no currency for it: the engine must set the currency of every amount",
            f.category.as_str(),
            f.merchant_trans_id,
            f.merchant_refund_id
        ),
    }
}

/// `alipay_amount − local_amount` of the magnitudes as written (so the three columns always agree
/// even if the engine handed over a signed amount); `None` unless both exist in the same currency.
pub(crate) fn difference(f: &Finding) -> Option<i64> {
    let abs = |v: Option<i64>| v.map(|v| v.checked_abs().unwrap_or(i64::MAX));
    let same = Finding { local_amount: abs(f.local_amount), alipay_amount: abs(f.alipay_amount), ..f.clone() };
    same.difference()
}

/// The formatted amount columns of a finding: local, alipay, signed difference.
#[derive(Debug)]
pub(crate) struct Amounts {
    pub local: String,
    pub alipay: String,
    pub difference: String,
}

pub(crate) fn amounts(f: &Finding) -> Result<Amounts> {
    let local = magnitude(f.local_amount, f.currency, "local_amount", f)?;
    let alipay = magnitude(f.alipay_amount, f.alipay_currency, "alipay_amount", f)?;
    let difference = match (difference(f), f.currency) {
        (Some(d), Some(c)) => format_minor(d, c),
        _ => String::new(),
    };
    Ok(Amounts { local, alipay, difference })
}

pub(crate) fn cur_text(c: Option<Currency>) -> String {
    c.map(|c| c.as_str().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralise_table() {
        let cases = [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("plain = fine", "plain = fine"),
            ("", ""),
            (" =x", " =x"),
        ];
        for (raw, want) in cases {
            assert_eq!(neutralise(raw), want, "neutralise({raw:?})");
        }
    }

    #[test]
    fn difference_of_magnitudes() {
        let hkd = Currency::parse("HKD").ok();
        let mut f = Finding {
            business_date: chrono::NaiveDate::MIN,
            item_date: chrono::NaiveDate::MIN,
            category: crate::domain::Category::AmountMismatch,
            merchant_trans_id: "P".into(),
            merchant_refund_id: String::new(),
            acquirement_id: String::new(),
            currency: hkd,
            local_amount: Some(-1000),
            alipay_currency: hkd,
            alipay_amount: Some(1250),
            local_type: String::new(),
            alipay_type: String::new(),
            detail: String::new(),
        };
        let a = amounts(&f).unwrap();
        assert_eq!((a.local.as_str(), a.alipay.as_str(), a.difference.as_str()), ("10.00", "12.50", "2.50"));
        f.alipay_currency = Currency::parse("CNY").ok();
        assert_eq!(difference(&f), None);
        f.alipay_amount = None;
        f.alipay_currency = None;
        assert_eq!(amounts(&f).unwrap().alipay, "");
        f.currency = None;
        let err = amounts(&f).unwrap_err().to_string();
        assert!(err.contains("local_amount") && err.contains("AMOUNT_MISMATCH P/"), "{err}");
    }

    #[test]
    fn html_escape_hostile() {
        assert_eq!(html_escape("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(html_escape("a\"b'c&d"), "a&quot;b&#39;c&amp;d");
        assert_eq!(html_escape("&amp;"), "&amp;amp;");
        assert_eq!(html_escape("港币 ok"), "港币 ok");
    }
}
