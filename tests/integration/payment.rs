//! The payment module over real HTTP against the sandbox (in-process, free loopback port), driven
//! through the real binary: every path of the state machine, a process killed mid-pay, id reuse on
//! retries, a tampered signature, and the pay → cancel → refund → files → parser loop.

use crate::harness::sandbox::{PaymentWorld, FAST, MERCHANT_ID};
use crate::harness::wait_for;
use alipay_recon::config::Config;
use alipay_recon::domain::{FileFormat, FileKind, TransType};
use alipay_recon::formats::{self, ParseContext, Rows};
use alipay_recon::payment::sandbox::scenario::code_for;
use alipay_recon::payment::{self, IntlClient};
use std::time::Duration;

fn pay(world: &PaymentWorld, suffix: &str, amount: &str) -> (crate::harness::Run, String) {
    let code = code_for(suffix);
    let r = world.w.run(&["pay", "--code", &code, "--amount", amount, "--currency", "HKD", "--title", "Lunch, 2 pax"]);
    (r, world.last_id())
}

fn events(world: &PaymentWorld, id: &str) -> Vec<(String, Option<String>, Option<String>)> {
    payment::ledger::events_of(&world.db(), id).unwrap()
}

/// The detail the ledger recorded on the `pay` event of payment `id`.
fn pay_detail(world: &PaymentWorld, id: &str) -> String {
    world
        .db()
        .query_row("SELECT detail FROM payment_events WHERE merchant_trans_id=?1 AND action='pay'", [id], |r| r.get(0))
        .unwrap()
}

#[test]
fn success_prints_receipt_and_feeds_local_records() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "000", "56.00");
    let r = r.expect_code(0);
    assert!(r.stdout.contains("PAID 56.00 HKD") && r.stdout.contains("Print the receipt"), "{}", r.stdout);
    assert_eq!(world.state(&id), "PAID");
    assert_eq!(world.sandbox.status(&id), Some(("PAID".into(), true)));
    assert_eq!(world.local_records(&id), vec![("PAYMENT".into(), id.clone(), "SUCCESS".into(), "ledger".into())]);
    // The id was in the ledger before the call: the first event is the pay itself.
    assert_eq!(events(&world, &id)[0].0, "pay");
}

#[test]
fn customer_refusals_speak_cashier_language_and_exit_2() {
    let world = PaymentWorld::fast();
    for (suffix, code, words) in [
        ("101", "USER_BALANCE_NOT_ENOUGH", "balance is not enough"),
        ("103", "EXPIRED_CODE", "refresh the code"),
        ("104", "RISK_REJECT", "another payment method"),
    ] {
        let (r, id) = pay(&world, suffix, "10.00");
        let r = r.expect_code(2);
        assert!(r.stdout.contains("NOT PAID") && r.stdout.contains(words), "{suffix}: {}", r.stdout);
        assert!(r.stderr.contains(code), "{suffix}: {}", r.stderr);
        assert_eq!(world.state(&id), "FAILED");
        assert_eq!(world.local_records(&id)[0].2, "FAILED");
    }
    // A code that is not an Alipay user code at all.
    let r = world.w.run(&["pay", "--code", "12345", "--amount", "1.00", "--currency", "HKD"]).expect_code(2);
    assert!(r.stderr.contains("INVALID_CODE"), "{}", r.stderr);
}

#[test]
fn bad_amounts_are_refused_before_any_call() {
    let world = PaymentWorld::fast();
    for (amount, cur, words) in [
        ("-1.00", "HKD", "without a sign"),
        ("1.005", "HKD", "decimals"),
        ("0", "HKD", "above 0"),
        ("1", "HK", "currency"),
    ] {
        let r = world.w.run(&["pay", "--code", &code_for("000"), "--amount", amount, "--currency", cur]).expect_code(2);
        assert!(r.stderr.contains(words), "{amount} {cur}: {}", r.stderr);
    }
}

#[test]
fn in_process_then_confirmed_by_the_customer() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "201", "12.30");
    let r = r.expect_code(0);
    assert!(r.stdout.contains("confirm the payment on their phone"), "{}", r.stdout);
    assert_eq!(world.state(&id), "PAID");
    assert_eq!(world.sandbox.calls("payQuery", &id), 2);
}

#[test]
fn never_confirmed_is_cancelled_at_the_deadline() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "202", "5.00");
    let r = r.expect_code(2);
    assert!(r.stdout.contains("was cancelled"), "{}", r.stdout);
    assert_eq!(world.state(&id), "VOIDED");
    assert_eq!(world.sandbox.status(&id), Some(("CANCELLED".into(), false)));
    assert!(world.sandbox.calls("payQuery", &id) >= 2, "polled until the deadline");
    assert_eq!(world.local_records(&id)[0].2, "CANCELLED");
}

