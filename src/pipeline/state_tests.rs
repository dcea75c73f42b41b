//! The incremental day state (`store::state`, `day::outcome`) against the whole-window engine, the
//! oracle (issue 14, "Same answers, proven").
//!
//! Random multi-day histories are played into a SQLite file as a user's days would arrive: transaction
//! files (some late, some first seen "still being written"), settlement files, daily sales exports
//! (parts of them days late, with UNKNOWN → SUCCESS restatements), restated transaction files, daily
//! runs, reruns of earlier days and ranges in any order, and rule changes. After every run the
//! incremental outcome must equal the oracle's — `reconcile::run` on the whole stored window — and
//! its `discrepancies.csv`, `pending.csv` and `open_items.csv` must be the same bytes.
//!
//! `ALIPAY_RECON_STATE_CASES=<n>` runs more histories (default 24).

use super::day::{outcome, outcome_with, How};
use crate::domain::Currency;
use crate::formats::DetailRow;
use crate::reconcile::tests::{cancel, pay, refund, settle, World};
use crate::reconcile::{self, Outcome, Params};
use crate::report::{self, ReportInput};
use crate::store;
use chrono::{Days, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

/// Days with sales; rows, refunds and settlements spill up to three days past them.
const DAYS: usize = 10;
const STEPS: usize = DAYS + 3;

fn date(k: usize) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + Days::new(k as u64)
}

fn time(k: usize, secs: i64) -> String {
    let midnight = chrono::DateTime::parse_from_rfc3339(&format!("{}T00:00:00+08:00", date(k))).unwrap();
    (midnight + chrono::Duration::seconds(secs)).to_rfc3339()
}

