//! Refund items: a refund key's verdict (matched by refund id, or by the refunded payment's Alipay id
//! and amount — see `items::pair_secondary`), and the rule that refunds must not exceed their payment
//! on either side.

use super::frames::KeyAgg;
use super::input::{AlipayRow, LocalVersion};
use super::items::{compare, money, unsettled, waiting_for, Sides, Verdict};
use super::HashMap;
use super::{Cut, Eval};
use crate::domain::{Category, LocalStatus, RecordType};
use chrono::{DateTime, FixedOffset, NaiveDate};

/// A refund key's item date: the earliest of its local record's date and its Alipay row's date.
pub(super) fn refund_date(cx: &Cut, agg: &KeyAgg) -> Option<NaiveDate> {
    let ar = agg.first.map(|p| cx.row(p));
    let local = agg.local.map(|p| cx.local(p));
    [local.map(|l| l.business_date), ar.map(|r| r.date)].into_iter().flatten().min()
}

/// Classifies one refund key; `true` when both sides agree (the key is matched). `exceeding` holds
/// refund keys whose refunds exceed their payment, with the sentence saying so.
pub(super) fn refund(cx: &Cut, agg: &KeyAgg, exceeding: &HashMap<u32, String>, out: &mut Vec<Eval>) -> bool {
    let key = cx.frames.name(agg.kid);
    let ar = agg.first.map(|p| cx.row(p));
    let local = agg.local.map(|p| cx.local(p));
    let Some(item_date) = refund_date(cx, agg) else { return false };
    // The refunded payment: from the transaction file, else from the local refund record (§3).
    let payment_id = ar
        .and_then(|r| cx.payment_of_refund(r))
        .or_else(|| local.map(|l| l.merchant_trans_id.to_string()))
        .unwrap_or_default();
    let s = Sides {
        record: RecordType::Refund,
        key,
        local,
        alipay: ar,
        alipay_type: if agg.n > 0 { "REFUND".into() } else { String::new() },
        payment_id,
        item_date,
    };
    if let Some(r) = ar {
        unsettled(cx, &s, r, out);
    }
    if item_date < cx.first_day {
        return false;
    }
    let v = Verdict { cx, s: &s };
    if agg.max_per_day > 1 || agg.days > 1 || local.is_some_and(|l| l.conflict) {
        out.push(v.found(Category::Duplicate, refund_duplicate(cx, agg, key, local)));
        return false;
    }
    let Some(l) = local else {
        out.push(refund_missing_locally(&v, ar.expect("a key has at least one side")));
        return false;
    };
    refund_by_status(&v, agg, l, ar, exceeding, out)
}

/// A refund key the local side has, by its local status: UNKNOWN is a STATUS_MISMATCH, SUCCESS is
/// MISSING_AT_ALIPAY or compared with Alipay's row, CANCELLED or FAILED is a STATUS_MISMATCH if
/// Alipay refunded it. `exceeding` as in [`refund`].
fn refund_by_status(
    v: &Verdict,
    agg: &KeyAgg,
    l: &LocalVersion,
    ar: Option<&AlipayRow>,
    exceeding: &HashMap<u32, String>,
    out: &mut Vec<Eval>,
) -> bool {
    let key = v.s.key;
    let waiting = if ar.is_none() { waiting_for(v.cx, l) } else { None };
    let eval = match (l.status, ar) {
        (LocalStatus::Unknown, Some(_)) => v.found(
            Category::StatusMismatch,
            format!("Refund {} is UNKNOWN locally; refunded at Alipay: mark SUCCESS in the POS.", key),
        ),
        (LocalStatus::Unknown, None) => v.local_only(
            l,
            waiting,
            Category::StatusMismatch,
            format!("Refund {} is UNKNOWN locally; not at Alipay: mark FAILED in the POS.", key),
        ),
        (LocalStatus::Success, None) => v.local_only(
            l,
            waiting,
            Category::MissingAtAlipay,
            format!(
                "Local refund {} of payment {} ({}) is not in Alipay's transaction files: check it with Alipay and refund again only if it failed.",
                key, l.merchant_trans_id, money(Some(l.amount), Some(l.currency))
            ),
        ),
        (LocalStatus::Cancelled | LocalStatus::Failed, Some(r)) => v.found(
            Category::StatusMismatch,
            format!(
                "Refund {} is {} locally but Alipay refunded {}: mark it SUCCESS in the POS.",
                key,
                l.status.as_str(),
                money(r.amount, r.currency)
            ),
        ),
        (LocalStatus::Cancelled | LocalStatus::Failed, None) => return false,
        (LocalStatus::Success, Some(r)) => {
            return compare(v.cx, v.s, l, r, exceeding.get(&agg.kid).cloned(), out, &|c, d| v.found(c, d))
        }
    };
    out.push(eval);
    false
}

