//! The resumable payment state machine (alipay-api.md, "The integration process"):
//!
//! ```text
//! PAYING ─S→ PAID   ─F→ FAILED   ─U/timeout/bad signature→ UNKNOWN
//! UNKNOWN: query every interval until the deadline: paid → PAID, closed → FAILED, cancelled → VOIDED;
//!          ORDER_NOT_EXIST → re-query N times (the query may overtake the pay) → CANCEL_PENDING;
//!          deadline → CANCEL_PENDING
//! CANCEL_PENDING: inside the window (same business day + buffer) cancel: S → VOIDED; U → retry, then
//!          MANUAL_REVIEW; CANCEL_WINDOW_EXCEED or past the window → query once: paid → REFUND_PENDING
//! REFUND_PENDING: refund with the same merchantRefundId until S (VOIDED_BY_REFUND) or F/bounded → MANUAL_REVIEW
//! ```
//! Each step reads the attempt from the ledger and saves it before the next call, so `sweep` can
//! resume any attempt a crash left behind. Intervals and counts come from `[payment]`.

use super::bind;
use super::codes;
use super::core::{new_id, Amount, CallStatus, Gateway, PayOrder, RefundOrder, Reply, TradeState};
use super::ledger::{self, Attempt, PayState, Refund, RefundState};
use crate::config::PaymentConfig;
use crate::domain::BusinessZone;
use anyhow::{bail, Result};
use chrono::{DateTime, Duration as Span, FixedOffset};
use rusqlite::Connection;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything the state machine needs. `now` is injectable so tests can step past the cancel window.
pub struct Flow<'a> {
    pub conn: &'a Connection,
    pub gateway: &'a dyn Gateway,
    pub cfg: PaymentConfig,
    pub zone: BusinessZone,
    pub cancel_window_minutes: u32,
    pub environment: String,
    pub merchant_id: String,
    pub now: Arc<dyn Fn() -> DateTime<FixedOffset> + Send + Sync>,
    /// Told what the cashier should say while the flow waits (e.g. "ask the customer to confirm").
    pub progress: Arc<dyn Fn(&str) + Send + Sync>,
}

/// What a new scan is.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub identity_code: String,
    pub amount: Amount,
    pub title: String,
}

/// How many attempts and refunds a sweep left in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub looked_at: usize,
    pub resolved: usize,
    pub still_open: Vec<String>,
}

pub(super) fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