fn money(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

fn hkd() -> Currency {
    Currency::parse("HKD").unwrap()
}

/// Small look-backs, so that items leave the open-item look-back and the window within a history.
/// Variant 1 is a rule change: an amount tolerance of 0.01 and a longer UNSETTLED delay. Odd seeds
/// keep items open as long as the look-back (`open_item_days` = `settlement_lookback_days`): then a key
/// whose first day leaves the cut is still listed on its next row's day (a sale Alipay booked after
/// midnight), the case the leaving day's seeds exist for.
fn params(variant: u8, seed: u64) -> Params {
    let open_item_days = if seed % 2 == 1 { 4 } else { 3 };
    let mut p = Params { open_item_days, settlement_lookback_days: 4, unsettled_after_days: 2, ..Params::default() };
    if variant == 1 {
        p.amount_tolerance.insert(hkd(), 1);
        p.unsettled_after_days = 3;
    }
    p
}

/// One thing that happens to the database, in arrival order.
#[derive(Debug, Clone)]
enum Event {
    /// Day k's transaction file arrives (its current rows).
    Txns(usize),
    /// A transaction file of day k is seen still being written (stored as skipped).
    Growing(usize),
    /// Another file of an earlier day k is refused (a second currency's, stored as skipped) ...
    Refused(usize),
    /// ... and later read after all (no longer skipped).
    Unrefused(usize),
    /// Day k's transaction file is restated: `what` changed.
    Restate(usize, &'static str),
    /// The settlement file dated k arrives.
    Settle(usize),
    /// A sales export of these lines arrives.
    Sales(Vec<String>),
    /// Day k is reconciled (a daily run, a rerun, a day of a range).
    Run(usize),
    /// The rules change to this variant.
    Rules(u8),
}

/// A random history: per step, what arrives and what runs.
struct History {
    txns: Vec<Vec<DetailRow>>,
    settlements: Vec<Vec<DetailRow>>,
    events: Vec<Event>,
}

fn history(seed: u64) -> History {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut txns: Vec<Vec<DetailRow>> = vec![Vec::new(); STEPS];
    let mut settlements: Vec<Vec<DetailRow>> = vec![Vec::new(); STEPS];
    let mut sales: Vec<Vec<String>> = vec![Vec::new(); STEPS];
    for k in 0..DAYS {
        for i in 0..8 {
            let (id, aid) = (format!("P{k}-{i}"), format!("A{k}-{i}"));
            let amount = rng.random_range(100..10_000i64);
            let late = rng.random_bool(0.25);
            let secs = if late { 86_400 - rng.random_range(1..1_200) } else { rng.random_range(0..80_000) };
            let at = time(k, secs);
            let mut mine: Vec<(usize, DetailRow)> = Vec::new();
            match rng.random_range(0..7) {
                0 => {}
                1 => mine.push((k, pay(&id, &aid, amount, &at))),
                2 => {
                    mine.push((k, pay(&id, &aid, amount, &at)));
                    mine.push((k, cancel(&id, &aid, amount, &at)));
                }
                3 => {
                    mine.push((k, pay(&id, &aid, amount, &at)));
                    mine.push((k + 1, cancel(&id, &aid, amount, &time(k + 1, 300))));
                }
                // Booked by Alipay after midnight: in the next day's file.
                4 if late => mine.push((k + 1, pay(&id, &aid, amount, &time(k + 1, 2)))),
                5 => {
                    mine.push((k, pay(&id, &aid, amount, &at)));
                    mine.push((k, pay(&id, &format!("{aid}b"), amount, &at)));
                }
                _ => mine.push((k, pay(&id, &aid, amount, &at))),
            }
            if rng.random_bool(0.9) {
                let status =
                    ["SUCCESS", "SUCCESS", "SUCCESS", "UNKNOWN", "CANCELLED", "FAILED"][rng.random_range(0..6)];
                let local = if rng.random_bool(0.15) { amount + 1 } else { amount };
                // Some tills record a sale just after midnight that Alipay booked just before: the
                // local record is dated the next day.
                let (sale_day, sale_at) =
                    if rng.random_bool(0.1) { (k + 1, time(k + 1, rng.random_range(0..600))) } else { (k, at.clone()) };
                let line = format!("PAYMENT,{id},,{},HKD,{status},{sale_at},,,{aid}", money(local));
                sales[sale_day].push(line.clone());
                if status == "UNKNOWN" && rng.random_bool(0.6) {
                    let to = if rng.random_bool(0.5) { "SUCCESS" } else { "FAILED" };
                    sales[sale_day + 1].push(line.replace("UNKNOWN", to));
                }
            }
            if rng.random_bool(0.25) {
                let rid = format!("R{k}-{i}");
                let rk = k + rng.random_range(0..3);
                let ramount = rng.random_range(1..amount + 50);
                let rat = time(rk, rng.random_range(40_000..80_000));
                if rng.random_bool(0.85) {
                    mine.push((rk, refund(&rid, &aid, ramount, &rat)));
                }
                if rng.random_bool(0.85) {
                    sales[rk].push(format!("REFUND,{id},{rid},{},HKD,SUCCESS,{rat},,,{aid}", money(ramount)));
                }
            }
            for (day, row) in mine {
                // Settled the next day mostly, some days later, some never (UNSETTLED).
                let settles = match rng.random_range(0..10) {
                    0..=6 => Some(day + 1),
                    7 => Some(day + 2 + rng.random_range(0..2)),
                    _ => None,
                };
                if let Some(s) = settles.filter(|s| *s < STEPS) {
                    settlements[s].push(settle(&row, rng.random_range(0..50)));
                }
                if day < STEPS {
                    txns[day].push(row);
                }
            }
        }
    }
    // A daily export always holds a sale of its own day (its as-of date is its day).
    for (k, lines) in sales.iter_mut().enumerate().take(DAYS + 1) {
        lines.push(format!("PAYMENT,F{k},,1.00,HKD,FAILED,{},,,", time(k, 3_600)));
    }

    // Arrivals and runs, step by step.
    let mut at: BTreeMap<usize, Vec<Event>> = BTreeMap::new();
    let mut push = |step: usize, e: Event| at.entry(step).or_default().push(e);
    for (k, lines) in sales.into_iter().enumerate() {
        if lines.is_empty() {
            continue;
        }
        // Part of a day's export arrives one to three days late, as a file of its own.
        let (now, later): (Vec<String>, Vec<String>) = if rng.random_bool(0.3) {
            lines.into_iter().partition(|l| l.contains(",F") || rng.random_bool(0.6))
        } else {
            (lines, Vec::new())
        };
        push(k, Event::Sales(now));
        if !later.is_empty() {
            push(k + rng.random_range(1..4), Event::Sales(later));
        }
    }
    let mut rules = 0u8;
    for s in 0..STEPS {
        // The transaction file: on time, or one or two days late (first seen still being written).
        if s == 0 || rng.random_bool(0.85) {
            push(s, Event::Txns(s));
        } else {
            if rng.random_bool(0.5) {
                push(s, Event::Growing(s));
            }
            push(s + rng.random_range(1..3), Event::Txns(s));
        }
        push(s, Event::Settle(s));
        if s > 0 && rng.random_bool(0.15) {
            let k = rng.random_range(s.saturating_sub(3)..s);
            push(s, Event::Refused(k));
            push(s + rng.random_range(1..3), Event::Unrefused(k));
        }
        if s > 0 && rng.random_bool(0.25) {
            let what = ["drops a row", "changes an amount", "adds a payment"][rng.random_range(0..3)];
            push(s, Event::Restate(rng.random_range(s.saturating_sub(4)..s), what));
        }
        if rng.random_bool(0.1) {
            rules = 1 - rules;
            push(s, Event::Rules(rules));
        }
        push(s, Event::Run(s));
        if s > 0 && rng.random_bool(0.3) {
            push(s, Event::Run(rng.random_range(s.saturating_sub(5)..s)));
        }
        if s > 1 && rng.random_bool(0.1) {
            let from = rng.random_range(s.saturating_sub(5)..s);
            (from..=s).for_each(|d| push(s, Event::Run(d)));
        }
    }
    let mut events: Vec<Event> = at.into_values().flatten().collect();
    // Every day rerun at the end, in a random order.
    let mut days: Vec<usize> = (0..STEPS).collect();
    for i in (1..days.len()).rev() {
        days.swap(i, rng.random_range(0..=i));
    }
    events.extend(days.into_iter().map(Event::Run));
    History { txns, settlements, events }
}

/// The three CSV files of an outcome, as the report writes them.
fn csvs(day: NaiveDate, o: &Outcome) -> Vec<(&'static str, Vec<u8>)> {
    let mut ri = ReportInput::new(day, "m");
    ri.findings = o.findings.clone();
    ri.pending = o.pending.clone();
    ri.open_items = o.open_items.clone();
    ri.summary = o.summary.clone();
    report::csv_files(&ri).unwrap()
}

/// The oracle: day `day` from the whole stored window, as before the incremental state.
fn oracle(w: &World, day: NaiveDate) -> Outcome {
    let mut input = store::window::load(&w.conn, day, &w.params).unwrap();
    store::skipped::add_to_input(&w.conn, w.params.window_start(day), day, &mut input).unwrap();
    reconcile::run(&input, &w.params).unwrap()
}

/// How the runs of all histories were computed.
#[derive(Default, Debug)]
struct Tally {
    runs: usize,
    incremental: usize,
    forward: usize,
    bootstrap: usize,
    /// Forward runs that computed two or more days before their date from a stored state (state
    /// only, `reconcile::run_state`), each day from the one before it: after an invalidation.
    chains: usize,
    /// Days computed for their state only (before a run's date), from a stored state.
    state_only_days: usize,
}

/// Plays one history; panics with the seed and the events so far at the first difference.
fn play(seed: u64, dir: &std::path::Path, tally: &mut Tally) {
    let h = history(seed);
    let mut w = World::on_disk(&dir.join(format!("state-{seed}.sqlite")), params(0, seed));
    let mut txns = h.txns.clone();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    // A run of the day whose transaction file just arrived (only settlement files since) starts its
    // hand-over before that import, as `run` does: an incremental run then reads its local seeds and
    // the leaving day's rows meanwhile, on a connection of its own.
    let mut handoff: Option<(usize, store::handoff::Handoff)> = None;
    for (n, e) in h.events.iter().enumerate() {
        if !matches!(e, Event::Txns(_) | Event::Settle(_) | Event::Run(_)) {
            handoff = None;
        }
        match e {
            Event::Txns(k) => {
                let h = store::handoff::Handoff::start(&w.conn, date(*k), &w.params);
                // The prefetch races the import; every other file arrives only once it is done (as
                // at volume, where the import is the slower), so both orders are played.
                if n % 2 == 0 {
                    h.wait_for_prefetch();
                }
                handoff = Some((*k, h));
                w.txns(&date(*k).to_string(), txns[*k].clone());
                store::skipped::clear(&w.conn, date(*k), &txn_name(*k)).unwrap();
            }
            Event::Growing(k) => {
                let name = txn_name(*k);
                store::skipped::record(&w.conn, date(*k), &name, &name, "still being written", None).unwrap();
            }
            Event::Refused(k) => {
                let name = format!("ALIPAY_TRANSACTION_DETAIL_USD_{}.csv", date(*k).format("%Y%m%d"));
                store::skipped::record(&w.conn, date(*k), &name, &name, "refused name", None).unwrap();
            }
            Event::Unrefused(k) => {
                let name = format!("ALIPAY_TRANSACTION_DETAIL_USD_{}.csv", date(*k).format("%Y%m%d"));
                store::skipped::clear(&w.conn, date(*k), &name).unwrap();
            }
            Event::Restate(k, what) => {
                let rows = &mut txns[*k];
                match *what {
                    "drops a row" if !rows.is_empty() => {
                        rows.remove(rng.random_range(0..rows.len()));
                    }
                    "changes an amount" if !rows.is_empty() => {
                        let i = rng.random_range(0..rows.len());
                        rows[i].amount = rows[i].amount.map(|a| a + 100);
                        rows[i].amount_raw = rows[i].amount.unwrap_or_default().to_string();
                    }
                    _ => rows.push(pay(&format!("X{k}-{n}"), &format!("AX{k}-{n}"), 1_234, &time(*k, 7_200))),
                }
                w.txns(&date(*k).to_string(), rows.clone());
            }
            Event::Settle(k) => {
                if !h.settlements[*k].is_empty() {
                    w.settlement(&date(*k).to_string(), h.settlements[*k].clone());
                }
            }
            Event::Sales(lines) => {
                let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
                w.sales(&lines);
            }
            Event::Rules(v) => w.params = params(*v, seed),
            Event::Run(k) => {
                let day = date(*k);
                let held = match handoff.take() {
                    Some((hk, h)) if hk == *k => h,
                    // `run` starts its hand-over before importing whatever is new, even nothing; a
                    // `reconcile` has none (the load reads every seed itself): both, in turn.
                    _ if n % 2 == 0 => store::handoff::Handoff::start(&w.conn, day, &w.params),
                    _ => Default::default(),
                };
                // Every third history starts a day without a usable state from an empty one, as a
                // window of more rows than `BOOTSTRAP_MAX_ROWS` does; the others load the window whole.
                let limit = if seed % 3 == 2 { 0 } else { u64::MAX };
                let (inc, how) = outcome_with(&w.conn, day, &w.params, held, limit).unwrap();
                tally.runs += 1;
                match how {
                    How { base: None, .. } => tally.bootstrap += 1,
                    How { days: 1, .. } => tally.incremental += 1,
                    How { days, .. } => {
                        tally.forward += 1;
                        tally.state_only_days += days as usize - 1;
                        tally.chains += usize::from(days >= 3);
                    }
                }
                let reference = oracle(&w, day);
                let (a, b) = (csvs(day, &inc), csvs(day, &reference));
                for ((name, x), (_, y)) in a.iter().zip(&b) {
                    if x != y {
                        let (x, y) = (String::from_utf8_lossy(x), String::from_utf8_lossy(y));
                        let only = |p: &str, q: &str| -> Vec<String> {
                            p.lines().filter(|l| !q.lines().any(|m| m == *l)).map(str::to_string).collect()
                        };
                        panic!(
                            "seed {seed}: {name} of {day} differs ({how:?})\n  incremental only: {:#?}\n  \
                             whole window only: {:#?}\n  events: {:#?}",
                            only(&x, &y),
                            only(&y, &x),
                            &h.events[..=n]
                        );
                    }
                }
                if inc != reference {
                    crate::reconcile::tests::check_same(
                        &format!("{day} (seed {seed}, event {n})"),
                        "incremental",
                        &inc,
                        &reference,
                    );
                }
            }
        }
    }
}

fn txn_name(k: usize) -> String {
    // As `World::file` names a transaction file.
    format!("ALIPAY_TRANSACTION_DETAIL_HKD_{}.csv", date(k).format("%Y%m%d"))
}

#[test]
fn incremental_days_equal_the_whole_window_on_random_histories() {
    let cases: u64 = std::env::var("ALIPAY_RECON_STATE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24);
    let dir = tempfile::tempdir().unwrap();
    let mut tally = Tally::default();
    for seed in 0..cases {
        play(seed, dir.path(), &mut tally);
    }
    // The comparison means something only if the state was used: most runs continue from a stored
    // state (the day before's, or an earlier one recomputed forward after an invalidation), some
    // bootstrap (a first day, a rule change, a rerun with no state before it).
    assert!((tally.incremental + tally.forward) * 2 > tally.runs, "too few incremental runs: {tally:?}");
    assert!(tally.incremental > 0 && tally.forward > 0 && tally.bootstrap > 0, "{tally:?}");
    // Recompute chains after restatements: days computed for their state only, each from the one
    // before it, then the date from theirs.
    assert!(tally.chains * 4 > tally.forward && tally.state_only_days > tally.forward, "{tally:?}");
}

/// Invalidation recomputes only the invalidated days: a restatement of day 3 makes day 7's run start
/// from day 2's state and compute days 3 to 7; the next day continues from day 7.
#[test]
fn a_restatement_recomputes_forward_from_the_day_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = World::on_disk(&dir.path().join("db.sqlite"), Params { open_item_days: 7, ..params(0, 0) });
    let rows = |k: usize| vec![pay(&format!("P{k}"), &format!("A{k}"), 500, &time(k, 3_600))];
    for k in 0..7 {
        w.txns(&date(k).to_string(), rows(k));
        let (_, how) = outcome(&w.conn, date(k), &w.params, Default::default()).unwrap();
        assert_eq!(how.base, k.checked_sub(1).map(date), "day {k}");
    }
    w.txns(&date(3).to_string(), vec![pay("P3", "A3", 501, &time(3, 3_600))]);
    w.txns(&date(7).to_string(), rows(7));
    let (out, how) = outcome(&w.conn, date(7), &w.params, Default::default()).unwrap();
    assert_eq!((how.base, how.days), (Some(date(2)), 5));
    assert_eq!(out, oracle(&w, date(7)));
    w.txns(&date(8).to_string(), rows(8));
    let (_, how) = outcome(&w.conn, date(8), &w.params, Default::default()).unwrap();
    assert_eq!((how.base, how.days), (Some(date(7)), 1));
    // A rule change: no state for the new rules, so the day is bootstrapped from the window.
    w.params.unsettled_after_days = 3;
    let (_, how) = outcome(&w.conn, date(8), &w.params, Default::default()).unwrap();
    assert_eq!(how.base, None);
}

/// A run's hand-over reads an incremental day's local seeds while the day's files import (on a
/// connection of its own): the day's sales that no Alipay row names — found by no probe — are among
/// them, and the answer is the whole window's.
#[test]
fn local_seeds_read_during_the_import_give_the_whole_windows_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = World::on_disk(&dir.path().join("db.sqlite"), Params { open_item_days: 7, ..params(0, 0) });
    for k in 0..4 {
        let (paid, only_local) = (time(k, 3_600), time(k, 7_200));
        w.sales(&[
            &format!("PAYMENT,P{k},,5.00,HKD,SUCCESS,{paid},,,A{k}"),
            &format!("PAYMENT,L{k},,7.00,HKD,SUCCESS,{only_local},,,"),
        ]);
        let handoff = store::handoff::Handoff::start(&w.conn, date(k), &w.params);
        w.txns(&date(k).to_string(), vec![pay(&format!("P{k}"), &format!("A{k}"), 500, &paid)]);
        let (out, how) = outcome(&w.conn, date(k), &w.params, handoff).unwrap();
        assert_eq!(how.base, k.checked_sub(1).map(date), "day {k}");
        assert_eq!(out, oracle(&w, date(k)), "day {k}");
        let missing: Vec<&str> = out
            .findings
            .iter()
            .filter(|f| f.category == crate::domain::Category::MissingAtAlipay)
            .map(|f| f.merchant_trans_id.as_str())
            .collect();
        assert!(missing.contains(&format!("L{k}").as_str()), "day {k}: the local-only sale is reported: {missing:?}");
    }
}

/// The prefetch leaves out the leaving day's seeds when no key of that day continues after it in what
/// is stored before the import (`zones::may_continue_after`). Here day 12's own file refunds the
/// leaving day's payment, so the load finds the day continued after all, drops the prefetch and reads
/// the seeds itself: every day, with the prefetch, gives the whole window's answer.
#[test]
fn a_leaving_day_continued_only_by_the_imported_file_gives_the_whole_windows_answer() {
    let dir = tempfile::tempdir().unwrap();
    // A look-back of 4 days: the day leaving k's cut is k − 5.
    let mut w = World::on_disk(&dir.path().join("db.sqlite"), Params { open_item_days: 4, ..params(0, 0) });
    let leaving = |k: usize| k - 5;
    for k in 0..15 {
        let paid = time(k, 3_600);
        w.sales(&[&format!("PAYMENT,P{k:02},,5.00,HKD,SUCCESS,{paid},,,A{k:02}")]);
        let handoff = store::handoff::Handoff::start(&w.conn, date(k), &w.params);
        // The prefetch reads what is stored before the import (`run` imports meanwhile, slower).
        handoff.wait_for_prefetch();
        let mut rows = vec![pay(&format!("P{k:02}"), &format!("A{k:02}"), 500, &paid)];
        if k == 12 {
            // Only day 12's file names the leaving day's payment: before its import no later day's
            // ids meet day 7's.
            assert!(!store::zones::may_continue_after(&w.conn, date(leaving(k))).unwrap());
            rows.push(refund("F12", &format!("A{:02}", leaving(k)), 100, &time(k, 7_200)));
        }
        w.txns(&date(k).to_string(), rows);
        if k == 12 {
            assert!(store::zones::may_continue_after(&w.conn, date(leaving(k))).unwrap());
        }
        let (out, how) = outcome(&w.conn, date(k), &w.params, handoff).unwrap();
        assert_eq!((how.base, how.days), (k.checked_sub(1).map(date), 1), "day {k}");
        assert_eq!(out, oracle(&w, date(k)), "day {k}");
    }
}
