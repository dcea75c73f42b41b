//! The simulated Alipay behind the sandbox server: its own SQLite state (`sandbox.db` in the state
//! folder) and the business rules of pay, payQuery, payCancel and refund — idempotency on the
//! merchant's ids, the cancel window (same Beijing day + 15 min), auto-close of unconfirmed orders
//! after 3 minutes, and the magic-code scenarios of [`super::scenario`].

use super::scenario::{self, Scenario};
use crate::domain::{format_minor, Currency};
use anyhow::Result;
use chrono::{DateTime, Duration, FixedOffset, NaiveTime};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS txns (
    merchant_id TEXT NOT NULL, merchant_trans_id TEXT NOT NULL, acquirement_id TEXT NOT NULL UNIQUE,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, title TEXT NOT NULL, scenario TEXT NOT NULL,
    status TEXT NOT NULL,            -- PROCESSING | PAID | FAILED | CLOSED | CANCELLED
    fail_code TEXT, was_paid INTEGER NOT NULL DEFAULT 0, queries INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, paid_at TEXT, cancelled_at TEXT,
    PRIMARY KEY (merchant_id, merchant_trans_id));
CREATE TABLE IF NOT EXISTS refunds (
    merchant_id TEXT NOT NULL, merchant_refund_id TEXT NOT NULL, acquirement_id TEXT NOT NULL,
    refund_acquirement_id TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL,
    status TEXT NOT NULL, calls INTEGER NOT NULL DEFAULT 0, refunded_at TEXT,
    PRIMARY KEY (merchant_id, merchant_refund_id));
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, function TEXT NOT NULL, merchant_id TEXT,
    merchant_trans_id TEXT, merchant_refund_id TEXT, req_msg_id TEXT, result_code TEXT);
";

/// What the server should send back.
#[derive(Debug, Clone)]
pub struct Answer {
    pub body: Value,
    /// Answer only after the sandbox's slow delay (the client is meant to time out).
    pub slow: bool,
    /// Break the signature of this answer.
    pub tamper: bool,
}

fn info(status: &str, code: &str, msg: &str) -> Value {
    json!({"resultStatus": status, "resultCode": code, "resultCodeId": if code == "SUCCESS" { "00000000" } else { "99999999" }, "resultMsg": msg})
}

fn answer(status: &str, code: &str, msg: &str) -> Answer {
    Answer { body: json!({"resultInfo": info(status, code, msg)}), slow: false, tamper: false }
}

fn money(minor: i64, cur: &str) -> Value {
    json!({"currency": cur, "value": minor.to_string()})
}

#[derive(Debug, Clone)]
struct Txn {
    merchant_trans_id: String,
    acquirement_id: String,
    amount: i64,
    currency: String,
    scenario: Scenario,
    status: String,
    fail_code: Option<String>,
    queries: u32,
    created_at: DateTime<FixedOffset>,
    paid_at: Option<DateTime<FixedOffset>>,
}

fn parse_t(s: String) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(&s).expect("sandbox writes RFC 3339")
}

fn load(conn: &Connection, mid: &str, id: &str) -> Result<Option<Txn>> {
    Ok(conn
        .query_row(
            "SELECT merchant_trans_id, acquirement_id, amount, currency, scenario, status, fail_code, queries, created_at, paid_at
             FROM txns WHERE merchant_id=?1 AND (merchant_trans_id=?2 OR acquirement_id=?2)",
            params![mid, id],
            |r| {
                Ok(Txn {
                    merchant_trans_id: r.get(0)?,
                    acquirement_id: r.get(1)?,
                    amount: r.get(2)?,
                    currency: r.get(3)?,
                    scenario: scenario::of_suffix(&r.get::<_, String>(4)?),
                    status: r.get(5)?,
                    fail_code: r.get(6)?,
                    queries: r.get(7)?,
                    created_at: parse_t(r.get(8)?),
                    paid_at: r.get::<_, Option<String>>(9)?.map(parse_t),
                })
            },
        )
        .optional()?)
}