impl Flow<'_> {
    pub(super) fn now(&self) -> DateTime<FixedOffset> {
        (self.now)()
    }

    /// End of the cancel window of a payment: end of its business day + the buffer.
    pub fn cancel_window_end(&self, a: &Attempt) -> DateTime<FixedOffset> {
        let t = a.paid_at.unwrap_or(a.created_at);
        let (_, end) = self.zone.day_bounds(self.zone.date_of(&t));
        end + Span::minutes(self.cancel_window_minutes as i64)
    }

    pub(super) fn record(
        &self,
        a: &mut Attempt,
        action: &str,
        r: &Result<Reply, super::core::CallError>,
    ) -> Result<()> {
        match r {
            Ok(reply) => {
                a.result_status = Some(reply.status.letter().into());
                a.result_code = Some(reply.code.clone());
                a.result_msg = Some(reply.message.clone());
                // Ids and times only from an answer about this payment (an S is bound already; an F or
                // U naming another merchantTransId must not plant a foreign Alipay id either).
                let about_this = reply.echo.merchant_trans_id.as_deref().is_none_or(|m| m == a.merchant_trans_id);
                if about_this && reply.alipay_id.is_some() {
                    a.alipay_id = reply.alipay_id.clone();
                }
                if about_this && reply.paid_at.is_some() {
                    a.paid_at = reply.paid_at;
                }
                ledger::event(self.conn, &a.merchant_trans_id, None, action, Some(reply), None)?;
            }
            Err(e) => {
                tracing::warn!(merchant_trans_id = %a.merchant_trans_id, "{action}: {e}");
                if e.is_unverified() {
                    ledger::alarm(self.conn, &a.merchant_trans_id, None, action, e)?;
                }
                a.result_status = Some("U".into());
                a.result_code = None;
                a.last_error = Some(e.to_string());
                ledger::event(self.conn, &a.merchant_trans_id, None, action, None, Some(&e.to_string()))?;
            }
        }
        Ok(())
    }

    pub(super) fn set(&self, a: &mut Attempt, state: PayState) -> Result<()> {
        if a.state != state {
            ledger::event(self.conn, &a.merchant_trans_id, None, "state", None, Some(state.as_str()))?;
        }
        a.state = state;
        ledger::save_attempt(self.conn, a)
    }

    /// A new scan: the id is persisted (PAYING) before pay is sent; then resolved to a final state
    /// or manual review.
    pub fn pay(&self, p: &NewPayment) -> Result<Attempt> {
        let now = self.now();
        let digits: String = p.identity_code.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        let mut a = Attempt {
            merchant_trans_id: new_id(&self.cfg.id_prefix, "P", now),
            protocol: "alipay.intl".into(),
            environment: self.environment.clone(),
            merchant_id: self.merchant_id.clone(),
            code_hint: digits,
            amount: p.amount,
            title: p.title.clone(),
            state: PayState::Paying,
            result_status: None,
            result_code: None,
            result_msg: None,
            alipay_id: None,
            paid_at: None,
            queries: 0,
            cancel_tries: 0,
            void_refund_id: None,
            last_error: None,
            created_at: now,
        };
        ledger::insert_attempt(self.conn, &a)?;
        let order = PayOrder {
            merchant_trans_id: a.merchant_trans_id.clone(),
            identity_code: p.identity_code.clone(),
            amount: p.amount,
            title: p.title.clone(),
        };
        let expected = bind::Expected {
            function: "pay",
            merchant_trans_id: &order.merchant_trans_id,
            alipay_id: None,
            amount: Some(order.amount),
            merchant_refund_id: None,
            refund_amount: None,
            must_name: true,
        };
        let r = bind::check(&expected, self.gateway.pay(&order));
        self.record(&mut a, "pay", &r)?;
        let next = match &r {
            Ok(x) if x.status == CallStatus::Success => {
                a.paid_at = a.paid_at.or(Some(self.now()));
                PayState::Paid
            }
            Ok(x) if x.status == CallStatus::Failure => PayState::Failed,
            _ => PayState::Unknown,
        };
        self.set(&mut a, next)?;
        if next == PayState::Unknown {
            let code = r.as_ref().map(|x| x.code.as_str()).unwrap_or("UNKNOWN_EXCEPTION");
            (self.progress)(codes::info(code).cashier);
        }
        self.resolve(&a.merchant_trans_id)
    }

    /// Drives an attempt until it is final or waits for a person (manual review).
    pub fn resolve(&self, id: &str) -> Result<Attempt> {
        loop {
            let a = ledger::must_attempt(self.conn, id)?;
            match a.state {
                PayState::Paying | PayState::Unknown => self.query_phase(a)?,
                PayState::CancelPending => self.cancel_phase(a)?,
                PayState::RefundPending => self.void_refund_phase(a)?,
                _ => return Ok(a),
            }
        }
    }

    /// One payQuery of the attempt, bound to it (an S about another payment or amount is unknown).
    pub(super) fn query_call(&self, a: &Attempt) -> Result<Reply, super::core::CallError> {
        let expected = bind::Expected {
            function: "payQuery",
            merchant_trans_id: &a.merchant_trans_id,
            alipay_id: a.alipay_id.as_deref(),
            amount: Some(a.amount),
            merchant_refund_id: None,
            refund_amount: None,
            must_name: true,
        };
        bind::check(&expected, self.gateway.query(&a.merchant_trans_id))
    }

    /// Applies one query answer; returns true when it decided the state.
    pub(super) fn apply_query(&self, a: &mut Attempt, r: &Result<Reply, super::core::CallError>) -> Result<bool> {
        a.queries += 1;
        self.record(a, "query", r)?;
        let Ok(reply) = r else { return Ok(false) };
        if reply.status != CallStatus::Success {
            ledger::save_attempt(self.conn, a)?;
            return Ok(false);
        }
        let trade = reply.trade.or(if reply.paid_at.is_some() { Some(TradeState::Paid) } else { None });
        let next = match trade {
            Some(TradeState::Paid) => PayState::Paid,
            Some(TradeState::Closed) => PayState::Failed,
            Some(TradeState::Cancelled) => PayState::Voided,
            Some(TradeState::Processing) | None => {
                ledger::save_attempt(self.conn, a)?;
                return Ok(false);
            }
        };
        self.set(a, next)?;
        Ok(true)
    }

    fn query_phase(&self, mut a: Attempt) -> Result<()> {
        let deadline = Instant::now() + ms(self.cfg.query_deadline_ms);
        let mut not_exist = 0u32;
        loop {
            let r = self.query_call(&a);
            if self.apply_query(&mut a, &r)? {
                return Ok(());
            }
            if matches!(&r, Ok(x) if x.code == "ORDER_NOT_EXIST") {
                not_exist += 1;
                if not_exist > self.cfg.not_exist_requeries {
                    return self.set(&mut a, PayState::CancelPending);
                }
                std::thread::sleep(ms(self.cfg.not_exist_interval_ms));
                continue;
            }
            not_exist = 0;
            if Instant::now() >= deadline {
                return self.set(&mut a, PayState::CancelPending);
            }
            std::thread::sleep(ms(self.cfg.query_interval_ms));
        }
    }

    fn cancel_phase(&self, mut a: Attempt) -> Result<()> {
        if self.now() > self.cancel_window_end(&a) {
            return self.past_window(a);
        }
        loop {
            let expected = bind::Expected {
                function: "payCancel",
                merchant_trans_id: &a.merchant_trans_id,
                alipay_id: a.alipay_id.as_deref(),
                amount: Some(a.amount),
                merchant_refund_id: None,
                refund_amount: None,
                must_name: false,
            };
            let r = bind::check(&expected, self.gateway.cancel(&a.merchant_trans_id));
            a.cancel_tries += 1;
            self.record(&mut a, "cancel", &r)?;
            match &r {
                Ok(x) if x.status == CallStatus::Success => return self.set(&mut a, PayState::Voided),
                Ok(x) if x.code == "CANCEL_WINDOW_EXCEED" => {
                    ledger::save_attempt(self.conn, &a)?;
                    return self.past_window(a);
                }
                Ok(x) if x.status == CallStatus::Failure => {
                    a.last_error = Some(format!("cancel refused: {} ({})", x.code, codes::info(&x.code).operator));
                    return self.set(&mut a, PayState::ManualReview);
                }
                _ if a.cancel_tries >= self.cfg.cancel_attempts => {
                    a.last_error = Some(format!(
                        "cancel still unknown after {} attempts: check the payment in the Alipay portal or ask {}",
                        a.cancel_tries, self.cfg.support_contact
                    ));
                    return self.set(&mut a, PayState::ManualReview);
                }
                _ => {
                    ledger::save_attempt(self.conn, &a)?;
                    std::thread::sleep(ms(self.cfg.cancel_interval_ms));
                }
            }
        }
    }

    /// Past the cancel window a void is a refund: query once; refund only what was paid.
    fn past_window(&self, mut a: Attempt) -> Result<()> {
        let r = self.query_call(&a);
        if self.apply_query(&mut a, &r)? {
            if a.state == PayState::Paid {
                // Only what earlier refunds left is still to give back.
                let left = a.amount.minor - self.refunded(&a.merchant_trans_id)?;
                if left <= 0 {
                    return self.set(&mut a, PayState::VoidedByRefund);
                }
                let amount = Amount { minor: left, currency: a.amount.currency };
                let refund_id = new_id(&self.cfg.id_prefix, "R", self.now());
                let refund =
                    new_refund(&a, &refund_id, amount, Some("void after the cancel window".into()), true, self.now());
                ledger::insert_refund(self.conn, &refund)?;
                a.void_refund_id = Some(refund_id);
                self.set(&mut a, PayState::RefundPending)?;
            }
            return Ok(());
        }
        if matches!(&r, Ok(x) if x.code == "ORDER_NOT_EXIST") {
            return self.set(&mut a, PayState::Failed);
        }
        a.last_error = Some(
            "past the cancel window and the query did not say whether it was paid: the next sweep asks again".into(),
        );
        self.set(&mut a, PayState::ManualReview)
    }

    fn void_refund_phase(&self, mut a: Attempt) -> Result<()> {
        let Some(rid) = a.void_refund_id.clone() else {
            a.last_error = Some("REFUND_PENDING without a refund id (ledger damaged): check by hand".into());
            return self.set(&mut a, PayState::ManualReview);
        };
        let Some(refund) = ledger::get_refund(self.conn, &rid)? else {
            bail!("refund {rid} of {} is missing from the ledger", a.merchant_trans_id)
        };
        let refund = self.drive_refund(refund, &a)?;
        let next = match refund.state {
            RefundState::Success => PayState::VoidedByRefund,
            _ => {
                a.last_error = Some(format!(
                    "the payment was taken but its void refund {} did not go through ({}): refund by hand or ask {}",
                    refund.merchant_refund_id,
                    refund.result_code.as_deref().unwrap_or("no answer"),
                    self.cfg.support_contact
                ));
                PayState::ManualReview
            }
        };
        self.set(&mut a, next)
    }

    /// Sends a refund (always with its stored merchantRefundId) until S, F or the attempt bound.
    pub fn drive_refund(&self, mut rf: Refund, a: &Attempt) -> Result<Refund> {
        let Some(alipay_id) = a.alipay_id.clone() else {
            rf.state = RefundState::ManualReview;
            rf.last_error = Some("the payment has no Alipay id yet: query it first".into());
            ledger::save_refund(self.conn, &rf)?;
            return Ok(rf);
        };
        let order = RefundOrder {
            merchant_refund_id: rf.merchant_refund_id.clone(),
            merchant_trans_id: rf.merchant_trans_id.clone(),
            alipay_id,
            amount: rf.amount,
            reason: rf.reason.clone(),
        };
        let expected = bind::Expected {
            function: "refund",
            merchant_trans_id: &order.merchant_trans_id,
            alipay_id: Some(&order.alipay_id),
            amount: None,
            merchant_refund_id: Some(&order.merchant_refund_id),
            refund_amount: Some(order.amount),
            must_name: true,
        };
        loop {
            let r = bind::check(&expected, self.gateway.refund(&order));
            rf.tries += 1;
            let rid = Some(rf.merchant_refund_id.as_str());
            match &r {
                Ok(x) => {
                    rf.result_status = Some(x.status.letter().into());
                    rf.result_code = Some(x.code.clone());
                    rf.result_msg = Some(x.message.clone());
                    ledger::event(self.conn, &rf.merchant_trans_id, rid, "refund", Some(x), None)?;
                }
                Err(e) => {
                    if e.is_unverified() {
                        ledger::alarm(self.conn, &rf.merchant_trans_id, rid, "refund", e)?;
                    }
                    rf.last_error = Some(e.to_string());
                    ledger::event(self.conn, &rf.merchant_trans_id, rid, "refund", None, Some(&e.to_string()))?;
                }
            }
            match &r {
                Ok(x) if x.status == CallStatus::Success => {
                    rf.state = RefundState::Success;
                    rf.refund_alipay_id = x.refund_alipay_id.clone();
                    rf.refunded_at = Some(x.refunded_at.unwrap_or_else(|| self.now()));
                }
                Ok(x) if x.status == CallStatus::Failure => rf.state = RefundState::Failed,
                _ if rf.tries >= self.cfg.refund_attempts => rf.state = RefundState::ManualReview,
                _ => {
                    ledger::save_refund(self.conn, &rf)?;
                    std::thread::sleep(ms(self.cfg.refund_interval_ms));
                    continue;
                }
            }
            ledger::save_refund(self.conn, &rf)?;
            return Ok(rf);
        }
    }
}

pub(super) fn new_refund(
    a: &Attempt,
    id: &str,
    amount: Amount,
    reason: Option<String>,
    is_void: bool,
    now: DateTime<FixedOffset>,
) -> Refund {
    Refund {
        merchant_refund_id: id.to_string(),
        merchant_trans_id: a.merchant_trans_id.clone(),
        amount,
        reason,
        is_void,
        state: RefundState::Pending,
        result_status: None,
        result_code: None,
        result_msg: None,
        refund_alipay_id: None,
        tries: 0,
        last_error: None,
        refunded_at: None,
        created_at: now,
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
