//! What operators and the daily batch ask of the state machine: one query now, cancel (a void that
//! becomes a refund past the window), a partial or full refund, and the sweep that resumes everything
//! not final with the ids already in the ledger.

use super::core::{new_id, Amount, CallStatus, Reply, TradeState};
use super::flow::{new_refund, Flow, SweepReport};
use super::ledger::{self, Attempt, PayState, Refund, RefundState};
use anyhow::{bail, Result};

impl Flow<'_> {
    /// One query now (the `query` command); decides the state if the answer does.
    pub fn query_once(&self, id: &str) -> Result<(Attempt, Result<Reply, super::core::CallError>)> {
        let mut a = ledger::must_attempt(self.conn, id)?;
        let r = self.query_call(&a);
        if matches!(a.state, PayState::Paying | PayState::Unknown) {
            self.apply_query(&mut a, &r)?;
        } else {
            self.record(&mut a, "query", &r)?;
            ledger::save_attempt(self.conn, &a)?;
        }
        Ok((a, r))
    }

    /// The operator's cancel: void a payment (refund it if past the window).
    pub fn cancel(&self, id: &str) -> Result<Attempt> {
        let mut a = ledger::must_attempt(self.conn, id)?;
        match a.state {
            PayState::Failed | PayState::Voided | PayState::VoidedByRefund => return Ok(a),
            PayState::RefundPending => {}
            _ => {
                a.cancel_tries = 0;
                self.set(&mut a, PayState::CancelPending)?;
            }
        }
        self.resolve(id)
    }

    /// Minor units refunded or being refunded (everything but failed refunds).
    pub(super) fn refunded(&self, id: &str) -> Result<i64> {
        let refunds = ledger::refunds_of(self.conn, id)?;
        Ok(refunds.iter().filter(|r| r.state != RefundState::Failed).map(|r| r.amount.minor).sum())
    }

    /// The operator's refund of part or all of a paid payment. The refund id is persisted first.
    pub fn refund(&self, id: &str, amount: Amount, reason: Option<String>) -> Result<Refund> {
        let a = ledger::must_attempt(self.conn, id)?;
        if a.state != PayState::Paid {
            bail!(
                "payment {id} is {}, not PAID: only a paid payment can be refunded (see `alipay-recon payments`)",
                a.state
            );
        }
        if amount.currency != a.amount.currency || amount.minor <= 0 {
            bail!("refund of {id}: the amount must be above 0 and in {} (the payment's currency)", a.amount.currency);
        }
        let taken = self.refunded(id)?;
        if taken + amount.minor > a.amount.minor {
            let left = Amount { minor: a.amount.minor - taken, currency: a.amount.currency };
            bail!("refund of {id}: {amount} is more than what is left to refund ({left})");
        }
        let rid = new_id(&self.cfg.id_prefix, "R", self.now());
        let rf = new_refund(&a, &rid, amount, reason, false, self.now());
        ledger::insert_refund(self.conn, &rf)?;
        self.drive_refund(rf, &a)
    }

    /// One bound query of an attempt the sweep would cancel: the final state it shows (cancelled →
    /// VOIDED, closed unpaid → FAILED), or `None` to go on (paid, processing, absent, unanswered).
    fn settled_by_query(&self, a: &mut Attempt) -> Result<Option<PayState>> {
        let r = self.query_call(a);
        a.queries += 1;
        self.record(a, "query", &r)?;
        ledger::save_attempt(self.conn, a)?;
        Ok(match &r {
            Ok(x) if x.status == CallStatus::Success => match x.trade {
                Some(TradeState::Cancelled) => Some(PayState::Voided),
                Some(TradeState::Closed) => Some(PayState::Failed),
                _ => None,
            },
            _ => None,
        })
    }

    /// Resolves everything not final: unknown and pending attempts, manual reviews (asked again),
    /// and refunds without an answer. Each keeps its ids.
    pub fn sweep(&self) -> Result<SweepReport> {
        let mut rep = SweepReport::default();
        let open = [
            PayState::Paying,
            PayState::Unknown,
            PayState::CancelPending,
            PayState::RefundPending,
            PayState::ManualReview,
        ];
        for mut a in ledger::list_attempts(self.conn, &open, None, None)? {
            rep.looked_at += 1;
            // Query before any cancel: a payment waiting for a cancel (or in manual review after
            // unanswered cancels) may be settled already — voided or closed — and is then left alone.
            if matches!(a.state, PayState::CancelPending | PayState::ManualReview) && a.void_refund_id.is_none() {
                if let Some(done) = self.settled_by_query(&mut a)? {
                    self.set(&mut a, done)?;
                    rep.resolved += 1;
                    continue;
                }
            }
            if a.state == PayState::ManualReview {
                a.cancel_tries = 0;
                let next = if a.void_refund_id.is_some() { PayState::RefundPending } else { PayState::CancelPending };
                if let Some(rid) = &a.void_refund_id {
                    if let Some(mut rf) = ledger::get_refund(self.conn, rid)? {
                        rf.tries = 0;
                        rf.state = RefundState::Pending;
                        ledger::save_refund(self.conn, &rf)?;
                    }
                }
                self.set(&mut a, next)?;
            }
            let done = self.resolve(&a.merchant_trans_id)?;
            if done.state.is_final() {
                rep.resolved += 1;
            } else {
                rep.still_open.push(done.merchant_trans_id);
            }
        }
        for mut rf in ledger::open_refunds(self.conn)? {
            rep.looked_at += 1;
            rf.tries = 0;
            let a = ledger::must_attempt(self.conn, &rf.merchant_trans_id)?;
            let done = self.drive_refund(rf, &a)?;
            if matches!(done.state, RefundState::Success | RefundState::Failed) {
                rep.resolved += 1;
            } else {
                rep.still_open.push(done.merchant_refund_id);
            }
        }
        Ok(rep)
    }
}
