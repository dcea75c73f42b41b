//! Payment items (contracts.md §3, first table): one verdict per payment key at one cut — DUPLICATE,
//! MISSING_LOCALLY, MISSING_AT_ALIPAY, STATUS_MISMATCH, CURRENCY_MISMATCH, AMOUNT_MISMATCH in
//! precedence order — plus PENDING (grace, cancel buffer, day without a complete transaction file),
//! UNSETTLED (which rides on the same keys) and the pairing by secondary keys. Refunds: `refunds`.

use super::frames::KeyAgg;
use super::input::{AlipayRow, LocalVersion};
use super::{Cut, Eval, State};
use super::{HashMap, HashSet};
use crate::domain::{display_money, Category, Finding, LocalStatus, RecordType, TransType};
use chrono::{DateTime, FixedOffset, NaiveDate};

pub(super) fn money(amount: Option<i64>, c: Option<crate::domain::Currency>) -> String {
    match (amount, c) {
        (Some(a), Some(c)) => display_money(a, c),
        (Some(a), None) => format!("{a} minor units"),
        _ => "no amount".into(),
    }
}

/// The pieces of a finding both sides contribute.
pub(super) struct Sides<'a> {
    pub record: RecordType,
    pub key: &'a str,
    pub local: Option<&'a LocalVersion>,
    pub alipay: Option<&'a AlipayRow>,
    pub alipay_type: String,
    pub payment_id: String,
    pub item_date: NaiveDate,
}

impl Sides<'_> {
    /// A finding of this payment or refund. Its ids are filled the same way on every row about it
    /// (contracts.md §3; `checks` names settlement and fee rows alike): acquirement_id is Alipay's id
    /// of the *payment* — the local record's, else the Alipay row's (a cancel's or refund's original
    /// id), else, for a refund whose file does not name it (classic), its payment's.
    pub fn finding(&self, cx: &Cut, category: Category, detail: String) -> Finding {
        let cut = cx.cut;
        let l = self.local;
        let a = self.alipay;
        let refund_id = match self.record {
            RecordType::Payment => String::new(),
            RecordType::Refund => l.and_then(|l| l.merchant_refund_id.as_deref()).unwrap_or(self.key).to_string(),
        };
        let acq = l
            .and_then(|l| l.acquirement_id.clone())
            .or_else(|| {
                a.and_then(|a| match (self.record, a.trans_type) {
                    (RecordType::Payment, TransType::Cancel) => a.original_alipay_id().clone().or(a.alipay_id.clone()),
                    (RecordType::Payment, _) => a.alipay_id.clone(),
                    (RecordType::Refund, _) => a.original_alipay_id().clone(),
                })
            })
            .filter(|a| !a.trim().is_empty())
            .or_else(|| match self.record {
                RecordType::Refund => cx.frames.alipay_id_of_payment(cx.input, &self.payment_id).map(Into::into),
                RecordType::Payment => None,
            })
            .unwrap_or_default();
        Finding {
            business_date: cut,
            item_date: self.item_date,
            category,
            merchant_trans_id: self.payment_id.clone(),
            merchant_refund_id: refund_id,
            acquirement_id: acq.to_string(),
            currency: l.map(|l| l.currency).or_else(|| a.and_then(|a| a.currency)),
            local_amount: l.map(|l| l.amount),
            alipay_currency: a.and_then(|a| a.currency),
            alipay_amount: a.and_then(|a| a.amount),
            local_type: l.map(|l| format!("{} {}", l.record_type.as_str(), l.status.as_str())).unwrap_or_default(),
            alipay_type: self.alipay_type.clone(),
            detail,
        }
    }
}

/// The day whose complete transaction file a local item without Alipay rows waits for: its own day,
/// or — when it was made in its day's grace — the next day, which may carry Alipay's booking.
pub(super) fn waiting_for(cx: &Cut, l: &LocalVersion) -> Option<NaiveDate> {
    let own = l.business_date;
    if !cx.complete_days.contains(&own) {
        return Some(own);
    }
    let next = own.succ_opt()?;
    let end = cx.params.zone.day_bounds(own).1;
    let late = l.created_at >= end - chrono::Duration::minutes(cx.params.grace_minutes as i64);
    (late && cx.cut >= next && !cx.complete_days.contains(&next)).then_some(next)
}

