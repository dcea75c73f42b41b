//! Rows tied to one day's files, reported on that file's date only (never carried): FILE_INTEGRITY
//! from stored file issues, SETTLEMENT_MISMATCH, FEE_MISMATCH and SUMMARY_MISMATCH.

use super::frames::{alipay_ids_of_payments, payment_key, refund_key};
use super::input::{AlipayRow, Id, Input, LocalVersion};
use super::{HashMap, HashSet, Params};
use crate::config::FeeRule;
use crate::domain::{display_money, Category, Currency, FileKind, Finding, RecordType, TransType};
use chrono::{Duration, NaiveDate};
use std::borrow::Cow;
use std::collections::BTreeMap;

pub(super) fn integrity_finding(date: NaiveDate, item_date: NaiveDate, detail: String) -> Finding {
    Finding::blank(date, item_date, Category::FileIntegrity, detail)
}

/// The rows the day's checks read, split in one pass over the window (a pass over millions of wide
/// rows costs more than the checks themselves).
struct DayRows<'a> {
    /// Transaction rows dated in the settlement look-back.
    txns: Vec<&'a AlipayRow>,
    /// Settlement-detail rows dated in the settlement look-back.
    settled: Vec<&'a AlipayRow>,
    /// Rows of any kind dated `date`.
    today: Vec<&'a AlipayRow>,
}

impl<'a> DayRows<'a> {
    fn new(input: &'a Input, params: &Params, date: NaiveDate) -> DayRows<'a> {
        let from = date - Duration::days(params.settlement_lookback_days as i64);
        let mut d = DayRows { txns: Vec::new(), settled: Vec::new(), today: Vec::new() };
        for r in input.rows.iter().filter(|r| r.date >= from && r.date <= date) {
            match r.kind {
                FileKind::Transactions => d.txns.push(r),
                FileKind::SettlementDetail => d.settled.push(r),
                _ => {}
            }
            if r.date == date {
                d.today.push(r);
            }
        }
        d
    }

    /// Settlement-detail rows dated `date`.
    fn settled_today(&self, date: NaiveDate) -> impl Iterator<Item = &'a AlipayRow> + '_ {
        self.settled.iter().copied().filter(move |r| r.date == date)
    }
}

/// A settlement-detail row of the day as the settlement check saw it, for the cash bridge's
/// roll-forward (`flow`): the transaction row it settles, if any, and whether it disagrees with it.
pub(super) struct SettledRow<'a> {
    pub row: &'a AlipayRow,
    pub capture: Option<&'a AlipayRow>,
    pub mismatch: bool,
}

/// Every check of the files dated `date`, and the day's settlement rows as the check matched them.
pub(super) fn day_checks<'a>(
    input: &'a Input,
    params: &Params,
    date: NaiveDate,
) -> (Vec<Finding>, Vec<SettledRow<'a>>) {
    let rows = DayRows::new(input, params, date);
    let mut out = integrity(input, &rows, date);
    let (mut found, settled) = settlement(&rows, params, date);
    found.extend(fees(&rows, params, date));
    out.extend(name_ids(input, found));
    out.extend(summaries(input, &rows, date));
    (out, settled)
}