#[test]
fn declined_in_the_app_is_failed_by_the_query() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "203", "7.00");
    let r = r.expect_code(2);
    assert!(r.stdout.contains("NOT PAID"), "{}", r.stdout);
    assert_eq!(world.state(&id), "FAILED");
    assert_eq!(world.sandbox.calls("payCancel", &id), 0, "a closed order needs no cancel");
    assert_eq!(world.local_records(&id)[0].2, "FAILED");
}

#[test]
fn past_the_window_an_order_alipay_never_saw_is_failed_without_cancel() {
    let world = PaymentWorld::fast();
    let cfg = Config::load(&world.w.file("alipay-recon.toml"), &[]).unwrap();
    let client = IntlClient::from_config(&cfg).unwrap();
    let conn = alipay_recon::store::open(&world.w.file("data/recon.db")).unwrap();
    let mut flow = payment::flow_for(&cfg, &conn, &client);
    // The scan happens now; every later look at the clock is two days on (a till that was off until
    // the next sweep): the unknown payment is then past its cancel window.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    flow.now = std::sync::Arc::new(move || {
        let later = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0;
        payment::client::beijing_now() + chrono::Duration::days(if later { 2 } else { 0 })
    });
    let a = flow
        .pay(&payment::NewPayment {
            identity_code: code_for("403"),
            amount: payment::Amount { minor: 990, currency: "HKD".parse().unwrap() },
            title: "t".into(),
        })
        .unwrap();
    assert_eq!(a.state, payment::PayState::Failed);
    assert_eq!(world.sandbox.calls("payCancel", &a.merchant_trans_id), 0);
    assert_eq!(world.sandbox.calls("payQuery", &a.merchant_trans_id), 4, "3 before giving up, 1 past the window");
}

#[test]
fn unknown_exception_is_resolved_by_query() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "301", "8.80");
    r.expect_code(0);
    assert_eq!(world.state(&id), "PAID");
    assert_eq!(world.sandbox.calls("pay", &id), 1, "pay is never re-sent");
}

#[test]
fn timeout_then_query_finds_it_paid() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "401", "99.00");
    r.expect_code(0);
    assert_eq!(world.state(&id), "PAID");
    let ev = events(&world, &id);
    assert_eq!(ev[0], ("pay".into(), None, None), "the pay timed out: no result code");
    let detail = pay_detail(&world, &id);
    assert!(detail.contains("no answer in time"), "{detail}");
    assert_eq!(world.sandbox.calls("pay", &id), 1);
}

#[test]
fn query_overtaking_the_pay_is_requeried_before_cancelling() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "402", "20.00");
    r.expect_code(0);
    assert_eq!(world.state(&id), "PAID");
    let codes: Vec<_> =
        events(&world, &id).into_iter().filter(|e| e.0 == "query").map(|e| e.2.unwrap_or_default()).collect();
    assert_eq!(codes, ["ORDER_NOT_EXIST", "ORDER_NOT_EXIST", "SUCCESS"]);
    assert_eq!(world.sandbox.calls("payCancel", &id), 0);
}

#[test]
fn lost_pay_is_cancelled_and_the_id_stays_dead() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "403", "20.00");
    r.expect_code(2);
    assert_eq!(world.state(&id), "VOIDED");
    // ORDER_NOT_EXIST once plus the two re-queries, then one cancel.
    assert_eq!(world.sandbox.calls("payQuery", &id), 3);
    assert_eq!(world.sandbox.calls("payCancel", &id), 1);
    // A late pay with the cancelled id is refused by the sandbox (the open risk of alipay-api.md).
    let cfg = Config::load(&world.w.file("alipay-recon.toml"), &[]).unwrap();
    let client = IntlClient::from_config(&cfg).unwrap();
    let late = payment::Gateway::pay(
        &client,
        &payment::PayOrder {
            merchant_trans_id: id.clone(),
            identity_code: code_for("000"),
            amount: payment::Amount { minor: 2000, currency: "HKD".parse().unwrap() },
            title: "late".into(),
        },
    )
    .unwrap();
    assert_eq!(late.code, "ORDER_IS_CLOSED");
}

#[test]
fn stuck_cancel_goes_to_manual_review_and_sweep_retries_the_same_id() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "501", "30.00");
    let r = r.expect_code(2);
    assert!(
        r.stderr.contains("MANUAL_REVIEW") && r.stderr.contains("overseas_support@service.alibaba.com"),
        "{}",
        r.stderr
    );
    assert_eq!(world.state(&id), "MANUAL_REVIEW");
    assert_eq!(world.sandbox.calls("payCancel", &id), 3, "cancel_attempts = 3, all with the same merchantTransId");
    assert_eq!(world.local_records(&id)[0].2, "UNKNOWN");
    let queries = world.sandbox.calls("payQuery", &id);
    let s = world.w.run(&["sweep"]).expect_code(2);
    assert!(s.stdout.contains(&format!("open: {id}")), "{}", s.stdout);
    assert_eq!(world.sandbox.calls("payCancel", &id), 6);
    assert_eq!(world.sandbox.calls("pay", &id), 1);
    // The sweep asked Alipay first: its first call for the payment was a query, then the cancels.
    assert_eq!(world.sandbox.calls("payQuery", &id), queries + 1);
    let db = rusqlite::Connection::open(world.sandbox_db()).unwrap();
    let order: Vec<String> = db
        .prepare("SELECT function FROM calls WHERE merchant_trans_id = ?1 ORDER BY id")
        .unwrap()
        .query_map([&id], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let sweep = &order[order.len() - 4..];
    assert!(sweep[0].ends_with("payQuery") && sweep[1..].iter().all(|f| f.ends_with("payCancel")), "{order:?}");
}

