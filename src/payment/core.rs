//! The protocol-neutral core of the payment module: what a payment or refund is (merchant order id,
//! Alipay id, refund id, amount in minor units + currency), what one call answered (S/F/U + result
//! code), and the [`Gateway`] trait a protocol implements. `alipay.intl` is the implementation today
//! ([`super::client::IntlClient`]); Antom/AMS (paymentRequestId/paymentId) can be another one without
//! touching the ledger or the state machine.

use crate::domain::Currency;
use chrono::{DateTime, FixedOffset};
use std::fmt;

/// An amount in integer minor units of its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    pub minor: i64,
    pub currency: Currency,
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", crate::domain::format_minor(self.minor, self.currency), self.currency)
    }
}

/// A barcode payment to send.
#[derive(Debug, Clone)]
pub struct PayOrder {
    pub merchant_trans_id: String,
    /// The scanned customer code (a one-time code; never logged in full).
    pub identity_code: String,
    pub amount: Amount,
    pub title: String,
}

/// A refund to send (also the void of a paid payment after the cancel window).
#[derive(Debug, Clone)]
pub struct RefundOrder {
    pub merchant_refund_id: String,
    pub merchant_trans_id: String,
    /// Alipay's id of the refunded payment (required by `alipay.intl` refund).
    pub alipay_id: String,
    pub amount: Amount,
    pub reason: Option<String>,
}

/// resultStatus: S, F or U.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Success,
    Failure,
    Unknown,
}

impl CallStatus {
    pub fn parse(s: &str) -> Option<CallStatus> {
        match s {
            "S" => Some(CallStatus::Success),
            "F" => Some(CallStatus::Failure),
            "U" => Some(CallStatus::Unknown),
            _ => None,
        }
    }
    pub fn letter(&self) -> &'static str {
        match self {
            CallStatus::Success => "S",
            CallStatus::Failure => "F",
            CallStatus::Unknown => "U",
        }
    }
}

/// The state of the transaction itself, as a query reports it (distinct from whether the query worked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeState {
    Paid,
    /// Waiting for the customer (PAYMENT_IN_PROCESS).
    Processing,
    /// Closed unpaid or failed.
    Closed,
    /// Voided by a cancel.
    Cancelled,
}

impl TradeState {
    /// Reads the [U] transaction-status field: AMS, MAPI and plain spellings are all accepted.
    pub fn parse(s: &str) -> Option<TradeState> {
        match s.trim().to_ascii_uppercase().as_str() {
            "SUCCESS" | "TRADE_SUCCESS" | "PAID" | "TRADE_FINISHED" => Some(TradeState::Paid),
            "PROCESSING" | "WAIT_BUYER_PAY" | "INIT" | "PAYMENT_IN_PROCESS" => Some(TradeState::Processing),
            "FAIL" | "FAILED" | "TRADE_CLOSED" | "CLOSED" => Some(TradeState::Closed),
            "CANCELLED" | "CANCELED" | "TRADE_CANCELLED" => Some(TradeState::Cancelled),
            _ => None,
        }
    }
}

/// What one verified call answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: CallStatus,
    /// resultCode (`SUCCESS`, `ORDER_NOT_EXIST`, …).
    pub code: String,
    pub message: String,
    /// Alipay's id of the payment (acquirementId / paymentId).
    pub alipay_id: Option<String>,
    /// Alipay's id of a refund.
    pub refund_alipay_id: Option<String>,
    pub paid_at: Option<DateTime<FixedOffset>>,
    /// For refunds: when Alipay made it (refundTime).
    pub refunded_at: Option<DateTime<FixedOffset>>,
    /// For queries: the transaction's own state.
    pub trade: Option<TradeState>,
    /// The HTTP call's reqMsgId (unique per call), for support tickets.
    pub req_msg_id: String,
    /// What the answer says it is about, to bind it to the request ([`super::bind`]): the echoed
    /// merchantTransId (or AMS paymentRequestId), merchantRefundId (or refundRequestId), and the
    /// money fields as sent (`orderAmount`, `payAmount`, `refundAmount`).
    pub echo: Echo,
}

/// The identifying fields of an answer, as Alipay wrote them (not parsed into [`Amount`], so a
/// malformed value is a mismatch rather than a silently dropped field).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Echo {
    pub merchant_trans_id: Option<String>,
    pub merchant_refund_id: Option<String>,
    pub order_amount: Option<Money>,
    pub pay_amount: Option<Money>,
    pub refund_amount: Option<Money>,
}

/// `{"currency": …, "value": …}` as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub currency: String,
    pub value: String,
}