/// One FILE_INTEGRITY row per stored issue of the day's files, and one per truncated file that has
/// no issue saying so.
fn integrity(input: &Input, rows: &DayRows, date: NaiveDate) -> Vec<Finding> {
    let mut out = Vec::new();
    let zero: Vec<&AlipayRow> = rows.today.iter().copied().filter(|r| r.amount == Some(0)).collect();
    for f in input.files.iter().filter(|f| f.date == date) {
        let issues: Vec<_> = input.issues.iter().filter(|i| i.file_id == f.id).collect();
        for i in &issues {
            let at = i.line.map(|l| format!(" line {l}")).unwrap_or_default();
            let field = i.field.as_deref().map(|x| format!(", field {x}")).unwrap_or_default();
            let what = match i.code.as_str() {
                "REJECTED" => {
                    "the line was not loaded: check it against the raw file and ask Alipay for a corrected file"
                }
                "COUNT_MISMATCH" | "MISSING_END" | "CUT_LAST_LINE" => {
                    "the file is incomplete: fetch it again, and ask Alipay if it stays so"
                }
                "ZERO_AMOUNT" => "a zero-amount row is not a real payment: ask Alipay what it is",
                "SKIPPED" => {
                    "the day is incomplete until it is read and its unexplained sales stay pending: fix the cause \
                     and run the day again"
                }
                _ => "check the raw file",
            };
            out.push(integrity_finding(
                date,
                f.date,
                format!("{}{at}{field}: {} ({}); {what}.", f.name, one_line(&i.message), i.code),
            ));
        }
        // A zero-amount row the parser did not flag is still one.
        for r in zero.iter().filter(|r| r.file_id == f.id) {
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
                x.merchant_trans_id = r.merchant_trans_id.as_deref().unwrap_or_default().to_string();
                x.acquirement_id = r.alipay_id.as_deref().unwrap_or_default().to_string();
                out.push(x);
            }
        }
        let told = issues
            .iter()
            .any(|i| matches!(i.code.as_str(), "COUNT_MISMATCH" | "MISSING_END" | "CUT_LAST_LINE" | "SKIPPED"));
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
    let t = type_raw.trim().as_bytes();
    let starts = |p: &str| t.len() >= p.len() && t[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    t.eq_ignore_ascii_case(b"ADJUSTMENT_FEE")
        || t.eq_ignore_ascii_case(b"SETTLEMENT_FEE")
        || starts("RESERVE")
        || starts("COLLATERAL_")
}

fn money(a: Option<i64>, c: Option<Currency>) -> String {
    match (a, c) {
        (Some(a), Some(c)) => display_money(a, c),
        _ => "no amount".into(),
    }
}

/// A settlement or fee finding before its ids are filled: the row it is about and the transaction
/// row that row matched, if any.
type Unnamed<'a> = (Finding, &'a AlipayRow, Option<&'a AlipayRow>);

fn unnamed<'a>(
    date: NaiveDate,
    cat: Category,
    r: &'a AlipayRow,
    t: Option<&'a AlipayRow>,
    detail: String,
) -> Unnamed<'a> {
    let mut f = Finding::blank(date, r.date, cat, detail);
    f.alipay_type = r.trans_type.as_str().to_string();
    (f, r, t)
}

fn nonempty(s: &Option<Id>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Alipay's id of the payment a payment-side row is about (a cancel's original, not its own).
fn payment_alipay_id(a: &AlipayRow) -> Option<&str> {
    match a.trans_type {
        TransType::Cancel => nonempty(a.original_alipay_id()).or(nonempty(&a.alipay_id)),
        _ => nonempty(&a.alipay_id),
    }
}

