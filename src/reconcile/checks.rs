//! Rows tied to one day's files, reported on that file's date only (never carried): FILE_INTEGRITY
//! from stored file issues, SETTLEMENT_MISMATCH, FEE_MISMATCH and SUMMARY_MISMATCH.

use super::frames::{payment_key, refund_key};
use super::input::{AlipayRow, Input};
use super::Params;
use crate::config::FeeRule;
use crate::domain::{format_minor, Category, Currency, FileKind, Finding, TransType};
use chrono::{Duration, NaiveDate};
use std::collections::{BTreeMap, HashMap};

fn blank(date: NaiveDate, item_date: NaiveDate, category: Category, detail: String) -> Finding {
    Finding {
        business_date: date,
        item_date,
        category,
        merchant_trans_id: String::new(),
        merchant_refund_id: String::new(),
        acquirement_id: String::new(),
        currency: None,
        local_amount: None,
        alipay_currency: None,
        alipay_amount: None,
        local_type: String::new(),
        alipay_type: String::new(),
        detail,
    }
}

pub(super) fn integrity_finding(date: NaiveDate, item_date: NaiveDate, detail: String) -> Finding {
    blank(date, item_date, Category::FileIntegrity, detail)
}

/// Every check of the files dated `date`.
pub(super) fn day_checks(input: &Input, params: &Params, date: NaiveDate) -> Vec<Finding> {
    let mut out = integrity(input, date);
    out.extend(settlement(input, params, date));
    out.extend(fees(input, params, date));
    out.extend(summaries(input, date));
    out
}

/// One FILE_INTEGRITY row per stored issue of the day's files, and one per truncated file that has
/// no issue saying so.
fn integrity(input: &Input, date: NaiveDate) -> Vec<Finding> {
    let mut out = Vec::new();
    for f in input.files.iter().filter(|f| f.date == date) {
        let issues: Vec<_> = input.issues.iter().filter(|i| i.file_id == f.id).collect();
        for i in &issues {
            let at = i.line.map(|l| format!(" line {l}")).unwrap_or_default();
            let field = i.field.as_deref().map(|x| format!(", field {x}")).unwrap_or_default();
            let what = match i.code.as_str() {
                "REJECTED" => {
                    "the line was not loaded: check it against the raw file and ask Alipay for a corrected file"
                }
                "COUNT_MISMATCH" | "MISSING_END" => {
                    "the file is incomplete: fetch it again, and ask Alipay if it stays so"
                }
                "ZERO_AMOUNT" => "a zero-amount row is not a real payment: ask Alipay what it is",
                _ => "check the raw file",
            };
            out.push(integrity_finding(
                date,
                f.date,
                format!("{}{at}{field}: {} ({}); {what}.", f.name, one_line(&i.message), i.code),
            ));
        }
        // A zero-amount row the parser did not flag is still one.
        for r in input.rows.iter().filter(|r| r.file_id == f.id && r.amount == Some(0)) {
            if !issues.iter().any(|i| i.code == "ZERO_AMOUNT" && i.line == Some(r.line)) {
                let mut x = integrity_finding(
                    date,
                    f.date,
                    format!(
                        "{} line {}: a {} row with a zero amount is not a real transaction; ask Alipay what it is.",
                        f.name,
                        r.line,
                        r.trans_type.as_str()
                    ),
                );
                x.merchant_trans_id = r.merchant_trans_id.clone().unwrap_or_default();
                x.acquirement_id = r.alipay_id.clone().unwrap_or_default();
                out.push(x);
            }
        }
        let told = issues.iter().any(|i| matches!(i.code.as_str(), "COUNT_MISMATCH" | "MISSING_END"));
        if f.truncated && !told {
            let declared =
                f.declared_count.map(|n| format!(" ({} rows of {n} declared)", f.row_count)).unwrap_or_default();
            out.push(integrity_finding(
                date,
                f.date,
                format!("{} is incomplete{declared}: fetch it again, and ask Alipay if it stays so.", f.name),
            ));
        }
    }
    out
}