fn set_status(conn: &Connection, mid: &str, t: &Txn) -> Result<()> {
    conn.execute(
        "UPDATE txns SET status=?3, queries=?4, paid_at=?5, was_paid = (was_paid OR ?3 = 'PAID') WHERE merchant_id=?1 AND merchant_trans_id=?2",
        params![mid, t.merchant_trans_id, t.status, t.queries, t.paid_at.map(|p| p.to_rfc3339())],
    )?;
    Ok(())
}

/// End of the cancel window of an order: its Beijing day's end + 15 minutes.
pub fn cancel_window_end(t: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    let bj = t.with_timezone(&FixedOffset::east_opt(8 * 3600).expect("offset"));
    let next = bj.date_naive().succ_opt().expect("date").and_time(NaiveTime::MIN);
    next.and_local_timezone(*bj.offset()).single().expect("fixed") + Duration::minutes(15)
}

fn pay_fields(t: &Txn) -> Value {
    let mut v = json!({
        "acquirementId": t.acquirement_id,
        "merchantTransId": t.merchant_trans_id,
        "orderAmount": money(t.amount, &t.currency),
    });
    if let Some(p) = t.paid_at {
        v["payAmount"] = money(t.amount, &t.currency);
        v["paymentTime"] = json!(p.to_rfc3339());
    }
    v
}

fn with_info(mut v: Value, status: &str, code: &str, msg: &str) -> Answer {
    v["resultInfo"] = info(status, code, msg);
    Answer { body: v, slow: false, tamper: false }
}

/// Brings time-driven changes up to date: unconfirmed orders close after 3 minutes.
fn age(t: &mut Txn, now: DateTime<FixedOffset>) {
    if t.status == "PROCESSING" && now - t.created_at > Duration::minutes(3) {
        t.status = "CLOSED".into();
    }
}

fn new_acq_id(now: DateTime<FixedOffset>) -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 10_000_000_000_000_000;
    format!("{}11{n:016}", now.format("%Y%m%d"))
}