/// Whether `t` (of business day `d`) falls in the grace before the end of the cut day.
pub(super) fn in_grace(cx: &Cut, d: NaiveDate, t: Option<DateTime<FixedOffset>>) -> bool {
    let Some(t) = t else { return false };
    d == cx.cut && t >= cx.end - chrono::Duration::minutes(cx.params.grace_minutes as i64) && t < cx.end
}

pub(super) fn ident(cat: &str, record: RecordType, key: &str) -> String {
    format!("{cat}|{}|{key}", record.as_str())
}

/// A payment key's item date: the earliest of its local record's date and its Alipay rows' dates.
pub(super) fn payment_date(cx: &Cut, agg: &KeyAgg) -> Option<NaiveDate> {
    let (pay, cancel) = (agg.first.map(|p| cx.row(p)), agg.cancel_first.map(|p| cx.row(p)));
    let local = agg.local.map(|p| cx.local(p));
    [local.map(|l| l.business_date), pay.map(|r| r.date), cancel.map(|r| r.date)].into_iter().flatten().min()
}

/// How one key's verdicts are written: its two sides, and the item found or pending in a category.
pub(super) struct Verdict<'a, 'c, 's> {
    pub cx: &'a Cut<'c, 's>,
    pub s: &'a Sides<'a>,
}

impl Verdict<'_, '_, '_> {
    fn eval(&self, category: Category, state: State, detail: String) -> Eval {
        Eval {
            ident: ident(category.as_str(), self.s.record, self.s.key),
            state,
            finding: self.s.finding(self.cx, category, detail),
        }
    }

    pub fn found(&self, category: Category, detail: String) -> Eval {
        self.eval(category, State::Found, detail)
    }

    pub fn pending(&self, category: Category, detail: String, why: String) -> Eval {
        self.eval(category, State::Pending(why), detail)
    }

    /// Why an item made in the cut day's grace waits. Written only for the few keys that are pending
    /// (a format! per key costs at a million keys).
    pub fn grace_why(&self) -> String {
        let (minutes, cut) = (self.cx.params.grace_minutes, self.cx.cut);
        match self.s.record {
            RecordType::Payment => {
                format!(
                    "created within {minutes} minutes of the end of {cut}: the other side may book it on the next day"
                )
            }
            RecordType::Refund => format!("created within {minutes} minutes of the end of {cut}"),
        }
    }

    /// An item only Alipay has: pending while Alipay booked it in the cut day's grace, found otherwise.
    pub fn alipay_only(&self, r: &AlipayRow, category: Category, detail: String) -> Eval {
        if in_grace(self.cx, r.date, r.trans_time) {
            self.pending(category, detail, self.grace_why())
        } else {
            self.found(category, detail)
        }
    }

    /// An item only the local side has: pending while Alipay's file of the day `waiting` names is not
    /// complete, or while the record is in the cut day's grace; found otherwise.
    pub fn local_only(&self, l: &LocalVersion, waiting: Option<NaiveDate>, category: Category, detail: String) -> Eval {
        if let Some(day) = waiting {
            self.pending(category, detail, format!("waiting for a complete Alipay transaction file of {day}"))
        } else if in_grace(self.cx, l.business_date, Some(l.created_at)) {
            self.pending(category, detail, self.grace_why())
        } else {
            self.found(category, detail)
        }
    }
}

/// What Alipay's rows of a payment key say happened to it.
#[derive(Clone, Copy)]
struct AlipaySide<'a> {
    /// The key's first PAYMENT row.
    pay: Option<&'a AlipayRow>,
    /// Paid and never cancelled.
    captured: bool,
    /// Cancelled (whether or not a PAYMENT row came first).
    voided: bool,
}