#[test]
fn sweep_queries_a_payment_in_manual_review_and_leaves_a_cancelled_one_alone() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "501", "30.00");
    r.expect_code(2);
    assert_eq!(world.state(&id), "MANUAL_REVIEW");
    // Meanwhile the order was voided at Alipay (e.g. a cancel that did go through).
    rusqlite::Connection::open(world.sandbox_db())
        .unwrap()
        .execute("UPDATE txns SET status = 'CANCELLED' WHERE merchant_trans_id = ?1", [&id])
        .unwrap();
    world.w.run(&["sweep"]).expect_code(0);
    assert_eq!(world.state(&id), "VOIDED");
    assert_eq!(world.sandbox.calls("payCancel", &id), 3, "no cancel after the query said it was cancelled");
}

#[test]
fn tampered_signature_is_unknown_plus_error_then_resolved() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "601", "45.00");
    r.expect_code(0);
    let detail = pay_detail(&world, &id);
    assert!(detail.contains("signature check failed") && detail.contains(&world.sandbox.url()), "{detail}");
    assert!(!detail.contains("PRIVATE KEY"), "{detail}");
    assert_eq!(world.state(&id), "PAID", "the verified query decided it");
}

/// The text bodies of the unverified-answer alerts in the outbox, oldest first.
fn unverified_alerts(world: &PaymentWorld) -> Vec<String> {
    let db = world.db();
    let mut st = db.prepare("SELECT text_body FROM outbox WHERE kind = 'unverified_reply' ORDER BY id").unwrap();
    st.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
fn a_bad_signature_queues_an_alert() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "601", "45.00");
    let r = r.expect_code(0);
    assert!(r.stderr.contains("failed verification"), "{}", r.stderr);
    let alerts = unverified_alerts(&world);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].contains(&id) && alerts[0].contains("signature check failed"), "{}", alerts[0]);
}

#[test]
fn a_signed_success_for_another_payment_is_unknown_then_queried() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "602", "56.00");
    let r = r.expect_code(0);
    assert_eq!(world.state(&id), "PAID", "the verified query decided it");
    assert!(world.sandbox.calls("payQuery", &id) >= 1, "the foreign answer was not trusted");
    // The Alipay id is the payment's own (from the query), never the foreign answer's.
    let real: String = rusqlite::Connection::open(world.sandbox_db())
        .unwrap()
        .query_row("SELECT acquirement_id FROM txns WHERE merchant_trans_id = ?1", [&id], |r| r.get(0))
        .unwrap();
    let stored: String = world
        .db()
        .query_row("SELECT alipay_id FROM payment_attempts WHERE merchant_trans_id = ?1", [&id], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, real);
    assert!(r.stdout.contains(&real), "{}", r.stdout);
    let detail = pay_detail(&world, &id);
    assert!(detail.contains("does not match the request") && detail.contains(&format!("{id}-OTHER")), "{detail}");
    let alerts = unverified_alerts(&world);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].contains(&id) && alerts[0].contains("-OTHER"), "{}", alerts[0]);
}

#[test]
fn a_signed_success_with_the_wrong_pay_amount_is_unknown_then_queried() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "603", "56.00");
    r.expect_code(0);
    assert_eq!(world.state(&id), "PAID");
    assert!(world.sandbox.calls("payQuery", &id) >= 1, "the 0.01 answer was not trusted");
    let detail = pay_detail(&world, &id);
    assert!(detail.contains("payAmount is 1 minor units HKD") && detail.contains("56.00 HKD"), "{detail}");
    let alerts = unverified_alerts(&world);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].contains("payAmount"), "{}", alerts[0]);
    // Alerted once: a later command does not queue it again.
    world.w.run(&["sweep"]).expect_code(0);
    assert_eq!(unverified_alerts(&world).len(), 1);
}

#[test]
fn a_signed_success_in_another_currency_is_unknown_then_queried() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "605", "56.00");
    r.expect_code(0);
    assert_eq!(world.state(&id), "PAID", "the verified query decided it");
    assert!(world.sandbox.calls("payQuery", &id) >= 1, "the USD answer was not trusted");
    let detail = pay_detail(&world, &id);
    assert!(detail.contains("orderAmount is 5600 minor units USD") && detail.contains("56.00 HKD"), "{detail}");
    assert_eq!(unverified_alerts(&world).len(), 1);
}