pub fn pay(conn: &Connection, body: &Value, now: DateTime<FixedOffset>) -> Result<Answer> {
    let mid = body["merchantId"].as_str().unwrap_or_default();
    let id = body["merchantTransId"].as_str().unwrap_or_default();
    let code = body["identityCode"].as_str().unwrap_or_default();
    let amt = &body["order"]["orderAmount"];
    let (Some(cur), Some(minor)) =
        (amt["currency"].as_str(), amt["value"].as_str().and_then(|v| v.parse::<i64>().ok()))
    else {
        return Ok(answer(
            "F",
            "PARAM_ILLEGAL",
            "order.orderAmount must be {currency, value} with an integer value in minor units",
        ));
    };
    if mid.is_empty() || id.is_empty() || id.len() > 64 || Currency::parse(cur).is_err() || minor <= 0 {
        return Ok(answer(
            "F",
            "PARAM_ILLEGAL",
            "merchantId, merchantTransId (≤64), a currency and a positive amount are required",
        ));
    }
    if let Some(mut t) = load(conn, mid, id)? {
        // A cancel of an id never seen left a tombstone: a late pay with that id is refused.
        if t.amount == 0 {
            return Ok(answer("F", "ORDER_IS_CLOSED", "this merchantTransId was cancelled"));
        }
        // Idempotency: a repeat gets the real status, or an error if the order differs.
        if t.amount != minor || t.currency != cur {
            return Ok(answer(
                "F",
                "REPEAT_REQ_INCONSISTENT",
                "merchantTransId reused with a different amount or currency",
            ));
        }
        age(&mut t, now);
        set_status(conn, mid, &t)?;
        return Ok(match t.status.as_str() {
            "PAID" => with_info(pay_fields(&t), "S", "SUCCESS", "Success"),
            "PROCESSING" => with_info(pay_fields(&t), "U", "PAYMENT_IN_PROCESS", "waiting for the customer"),
            "FAILED" => answer("F", t.fail_code.as_deref().unwrap_or("PROCESS_FAIL"), "failed before"),
            _ => answer("F", "ORDER_IS_CLOSED", "the order is closed or cancelled"),
        });
    }
    let sc = scenario::of(code);
    if sc == Scenario::Lost {
        let mut a = answer("U", "UNKNOWN_EXCEPTION", "the request never arrived");
        a.slow = true;
        return Ok(a);
    }
    let title = body["order"]["orderTitle"].as_str().unwrap_or_default();
    let paid_now = matches!(
        sc,
        Scenario::Success
            | Scenario::UnknownButPaid
            | Scenario::Slow
            | Scenario::Race
            | Scenario::Tampered
            | Scenario::ForeignAnswer
            | Scenario::WrongPayAmount
            | Scenario::ForeignRefund
            | Scenario::WrongCurrency
            | Scenario::RefundFlaky
    );
    let (status, fail_code, paid_at) = match sc {
        Scenario::Refuse(c) => ("FAILED", Some(c), None),
        // Two days back: past the window even just after midnight (one day back is not, until 00:15).
        Scenario::PastWindow => ("PAID", None, Some(now - Duration::days(2))),
        _ if paid_now => ("PAID", None, Some(now)),
        _ => ("PROCESSING", None, None),
    };
    let t = Txn {
        merchant_trans_id: id.into(),
        acquirement_id: new_acq_id(now),
        amount: minor,
        currency: cur.into(),
        scenario: sc,
        status: status.into(),
        fail_code: fail_code.map(str::to_string),
        queries: 0,
        created_at: paid_at.unwrap_or(now),
        paid_at,
    };
    conn.execute(
        "INSERT INTO txns (merchant_id, merchant_trans_id, acquirement_id, amount, currency, title, scenario, status, fail_code, was_paid, created_at, paid_at)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
        params![
            mid, t.merchant_trans_id, t.acquirement_id, minor, cur, title, &code[code.len().saturating_sub(3)..],
            t.status, t.fail_code, t.paid_at.is_some(), t.created_at.to_rfc3339(), t.paid_at.map(|p| p.to_rfc3339())
        ],
    )?;
    Ok(match sc {
        Scenario::Refuse(c) => answer("F", c, "refused (sandbox magic code)"),
        Scenario::ConfirmLater | Scenario::NeverConfirm | Scenario::Declined => {
            with_info(pay_fields(&t), "U", "PAYMENT_IN_PROCESS", "waiting for the customer to confirm")
        }
        Scenario::UnknownButPaid | Scenario::CancelStuck | Scenario::PastWindow => {
            answer("U", "UNKNOWN_EXCEPTION", "unknown exception (sandbox magic code)")
        }
        Scenario::Slow | Scenario::Race => {
            Answer { slow: true, ..with_info(pay_fields(&t), "S", "SUCCESS", "Success") }
        }
        Scenario::Tampered => Answer { tamper: true, ..with_info(pay_fields(&t), "S", "SUCCESS", "Success") },
        Scenario::ForeignAnswer => {
            let mut v = pay_fields(&t);
            v["merchantTransId"] = json!(format!("{id}-OTHER"));
            v["acquirementId"] = json!(new_acq_id(now));
            with_info(v, "S", "SUCCESS", "Success")
        }
        Scenario::WrongPayAmount => {
            let mut v = pay_fields(&t);
            v["payAmount"] = money(1, cur);
            with_info(v, "S", "SUCCESS", "Success")
        }
        Scenario::WrongCurrency => {
            let mut v = pay_fields(&t);
            v["orderAmount"] = money(minor, if cur == "USD" { "HKD" } else { "USD" });
            with_info(v, "S", "SUCCESS", "Success")
        }
        _ => with_info(pay_fields(&t), "S", "SUCCESS", "Success"),
    })
}

pub fn query(conn: &Connection, body: &Value, now: DateTime<FixedOffset>) -> Result<Answer> {
    let mid = body["merchantId"].as_str().unwrap_or_default();
    let id = body["acquirementId"].as_str().or(body["merchantTransId"].as_str()).unwrap_or_default();
    let Some(mut t) = load(conn, mid, id)? else { return Ok(answer("F", "ORDER_NOT_EXIST", "no such transaction")) };
    t.queries += 1;
    if t.queries <= scenario::hidden_queries(t.scenario) {
        set_status(conn, mid, &t)?;
        return Ok(answer("F", "ORDER_NOT_EXIST", "no such transaction (yet)"));
    }
    if t.scenario == Scenario::ConfirmLater && t.status == "PROCESSING" && t.queries >= 2 {
        t.status = "PAID".into();
        t.paid_at = Some(now);
    }
    if t.scenario == Scenario::Declined && t.status == "PROCESSING" {
        t.status = "CLOSED".into();
    }
    age(&mut t, now);
    set_status(conn, mid, &t)?;
    let trans_status = match t.status.as_str() {
        "PAID" => "SUCCESS",
        "PROCESSING" => "PROCESSING",
        "CANCELLED" => "CANCELLED",
        _ => "CLOSED",
    };
    let mut v = pay_fields(&t);
    v["transStatus"] = json!(trans_status);
    Ok(with_info(v, "S", "SUCCESS", "Success"))
}