/// Classifies one payment key. `true` when both sides agree (the key is matched).
pub(super) fn payment(cx: &Cut, agg: &KeyAgg, out: &mut Vec<Eval>) -> bool {
    let key = cx.frames.name(agg.kid);
    let pay = agg.first.map(|p| cx.row(p));
    let cancel = agg.cancel_first.map(|p| cx.row(p));
    let local = agg.local.map(|p| cx.local(p));
    let Some(item_date) = payment_date(cx, agg) else { return false };
    let alipay = AlipaySide { pay, captured: agg.n > 0 && agg.n_cancel == 0, voided: agg.n_cancel > 0 };
    let alipay_type = match (agg.n > 0, alipay.voided) {
        (true, false) => "PAYMENT",
        (true, true) => "PAYMENT+CANCEL",
        (false, true) => "CANCEL",
        _ => "",
    };
    let s = Sides {
        record: RecordType::Payment,
        key,
        local,
        alipay: pay.or(cancel),
        alipay_type: alipay_type.into(),
        payment_id: local.map(|l| l.merchant_trans_id.to_string()).unwrap_or_else(|| {
            pay.or(cancel).and_then(|r| r.merchant_trans_id.as_deref()).unwrap_or_default().to_string()
        }),
        item_date,
    };
    if alipay.captured {
        if let Some(p) = pay {
            unsettled(cx, &s, p, out);
        }
    }
    if item_date < cx.first_day {
        return false;
    }
    let v = Verdict { cx, s: &s };
    // DUPLICATE first: it outranks every other item category.
    if let Some(detail) = payment_duplicate(cx, agg, key, local) {
        out.push(v.found(Category::Duplicate, detail));
        return false;
    }
    let Some(l) = local else {
        if alipay.captured {
            out.push(payment_missing_locally(&v, pay.expect("captured has a payment row")));
        }
        return false;
    };
    let waiting = if agg.n == 0 && agg.n_cancel == 0 { waiting_for(cx, l) } else { None };
    match l.status {
        LocalStatus::Unknown => {
            out.push(payment_unknown_locally(&v, l, alipay, waiting));
            false
        }
        LocalStatus::Success => payment_success_locally(&v, l, alipay, waiting, out),
        LocalStatus::Cancelled | LocalStatus::Failed if alipay.captured => {
            out.push(payment_not_paid_locally(&v, l, pay.expect("captured has a payment row")));
            false
        }
        LocalStatus::Cancelled | LocalStatus::Failed => agg.n > 0,
    }
}

/// The DUPLICATE sentence of a payment key, if it is one: Alipay booked it twice in a day, captured
/// it on two days, or the sales file disagrees with itself.
fn payment_duplicate(cx: &Cut, agg: &KeyAgg, key: &str, local: Option<&LocalVersion>) -> Option<String> {
    if agg.max_per_day > 1 {
        let (lo, hi) = (cx.row(agg.first.unwrap_or(0)), cx.row(agg.last.unwrap_or(0)));
        Some(format!(
            "Alipay's transaction files have {} PAYMENT rows for payment id {} (first {} on {}, last {} on {}): ask Alipay which one is real before accepting the settlement.",
            agg.n, key, money(lo.amount, lo.currency), lo.date, money(hi.amount, hi.currency), hi.date
        ))
    } else if agg.days > 1 && agg.n_cancel == 0 {
        let (a, b) = (cx.row(agg.first.unwrap_or(0)), cx.row(agg.last.unwrap_or(0)));
        Some(format!(
            "Alipay booked payment id {} again on {} ({}) after capturing it on {} ({}): ask Alipay to reverse the second capture.",
            key, b.date, money(b.amount, b.currency), a.date, money(a.amount, a.currency)
        ))
    } else if local.is_some_and(|l| l.conflict) {
        Some(format!(
            "The sales file ({}) has disagreeing rows for payment id {}: fix the export so the id appears once and import it again.",
            local.map(|l| l.origin()).unwrap_or_default(), key
        ))
    } else {
        None
    }
}

/// MISSING_LOCALLY: Alipay captured a payment no local record has (pending in the cut day's grace).
fn payment_missing_locally(v: &Verdict, p: &AlipayRow) -> Eval {
    let detail = format!(
        "Alipay captured {} for payment id {} but no local sales record has it: find the sale in the POS and export it, or refund the customer at Alipay.",
        money(p.amount, p.currency), v.s.payment_id
    );
    v.alipay_only(p, Category::MissingLocally, detail)
}