/// Parser messages may hold outside text; keep one line of it.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// Lines that are not orders: counted in the summary, never matched.
pub(super) fn non_order(type_raw: &str) -> bool {
    let t = type_raw.trim().to_ascii_uppercase();
    t == "ADJUSTMENT_FEE" || t == "SETTLEMENT_FEE" || t.starts_with("RESERVE") || t.starts_with("COLLATERAL_")
}

fn money(a: Option<i64>, c: Option<Currency>) -> String {
    match (a, c) {
        (Some(a), Some(c)) => format!("{c} {}", format_minor(a, c)),
        _ => "no amount".into(),
    }
}

fn finding_for(date: NaiveDate, cat: Category, r: &AlipayRow, detail: String) -> Finding {
    let mut f = blank(date, r.date, cat, detail);
    f.merchant_trans_id = r.merchant_trans_id.clone().unwrap_or_default();
    f.merchant_refund_id = if r.trans_type == TransType::Refund {
        r.merchant_refund_id.clone().unwrap_or_default()
    } else {
        String::new()
    };
    f.acquirement_id = r.alipay_id.clone().unwrap_or_default();
    f.alipay_type = r.trans_type.as_str().to_string();
    f
}

/// SETTLEMENT_MISMATCH for the settlement-detail rows of `date`.
fn settlement(input: &Input, params: &Params, date: NaiveDate) -> Vec<Finding> {
    if !input.rows.iter().any(|r| r.kind == FileKind::SettlementDetail && r.date == date) {
        return Vec::new();
    }
    let from = date - Duration::days(params.settlement_lookback_days as i64);
    let txns: Vec<&AlipayRow> =
        input.rows.iter().filter(|r| r.kind == FileKind::Transactions && r.date >= from && r.date <= date).collect();
    let mut by_alipay_id: HashMap<&str, &AlipayRow> = HashMap::new();
    let mut by_key: HashMap<(TransType, String), &AlipayRow> = HashMap::new();
    let mut cancelled: std::collections::HashSet<String> = Default::default();
    for r in &txns {
        match r.trans_type {
            TransType::Payment | TransType::Refund => {
                if let Some(a) = r.alipay_id.as_deref().filter(|a| !a.is_empty()) {
                    by_alipay_id.entry(a).or_insert(r);
                }
                by_key.entry((r.trans_type, key_of(r))).or_insert(r);
            }
            TransType::Cancel => {
                cancelled.extend(r.original_alipay_id.clone().filter(|s| !s.is_empty()));
                cancelled.extend(r.merchant_trans_id.clone().filter(|s| !s.is_empty()).map(|m| format!("key:{m}")));
            }
            TransType::Other => {}
        }
    }
    // Net of all settlement rows (window ≤ date) per payment, for "P and R net to zero".
    let mut net: HashMap<String, i64> = HashMap::new();
    for r in input.rows.iter().filter(|r| r.kind == FileKind::SettlementDetail && r.date >= from && r.date <= date) {
        let amt = r.amount.unwrap_or(0);
        let (id, signed) = match r.trans_type {
            TransType::Payment => (r.alipay_id.clone(), amt),
            TransType::Refund => (r.original_alipay_id.clone().or(r.alipay_id.clone()), -amt),
            _ => continue,
        };
        if let Some(id) = id {
            *net.entry(id).or_default() += signed;
        }
    }
    let mut out = Vec::new();
    for r in input.rows.iter().filter(|r| r.kind == FileKind::SettlementDetail && r.date == date) {
        if non_order(&r.type_raw) {
            continue;
        }
        if !matches!(r.trans_type, TransType::Payment | TransType::Refund) {
            out.push(finding_for(
                date,
                Category::SettlementMismatch,
                r,
                format!(
                "Settlement line {} has type '{}' that is neither a payment nor a refund: ask Alipay what it settles.",
                r.line, r.type_raw
            ),
            ));
            continue;
        }
        // The R half of a P/R pair that voids a cancelled payment: nothing to report.
        let orig = r.original_alipay_id.as_deref().unwrap_or("");
        if r.trans_type == TransType::Refund && cancelled.contains(orig) && net.get(orig) == Some(&0) {
            continue;
        }
        let txn = r
            .alipay_id
            .as_deref()
            .and_then(|a| by_alipay_id.get(a).copied())
            .or_else(|| by_key.get(&(r.trans_type, key_of(r))).copied());
        let Some(t) = txn else {
            out.push(finding_for(date, Category::SettlementMismatch, r, format!(
                "Alipay settled {} ({}) but no transaction file of the last {} days has it: ask Alipay which transaction this is.",
                money(r.amount, r.currency), r.type_raw, params.settlement_lookback_days
            )));
            continue;
        };
        let mut f = finding_for(date, Category::SettlementMismatch, r, String::new());
        f.currency = t.currency;
        f.local_amount = t.amount;
        f.alipay_currency = r.currency;
        f.alipay_amount = r.amount;
        if t.trans_type != r.trans_type {
            f.detail = format!(
                "Alipay settled this as {} but the transaction file has it as {}: ask Alipay to correct the settlement.",
                r.trans_type.as_str(), t.trans_type.as_str()
            );
        } else if r.currency.is_some() && t.currency.is_some() && (r.currency != t.currency || r.amount != t.amount) {
            f.detail = format!(
                "Alipay settled {} but the transaction was {}: ask Alipay to correct the settlement.",
                money(r.amount, r.currency),
                money(t.amount, t.currency)
            );
        } else if r.trans_type == TransType::Payment
            && (t.alipay_id.as_ref().is_some_and(|a| cancelled.contains(a))
                || cancelled.contains(&format!("key:{}", key_of(t))))
            && net.get(t.alipay_id.as_deref().unwrap_or("")).copied().unwrap_or(1) != 0
        {
            f.detail =
                "Alipay settled a payment that was cancelled: ask Alipay to take it back out of the settlement.".into();
        } else {
            continue;
        }
        out.push(f);
    }
    out
}

