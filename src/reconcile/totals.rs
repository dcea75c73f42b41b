//! The day's summary (`summary.json`, the email): counts per category, pending/resolved/open counts,
//! matched keys, per-currency totals and the amount at stake.

use super::checks::non_order;
use super::frames::Frames;
use super::{category_counts, AlipayRow, FileIn, HashMap, HashSet, Input, Outcome};
use crate::domain::{
    Currency, CurrencyTotals, DaySummary, FileKind, Finding, LocalStatus, PendingState, RecordType, SettlementSource,
    TransType,
};
use chrono::NaiveDate;
use std::collections::BTreeMap;

pub(super) fn summary(
    input: &Input,
    frames: &Frames,
    date: NaiveDate,
    out: &Outcome,
    matched: i64,
    cancelled: &HashSet<&str>,
) -> DaySummary {
    // Keyed by the currency while summing (no text per row); by its code in the summary.
    let mut cur: BTreeMap<Currency, CurrencyTotals> = BTreeMap::new();
    alipay_totals(input, date, cancelled, &mut cur);
    settlement_totals(input, date, &mut cur);
    let counted_totals = settled_net(input, date, &mut cur);
    settlement_sources(input, date, &counted_totals, &mut cur);
    // After the Alipay side and before the local one: only currencies seen so far are marked.
    settles_in(input, &mut cur);
    local_totals(input, frames, date, &mut cur);
    DaySummary {
        business_date: Some(date),
        counts: category_counts(&out.findings),
        pending: out.pending.iter().filter(|p| p.state == PendingState::Pending).count() as i64,
        resolved: out.pending.iter().filter(|p| p.state == PendingState::Resolved).count() as i64,
        open_items: out.open_items.len() as i64,
        matched,
        currencies: cur.into_iter().map(|(c, t)| (c.to_string(), t)).collect(),
        at_stake: at_stake(&out.findings),
    }
}

/// Alipay's transaction totals of the day: captured payments (not cancelled anywhere in the window),
/// refunds and cancels.
fn alipay_totals(
    input: &Input,
    date: NaiveDate,
    cancelled: &HashSet<&str>,
    cur: &mut BTreeMap<Currency, CurrencyTotals>,
) {
    for r in input.rows.iter().filter(|r| r.date == date && r.kind == FileKind::Transactions) {
        let Some(c) = r.currency else { continue };
        let t = cur.entry(c).or_default();
        let a = r.amount.unwrap_or(0);
        match r.trans_type {
            TransType::Payment => {
                if !voided(r, cancelled) {
                    t.alipay_payments += a;
                    t.alipay_payment_count += 1;
                }
            }
            TransType::Refund => {
                t.alipay_refunds += a;
                t.alipay_refund_count += 1;
            }
            TransType::Cancel => {
                t.alipay_cancels += a;
                t.alipay_cancel_count += 1;
            }
            TransType::Other => {}
        }
    }
}

/// Ids of the payments cancelled anywhere in the window (merchant's and Alipay's): not captured.
pub(super) fn cancelled(input: &Input) -> HashSet<&str> {
    input
        .rows
        .iter()
        .filter(|r| r.kind == FileKind::Transactions && r.trans_type == TransType::Cancel)
        .flat_map(|r| [r.merchant_trans_id.as_deref(), r.original_alipay_id().as_deref()])
        .flatten()
        .collect()
}

/// Whether payment row `r` is one of the [`cancelled`] payments.
pub(super) fn voided(r: &AlipayRow, cancelled: &HashSet<&str>) -> bool {
    [r.merchant_trans_id.as_deref(), r.alipay_id.as_deref()].into_iter().flatten().any(|k| cancelled.contains(k))
}

/// The settlement detail's totals of the day per settlement currency: fees, the expected net, and the
/// cash bridge's lines per transaction type.
fn settlement_totals(input: &Input, date: NaiveDate, cur: &mut BTreeMap<Currency, CurrencyTotals>) {
    for r in input.rows.iter().filter(|r| r.date == date && r.kind == FileKind::SettlementDetail) {
        let Some(c) = r.settle_currency.or(r.currency) else { continue };
        let t = cur.entry(c).or_default();
        let fee = if r.fee_currency.is_none_or(|f| f == c) { r.fee.unwrap_or(0) } else { 0 };
        t.fees += fee;
        t.expected_net += r.settle_amount.unwrap_or(0);
        // The cash bridge's lines, gross of the fee (net + fee), so that they add up to expected_net.
        let gross = r.settle_amount.unwrap_or(0) + fee;
        match r.trans_type {
            _ if non_order(&r.type_raw) => (t.settled_other += gross, t.settled_other_count += 1),
            TransType::Payment => (t.settled_payments += gross, t.settled_payment_count += 1),
            TransType::Refund => (t.settled_refunds -= gross, t.settled_refund_count += 1),
            TransType::Cancel => (t.settled_cancels -= gross, t.settled_cancel_count += 1),
            TransType::Other => (t.settled_other += gross, t.settled_other_count += 1),
        };
    }
}