/// A payment UNKNOWN locally is always a STATUS_MISMATCH; the sentence says what Alipay knows.
fn payment_unknown_locally(v: &Verdict, l: &LocalVersion, alipay: AlipaySide, waiting: Option<NaiveDate>) -> Eval {
    let id = &v.s.payment_id;
    if alipay.captured {
        let detail = format!("Payment {id} is UNKNOWN locally; captured at Alipay: mark SUCCESS in the POS.");
        v.found(Category::StatusMismatch, detail)
    } else if alipay.voided {
        let detail = format!("Payment {id} is UNKNOWN locally; cancelled at Alipay: mark CANCELLED in the POS.");
        v.found(Category::StatusMismatch, detail)
    } else {
        let detail = format!("Payment {id} is UNKNOWN locally; not at Alipay: mark FAILED in the POS.");
        v.local_only(l, waiting, Category::StatusMismatch, detail)
    }
}

/// A payment SUCCESS locally: MISSING_AT_ALIPAY, cancelled at Alipay, or compared with Alipay's row.
fn payment_success_locally(
    v: &Verdict,
    l: &LocalVersion,
    alipay: AlipaySide,
    waiting: Option<NaiveDate>,
    out: &mut Vec<Eval>,
) -> bool {
    if alipay.voided {
        out.push(v.found(
            Category::StatusMismatch,
            format!(
                "Payment {} is SUCCESS locally but cancelled at Alipay: mark it CANCELLED and collect the money again.",
                v.s.payment_id
            ),
        ));
        return false;
    }
    if !alipay.captured {
        out.push(v.local_only(
            l,
            waiting,
            Category::MissingAtAlipay,
            format!(
                "Local payment {} of {} ({}) is not in Alipay's transaction files: check the payment with payQuery and export it again or cancel it locally.",
                v.s.payment_id, l.created_at.format("%Y-%m-%d %H:%M:%S %:z"), money(Some(l.amount), Some(l.currency))
            ),
        ));
        return false;
    }
    let pay = alipay.pay.expect("captured has a payment row");
    compare(v.cx, v.s, l, pay, None, out, &|c, d| v.found(c, d))
}

/// A payment CANCELLED or FAILED locally but captured at Alipay: a STATUS_MISMATCH, pending while
/// Alipay's cancel may still come (paid in the cancel buffer) or in the cut day's grace.
fn payment_not_paid_locally(v: &Verdict, l: &LocalVersion, p: &AlipayRow) -> Eval {
    let cx = v.cx;
    let detail = format!(
        "Payment {} is {} locally but captured at Alipay ({}): mark it SUCCESS or refund the customer at Alipay.",
        v.s.payment_id,
        l.status.as_str(),
        money(p.amount, p.currency)
    );
    let buffer = chrono::Duration::minutes(cx.params.cancel_window_minutes as i64);
    let cancel_may_come =
        l.status == LocalStatus::Cancelled && p.date == cx.cut && p.trans_time.is_some_and(|t| t >= cx.end - buffer);
    if cancel_may_come {
        let why = format!(
            "paid within {} minutes of the end of {}: Alipay's cancel may land in the next day's file",
            cx.params.cancel_window_minutes, cx.cut
        );
        v.pending(Category::StatusMismatch, detail, why)
    } else if in_grace(cx, p.date, p.trans_time) || in_grace(cx, l.business_date, Some(l.created_at)) {
        v.pending(Category::StatusMismatch, detail, v.grace_why())
    } else {
        v.found(Category::StatusMismatch, detail)
    }
}