/// The DUPLICATE sentence of a refund key: Alipay refunded it more than once, or the sales file
/// disagrees with itself.
fn refund_duplicate(cx: &Cut, agg: &KeyAgg, key: &str, local: Option<&LocalVersion>) -> String {
    if agg.n > 1 {
        let (a, b) = (cx.row(agg.first.unwrap_or(0)), cx.row(agg.last.unwrap_or(0)));
        format!(
            "Alipay's transaction files have {} REFUND rows for refund id {} (first {} on {}, last {} on {}): ask Alipay to reverse the extra refund.",
            agg.n, key, money(a.amount, a.currency), a.date, money(b.amount, b.currency), b.date
        )
    } else {
        format!(
            "The sales file ({}) has disagreeing rows for refund id {}: fix the export so the id appears once and import it again.",
            local.map(|l| l.origin()).unwrap_or_default(), key
        )
    }
}

/// MISSING_LOCALLY: Alipay refunded what no local refund record has (pending in the cut day's grace).
fn refund_missing_locally(v: &Verdict, r: &AlipayRow) -> Eval {
    let detail = format!(
        "Alipay refunded {} (refund id {}) but no local refund record has it: record the refund in the POS and export it, or ask Alipay.",
        money(r.amount, r.currency), v.s.key
    );
    v.alipay_only(r, Category::MissingLocally, detail)
}

/// A local refund with its key aggregate, ordered by creation time.
type LocalRefund<'a> = (DateTime<FixedOffset>, &'a KeyAgg, &'a LocalVersion);

/// "No payment aggregate" in the dense index from key id to position in the payments (a key id that
/// is not a payment's).
const NO_PAYMENT: u32 = u32::MAX;

/// Refund keys whose refunds, added in time order, exceed their payment's amount on either side.
pub(super) fn exceeding_refunds(cx: &Cut, payments: &[KeyAgg], refunds: &[KeyAgg]) -> HashMap<u32, String> {
    let mut out = HashMap::default();
    if refunds.is_empty() {
        return out;
    }
    // A refunded payment by its key id, through a dense index (a binary search over a million keys
    // costs a cache miss per probe).
    let mut payment_at = vec![NO_PAYMENT; cx.frames.key_count()];
    for (i, p) in payments.iter().enumerate() {
        payment_at[p.kid as usize] = i as u32;
    }
    let payment = |pid: &str| {
        cx.frames
            .id_of(pid)
            .map(|kid| payment_at[kid as usize])
            .filter(|&i| i != NO_PAYMENT)
            .map(|i| &payments[i as usize])
    };
    let pay_alipay = |pid: &str| payment(pid).and_then(|p| p.first).map(|x| cx.row(x));
    let pay_local = |pid: &str| payment(pid).and_then(|p| p.local).map(|x| cx.local(x));
    // Alipay side: refund rows grouped by the payment they refund, in row order.
    let mut by_pay: HashMap<String, Vec<(u32, &KeyAgg)>> = HashMap::default();
    let mut local_by_pay: HashMap<&str, Vec<LocalRefund>> = HashMap::default();
    for r in refunds {
        if let Some(p) = r.first {
            if let Some(pid) = cx.payment_of_refund(cx.row(p)) {
                by_pay.entry(pid).or_default().push((p, r));
            }
        }
        if let Some(l) = r.local.map(|x| cx.local(x)).filter(|l| l.status == LocalStatus::Success) {
            local_by_pay.entry(&l.merchant_trans_id).or_default().push((l.created_at, r, l));
        }
    }
    for (pid, mut list) in by_pay {
        let Some(pay) = pay_alipay(&pid) else { continue };
        let Some(limit) = pay.amount else { continue };
        list.sort_by_key(|(p, _)| *p);
        let mut sum = 0;
        for (p, r) in list {
            sum += cx.row(p).amount.unwrap_or(0);
            if sum > limit {
                out.insert(
                    r.kid,
                    format!(
                        "Alipay's refunds of payment {pid} reach {} with refund {}, more than the payment ({}): ask Alipay to reverse the excess.",
                        money(Some(sum), pay.currency), cx.frames.name(r.kid), money(Some(limit), pay.currency)
                    ),
                );
            }
        }
    }
    for (pid, mut list) in local_by_pay {
        let Some(pay) = pay_local(pid) else { continue };
        // Key ids are numbered in key-text order: by time, then key.
        list.sort_by_key(|a| (a.0, a.1.kid));
        let mut sum = 0;
        for (_, r, l) in list {
            sum += l.amount;
            if sum > pay.amount {
                out.entry(r.kid).or_insert_with(|| {
                    format!(
                        "Local refunds of payment {pid} reach {} with refund {}, more than the payment ({}): correct the refund records.",
                        money(Some(sum), Some(pay.currency)), cx.frames.name(r.kid), money(Some(pay.amount), Some(pay.currency))
                    )
                });
            }
        }
    }
    out
}