fn key_of(r: &AlipayRow) -> String {
    match r.trans_type {
        TransType::Refund => refund_key(r.merchant_refund_id.as_ref(), r.alipay_id.as_ref()),
        _ => payment_key(r.merchant_trans_id.as_ref(), r.alipay_id.as_ref()),
    }
}

/// The most specific configured rule for a row: product and wallet, then product, wallet, currency.
fn rule_for<'a>(rules: &'a [FeeRule], c: Currency, r: &AlipayRow) -> Option<&'a FeeRule> {
    rules
        .iter()
        .filter(|f| f.currency == c)
        .filter(|f| f.product_code.is_none() || f.product_code == r.product_code)
        .filter(|f| f.wallet.is_none() || f.wallet == r.wallet)
        .max_by_key(|f| (f.product_code.is_some() as u8) * 2 + f.wallet.is_some() as u8)
}

/// round-half-up(amount × ppm / 1e6) in integers.
pub(super) fn fee_of(amount: i64, ppm: i64) -> i64 {
    let n = amount as i128 * ppm as i128;
    ((n + 500_000) / 1_000_000) as i64
}

/// FEE_MISMATCH for rows of `date` that carry a fee and have a configured rate.
fn fees(input: &Input, params: &Params, date: NaiveDate) -> Vec<Finding> {
    let mut out = Vec::new();
    if params.fees.is_empty() {
        return out;
    }
    for r in input.rows.iter().filter(|r| r.date == date && !non_order(&r.type_raw)) {
        let (Some(fee), Some(c)) = (r.fee, r.fee_currency.or(r.settle_currency).or(r.currency)) else { continue };
        let Some(rule) = rule_for(&params.fees, c, r) else { continue };
        // The base is the gross amount in the fee's currency: the pricing amount when it is in that
        // currency, else the settlement amount plus the fee (settle_amount is the net effect).
        let base = if r.currency == Some(c) {
            r.amount
        } else if r.settle_currency == Some(c) {
            r.settle_amount.map(|s| s.abs() + fee.abs())
        } else {
            None
        };
        let Some(base) = base else { continue };
        let expected = match r.trans_type {
            TransType::Payment => fee_of(base, rule.rate_ppm) + rule.fixed_minor,
            TransType::Refund if params.refund_returns_fee => -fee_of(base, rule.rate_ppm),
            _ => 0,
        };
        if (fee - expected).abs() <= params.fee_tolerance_minor {
            continue;
        }
        let mut f = finding_for(date, Category::FeeMismatch, r, format!(
            "Alipay charged a fee of {} on this {} but the contract rate gives {}: claim the difference from Alipay or correct the configured rate.",
            money(Some(fee), Some(c)), r.trans_type.as_str(), money(Some(expected), Some(c))
        ));
        f.currency = Some(c);
        f.alipay_currency = Some(c);
        f.local_amount = Some(expected.abs());
        f.alipay_amount = Some(fee.abs());
        out.push(f);
    }
    out
}

