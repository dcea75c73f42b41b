//! The cash bridge's roll-forward (issue 17 §1): per currency, from the day's captures (transaction
//! rows of T in their *pricing* currency) to the expected net of the day's settlement-detail rows (in
//! their *settlement* currency). Every transaction row of T that `totals::alipay_totals` counts and
//! every settlement-detail row of T that `totals::settlement_totals` counts lands in exactly one part,
//! so per currency `captured net + Σ parts = expected_net` holds by construction (`report::bridge`
//! checks it and shows any remainder; the tests assert there is none).
//!
//! Rules relied on, none added (contracts.md):
//! - §2 "captured": a PAYMENT with no CANCEL in the look-back (the same `totals::cancelled` set);
//! - §2 "Pending": an Alipay item of T inside the grace that nothing explains yet;
//! - §3 SETTLEMENT_MISMATCH: which transaction a settlement row settles, and whether it disagrees, is
//!   the settlement check's own verdict (`checks::SettledRow`), not a second matcher;
//! - §3 non-order lines "count in the summary only": a part of their own;
//! - §3 "Not discrepancies: FX differences between pricing and settlement amounts": a row priced in
//!   one currency and settled in another leaves the first at its pricing amount and enters the second
//!   at its settlement amount; nothing is converted.
//! - §0 "unsettled after": T's own captures cannot be past it on T, so UNSETTLED rows (earlier
//!   captures) are no part of T's roll-forward (`report::bridge` lists them beside it).

use super::checks::{non_order, SettledRow};
use super::input::{AlipayRow, Input};
use super::totals::voided;
use super::{HashSet, Outcome};
use crate::domain::{display_money, Currency, FileKind, FlowPart, PendingState, TransType, FLOW_EXAMPLES, FLOW_KEYS};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// A capture of T: a transaction row the day's captured totals count, signed (refunds and cancels
/// negative), in its pricing currency.
struct Capture<'a> {
    row: &'a AlipayRow,
    currency: Currency,
    signed: i64,
    settled: bool,
}