/// Fills the ids of settlement and fee findings as the item rows of the same payment or refund fill
/// them (`items::Sides::finding`, contracts.md §3): merchant_trans_id the payment's id (for a refund
/// from the transaction file, else the local refund record; a classic settlement row of a cancelled
/// payment has Alipay's id where the merchant's belongs), merchant_refund_id the refund's, and
/// acquirement_id Alipay's id of the *payment*, never a refund's or a cancel's own. The indexes cover
/// only the findings' ids: a window holds millions of rows, a day few findings.
fn name_ids(input: &Input, found: Vec<Unnamed>) -> Vec<Finding> {
    if found.is_empty() {
        return Vec::new();
    }
    fn is_refund(r: &AlipayRow) -> bool {
        r.trans_type == TransType::Refund
    }
    /// The matched transaction row first, then the row itself.
    fn both<'a>(r: &'a AlipayRow, t: Option<&'a AlipayRow>) -> impl Iterator<Item = &'a AlipayRow> {
        t.into_iter().chain([r])
    }
    // Alipay payment id → merchant payment id, from the window's transaction PAYMENT rows.
    let mut wanted: HashSet<&str> = HashSet::default();
    for (_, r, t) in &found {
        for x in both(r, *t) {
            wanted.extend(if is_refund(r) { nonempty(x.original_alipay_id()) } else { payment_alipay_id(x) });
        }
    }
    let mut payment_of_alipay: HashMap<&str, &str> = HashMap::default();
    for r in input.rows.iter().filter(|r| r.kind == FileKind::Transactions && r.trans_type == TransType::Payment) {
        if let (Some(a), Some(m)) = (nonempty(&r.alipay_id), nonempty(&r.merchant_trans_id)) {
            if wanted.contains(a) {
                payment_of_alipay.entry(a).or_insert(m);
            }
        }
    }
    // Merchant refund id → the newest local version of the refund.
    let refund_ids: Vec<Option<String>> = found
        .iter()
        .map(|(_, r, t)| {
            let id = both(r, *t).find_map(|x| nonempty(x.merchant_refund_id()));
            id.filter(|_| is_refund(r)).map(str::to_string)
        })
        .collect();
    let wanted: HashSet<&str> = refund_ids.iter().flatten().map(String::as_str).collect();
    let mut local_refund: HashMap<&str, &LocalVersion> = HashMap::default();
    for l in input.local.iter().filter(|l| l.record_type == RecordType::Refund && wanted.contains(l.key().trim())) {
        let e = local_refund.entry(l.key().trim()).or_insert(l);
        if (l.ledger, l.seq) > (e.ledger, e.seq) {
            *e = l;
        }
    }
    let payments: Vec<String> = found
        .iter()
        .zip(&refund_ids)
        .map(|((_, r, t), refund)| {
            let via = |a: Option<&str>| a.and_then(|a| payment_of_alipay.get(a).copied());
            let p = if is_refund(r) {
                both(r, *t)
                    .find_map(|x| nonempty(&x.merchant_trans_id).or_else(|| via(nonempty(x.original_alipay_id()))))
                    .or_else(|| refund.as_deref().and_then(|k| local_refund.get(k)).map(|l| l.merchant_trans_id.trim()))
            } else {
                t.and_then(|t| nonempty(&t.merchant_trans_id))
                    .or_else(|| via(both(r, *t).find_map(payment_alipay_id)))
                    .or_else(|| nonempty(&r.merchant_trans_id))
            };
            p.unwrap_or_default().to_string()
        })
        .collect();
    let alipay_of_payment = alipay_ids_of_payments(input, &payments.iter().map(String::as_str).collect());
    let mut out = Vec::with_capacity(found.len());
    for (((mut f, r, t), refund), payment) in found.into_iter().zip(refund_ids).zip(payments) {
        let of_payment = || alipay_of_payment.get(payment.as_str()).map(|a| a.to_string());
        f.acquirement_id = if is_refund(r) {
            refund
                .as_deref()
                .and_then(|k| local_refund.get(k))
                .and_then(|l| nonempty(&l.acquirement_id))
                .or_else(|| both(r, t).find_map(|x| nonempty(x.original_alipay_id())))
                .map(str::to_string)
                .or_else(of_payment)
        } else {
            of_payment().or_else(|| both(r, t).find_map(payment_alipay_id).map(str::to_string))
        }
        .unwrap_or_default();
        f.merchant_trans_id = payment;
        f.merchant_refund_id = refund.unwrap_or_default();
        out.push(f);
    }
    out
}

/// The look-back's transaction rows as settlement rows look them up.
struct Txns<'s, 'a> {
    rows: &'s [&'a AlipayRow],
    /// Payment and refund rows by Alipay's id: the first row of each id.
    by_alipay_id: HashMap<&'a str, &'a AlipayRow>,
    /// Payments cancelled in the window: by Alipay's id, and by the merchant's id.
    cancelled: HashSet<&'a str>,
    cancelled_keys: HashSet<&'a str>,
    /// The fallback by merchant key, built only when some settlement row lacks a known Alipay id.
    by_key: std::cell::OnceCell<HashMap<(TransType, Cow<'a, str>), &'a AlipayRow>>,
}

