//! Binds every success (S) answer to the request it answers (issue 15): the echoed merchantTransId /
//! paymentRequestId, the refund id, the amount and the currency. A signature proves the answer came
//! from Alipay, not that it is about this payment: a signed S for another id or amount is turned into
//! [`CallError::Mismatch`], which the flow treats exactly like a bad signature (unknown → query, never
//! a state from that answer, an alert). F and U answers decide nothing final, so they pass unchanged.
//!
//! Rules (docs/payment.md): pay and payQuery must name the payment (merchantTransId, or for a query
//! the Alipay id already known); a refund must name the refund or the refunded payment; cancel, whose
//! answer fields are not documented, is checked on what it names. Money fields are checked where the
//! answer carries them: `orderAmount` / `refundAmount` must be the request's; `payAmount` in the
//! order's currency must be the order's amount (in another currency it is the customer's FX amount).

use super::core::{Amount, CallError, CallStatus, Echo, Reply};

/// What a request was about.
pub struct Expected<'a> {
    pub function: &'a str,
    pub merchant_trans_id: &'a str,
    /// Alipay's id of the payment when already known.
    pub alipay_id: Option<&'a str>,
    pub amount: Option<Amount>,
    /// For refunds.
    pub merchant_refund_id: Option<&'a str>,
    pub refund_amount: Option<Amount>,
    /// The answer must name the payment (pay, payQuery) or the refund (refund).
    pub must_name: bool,
}

/// `Ok(reply)` unless it is an S that is not about `e`.
pub fn check(e: &Expected, r: Result<Reply, CallError>) -> Result<Reply, CallError> {
    let reply = r?;
    if reply.status != CallStatus::Success {
        return Ok(reply);
    }
    match mismatch(e, &reply.echo, reply.alipay_id.as_deref()) {
        None => Ok(reply),
        Some(detail) => {
            Err(CallError::Mismatch { function: e.function.to_string(), req_msg_id: reply.req_msg_id, detail })
        }
    }
}

fn mismatch(e: &Expected, echo: &Echo, alipay_id: Option<&str>) -> Option<String> {
    let id = e.merchant_trans_id;
    if let Some(got) = &echo.merchant_trans_id {
        if got != id {
            return Some(format!("it is for merchantTransId '{got}', the request was for '{id}'"));
        }
    }
    if let (Some(known), Some(got)) = (e.alipay_id, alipay_id) {
        if known != got {
            return Some(format!("it names Alipay id '{got}', payment {id} is '{known}'"));
        }
    }
    if let Some(rid) = e.merchant_refund_id {
        if let Some(got) = &echo.merchant_refund_id {
            if got != rid {
                return Some(format!("it is for merchantRefundId '{got}', the request was for '{rid}'"));
            }
        }
        let named = echo.merchant_refund_id.is_some() || e.alipay_id.is_some() && alipay_id.is_some();
        if e.must_name && !named {
            return Some("it names neither the refund nor the refunded payment".into());
        }
    } else if e.must_name {
        let by_alipay_id = e.alipay_id.is_some() && alipay_id.is_some();
        if echo.merchant_trans_id.is_none() && !by_alipay_id {
            return Some("it does not name the payment (no merchantTransId)".into());
        }
    }
    if let Some(want) = e.amount {
        if let Some(got) = &echo.order_amount {
            if !got.is(&want) {
                return Some(format!("orderAmount is {got}, the order is {want}"));
            }
        }
        if let Some(got) = &echo.pay_amount {
            if got.currency == want.currency.as_str() && !got.is(&want) {
                return Some(format!("payAmount is {got}, the order is {want}"));
            }
        }
    }
    if let (Some(want), Some(got)) = (e.refund_amount, &echo.refund_amount) {
        if !got.is(&want) {
            return Some(format!("refundAmount is {got}, the refund is {want}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;
    use crate::payment::core::Money;

    fn hkd(minor: i64) -> Amount {
        Amount { minor, currency: Currency::parse("HKD").unwrap() }
    }
    fn money(cur: &str, v: &str) -> Option<Money> {
        Some(Money { currency: cur.into(), value: v.into() })
    }
    fn s(echo: Echo, alipay_id: Option<&str>) -> Result<Reply, CallError> {
        Ok(Reply {
            status: CallStatus::Success,
            code: "SUCCESS".into(),
            message: String::new(),
            alipay_id: alipay_id.map(str::to_string),
            refund_alipay_id: None,
            paid_at: None,
            refunded_at: None,
            trade: None,
            req_msg_id: "m1".into(),
            echo,
        })
    }
    fn pay() -> Expected<'static> {
        Expected {
            function: "pay",
            merchant_trans_id: "P1",
            alipay_id: None,
            amount: Some(hkd(5600)),
            merchant_refund_id: None,
            refund_amount: None,
            must_name: true,
        }
    }

    #[test]
    fn a_signed_success_about_another_payment_or_amount_is_a_mismatch() {
        let ok = Echo { merchant_trans_id: Some("P1".into()), order_amount: money("HKD", "5600"), ..Echo::default() };
        assert!(check(&pay(), s(ok.clone(), Some("A1"))).is_ok());
        let other = Echo { merchant_trans_id: Some("P2".into()), ..ok.clone() };
        let e = check(&pay(), s(other, Some("A9"))).unwrap_err();
        assert!(e.is_unverified() && e.to_string().contains("'P2'") && e.to_string().contains("m1"), "{e}");
        let cheap = Echo { pay_amount: money("HKD", "1"), ..ok.clone() };
        assert!(check(&pay(), s(cheap, Some("A1"))).unwrap_err().to_string().contains("payAmount"));
        // The customer's amount in another currency is FX, not a mismatch.
        let fx = Echo { pay_amount: money("CNY", "5100"), ..ok.clone() };
        assert!(check(&pay(), s(fx, Some("A1"))).is_ok());
        let usd = Echo { order_amount: money("USD", "5600"), ..ok.clone() };
        assert!(check(&pay(), s(usd, Some("A1"))).is_err());
        // An S that names no payment at all cannot be bound.
        assert!(check(&pay(), s(Echo::default(), Some("A1"))).is_err());
        // F and U decide nothing final: unchanged.
        let mut f = s(Echo::default(), None).unwrap();
        f.status = CallStatus::Failure;
        assert!(check(&pay(), Ok(f)).is_ok());
    }

    #[test]
    fn refunds_are_bound_by_refund_id_payment_and_amount() {
        let e = Expected {
            function: "refund",
            merchant_trans_id: "P1",
            alipay_id: Some("A1"),
            amount: None,
            merchant_refund_id: Some("R1"),
            refund_amount: Some(hkd(600)),
            must_name: true,
        };
        let ok = Echo { merchant_refund_id: Some("R1".into()), refund_amount: money("HKD", "600"), ..Echo::default() };
        assert!(check(&e, s(ok.clone(), Some("A1"))).is_ok());
        assert!(check(&e, s(Echo { merchant_refund_id: Some("R2".into()), ..ok.clone() }, Some("A1"))).is_err());
        assert!(check(&e, s(ok.clone(), Some("A2"))).is_err(), "another payment's refund");
        assert!(check(&e, s(Echo { refund_amount: money("HKD", "6000"), ..ok }, Some("A1"))).is_err());
    }
}