impl Money {
    /// Whether it is exactly `a` (same currency, same integer minor units).
    pub fn is(&self, a: &Amount) -> bool {
        self.currency == a.currency.as_str() && self.value.trim().parse::<i64>().ok() == Some(a.minor)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} minor units {}", self.value, self.currency)
    }
}

/// A call whose outcome is unknown: it may or may not have reached Alipay. The flow treats every
/// variant as U; the message keeps URL, HTTP status, reqMsgId and a truncated body, never key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("{url} (reqMsgId {req_msg_id}): no answer in time ({detail}): the outcome is unknown and will be queried")]
    Timeout { url: String, req_msg_id: String, detail: String },
    #[error("{url} (reqMsgId {req_msg_id}): {detail}: check the network and `api_base_url`; the outcome is unknown and will be queried")]
    Transport { url: String, req_msg_id: String, detail: String },
    #[error("{url} (reqMsgId {req_msg_id}): HTTP {status}, body: {body}")]
    Http { url: String, req_msg_id: String, status: u16, body: String },
    #[error("{url} (reqMsgId {req_msg_id}): response signature check failed ({reason}); treated as unknown. If it repeats, check `alipay_public_key_file` of the active environment. Body: {body}")]
    BadSignature { url: String, req_msg_id: String, reason: String, body: String },
    /// A correctly signed S that is not about this request (another id, amount or currency): treated
    /// exactly like a bad signature — unknown, queried, never a state of its own.
    #[error("{function} (reqMsgId {req_msg_id}): a signed success that does not match the request ({detail}); treated as unknown and queried. Report it to Alipay support with the reqMsgId")]
    Mismatch { function: String, req_msg_id: String, detail: String },
    #[error("{url} (reqMsgId {req_msg_id}): unreadable answer ({reason}), body: {body}")]
    Malformed { url: String, req_msg_id: String, reason: String, body: String },
}

impl CallError {
    /// A failed verification (bad signature or an answer not bound to the request): it deserves an
    /// alert, not only a retry.
    pub fn is_unverified(&self) -> bool {
        matches!(self, CallError::BadSignature { .. } | CallError::Mismatch { .. })
    }

    pub fn req_msg_id(&self) -> &str {
        match self {
            CallError::Timeout { req_msg_id, .. }
            | CallError::Transport { req_msg_id, .. }
            | CallError::Http { req_msg_id, .. }
            | CallError::BadSignature { req_msg_id, .. }
            | CallError::Mismatch { req_msg_id, .. }
            | CallError::Malformed { req_msg_id, .. } => req_msg_id,
        }
    }
}

/// Keeps the first `max` characters of a body for an error message.
pub fn truncate(body: &str, max: usize) -> String {
    let mut out: String = body.chars().take(max).collect();
    if body.chars().count() > max {
        out.push_str("…(truncated)");
    }
    out
}

/// One payment protocol. Every method is idempotent on the merchant's ids, so the flow may repeat it.
pub trait Gateway {
    fn pay(&self, order: &PayOrder) -> Result<Reply, CallError>;
    fn query(&self, merchant_trans_id: &str) -> Result<Reply, CallError>;
    fn cancel(&self, merchant_trans_id: &str) -> Result<Reply, CallError>;
    fn refund(&self, order: &RefundOrder) -> Result<Reply, CallError>;
}

/// Generates merchant ids: `<prefix>-<yyyymmddHHMMSS>-<8 random hex>` (≤ 64 chars, `[A-Za-z0-9_-]`).
pub fn new_id(prefix: &str, kind: &str, now: DateTime<FixedOffset>) -> String {
    let rnd = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{kind}-{}-{}", now.format("%Y%m%d%H%M%S"), &rnd[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_and_unique() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T10:00:00+08:00").unwrap();
        let a = new_id("POS", "P", now);
        let b = new_id("POS", "P", now);
        assert_ne!(a, b);
        assert!(a.starts_with("POSP-20261126100000-"), "{a}");
        assert!(a.len() <= 64 && a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn trade_states() {
        assert_eq!(TradeState::parse("TRADE_SUCCESS"), Some(TradeState::Paid));
        assert_eq!(TradeState::parse("processing"), Some(TradeState::Processing));
        assert_eq!(TradeState::parse("TRADE_CLOSED"), Some(TradeState::Closed));
        assert_eq!(TradeState::parse("CANCELLED"), Some(TradeState::Cancelled));
        assert_eq!(TradeState::parse("??"), None);
        assert_eq!(truncate("abcdef", 3), "abc…(truncated)");
    }
}