pub fn cancel(conn: &Connection, body: &Value, now: DateTime<FixedOffset>) -> Result<Answer> {
    let mid = body["merchantId"].as_str().unwrap_or_default();
    let id = body["acquirementId"].as_str().or(body["merchantTransId"].as_str()).unwrap_or_default();
    let Some(mut t) = load(conn, mid, id)? else {
        // "As if it never happened": remember the id so a late pay with it is refused.
        conn.execute(
            "INSERT INTO txns (merchant_id, merchant_trans_id, acquirement_id, amount, currency, title, scenario, status, created_at, cancelled_at)
             VALUES (?1, ?2, ?3, 0, 'XXX', '', '', 'CANCELLED', ?4, ?4)",
            params![mid, id, new_acq_id(now), now.to_rfc3339()],
        )?;
        return Ok(with_info(json!({"merchantTransId": id}), "S", "SUCCESS", "Success"));
    };
    if t.scenario == Scenario::CancelStuck {
        return Ok(answer("U", "UNKNOWN_EXCEPTION", "cancel result unknown (sandbox magic code)"));
    }
    if now > cancel_window_end(t.paid_at.unwrap_or(t.created_at)) {
        return Ok(answer("F", "CANCEL_WINDOW_EXCEED", "past the cancel window: refund instead"));
    }
    if t.status != "CANCELLED" {
        age(&mut t, now);
        t.status = "CANCELLED".into();
        set_status(conn, mid, &t)?;
        conn.execute(
            "UPDATE txns SET cancelled_at=?3 WHERE merchant_id=?1 AND merchant_trans_id=?2",
            params![mid, t.merchant_trans_id, now.to_rfc3339()],
        )?;
    }
    Ok(with_info(
        json!({"acquirementId": t.acquirement_id, "merchantTransId": t.merchant_trans_id}),
        "S",
        "SUCCESS",
        "Success",
    ))
}