impl<'s, 'a> Txns<'s, 'a> {
    fn new(rows: &'s [&'a AlipayRow]) -> Txns<'s, 'a> {
        let mut t = Txns {
            rows,
            by_alipay_id: HashMap::with_capacity_and_hasher(rows.len(), Default::default()),
            cancelled: HashSet::default(),
            cancelled_keys: HashSet::default(),
            by_key: std::cell::OnceCell::new(),
        };
        for r in rows {
            match r.trans_type {
                TransType::Payment | TransType::Refund => {
                    if let Some(a) = r.alipay_id.as_deref().filter(|a| !a.is_empty()) {
                        t.by_alipay_id.entry(a).or_insert(r);
                    }
                }
                TransType::Cancel => {
                    t.cancelled.extend(r.original_alipay_id().as_deref().filter(|s| !s.is_empty()));
                    t.cancelled_keys.extend(r.merchant_trans_id.as_deref().filter(|s| !s.is_empty()));
                }
                TransType::Other => {}
            }
        }
        t
    }

    fn payments_and_refunds(&self) -> impl Iterator<Item = &'a AlipayRow> + '_ {
        self.rows.iter().copied().filter(|r| matches!(r.trans_type, TransType::Payment | TransType::Refund))
    }

    /// The transaction row a settlement row settles: by Alipay's id, else by the merchant's key.
    fn of(&self, settled: &AlipayRow) -> Option<&'a AlipayRow> {
        settled.alipay_id.as_deref().and_then(|a| self.by_alipay_id.get(a).copied()).or_else(|| {
            let by_key = self.by_key.get_or_init(|| {
                let mut m: HashMap<(TransType, Cow<str>), &AlipayRow> = HashMap::default();
                for r in self.payments_and_refunds() {
                    m.entry((r.trans_type, key_of(r))).or_insert(r);
                }
                m
            });
            by_key.get(&(settled.trans_type, key_of(settled))).copied()
        })
    }

    /// Whether a payment or refund row belongs to a payment cancelled in the window.
    fn voided(&self, t: &AlipayRow) -> bool {
        t.alipay_id.as_deref().is_some_and(|a| self.cancelled.contains(a))
            || self.cancelled_keys.contains(key_of(t).as_ref())
    }

    /// Net of all settlement rows (window ≤ date) per cancelled payment's Alipay id, for "P and R net
    /// to zero".
    fn cancelled_nets(&self, settled: &[&'a AlipayRow]) -> HashMap<&'a str, i64> {
        let mut net: HashMap<&str, i64> = HashMap::default();
        if self.cancelled.is_empty() && self.cancelled_keys.is_empty() {
            return net;
        }
        // Alipay ids of the voided transactions (a small set: probing it is cheap).
        let mut voided_ids = self.cancelled.clone();
        for t in self.payments_and_refunds() {
            if let Some(a) = t.alipay_id.as_deref().filter(|a| !a.is_empty()) {
                if self.voided(t) && self.by_alipay_id.get(a).is_some_and(|first| std::ptr::eq(*first, t)) {
                    voided_ids.insert(a);
                }
            }
        }
        for r in settled {
            let amt = r.amount.unwrap_or(0);
            let (id, signed) = match r.trans_type {
                TransType::Payment => (r.alipay_id.as_deref(), amt),
                TransType::Refund => (r.original_alipay_id().as_deref().or(r.alipay_id.as_deref()), -amt),
                _ => continue,
            };
            if let Some(id) = id.filter(|id| voided_ids.contains(*id)) {
                *net.entry(id).or_default() += signed;
            }
        }
        net
    }
}

/// SETTLEMENT_MISMATCH for the settlement-detail rows of `date`.
fn settlement<'a>(rows: &DayRows<'a>, params: &Params, date: NaiveDate) -> (Vec<Unnamed<'a>>, Vec<SettledRow<'a>>) {
    if rows.settled_today(date).next().is_none() {
        return (Vec::new(), Vec::new());
    }
    let txns = Txns::new(rows.txns.as_slice());
    let net = txns.cancelled_nets(&rows.settled);
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for r in rows.settled_today(date) {
        // Pushed before the verdict; a finding below marks it.
        seen.push(SettledRow { row: r, capture: None, mismatch: false });
        if non_order(&r.type_raw) {
            continue;
        }
        let last = seen.len() - 1;
        if !matches!(r.trans_type, TransType::Payment | TransType::Refund) {
            seen[last].mismatch = true;
            out.push(unnamed(
                date,
                Category::SettlementMismatch,
                r,
                None,
                format!(
                "Settlement line {} has type '{}' that is neither a payment nor a refund: ask Alipay what it settles.",
                r.line, r.type_raw
            ),
            ));
            continue;
        }
        // The R half of a P/R pair that voids a cancelled payment: nothing to report.
        let orig = r.original_alipay_id().as_deref().unwrap_or("");
        if r.trans_type == TransType::Refund && txns.cancelled.contains(orig) && net.get(orig) == Some(&0) {
            seen[last].capture = txns.of(r);
            continue;
        }
        let Some(t) = txns.of(r) else {
            seen[last].mismatch = true;
            out.push(unnamed(date, Category::SettlementMismatch, r, None, format!(
                "Alipay settled {} ({}) but no transaction file of the last {} days has it: ask Alipay which transaction this is.",
                money(r.amount, r.currency), r.type_raw, params.settlement_lookback_days
            )));
            continue;
        };
        seen[last].capture = Some(t);
        let Some(detail) = settled_unlike(r, t, &txns, &net) else { continue };
        seen[last].mismatch = true;
        // Built only for a mismatch: a million matching rows must not each allocate a finding.
        let mut u = unnamed(date, Category::SettlementMismatch, r, Some(t), detail);
        u.0.currency = t.currency;
        u.0.local_amount = t.amount;
        u.0.alipay_currency = r.currency;
        u.0.alipay_amount = r.amount;
        out.push(u);
    }
    (out, seen)
}