#[test]
fn a_signed_refund_success_for_another_refund_id_is_retried_with_the_same_id() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "604", "80.00");
    r.expect_code(0);
    let r = world.w.run(&["refund", &id, "--amount", "30.00"]).expect_code(0);
    assert!(r.stdout.contains("REFUNDED 30.00 HKD"), "{}", r.stdout);
    assert!(r.stderr.contains("failed verification"), "{}", r.stderr);
    let rid: String = world
        .db()
        .query_row("SELECT merchant_refund_id FROM payment_refunds WHERE merchant_trans_id=?1", [&id], |r| r.get(0))
        .unwrap();
    assert_eq!(world.sandbox.calls("refund", &rid), 2, "the foreign S, then the same merchantRefundId again");
    assert_eq!(world.sandbox.refunds_done(&id), 1);
    let alerts = unverified_alerts(&world);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].contains(&format!("{rid}-OTHER")) && alerts[0].contains(&format!("refund {rid}")),
        "{}",
        alerts[0]
    );
}

#[test]
fn wrong_merchant_key_is_refused_as_a_configuration_fault() {
    let world = PaymentWorld::fast();
    let other = alipay_recon::payment::sign::PrivateKey::generate().unwrap();
    world.w.write("keys/merchant-private.pem", other.to_pem().unwrap());
    let (r, id) = pay(&world, "000", "1.00");
    let r = r.expect_code(2);
    assert!(r.stderr.contains("INVALID_SIGNATURE") && r.stderr.contains("private key"), "{}", r.stderr);
    assert_eq!(world.state(&id), "FAILED");
    assert_eq!(world.sandbox.status(&id), None, "nothing was charged");
}

#[test]
fn past_the_cancel_window_the_void_is_a_refund() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "701", "66.00");
    let r = r.expect_code(2);
    assert!(r.stdout.contains("REFUNDED"), "{}", r.stdout);
    assert_eq!(world.state(&id), "VOIDED_BY_REFUND");
    assert_eq!(world.sandbox.refunds_done(&id), 1);
    let recs = world.local_records(&id);
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!((recs[0].0.as_str(), recs[0].2.as_str()), ("PAYMENT", "SUCCESS"));
    assert_eq!((recs[1].0.as_str(), recs[1].2.as_str()), ("REFUND", "SUCCESS"));
    assert_eq!(world.days().len(), 2, "payment two days ago, refund today: {:?}", world.days());
}

#[test]
fn client_clock_past_the_window_refunds_without_cancelling() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "000", "15.00");
    r.expect_code(0);
    world.w.run(&["refund", &id, "--amount", "5.00"]).expect_code(0);
    let cfg = Config::load(&world.w.file("alipay-recon.toml"), &[]).unwrap();
    let client = IntlClient::from_config(&cfg).unwrap();
    let conn = world.db();
    let mut flow = payment::flow_for(&cfg, &conn, &client);
    flow.now = std::sync::Arc::new(|| payment::client::beijing_now() + chrono::Duration::days(2));
    let a = flow.cancel(&id).unwrap();
    assert_eq!(a.state, payment::PayState::VoidedByRefund);
    assert_eq!(world.sandbox.calls("payCancel", &id), 0);
    assert_eq!(world.sandbox.refunds_done(&id), 2);
    let refunds = payment::ledger::refunds_of(&conn, &id).unwrap();
    let void = refunds.iter().find(|r| r.is_void).unwrap();
    assert_eq!(void.amount.minor, 1000, "the void refunds what the partial refund left");
}

#[test]
fn refund_retries_reuse_the_refund_id() {
    let world = PaymentWorld::fast();
    let (r, id) = pay(&world, "801", "100.00");
    r.expect_code(0);
    let r = world.w.run(&["refund", &id, "--amount", "40.00", "--reason", "returned item"]).expect_code(0);
    assert!(r.stdout.contains("REFUNDED 40.00 HKD"), "{}", r.stdout);
    let rid: String = world
        .db()
        .query_row("SELECT merchant_refund_id FROM payment_refunds WHERE merchant_trans_id=?1", [&id], |r| r.get(0))
        .unwrap();
    assert_eq!(world.sandbox.calls("refund", &rid), 3, "U, U, then S — always the same merchantRefundId");
    assert_eq!(world.sandbox.refunds_done(&id), 1);
    // More than what is left is refused locally, before any call.
    let over = world.w.run(&["refund", &id, "--amount", "60.01"]).expect_code(2);
    assert!(over.stderr.contains("more than what is left"), "{}", over.stderr);
    let recs = world.local_records(&id);
    assert_eq!(recs[1], ("REFUND".into(), rid, "SUCCESS".into(), "ledger".into()));
}

