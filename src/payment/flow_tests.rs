//! The state machine against a scripted gateway: each call pops the next answer of its function, so
//! every branch (including ones the sandbox cannot produce) is checked without a network.

use crate::config::PaymentConfig;
use crate::payment::core::{Amount, CallError, CallStatus, Gateway, PayOrder, RefundOrder, Reply, TradeState};
use crate::payment::flow::{Flow, NewPayment};
use crate::payment::ledger::{self, PayState, RefundState};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;

type Answer = Result<Reply, CallError>;

#[derive(Default)]
struct Script {
    pay: RefCell<VecDeque<Answer>>,
    query: RefCell<VecDeque<Answer>>,
    cancel: RefCell<VecDeque<Answer>>,
    refund: RefCell<VecDeque<Answer>>,
    /// (function, id) of every call, in order.
    log: RefCell<Vec<(&'static str, String)>>,
}

fn reply(status: CallStatus, code: &str, trade: Option<TradeState>) -> Answer {
    Ok(Reply {
        status,
        code: code.into(),
        message: String::new(),
        alipay_id: Some("A1".into()),
        refund_alipay_id: None,
        paid_at: None,
        refunded_at: None,
        trade,
        req_msg_id: "m".into(),
        echo: Default::default(),
    })
}
fn s(code: &str) -> Answer {
    reply(CallStatus::Success, code, None)
}
fn f(code: &str) -> Answer {
    reply(CallStatus::Failure, code, None)
}
fn u() -> Answer {
    reply(CallStatus::Unknown, "UNKNOWN_EXCEPTION", None)
}
fn trade(t: TradeState) -> Answer {
    reply(CallStatus::Success, "SUCCESS", Some(t))
}
fn timeout() -> Answer {
    Err(CallError::Timeout { url: "u".into(), req_msg_id: "m".into(), detail: "t".into() })
}

impl Script {
    /// The next scripted answer; an answer naming nothing echoes the request's id (as Alipay does),
    /// so the flow's binding of answers to requests accepts it.
    fn next(&self, q: &RefCell<VecDeque<Answer>>, what: &'static str, id: &str) -> Answer {
        self.log.borrow_mut().push((what, id.to_string()));
        let mut a = q.borrow_mut().pop_front().unwrap_or_else(|| panic!("unscripted {what} call"));
        if let Ok(r) = &mut a {
            let echo = if what == "refund" { &mut r.echo.merchant_refund_id } else { &mut r.echo.merchant_trans_id };
            echo.get_or_insert_with(|| id.to_string());
        }
        a
    }
    fn count(&self, what: &str) -> usize {
        self.log.borrow().iter().filter(|(w, _)| *w == what).count()
    }
}

impl Gateway for Script {
    fn pay(&self, o: &PayOrder) -> Answer {
        self.next(&self.pay, "pay", &o.merchant_trans_id)
    }
    fn query(&self, id: &str) -> Answer {
        self.next(&self.query, "query", id)
    }
    fn cancel(&self, id: &str) -> Answer {
        self.next(&self.cancel, "cancel", id)
    }
    fn refund(&self, o: &RefundOrder) -> Answer {
        self.next(&self.refund, "refund", &o.merchant_refund_id)
    }
}

fn script(pay: Vec<Answer>, query: Vec<Answer>, cancel: Vec<Answer>, refund: Vec<Answer>) -> Script {
    Script {
        pay: RefCell::new(pay.into()),
        query: RefCell::new(query.into()),
        cancel: RefCell::new(cancel.into()),
        refund: RefCell::new(refund.into()),
        log: Default::default(),
    }
}

fn fast() -> PaymentConfig {
    PaymentConfig {
        query_interval_ms: 1,
        query_deadline_ms: 30,
        not_exist_interval_ms: 1,
        cancel_attempts: 3,
        cancel_interval_ms: 1,
        refund_attempts: 2,
        refund_interval_ms: 1,
        ..PaymentConfig::default()
    }
}

/// Runs one scan through the script; returns the final state and the script.
fn run(sc: Script, past_window: bool) -> (PayState, Script, rusqlite::Connection) {
    let conn = crate::store::open_in_memory().unwrap();
    let state = {
        let first = std::sync::atomic::AtomicBool::new(true);
        let flow = Flow {
            conn: &conn,
            gateway: &sc,
            cfg: fast(),
            zone: Default::default(),
            cancel_window_minutes: 15,
            environment: "sandbox".into(),
            merchant_id: "2188".into(),
            now: Arc::new(move || {
                let later = !first.swap(false, std::sync::atomic::Ordering::SeqCst);
                crate::payment::client::beijing_now() + chrono::Duration::days(if later && past_window { 2 } else { 0 })
            }),
            progress: Arc::new(|_| {}),
        };
        let amount = Amount { minor: 100, currency: "HKD".parse().unwrap() };
        flow.pay(&NewPayment { identity_code: "281234567890123456".into(), amount, title: "t".into() }).unwrap().state
    };
    (state, sc, conn)
}

#[test]
fn branches_of_the_state_machine() {
    use PayState::*;
    use TradeState as T;
    let cases: Vec<(&str, Script, bool, PayState, [usize; 4])> = vec![
        ("S", script(vec![s("SUCCESS")], vec![], vec![], vec![]), false, Paid, [1, 0, 0, 0]),
        ("F", script(vec![f("USER_BALANCE_NOT_ENOUGH")], vec![], vec![], vec![]), false, Failed, [1, 0, 0, 0]),
        (
            "U then paid",
            script(vec![u()], vec![trade(T::Processing), trade(T::Paid)], vec![], vec![]),
            false,
            Paid,
            [1, 2, 0, 0],
        ),
        (
            "timeout then closed",
            script(vec![timeout()], vec![timeout(), trade(T::Closed)], vec![], vec![]),
            false,
            Failed,
            [1, 2, 0, 0],
        ),
        (
            "query says cancelled",
            script(vec![u()], vec![trade(T::Cancelled)], vec![], vec![]),
            false,
            Voided,
            [1, 1, 0, 0],
        ),
        (
            "not exist x3 then cancel",
            script(
                vec![timeout()],
                vec![f("ORDER_NOT_EXIST"), f("ORDER_NOT_EXIST"), f("ORDER_NOT_EXIST")],
                vec![s("SUCCESS")],
                vec![],
            ),
            false,
            Voided,
            [1, 3, 1, 0],
        ),
        (
            "not exist then found",
            script(vec![timeout()], vec![f("ORDER_NOT_EXIST"), trade(T::Paid)], vec![], vec![]),
            false,
            Paid,
            [1, 2, 0, 0],
        ),
        (
            "cancel U until manual review",
            script(vec![u()], (0..100).map(|_| trade(T::Processing)).collect(), vec![u(), timeout(), u()], vec![]),
            false,
            ManualReview,
            [1, usize::MAX, 3, 0],
        ),
        (
            "cancel refused",
            script(vec![u()], (0..100).map(|_| u()).collect(), vec![f("PROCESS_FAIL")], vec![]),
            false,
            ManualReview,
            [1, usize::MAX, 1, 0],
        ),
        (
            "window exceeded, paid: refund",
            script(
                vec![u()],
                vec![f("ORDER_NOT_EXIST"), f("ORDER_NOT_EXIST"), f("ORDER_NOT_EXIST"), trade(T::Paid)],
                vec![f("CANCEL_WINDOW_EXCEED")],
                vec![timeout(), s("SUCCESS")],
            ),
            false,
            VoidedByRefund,
            [1, 4, 1, 2],
        ),
        (
            "past window by clock, refund refused",
            script(
                vec![u()],
                vec![f("ORDER_NOT_EXIST"), f("ORDER_NOT_EXIST"), f("ORDER_NOT_EXIST"), trade(T::Paid)],
                vec![],
                vec![f("REFUND_WINDOW_EXCEED")],
            ),
            true,
            ManualReview,
            [1, 4, 0, 1],
        ),
        (
            "past window, query unknown",
            script(
                vec![u()],
                vec![f("ORDER_NOT_EXIST"), f("ORDER_NOT_EXIST"), f("ORDER_NOT_EXIST"), u()],
                vec![],
                vec![],
            ),
            true,
            ManualReview,
            [1, 4, 0, 0],
        ),
    ];
    for (name, sc, past, want, calls) in cases {
        let (got, sc, conn) = run(sc, past);
        assert_eq!(got, want, "{name}");
        for (i, what) in ["pay", "query", "cancel", "refund"].iter().enumerate() {
            if calls[i] != usize::MAX {
                assert_eq!(sc.count(what), calls[i], "{name}: {what} calls");
            }
        }
        // Every call of a scan names the same merchantTransId; refunds reuse one merchantRefundId.
        let log = sc.log.borrow();
        let trans: std::collections::BTreeSet<_> =
            log.iter().filter(|(w, _)| *w != "refund").map(|(_, id)| id).collect();
        let refunds: std::collections::BTreeSet<_> =
            log.iter().filter(|(w, _)| *w == "refund").map(|(_, id)| id).collect();
        assert_eq!(trans.len(), 1, "{name}");
        assert!(refunds.len() <= 1, "{name}");
        if want == VoidedByRefund {
            let a = ledger::list_attempts(&conn, &[], None, None).unwrap().remove(0);
            let rf = ledger::get_refund(&conn, a.void_refund_id.as_deref().unwrap()).unwrap().unwrap();
            assert_eq!((rf.state, rf.tries, rf.amount.minor), (RefundState::Success, 2, 100), "{name}");
        }
    }
}

/// The same answer, but about another payment and refund (a correctly signed S not bound to the
/// request: issue 15).
fn foreign(a: Answer) -> Answer {
    a.map(|mut r| {
        r.echo.merchant_trans_id = Some("OTHER".into());
        r.echo.merchant_refund_id = Some("OTHER-R".into());
        r
    })
}

/// (action, refund id) of the alarms recorded for answers that failed verification.
fn alarms(conn: &rusqlite::Connection) -> Vec<(String, Option<String>)> {
    ledger::unalerted_alarms(conn).unwrap().into_iter().map(|a| (a.action, a.merchant_refund_id)).collect()
}

#[test]
fn a_success_about_another_payment_or_refund_decides_nothing_and_raises_an_alarm() {
    use PayState::*;
    use TradeState as T;
    // A paid answer of a query about another payment is not this payment's: keep querying, then cancel.
    let (got, sc, conn) =
        run(script(vec![u()], vec![foreign(trade(T::Paid)), trade(T::Cancelled)], vec![], vec![]), false);
    assert_eq!((got, sc.count("query")), (Voided, 2));
    assert_eq!(alarms(&conn), vec![("query".to_string(), None)]);
    // A foreign pay S is unknown: the query decides.
    let (got, sc, conn) = run(script(vec![foreign(s("SUCCESS"))], vec![trade(T::Closed)], vec![], vec![]), false);
    assert_eq!((got, sc.count("query")), (Failed, 1));
    assert_eq!(alarms(&conn), vec![("pay".to_string(), None)]);
    // A cancel S about another payment is not a void of this one: the cancel is sent again.
    let processing = (0..100).map(|_| trade(T::Processing)).collect();
    let (got, sc, conn) = run(script(vec![u()], processing, vec![foreign(s("SUCCESS")), s("SUCCESS")], vec![]), false);
    assert_eq!((got, sc.count("cancel")), (Voided, 2));
    assert_eq!(alarms(&conn), vec![("cancel".to_string(), None)]);
    // A refund S about another refund is not this refund's success: retried with the same id.
    let (got, sc, conn) = run(
        script(
            vec![u()],
            vec![f("ORDER_NOT_EXIST"), f("ORDER_NOT_EXIST"), f("ORDER_NOT_EXIST"), trade(T::Paid)],
            vec![f("CANCEL_WINDOW_EXCEED")],
            vec![foreign(s("SUCCESS")), s("SUCCESS")],
        ),
        false,
    );
    assert_eq!((got, sc.count("refund")), (VoidedByRefund, 2));
    let a = ledger::list_attempts(&conn, &[], None, None).unwrap().remove(0);
    let rf = ledger::get_refund(&conn, a.void_refund_id.as_deref().unwrap()).unwrap().unwrap();
    assert_eq!((rf.state, rf.tries), (RefundState::Success, 2));
    assert_eq!(alarms(&conn), vec![("refund".to_string(), Some(rf.merchant_refund_id.clone()))]);
}

#[test]
fn an_unknown_answer_about_another_payment_plants_no_alipay_id() {
    // PAYMENT_IN_PROCESS naming another payment and Alipay id A9; then the real answer (A1) decides.
    let foreign_u = foreign(u()).map(|mut r| {
        r.alipay_id = Some("A9".into());
        r
    });
    let (got, sc, conn) = run(script(vec![foreign_u], vec![trade(TradeState::Paid)], vec![], vec![]), false);
    assert_eq!((got, sc.count("query")), (PayState::Paid, 1));
    let a = ledger::list_attempts(&conn, &[], None, None).unwrap().remove(0);
    assert_eq!(a.alipay_id.as_deref(), Some("A1"));
}