/// How settlement row `r` disagrees with the transaction row `t` it settles, if it does: another type,
/// another amount, or a cancelled payment settled without the refund that nets it to zero.
fn settled_unlike(r: &AlipayRow, t: &AlipayRow, txns: &Txns<'_, '_>, net: &HashMap<&str, i64>) -> Option<String> {
    if t.trans_type != r.trans_type {
        Some(format!(
            "Alipay settled this as {} but the transaction file has it as {}: ask Alipay to correct the settlement.",
            r.trans_type.as_str(),
            t.trans_type.as_str()
        ))
    } else if r.currency.is_some() && t.currency.is_some() && (r.currency != t.currency || r.amount != t.amount) {
        Some(format!(
            "Alipay settled {} but the transaction was {}: ask Alipay to correct the settlement.",
            money(r.amount, r.currency),
            money(t.amount, t.currency)
        ))
    } else if r.trans_type == TransType::Payment
        && txns.voided(t)
        && net.get(t.alipay_id.as_deref().unwrap_or("")).copied().unwrap_or(1) != 0
    {
        Some("Alipay settled a payment that was cancelled: ask Alipay to take it back out of the settlement.".into())
    } else {
        None
    }
}

fn key_of(r: &AlipayRow) -> Cow<'_, str> {
    let (own, alipay) = match r.trans_type {
        TransType::Refund => (r.merchant_refund_id().as_deref(), r.alipay_id.as_deref()),
        _ => (r.merchant_trans_id.as_deref(), r.alipay_id.as_deref()),
    };
    match own.map(str::trim).filter(|s| !s.is_empty()) {
        Some(k) => Cow::Borrowed(k),
        None if r.trans_type == TransType::Refund => Cow::Owned(refund_key(None, alipay)),
        None => Cow::Owned(payment_key(None, alipay)),
    }
}