pub fn refund(conn: &Connection, body: &Value, now: DateTime<FixedOffset>) -> Result<Answer> {
    let mid = body["merchantId"].as_str().unwrap_or_default();
    let acq = body["acquirementId"].as_str().unwrap_or_default();
    let rid = body["merchantRefundId"].as_str().unwrap_or_default();
    let amt = &body["refundAmount"];
    let (Some(cur), Some(minor)) =
        (amt["currency"].as_str(), amt["value"].as_str().and_then(|v| v.parse::<i64>().ok()))
    else {
        return Ok(answer("F", "PARAM_ILLEGAL", "refundAmount must be {currency, value}"));
    };
    if rid.is_empty() || acq.is_empty() || minor <= 0 {
        return Ok(answer(
            "F",
            "PARAM_ILLEGAL",
            "acquirementId, merchantRefundId and a positive refundAmount are required",
        ));
    }
    let Some(t) = load(conn, mid, acq)? else { return Ok(answer("F", "ORDER_NOT_EXIST", "no such payment")) };
    let existing: Option<(String, i64, String, String, i64, Option<String>)> = conn
        .query_row(
            "SELECT acquirement_id, amount, status, refund_acquirement_id, calls, refunded_at FROM refunds WHERE merchant_id=?1 AND merchant_refund_id=?2",
            params![mid, rid],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
    let ok = |refund_acq: &str, at: &str| {
        with_info(
            json!({"acquirementId": t.acquirement_id, "merchantRefundId": rid, "refundAcquirementId": refund_acq,
                   "refundAmount": money(minor, cur), "refundTime": at}),
            "S",
            "SUCCESS",
            "Success",
        )
    };
    if let Some((e_acq, e_amount, status, refund_acq, calls, at)) = existing {
        if e_acq != t.acquirement_id || e_amount != minor {
            return Ok(answer(
                "F",
                "REPEAT_REQ_INCONSISTENT",
                "merchantRefundId reused with a different payment or amount",
            ));
        }
        conn.execute(
            "UPDATE refunds SET calls = calls + 1 WHERE merchant_id=?1 AND merchant_refund_id=?2",
            params![mid, rid],
        )?;
        if status == "SUCCESS" {
            return Ok(ok(&refund_acq, at.as_deref().unwrap_or_default()));
        }
        if t.scenario == Scenario::RefundFlaky && calls + 1 < 3 {
            return Ok(answer("U", "UNKNOWN_EXCEPTION", "refund result unknown (sandbox magic code)"));
        }
        conn.execute(
            "UPDATE refunds SET status='SUCCESS', refunded_at=?3 WHERE merchant_id=?1 AND merchant_refund_id=?2",
            params![mid, rid, now.to_rfc3339()],
        )?;
        return Ok(ok(&refund_acq, &now.to_rfc3339()));
    }
    if t.status != "PAID" {
        return Ok(answer("F", "ORDER_IS_CLOSED", "only a paid payment can be refunded"));
    }
    if cur != t.currency {
        return Ok(answer("F", "PARAM_ILLEGAL", "refundAmount must be in the order currency"));
    }
    let done: i64 = conn.query_row(
        "SELECT COALESCE(SUM(amount),0) FROM refunds WHERE merchant_id=?1 AND acquirement_id=?2",
        params![mid, t.acquirement_id],
        |r| r.get(0),
    )?;
    if done + minor > t.amount {
        return Ok(answer("F", "REFUND_AMOUNT_EXCEED", "the refunds would exceed the payment"));
    }
    let flaky = t.scenario == Scenario::RefundFlaky;
    let refund_acq = new_acq_id(now);
    conn.execute(
        "INSERT INTO refunds (merchant_id, merchant_refund_id, acquirement_id, refund_acquirement_id, amount, currency, status, calls, refunded_at)
         VALUES (?1,?2,?3,?4,?5,?6,?7,1,?8)",
        params![mid, rid, t.acquirement_id, refund_acq, minor, cur, if flaky { "PENDING" } else { "SUCCESS" },
                if flaky { None } else { Some(now.to_rfc3339()) }],
    )?;
    if flaky {
        return Ok(answer("U", "UNKNOWN_EXCEPTION", "refund result unknown (sandbox magic code)"));
    }
    let mut a = ok(&refund_acq, &now.to_rfc3339());
    if t.scenario == Scenario::ForeignRefund {
        a.body["merchantRefundId"] = json!(format!("{rid}-OTHER"));
    }
    Ok(a)
}

/// Logs a call (tests count them: retries must reuse the merchant's ids).
pub fn log_call(
    conn: &Connection,
    function: &str,
    body: &Value,
    req_msg_id: &str,
    code: &str,
    now: DateTime<FixedOffset>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO calls (at, function, merchant_id, merchant_trans_id, merchant_refund_id, req_msg_id, result_code) VALUES (?1,?2,?3,?4,?5,?6,?7)",
        params![
            now.to_rfc3339(),
            function,
            body["merchantId"].as_str(),
            body["merchantTransId"].as_str().or(body["acquirementId"].as_str()),
            body["merchantRefundId"].as_str(),
            req_msg_id,
            code
        ],
    )?;
    Ok(())
}

/// Formats minor units of a currency code for the files.
pub fn major(minor: i64, cur: &str) -> String {
    Currency::parse(cur).map(|c| format_minor(minor, c)).unwrap_or_else(|_| minor.to_string())
}

/// An F answer with `code` (signature, key and API faults).
pub fn answer_for_code(code: &str, msg: &str) -> Answer {
    answer("F", code, msg)
}

/// The sandbox itself failed: U, like Alipay's UNKNOWN_EXCEPTION.
pub fn answer_for_error(msg: &str) -> Answer {
    answer("U", "UNKNOWN_EXCEPTION", msg)
}