/// What the summary files say is settled: their TOTAL rows, else the sum of their type rows; the
/// expected net where the day has no summary of a currency. Returns, per currency with summary rows,
/// whether the TOTAL rows were the ones counted.
fn settled_net(
    input: &Input,
    date: NaiveDate,
    cur: &mut BTreeMap<Currency, CurrencyTotals>,
) -> BTreeMap<Currency, bool> {
    let mut said: BTreeMap<Currency, (i64, bool)> = BTreeMap::new();
    for s in input.summaries.iter().filter(|s| s.date == date) {
        let Some(c) = s.settle_currency else { continue };
        let e = said.entry(c).or_default();
        let total = s.summary_type.trim().eq_ignore_ascii_case("TOTAL");
        if total && !e.1 {
            *e = (0, true);
        }
        if total == e.1 {
            e.0 += s.settle_amount.unwrap_or(0);
        }
    }
    for (c, t) in cur.iter_mut() {
        t.settled_net = said.get(c).map(|s| s.0).unwrap_or(t.expected_net);
    }
    for (c, (v, _)) in &said {
        cur.entry(*c).or_default().settled_net = *v;
    }
    said.into_iter().map(|(c, (_, total))| (c, total)).collect()
}

/// The cash bridge's sources: per settlement currency and file format, which files, what their detail
/// and their summary say. `counted_totals` is [`settled_net`]'s answer.
fn settlement_sources(
    input: &Input,
    date: NaiveDate,
    counted_totals: &BTreeMap<Currency, bool>,
    cur: &mut BTreeMap<Currency, CurrencyTotals>,
) {
    let files: HashMap<i64, &FileIn> = input.files.iter().map(|f| (f.id, f)).collect();
    let mut sources: Sources = BTreeMap::new();
    for r in input.rows.iter().filter(|r| r.date == date && r.kind == FileKind::SettlementDetail) {
        let Some(c) = r.settle_currency.or(r.currency) else { continue };
        source(&mut sources, &files, c, r.file_id).detail_net += r.settle_amount.unwrap_or(0);
    }
    for s in input.summaries.iter().filter(|s| s.date == date) {
        let Some(c) = s.settle_currency else { continue };
        let src = source(&mut sources, &files, c, s.file_id);
        // The rows `settled_net` counted: the TOTAL rows when any file has one, else the type rows.
        if s.summary_type.trim().eq_ignore_ascii_case("TOTAL") == counted_totals[&c] {
            *src.summary_net.get_or_insert(0) += s.settle_amount.unwrap_or(0);
        }
    }
    for ((c, _), mut s) in sources {
        s.files.sort();
        cur.entry(c).or_default().settlement_sources.push(s);
    }
}

/// Pricing currencies whose money settles in another one (seen in the window's settlement rows).
fn settles_in(input: &Input, cur: &mut BTreeMap<Currency, CurrencyTotals>) {
    for r in input.rows.iter().filter(|r| r.kind == FileKind::SettlementDetail) {
        if let (Some(p), Some(c)) = (r.currency, r.settle_currency) {
            let code = c.to_string();
            match cur.get_mut(&p) {
                Some(t) if p != c && !t.settles_in.contains(&code) => t.settles_in.push(code),
                _ => {}
            }
        }
    }
    for t in cur.values_mut() {
        t.settles_in.sort();
    }
}

/// The local totals of the day: its records' latest versions, as seen now, that are SUCCESS.
fn local_totals(input: &Input, frames: &Frames, date: NaiveDate, cur: &mut BTreeMap<Currency, CurrencyTotals>) {
    // Per (key id, record type), the last version in the frames' (ledger, seq) order.
    let mut latest: Vec<Option<usize>> = vec![None; 2 * frames.key_count()];
    for (p, &i) in frames.local_rows.iter().enumerate() {
        let v = &input.local[i];
        if v.business_date == date {
            latest[frames.local_keys[p] as usize * 2 + (v.record_type == RecordType::Refund) as usize] = Some(i);
        }
    }
    for v in latest.iter().flatten().map(|&i| &input.local[i]).filter(|v| v.status == LocalStatus::Success) {
        let t = cur.entry(v.currency).or_default();
        if v.record_type == RecordType::Payment {
            t.local_payments += v.amount;
            t.local_payment_count += 1;
        } else {
            t.local_refunds += v.amount;
            t.local_refund_count += 1;
        }
    }
}

/// The amount at stake per currency code: the sum of [`Finding::at_stake`] (the HTML report orders
/// its rows by the same number).
fn at_stake(findings: &[Finding]) -> BTreeMap<String, i64> {
    let mut at_stake: BTreeMap<String, i64> = BTreeMap::new();
    for (c, v) in findings.iter().filter_map(Finding::at_stake) {
        *at_stake.entry(c.to_string()).or_default() += v;
    }
    at_stake
}

type Sources = BTreeMap<(Currency, &'static str), SettlementSource>;

/// The bridge's entry of settlement currency `c` for the format of file `file_id`, naming the file.
fn source<'a>(
    sources: &'a mut Sources,
    files: &HashMap<i64, &FileIn>,
    c: Currency,
    file_id: i64,
) -> &'a mut SettlementSource {
    let f = files.get(&file_id);
    let format = f.map_or("unknown", |f| f.format.as_str());
    let s =
        sources.entry((c, format)).or_insert_with(|| SettlementSource { format: format.into(), ..Default::default() });
    if let Some(f) = f.filter(|f| !s.files.contains(&f.name)) {
        s.files.push(f.name.clone());
    }
    s
}