/// SUMMARY_MISMATCH: each summary row of `date` against the detail rows of the same day, file format
/// and currency (an account may receive several formats; each format's summary covers its own detail).
fn summaries(input: &Input, date: NaiveDate) -> Vec<Finding> {
    let format_of = |file_id: i64| input.file(file_id).map(|f| f.format);
    // (format, type, settlement currency) → (count, net).
    type Key = (Option<crate::domain::FileFormat>, String, Option<Currency>);
    let mut detail: BTreeMap<Key, (i64, i64)> = BTreeMap::new();
    for r in input.rows.iter().filter(|r| r.kind == FileKind::SettlementDetail && r.date == date) {
        let ty = if non_order(&r.type_raw) {
            r.type_raw.trim().to_ascii_uppercase()
        } else {
            r.trans_type.as_str().to_string()
        };
        for t in [ty, "TOTAL".to_string()] {
            let e = detail.entry((format_of(r.file_id), t, r.settle_currency)).or_default();
            e.0 += 1;
            e.1 += r.settle_amount.unwrap_or(0);
        }
    }
    let mut out = Vec::new();
    for s in input.summaries.iter().filter(|s| s.date == date) {
        let ty = s.summary_type.trim().to_ascii_uppercase();
        let fmt = format_of(s.file_id);
        // A summary row without a currency covers every currency of its format's detail.
        let (n, sum) = match s.settle_currency {
            Some(_) => detail.get(&(fmt, ty.clone(), s.settle_currency)).copied().unwrap_or((0, 0)),
            None => detail
                .iter()
                .filter(|((f, t, _), _)| *f == fmt && *t == ty)
                .fold((0, 0), |a, (_, v)| (a.0 + v.0, a.1 + v.1)),
        };
        let count_bad = s.count.is_some_and(|c| c != n);
        // ½ minor unit per row: |Δ| × 2 ≤ rows.
        let sum_bad = s.settle_amount.is_some_and(|a| (a - sum).abs() * 2 > n.max(1));
        if !count_bad && !sum_bad {
            continue;
        }
        let file = input.file(s.file_id).map(|f| f.name.as_str()).unwrap_or("settlement summary");
        let mut f = blank(date, s.date, Category::SummaryMismatch, format!(
            "{file} line {}: {ty} says {} rows and {} but the settlement detail has {n} rows and {}: ask Alipay for a corrected file.",
            s.line,
            s.count.map(|c| c.to_string()).unwrap_or_else(|| "no count".into()),
            money(s.settle_amount, s.settle_currency),
            money(Some(sum), s.settle_currency)
        ));
        f.currency = s.settle_currency;
        f.alipay_currency = s.settle_currency;
        f.local_amount = Some(sum.abs());
        f.alipay_amount = s.settle_amount.map(i64::abs);
        f.alipay_type = ty;
        out.push(f);
    }
    out
}