/// CURRENCY_MISMATCH / AMOUNT_MISMATCH of a pair both sides have, and the refund-exceeds rule.
pub(super) fn compare(
    cx: &Cut,
    s: &Sides,
    l: &LocalVersion,
    a: &AlipayRow,
    exceeds: Option<String>,
    out: &mut Vec<Eval>,
    found: &dyn Fn(Category, String) -> Eval,
) -> bool {
    let what = if s.record == RecordType::Payment { "Payment" } else { "Refund" };
    let id = if s.record == RecordType::Payment { s.payment_id.as_str() } else { s.key };
    if a.currency.is_some_and(|c| c != l.currency) {
        out.push(found(
            Category::CurrencyMismatch,
            format!(
                "{what} {id} is {} locally but {} at Alipay: correct the currency in the POS or ask Alipay.",
                money(Some(l.amount), Some(l.currency)),
                money(a.amount, a.currency)
            ),
        ));
        return false;
    }
    let tol = cx.params.tolerance(l.currency);
    if let Some(amount) = a.amount.filter(|&x| (x - l.amount).abs() > tol) {
        out.push(found(
            Category::AmountMismatch,
            format!(
                "{what} {id} is {} locally but {} at Alipay: correct the local record or claim the difference from Alipay.",
                money(Some(l.amount), Some(l.currency)), money(Some(amount), a.currency)
            ),
        ));
        return false;
    }
    if let Some(d) = exceeds {
        out.push(found(Category::AmountMismatch, d));
        return false;
    }
    true
}

/// UNSETTLED: a captured payment or refund no settlement file has mentioned `unsettled_after` days
/// after its business date. Found once, on the day the delay is over; open afterwards.
pub(super) fn unsettled(cx: &Cut, s: &Sides, row: &AlipayRow, out: &mut Vec<Eval>) {
    let due = row.date + chrono::Duration::days(cx.params.unsettled_after_days as i64);
    if due > cx.cut || due < cx.first_day {
        return;
    }
    let settled = [row.alipay_id.as_deref(), Some(s.key)]
        .into_iter()
        .flatten()
        .filter_map(|k| cx.settled_on(s.record, k))
        .any(|d| d <= cx.cut);
    if settled {
        return;
    }
    let mut f = s.finding(
        cx,
        Category::Unsettled,
        format!(
            "Alipay captured this {} on {} but no settlement file up to {} includes it: ask Alipay when it will be settled.",
            if s.record == RecordType::Payment { "payment" } else { "refund" },
            row.date,
            cx.cut
        ),
    );
    f.item_date = row.date;
    out.push(Eval { ident: ident("UNSETTLED", s.record, s.key), state: State::Found, finding: f });
}

/// Pairs Alipay-only keys with local-only keys by the secondary key: for payments Alipay's id =
/// the local acquirement_id; for refunds the refunded payment's Alipay id + the same amount.
pub(super) fn pair_secondary(cx: &Cut, record: RecordType, aggs: &mut Vec<KeyAgg>) {
    let mut local_only: HashMap<(&str, i64), usize> = HashMap::default();
    for (i, a) in aggs.iter().enumerate() {
        if a.n == 0 && a.n_cancel == 0 {
            if let Some(l) = a.local.map(|p| cx.local(p)) {
                if let Some(acq) = l.acquirement_id.as_deref().filter(|s| !s.is_empty()) {
                    let amt = if record == RecordType::Refund { l.amount } else { 0 };
                    local_only.entry((acq, amt)).or_insert(i);
                }
            }
        }
    }
    if local_only.is_empty() {
        return;
    }
    let mut taken: HashSet<usize> = HashSet::default();
    for i in 0..aggs.len() {
        if aggs[i].local.is_some() || aggs[i].n == 0 {
            continue;
        }
        let r = cx.row(aggs[i].first.expect("n > 0"));
        let probe = match record {
            RecordType::Payment => r.alipay_id.as_deref().map(|a| (a, 0)),
            RecordType::Refund => r.original_alipay_id().as_deref().zip(r.amount),
        };
        if let Some(j) = probe.and_then(|p| local_only.get(&p).copied()) {
            if taken.insert(j) {
                aggs[i].local = aggs[j].local;
                aggs[i].partner = Some(aggs[j].kid);
            }
        }
    }
    let mut idx = 0;
    aggs.retain(|_| {
        idx += 1;
        !taken.contains(&(idx - 1))
    });
}