/// Each currency's parts, with the (file, line) of the rows each part names: the first rows in file
/// order, whatever order the rows were loaded in (a run from the day before's state and a run over the
/// whole window name the same rows).
#[derive(Default)]
struct Parts(BTreeMap<Currency, BTreeMap<&'static str, Named>>);

/// A part, the (file id, line) of each row it names (in the same order), and once it names
/// [`FLOW_EXAMPLES`] rows the position of the latest of them: the one a row earlier in file order
/// replaces (a day's million settlement rows are checked against it, not against every named row).
type Named = (FlowPart, Vec<(i64, i64)>, usize);

/// The position of the largest (file id, line) in `named` (the last of equal ones).
fn latest(named: &[(i64, i64)]) -> usize {
    (0..named.len()).max_by_key(|&i| named[i]).unwrap_or(0)
}

impl Parts {
    fn add(&mut self, c: Currency, key: &'static str, amount: i64, at: &AlipayRow, line: impl FnOnce() -> String) {
        let (p, named, last) = self
            .0
            .entry(c)
            .or_default()
            .entry(key)
            .or_insert_with(|| (FlowPart { key, ..Default::default() }, Vec::new(), 0));
        p.amount += amount;
        p.count += 1;
        let k = (at.file_id, at.line);
        if p.rows.len() < FLOW_EXAMPLES {
            p.rows.push(line());
            named.push(k);
            *last = latest(named);
        } else if k < named[*last] {
            p.rows[*last] = line();
            named[*last] = k;
            *last = latest(named);
        }
    }

    /// The parts of each currency in [`FLOW_KEYS`] order, their rows in file order.
    fn into_flows(self) -> impl Iterator<Item = (Currency, Vec<FlowPart>)> {
        self.0.into_iter().map(|(c, mut m)| {
            let parts = FLOW_KEYS
                .iter()
                .filter_map(|k| m.remove(k))
                .map(|(mut p, named, _)| {
                    let mut rows: Vec<_> = named.into_iter().zip(std::mem::take(&mut p.rows)).collect();
                    rows.sort();
                    p.rows = rows.into_iter().map(|(_, r)| r).collect();
                    p
                })
                .collect();
            (c, parts)
        })
    }
}

/// The position in `input.rows` of a row borrowed from it (`None` for a row from elsewhere).
fn position(input: &Input, r: &AlipayRow) -> Option<usize> {
    let size = std::mem::size_of::<AlipayRow>().max(1);
    let offset = (r as *const AlipayRow as usize).checked_sub(input.rows.as_ptr() as usize)?;
    let i = offset / size;
    (offset % size == 0 && i < input.rows.len() && std::ptr::eq(&input.rows[i], r)).then_some(i)
}

/// Adds each currency's roll-forward to `out.summary` (`CurrencyTotals::flow`). `settled` is the
/// settlement check's view of the day's settlement-detail rows.
pub(super) fn add(
    input: &Input,
    date: NaiveDate,
    settled: &[SettledRow],
    cancelled: &HashSet<&str>,
    out: &mut Outcome,
) {
    let file_name = |id: i64| input.files.iter().find(|f| f.id == id).map_or("?", |f| f.name.as_str());
    // One row as its file has it: type, id, its own amount (a settlement row's net), and where it is.
    let line = |r: &AlipayRow, c: Currency, amount: i64, note: &str| {
        let id = [r.merchant_refund_id(), &r.merchant_trans_id, &r.alipay_id]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
            .unwrap_or("(no id)");
        let what = match r.trans_type {
            TransType::Other if !r.type_raw.is_empty() => r.type_raw.as_str(),
            t => t.as_str(),
        };
        format!("{what} {id} {}{note}: {} line {}", display_money(amount, c), file_name(r.file_id), r.line)
    };
    let mut caps: Vec<Capture> = Vec::new();
    for r in input.rows.iter().filter(|r| r.date == date && r.kind == FileKind::Transactions) {
        let (Some(c), a) = (r.currency, r.amount.unwrap_or(0)) else { continue };
        let signed = match r.trans_type {
            TransType::Payment if !voided(r, cancelled) => a,
            TransType::Refund | TransType::Cancel => -a,
            _ => continue,
        };
        caps.push(Capture { row: r, currency: c, signed, settled: false });
    }
    // Which capture a row of the input is (by its position in `input.rows`; `NONE`: none).
    const NONE: u32 = u32::MAX;
    let mut cap_of = vec![NONE; input.rows.len()];
    for (i, c) in caps.iter().enumerate() {
        if let Some(p) = position(input, c.row) {
            cap_of[p] = i as u32;
        }
    }
    let at = |t: &AlipayRow| position(input, t).map(|p| cap_of[p]).filter(|&i| i != NONE).map(|i| i as usize);
    let mut parts = Parts::default();
    for s in settled {
        let r = s.row;
        let Some(c) = r.settle_currency.or(r.currency) else { continue };
        let net = r.settle_amount.unwrap_or(0);
        let fee = if r.fee_currency.is_none_or(|f| f == c) { r.fee.unwrap_or(0) } else { 0 };
        let mine = s.capture.and_then(at).filter(|&i| !caps[i].settled);
        if non_order(&r.type_raw) {
            parts.add(c, "other_lines", net, r, || line(r, c, net, ""));
        } else if let Some(i) = mine {
            let k = &mut caps[i];
            k.settled = true;
            if k.currency == c {
                parts.add(c, "fees", -fee, r, || line(r, c, fee, " fee"));
                let off = net + fee - k.signed;
                if off != 0 || s.mismatch {
                    parts.add(c, "settlement_mismatch", off, r, || {
                        line(r, c, net, &format!(" net, {} off its capture", display_money(off, c)))
                    });
                }
            } else {
                let (pc, g) = (k.currency, k.signed);
                parts
                    .add(pc, "settled_elsewhere", -g, k.row, || line(k.row, pc, g.abs(), &format!(", settled in {c}")));
                parts.add(c, "priced_elsewhere", net, r, || line(r, c, net, &format!(" net, priced in {pc}")));
            }
        } else if s.mismatch || s.capture.is_some_and(|t| at(t).is_some()) {
            // A disagreeing row, or a second row settling a capture of T that one row already settled.
            parts.add(c, "settlement_mismatch", net, r, || line(r, c, net, " net"));
        } else if s.capture.is_some_and(|t| t.date < date) {
            parts.add(c, "earlier_captures", net, r, || {
                line(r, c, net, &format!(" net, captured {}", s.capture.map_or(date, |t| t.date)))
            });
        } else {
            // Rows settling a payment cancelled in the window that the check accepts (a payment and
            // refund that net to zero).
            parts.add(c, "voided_settled", net, r, || line(r, c, net, " net"));
        }
    }
    let pending: HashSet<(bool, &str)> = out
        .pending
        .iter()
        .filter(|p| p.state == PendingState::Pending && p.finding.alipay_amount.is_some())
        .map(|p| &p.finding)
        .flat_map(|f| {
            let refund = !f.merchant_refund_id.is_empty();
            let own = if refund { f.merchant_refund_id.as_str() } else { f.merchant_trans_id.as_str() };
            // acquirement_id is the *payment's* Alipay id, on a refund's row too (contracts.md §3).
            let alipay = if refund { "" } else { f.acquirement_id.as_str() };
            [(refund, own), (refund, alipay)]
        })
        .filter(|(_, id)| !id.is_empty())
        .collect();
    for k in caps.iter().filter(|k| !k.settled) {
        let r = k.row;
        let (c, g) = (k.currency, k.signed);
        let key = match r.trans_type {
            TransType::Cancel => "cancels",
            _ => {
                let refund = r.trans_type == TransType::Refund;
                let own = if refund { r.merchant_refund_id() } else { &r.merchant_trans_id };
                let ids = [own, &r.alipay_id].into_iter().flatten().map(|s| s.trim());
                let settles_elsewhere =
                    out.summary.currencies.get(c.as_str()).is_some_and(|t| !t.settles_in.is_empty());
                if ids.filter(|s| !s.is_empty()).any(|s| pending.contains(&(refund, s))) {
                    "pending"
                } else if settles_elsewhere {
                    "not_known_yet"
                } else {
                    "later_day"
                }
            }
        };
        parts.add(c, key, -g, r, || line(r, c, g.abs(), ""));
    }
    for (c, flow) in parts.into_flows() {
        out.summary.currencies.entry(c.to_string()).or_default().flow = flow;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rows::Text;

    fn row(file_id: i64, line: i64) -> AlipayRow {
        AlipayRow {
            file_id,
            line,
            kind: FileKind::SettlementDetail,
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
            trans_type: TransType::Payment,
            type_raw: Text::from("PAYMENT"),
            merchant_trans_id: None,
            alipay_id: None,
            refund_ids: None,
            amount: None,
            currency: None,
            settle_amount: None,
            settle_currency: None,
            fee: None,
            fee_currency: None,
            trans_time: None,
            product_code: None,
            wallet: None,
        }
    }

    /// A part names its first rows in file order, whatever order they are added in.
    #[test]
    fn a_part_names_its_first_rows_in_file_order() {
        let c = Currency::parse("HKD").unwrap();
        // Lines in a scrambled order over two files: every permutation class (ascending runs,
        // descending runs, duplicates of a position never happen).
        let mut at: Vec<(i64, i64)> = (0..60).map(|i| (1 + (i * 7) % 2, 2 + (i * 37) % 60)).collect();
        at.dedup();
        let mut parts = Parts::default();
        for &(f, l) in &at {
            parts.add(c, "fees", 1, &row(f, l), || format!("{f}:{l}"));
        }
        let mut want = at.clone();
        want.sort();
        want.dedup();
        let want: Vec<String> = want.iter().take(FLOW_EXAMPLES).map(|(f, l)| format!("{f}:{l}")).collect();
        let flows: Vec<_> = parts.into_flows().collect();
        assert_eq!(flows.len(), 1);
        let part = &flows[0].1[0];
        assert_eq!((part.key, part.count, part.amount), ("fees", at.len() as i64, at.len() as i64));
        assert_eq!(part.rows, want);
    }
}
