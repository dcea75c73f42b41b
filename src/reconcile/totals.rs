//! The day's summary (`summary.json`, the email): counts per category, pending/resolved/open counts,
//! matched keys, per-currency totals and the amount at stake.

use super::checks::non_order;
use super::frames::Frames;
use super::{category_counts, HashSet, Input, Outcome};
use crate::domain::{
    Category, Currency, CurrencyTotals, DaySummary, FileKind, Finding, LocalStatus, PendingState, RecordType, TransType,
};
use chrono::NaiveDate;
use std::collections::BTreeMap;

pub(super) fn summary(input: &Input, frames: &Frames, date: NaiveDate, out: &Outcome, matched: i64) -> DaySummary {
    // Keyed by the currency while summing (no text per row); by its code in the summary.
    let mut cur: BTreeMap<Currency, CurrencyTotals> = BTreeMap::new();
    alipay_totals(input, date, &mut cur);
    settled_net(input, date, &mut cur);
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

/// Alipay's side of the day: captured payments, refunds and cancels from the transaction rows; fees
/// and the expected net from the settlement rows.
fn alipay_totals(input: &Input, date: NaiveDate, cur: &mut BTreeMap<Currency, CurrencyTotals>) {
    // Payments cancelled anywhere in the window are not captured.
    let cancelled: HashSet<&str> = input
        .rows
        .iter()
        .filter(|r| r.kind == FileKind::Transactions && r.trans_type == TransType::Cancel)
        .flat_map(|r| [r.merchant_trans_id.as_deref(), r.original_alipay_id().as_deref()])
        .flatten()
        .collect();
    for r in input.rows.iter().filter(|r| r.date == date) {
        if r.kind == FileKind::Transactions {
            let Some(c) = r.currency else { continue };
            let t = cur.entry(c).or_default();
            let a = r.amount.unwrap_or(0);
            match r.trans_type {
                TransType::Payment => {
                    let voided = [r.merchant_trans_id.as_deref(), r.alipay_id.as_deref()]
                        .into_iter()
                        .flatten()
                        .any(|k| cancelled.contains(k));
                    if !voided {
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
        } else if r.kind == FileKind::SettlementDetail {
            let Some(c) = r.settle_currency.or(r.currency) else { continue };
            let t = cur.entry(c).or_default();
            if r.fee_currency.is_none_or(|f| f == c) {
                t.fees += r.fee.unwrap_or(0);
            }
            t.expected_net += r.settle_amount.unwrap_or(0);
            if non_order(&r.type_raw) {
                continue;
            }
        }
    }
}

/// What the summary files say is settled: their TOTAL rows, else the sum of their type rows; the
/// expected net where the day has no summary of a currency.
fn settled_net(input: &Input, date: NaiveDate, cur: &mut BTreeMap<Currency, CurrencyTotals>) {
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
}

/// The local side of the day: its records' latest versions, as seen now, that are SUCCESS.
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

/// Amount at stake per currency code: the difference where both sides agree the money exists
/// (amount, settlement, fee, summary mismatches); the whole amount where its fate is in question
/// (missing on a side, wrong status, duplicated, unsettled) — Alipay's amount when it has one, else
/// the local one.
fn at_stake(findings: &[Finding]) -> BTreeMap<String, i64> {
    let mut at_stake: BTreeMap<String, i64> = BTreeMap::new();
    for f in findings {
        let by_difference = matches!(
            f.category,
            Category::AmountMismatch | Category::SettlementMismatch | Category::FeeMismatch | Category::SummaryMismatch
        );
        let (c, v) = match (f.difference(), f.currency, f.local_amount, f.alipay_currency, f.alipay_amount) {
            (Some(d), Some(c), ..) if by_difference => (c, d.abs()),
            (_, _, _, Some(c), Some(a)) => (c, a),
            (_, Some(c), Some(l), _, _) => (c, l),
            _ => continue,
        };
        *at_stake.entry(c.to_string()).or_default() += v;
    }
    at_stake
}