#[test]
fn an_unanswered_refund_is_left_for_sweep_which_reuses_its_id() {
    let world = PaymentWorld::start(4000, &FAST.replace("refund_attempts = 4", "refund_attempts = 1"));
    let (r, id) = pay(&world, "801", "50.00");
    r.expect_code(0);
    let r = world.w.run(&["refund", &id, "--amount", "50.00"]).expect_code(2);
    assert!(r.stderr.contains("sweep") && r.stderr.contains("same id"), "{}", r.stderr);
    let rid: String = world
        .db()
        .query_row("SELECT merchant_refund_id FROM payment_refunds WHERE merchant_trans_id=?1", [&id], |r| r.get(0))
        .unwrap();
    assert_eq!(world.local_records(&id)[1], ("REFUND".into(), rid.clone(), "UNKNOWN".into(), "ledger".into()));
    world.w.run(&["sweep"]).expect_code(2);
    world.w.run(&["sweep"]).expect_code(0);
    assert_eq!(world.sandbox.calls("refund", &rid), 3);
    assert_eq!(world.sandbox.refunds_done(&id), 1);
    assert_eq!(world.local_records(&id)[1].2, "SUCCESS");
}

#[test]
fn killed_between_pay_and_answer_then_sweep_resolves_without_double_charge() {
    // The sandbox takes the money, then answers after 4 s; the client would wait 10 s.
    let world = PaymentWorld::start(4000, &FAST.replace("read_timeout_ms = 1000", "read_timeout_ms = 10000"));
    let code = code_for("401");
    let mut child = world.w.cmd(&["pay", "--code", &code, "--amount", "77.00", "--currency", "HKD"]).spawn().unwrap();
    let id = wait_for("pay to reach the sandbox", Duration::from_secs(10), || {
        let id: Option<String> = std::fs::metadata(world.w.file("data/recon.db")).ok().and_then(|_| {
            world.db().query_row("SELECT merchant_trans_id FROM payment_attempts", [], |r| r.get(0)).ok()
        });
        id.filter(|id| world.sandbox.status(id).is_some())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(world.state(&id), "PAYING", "persisted before the call, nothing after");
    let s = world.w.run(&["sweep"]).expect_code(0);
    assert!(s.stdout.contains("resolved 1"), "{}", s.stdout);
    assert_eq!(world.state(&id), "PAID");
    assert_eq!(world.sandbox.calls("pay", &id), 1, "no second pay: no double charge");
    assert_eq!(world.sandbox.refunds_done(&id), 0);
    let n: i64 = world.db().query_row("SELECT COUNT(*) FROM payment_attempts", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
}

#[test]
fn payments_list_filters_by_state_and_date() {
    let world = PaymentWorld::fast();
    let (_, paid) = pay(&world, "000", "1.00");
    let (_, failed) = pay(&world, "101", "2.00");
    let all = world.w.run(&["payments"]).expect_code(0);
    assert!(all.stdout.contains(&paid) && all.stdout.contains(&failed), "{}", all.stdout);
    let only = world.w.run(&["payments", "--state", "failed"]).expect_code(0);
    assert!(only.stdout.contains(&failed) && !only.stdout.contains(&paid), "{}", only.stdout);
    let none = world.w.run(&["payments", "--date", "2001-01-01"]).expect_code(0);
    assert_eq!(none.stdout.lines().count(), 1, "header only: {}", none.stdout);
    let bad = world.w.run(&["payments", "--state", "BOGUS"]).expect_code(2);
    assert!(bad.stderr.contains("MANUAL_REVIEW"), "{}", bad.stderr);
    let q = world.w.run(&["query", &paid]).expect_code(0);
    assert!(q.stdout.contains("S SUCCESS"), "{}", q.stdout);
}

#[test]
fn pay_cancel_refund_then_the_sandbox_files_parse_as_intl() {
    let world = PaymentWorld::fast();
    let (_, kept) = pay(&world, "000", "56.00");
    let (_, voided) = pay(&world, "000", "12.50");
    let (_, refunded) = pay(&world, "000", "30.00");
    let (_, failed) = pay(&world, "101", "9.99");
    world.w.run(&["cancel", &voided]).expect_code(0);
    world.w.run(&["refund", &refunded, "--amount", "10.00"]).expect_code(0);
    assert_eq!(world.state(&voided), "VOIDED");
    // Usually one day; near Beijing midnight the cancel or refund may land in the next day's files.
    let days = world.days();
    assert!(!days.is_empty() && days.len() <= 2, "{days:?}");
    let (mut tx, mut sd, mut sum) = (Vec::new(), Vec::new(), Vec::new());
    for day in &days {
        let ymd = day.replace('-', "");
        let dir = world.files_dir().join("download").join(MERCHANT_ID).join(&ymd);
        for (kind, name) in [
            (FileKind::Transactions, "TRANSACTION_DETAIL"),
            (FileKind::SettlementDetail, "SETTLEMENT_DETAIL"),
            (FileKind::SettlementSummary, "SETTLEMENT_SUMMARY"),
        ] {
            let name = format!("ALIPAY_{name}_HKD_{ymd}.csv");
            let bytes = std::fs::read(dir.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            let ctx = ParseContext {
                file_name: name.clone(),
                format: FileFormat::Intl,
                kind,
                zone: Default::default(),
                name_currency: Some("HKD".parse().unwrap()),
            };
            let parsed = formats::parse(&bytes, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                parsed.rejects.is_empty() && parsed.warnings.is_empty(),
                "{name}: {:?} {:?}",
                parsed.rejects,
                parsed.warnings
            );
            match (kind, parsed.rows) {
                (FileKind::Transactions, Rows::Detail(r)) => tx.extend(r),
                (FileKind::SettlementDetail, Rows::Detail(r)) => sd.extend(r),
                (_, Rows::Summary(r)) => sum.extend(r),
                (k, rows) => panic!("{k:?}: unexpected rows {rows:?}"),
            }
        }
    }
    let kinds: Vec<_> = tx.iter().map(|r| (r.trans_type.0, r.amount)).collect();
    assert_eq!(tx.len(), 5, "3 payments, 1 cancel, 1 refund: {kinds:?}");
    let find = |t: TransType, id: &str| {
        tx.iter().find(|r| {
            r.trans_type.0 == t
                && (r.merchant_trans_id.as_deref() == Some(id) || r.merchant_refund_id.as_deref() == Some(id))
        })
    };
    assert_eq!(find(TransType::Payment, &kept).unwrap().amount, Some(5600));
    assert!(find(TransType::Cancel, &voided).is_some(), "{kinds:?}");
    assert!(tx.iter().all(|r| r.merchant_trans_id.as_deref() != Some(&failed)), "failed payments are not in the file");
    let refund = tx.iter().find(|r| r.trans_type.0 == TransType::Refund).unwrap();
    assert_eq!(refund.amount, Some(1000));
    let refunded_acq = tx.iter().find(|r| r.merchant_trans_id.as_deref() == Some(&refunded)).unwrap().alipay_id.clone();
    assert_eq!(refund.original_alipay_id, refunded_acq);
    assert_eq!(sd.len(), 3, "the cancelled payment does not settle");
    let net: i64 = sd.iter().map(|r| r.settle_amount.unwrap()).sum();
    assert_eq!(net, 5600 + 3000 - 1000);
    let totals: Vec<_> = sum.iter().filter(|r| r.summary_type == "TOTAL").collect();
    let count: i64 = totals.iter().map(|r| r.count.unwrap()).sum();
    let amount: i64 = totals.iter().map(|r| r.settle_amount.unwrap()).sum();
    assert_eq!((count, amount), (3, 7600));
    // The daily job's import reads the same folder through the configured source.
    for day in &days {
        let imp = world.w.run(&["import", "--date", day]);
        assert!(imp.code == 0 || imp.code == 1, "import {day}: {}\n{}", imp.stdout, imp.stderr);
    }
    let stored = |sql: &str| -> i64 { world.db().query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(stored("SELECT COUNT(*) FROM alipay_rows"), 5 + 3, "transaction and settlement-detail rows were stored");
    assert_eq!(stored("SELECT COUNT(*) FROM summary_rows"), sum.len() as i64, "every summary row was stored");
}

#[test]
fn sandbox_command_serves_the_protocol_and_keeps_its_key() {
    use std::io::BufRead;
    let w = crate::harness::Workspace::new();
    let merchant = alipay_recon::payment::sign::PrivateKey::generate().unwrap();
    w.write("keys/merchant-private.pem", merchant.to_pem().unwrap());
    // A first config without the sandbox URL: the sandbox reads the merchant key from it.
    w.write("alipay-recon.toml", crate::harness::sandbox::config_text("http://127.0.0.1:1", FAST));
    let start = |w: &crate::harness::Workspace| {
        let mut child = w
            .cmd(&[
                "sandbox",
                "--listen",
                "127.0.0.1:0",
                "--files",
                "sandbox-files",
                "--write-public-key",
                "keys/alipay-sandbox-public.pem",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        // Keep the pipe open while the sandbox runs: it prints more lines after the URL.
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut first).unwrap();
        let url = first.trim().strip_prefix("sandbox listening on ").unwrap_or_else(|| panic!("{first}")).to_string();
        (child, url, out)
    };
    let (mut child, url, _out) = start(&w);
    w.write("alipay-recon.toml", crate::harness::sandbox::config_text(&url, FAST));
    let r = w.run(&["pay", "--code", &code_for("000"), "--amount", "3.20", "--currency", "HKD"]);
    let key_before = std::fs::read_to_string(w.file("sandbox-state/sandbox-public.pem")).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let r = r.expect_code(0);
    assert!(r.stdout.contains("PAID 3.20 HKD"), "{}", r.stdout);
    let files: Vec<_> = std::fs::read_dir(w.file(&format!("sandbox-files/download/{MERCHANT_ID}")))
        .unwrap()
        .flatten()
        .flat_map(|d| {
            std::fs::read_dir(d.path()).unwrap().flatten().map(|f| f.file_name().to_string_lossy().into_owned())
        })
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    // Restarted on the same state folder: same key pair, so the merchant's config stays valid.
    let (mut child, _, _out2) = start(&w);
    let key_after = std::fs::read_to_string(w.file("keys/alipay-sandbox-public.pem")).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(key_before, key_after);
}

#[test]
fn sandbox_payments_reconcile_with_zero_discrepancies() {
    let world = PaymentWorld::fast();
    let mut ids = Vec::new();
    for (suffix, amount) in [("000", "56.00"), ("000", "12.50"), ("000", "30.00"), ("101", "9.99"), ("201", "18.00")] {
        ids.push(pay(&world, suffix, amount).1);
    }
    // Unknown outcomes the module resolved: by query, after a race, by cancel, and by refund past the window.
    for (suffix, amount) in [("301", "4.00"), ("402", "5.00"), ("202", "6.00"), ("403", "7.00"), ("701", "8.00")] {
        ids.push(pay(&world, suffix, amount).1);
    }
    world.w.run(&["cancel", &ids[1]]).expect_code(0);
    world.w.run(&["refund", &ids[2], "--amount", "10.00"]).expect_code(0);
    let days = world.days();
    assert!(days.len() >= 2, "the 701 payment is dated two days ago: {days:?}");
    for (day, r) in world.run_days(&["--no-email"]) {
        assert_eq!(r.code, 0, "run {day}\n--- stdout\n{}\n--- stderr\n{}", r.stdout, r.stderr);
        assert_eq!(world.discrepancies(&day), Vec::<String>::new(), "{day}");
    }
    // The control: a payment left unresolved is a local UNKNOWN, which the report always lists.
    let (_, stuck) = pay(&world, "501", "3.00");
    let today = world.days().pop().unwrap();
    let r = world.w.run(&["run", "--date", &today, "--no-email"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    // In the business day's last `grace_minutes` (30: 23:30–24:00 UTC+8) a local record is pending
    // rather than a discrepancy (contracts.md §2): the test ran red in that half hour once.
    let (rows, pending) = (world.discrepancies(&today), world.pending(&today));
    let listed: Vec<&String> = rows.iter().chain(&pending).collect();
    assert!(listed.len() == 1 && listed[0].contains("STATUS_MISMATCH") && listed[0].contains(&stuck), "{listed:?}");
}

/// The loop's other half: sandbox payments reconcile cleanly, then a sandbox transaction file altered
/// "at Alipay" (one payment's amount) is reported as exactly that: an AMOUNT_MISMATCH against the local
/// record, and a SETTLEMENT_MISMATCH because the day's settlement file still settles the old amount.
#[test]
fn an_altered_sandbox_file_is_reported_as_the_right_discrepancy() {
    let world = PaymentWorld::fast();
    let (_, a) = pay(&world, "000", "56.00");
    let (_, b) = pay(&world, "000", "12.50");
    let day = world.days().pop().unwrap();
    let r = world.w.run(&["run", "--date", &day, "--no-email"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Alipay "restates" the day's transaction file with a different amount for payment `b`.
    let mut altered = 0;
    for entry in walk(&world.files_dir()) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("ALIPAY_TRANSACTION_DETAIL_") {
            continue;
        }
        let text = std::fs::read_to_string(&entry).unwrap();
        let changed: Vec<String> = text
            .lines()
            .map(|l| {
                if l.contains(&b) && l.contains(",PAYMENT,") {
                    l.replace(",12.50,", ",13.50,")
                } else {
                    l.to_string()
                }
            })
            .collect();
        let new = changed.join("\n") + "\n";
        if new != text {
            altered += 1;
            std::fs::write(&entry, new).unwrap();
        }
    }
    assert_eq!(altered, 1, "the payment's row was found in one transaction file");
    let r = world.w.run(&["run", "--date", &day, "--no-email", "--refetch"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("restated"), "{}", r.stdout);
    let rows = world.discrepancies(&day);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows[0].contains(",AMOUNT_MISMATCH,") && rows[0].contains(&b) && rows[0].contains("HKD,12.50,HKD,13.50,1.00"),
        "{rows:?}"
    );
    assert!(rows[1].contains(",SETTLEMENT_MISMATCH,") && rows[1].contains(&b), "{rows:?}");
    assert!(rows.iter().all(|r| !r.contains(&a)), "the untouched payment stays matched");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// (merchant_trans_id, result_code) of every call the sandbox received, in order.
fn sandbox_calls(world: &PaymentWorld) -> Vec<(String, String, String)> {
    let db = rusqlite::Connection::open(world.sandbox_db()).unwrap();
    let mut st =
        db.prepare("SELECT function, COALESCE(merchant_trans_id, ''), result_code FROM calls ORDER BY id").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

/// The `payment API` line of a doctor run.
fn doctor_api_line(r: &crate::harness::Run) -> String {
    r.stdout
        .lines()
        .find(|l| l.contains("] payment API:"))
        .unwrap_or_else(|| panic!("no payment API line:\n{}", r.stdout))
        .to_string()
}

/// A transaction file for yesterday (UTC) in the sandbox's files folder: `doctor` fails when none of
/// the last days has one, and yesterday in UTC is inside its window whatever the business zone.
fn recent_transaction_file(world: &PaymentWorld) {
    let d = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y%m%d").to_string();
    world.w.write(
        &format!("sandbox-files/download/{MERCHANT_ID}/{d}/ALIPAY_TRANSACTION_DETAIL_HKD_{d}.csv"),
        "merchantId,transType\n",
    );
}

#[test]
fn doctor_makes_one_signed_call_and_reports_order_not_exist_as_ok() {
    let world = PaymentWorld::fast();
    recent_transaction_file(&world);
    let r = world.w.run(&["doctor"]).expect_code(0);
    let line = doctor_api_line(&r);
    assert!(
        line.starts_with(&format!("[ OK ] payment API: {}: payQuery of the made-up id DOCTOR-", world.sandbox.url())),
        "{line}"
    );
    assert!(line.contains("ORDER_NOT_EXIST, correctly signed") && line.contains("385SANDBOX0000042"), "{line}");
    assert!(r.stdout.contains("all checks passed"), "{}", r.stdout);
    // Exactly one call reached the server: a payQuery of an id no payment uses; the ledger is untouched.
    let calls = sandbox_calls(&world);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].0.ends_with("payQuery") && calls[0].1.starts_with("DOCTOR-") && calls[0].2 == "ORDER_NOT_EXIST",
        "{calls:?}"
    );
    let n: i64 = world.db().query_row("SELECT COUNT(*) FROM payment_attempts", [], |r| r.get(0)).unwrap_or(0);
    assert_eq!(n, 0);
}

#[test]
fn doctor_names_the_config_key_for_a_wrong_merchant_key_alipay_key_host_or_path() {
    let world = PaymentWorld::fast();
    recent_transaction_file(&world);
    // The merchant key is not the one the sandbox (Alipay) has: the server answers INVALID_SIGNATURE.
    let good = std::fs::read(world.w.file("keys/merchant-private.pem")).unwrap();
    let other = alipay_recon::payment::sign::PrivateKey::generate().unwrap();
    world.w.write("keys/merchant-private.pem", other.to_pem().unwrap());
    let r = world.w.run(&["doctor"]).expect_code(2);
    let line = doctor_api_line(&r);
    assert!(
        line.starts_with("[FAIL] payment API:")
            && line.contains("INVALID_SIGNATURE")
            && line.contains("`environments.sandbox.private_key` is not the key"),
        "{line}"
    );
    assert!(r.stdout.contains("[ OK ] merchant private key:"), "the key itself is a valid RSA key:\n{}", r.stdout);
    world.w.write("keys/merchant-private.pem", &good);

    // Alipay's public key is another key: the answer's signature does not verify.
    let good = std::fs::read(world.w.file("keys/alipay-sandbox-public.pem")).unwrap();
    let stranger = alipay_recon::payment::sign::PrivateKey::generate().unwrap().public().unwrap();
    world.w.write("keys/alipay-sandbox-public.pem", stranger.to_pem().unwrap());
    let line = doctor_api_line(&world.w.run(&["doctor"]).expect_code(2));
    assert!(
        line.starts_with("[FAIL] payment API:")
            && line.contains("does not verify with `environments.sandbox.alipay_public_key_file`"),
        "{line}"
    );
    world.w.write("keys/alipay-sandbox-public.pem", &good);

    // Nobody listens at the configured port.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    world
        .w
        .write("alipay-recon.toml", crate::harness::sandbox::config_text(&format!("http://127.0.0.1:{closed}"), FAST));
    let line = doctor_api_line(&world.w.run(&["doctor"]).expect_code(2));
    assert!(
        line.starts_with("[FAIL] payment API:")
            && line.contains("could not be reached")
            && line.contains("`environments.sandbox.api_base_url`"),
        "{line}"
    );

    // The right host with a path: the sandbox has no API there (HTTP 404).
    world.w.write(
        "alipay-recon.toml",
        crate::harness::sandbox::config_text(&format!("{}/gateway", world.sandbox.url()), FAST),
    );
    let line = doctor_api_line(&world.w.run(&["doctor"]).expect_code(2));
    assert!(
        line.starts_with("[FAIL] payment API:") && line.contains("HTTP 404") && line.contains("api_base_url`"),
        "{line}"
    );

    // Put right again, it passes.
    world.write_config(FAST);
    world.w.run(&["doctor"]).expect_code(0);
}