/// The most specific configured rule for a row: product and wallet, then product, wallet, currency.
fn rule_for<'a>(rules: &'a [FeeRule], c: Currency, r: &AlipayRow) -> Option<&'a FeeRule> {
    rules
        .iter()
        .filter(|f| f.currency == c)
        .filter(|f| f.product_code.is_none() || f.product_code.as_deref() == r.product_code.as_deref())
        .filter(|f| f.wallet.is_none() || f.wallet.as_deref() == r.wallet.as_deref())
        .max_by_key(|f| (f.product_code.is_some() as u8) * 2 + f.wallet.is_some() as u8)
}

/// round-half-up(amount × ppm / 1e6) in integers.
pub(super) fn fee_of(amount: i64, ppm: i64) -> i64 {
    let n = amount as i128 * ppm as i128;
    ((n + 500_000) / 1_000_000) as i64
}

/// FEE_MISMATCH for rows of `date` that carry a fee and have a configured rate.
fn fees<'a>(rows: &DayRows<'a>, params: &Params, date: NaiveDate) -> Vec<Unnamed<'a>> {
    let mut out = Vec::new();
    if params.fees.is_empty() {
        return out;
    }
    for r in rows.today.iter().copied().filter(|r| !non_order(&r.type_raw)) {
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
        let mut u = unnamed(date, Category::FeeMismatch, r, None, format!(
            "Alipay charged a fee of {} on this {} but the contract rate gives {}: claim the difference from Alipay or correct the configured rate.",
            money(Some(fee), Some(c)), r.trans_type.as_str(), money(Some(expected), Some(c))
        ));
        u.0.currency = Some(c);
        u.0.alipay_currency = Some(c);
        u.0.local_amount = Some(expected.abs());
        u.0.alipay_amount = Some(fee.abs());
        out.push(u);
    }
    out
}

/// SUMMARY_MISMATCH: each summary row of `date` against the detail rows of the same day, file format
/// and currency (an account may receive several formats; each format's summary covers its own detail).
fn summaries(input: &Input, rows: &DayRows, date: NaiveDate) -> Vec<Finding> {
    let formats: HashMap<i64, crate::domain::FileFormat> = input.files.iter().map(|f| (f.id, f.format)).collect();
    let format_of = |file_id: i64| formats.get(&file_id).copied();
    // (format, type, settlement currency) → (count, net).
    type Key = (Option<crate::domain::FileFormat>, String, Option<Currency>);
    let mut detail: BTreeMap<Key, (i64, i64)> = BTreeMap::new();
    // Summed per (file, type, currency) first without allocating, then keyed by text.
    type PerFile<'a> = HashMap<(i64, Cow<'a, str>, Option<Currency>), (i64, i64)>;
    let mut per: PerFile = HashMap::default();
    for r in rows.settled_today(date) {
        let ty: Cow<str> = if non_order(&r.type_raw) {
            Cow::Owned(r.type_raw.trim().to_ascii_uppercase())
        } else {
            Cow::Borrowed(r.trans_type.as_str())
        };
        let e = per.entry((r.file_id, ty, r.settle_currency)).or_default();
        e.0 += 1;
        e.1 += r.settle_amount.unwrap_or(0);
    }
    for ((file, ty, c), (n, sum)) in per {
        for t in [ty.into_owned(), "TOTAL".to_string()] {
            let e = detail.entry((format_of(file), t, c)).or_default();
            e.0 += n;
            e.1 += sum;
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
        let mut f = Finding::blank(date, s.date, Category::SummaryMismatch, format!(
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
