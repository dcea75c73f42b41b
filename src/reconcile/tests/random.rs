//! Randomised days: payments with late bookings, cancels after midnight, duplicates, refunds, status
//! restatements in the next day's export. Each day is reconciled as it arrives; after the last day
//! every day is reconciled again and must give the identical result (determinism), and every run
//! checks the partial replay against a full one (`World::run`).

use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

const DAYS: [&str; 4] = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"];

#[derive(Default)]
struct Plan {
    rows: BTreeMap<usize, Vec<DetailRow>>,
    sales: BTreeMap<usize, Vec<String>>,
}

fn time(day: usize, secs: i64) -> String {
    (t(&format!("{}T00:00:00+08:00", DAYS[day])) + chrono::Duration::seconds(secs)).to_rfc3339()
}

fn money(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

fn plan(seed: u64) -> Plan {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut p = Plan::default();
    for day in 0..3 {
        for i in 0..10 {
            let id = format!("P{day}{i}");
            let aid = format!("A{day}{i}");
            let amount = rng.random_range(100..10_000i64);
            let secs =
                if rng.random_bool(0.3) { 86_400 - rng.random_range(1..1_800) } else { rng.random_range(0..80_000) };
            let at = time(day, secs);
            let late = secs > 86_400 - 1_800;
            match rng.random_range(0..6) {
                0 => {}
                1 => p.rows.entry(day).or_default().push(pay(&id, &aid, amount, &at)),
                2 => {
                    p.rows.entry(day).or_default().push(pay(&id, &aid, amount, &at));
                    p.rows.entry(day).or_default().push(cancel(&id, &aid, amount, &at));
                }
                3 => {
                    p.rows.entry(day).or_default().push(pay(&id, &aid, amount, &at));
                    p.rows.entry(day + 1).or_default().push(cancel(&id, &aid, amount, &time(day + 1, 300)));
                }
                4 if late => p.rows.entry(day + 1).or_default().push(pay(&id, &aid, amount, &time(day + 1, 2))),
                4 => p.rows.entry(day).or_default().push(pay(&id, &aid, amount, &at)),
                _ => {
                    p.rows.entry(day).or_default().push(pay(&id, &aid, amount, &at));
                    p.rows.entry(day).or_default().push(pay(&id, &format!("{aid}b"), amount, &at));
                }
            }
            if rng.random_bool(0.1) {
                continue;
            }
            let status = ["SUCCESS", "SUCCESS", "SUCCESS", "UNKNOWN", "CANCELLED", "FAILED"][rng.random_range(0..6)];
            let local_amount = if rng.random_bool(0.1) { amount + 1 } else { amount };
            let line = format!("PAYMENT,{id},,{},HKD,{status},{at},,,{aid}", money(local_amount));
            p.sales.entry(day).or_default().push(line.clone());
            if status == "UNKNOWN" && rng.random_bool(0.5) {
                let to = if rng.random_bool(0.5) { "SUCCESS" } else { "FAILED" };
                p.sales.entry(day + 1).or_default().push(line.replace("UNKNOWN", to));
            }
            if rng.random_bool(0.25) {
                let rid = format!("R{day}{i}");
                let rday = day + rng.random_range(0..2);
                let ramount = rng.random_range(1..amount + 50);
                let rat = time(rday, rng.random_range(40_000..80_000));
                if rng.random_bool(0.8) {
                    p.rows.entry(rday).or_default().push(refund(&rid, &aid, ramount, &rat));
                }
                if rng.random_bool(0.8) {
                    p.sales
                        .entry(rday)
                        .or_default()
                        .push(format!("REFUND,{id},{rid},{},HKD,SUCCESS,{rat},,,{aid}", money(ramount)));
                }
            }
        }
    }
    // A daily export always holds sales of its own day (a restatement is dated by its file's newest
    // record: an export holding only restatements of day T would count as T's data).
    for day in 1..4 {
        p.sales.entry(day).or_default().push(format!("PAYMENT,F{day},,1.00,HKD,FAILED,{},,,", time(day, 3_600)));
    }
    p
}

/// Imports day `day`'s transaction file and sales export of the plan.
fn arrive(w: &mut World, p: &mut Plan, day: usize) {
    w.txns(DAYS[day], p.rows.remove(&day).unwrap_or_default());
    if let Some(lines) = p.sales.remove(&day) {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        w.sales(&lines);
    }
}

#[test]
fn random_days_are_deterministic_and_replays_agree() {
    for seed in 0..25 {
        let mut p = plan(seed);
        let mut w = World::new();
        let mut first = Vec::new();
        for (day, date) in DAYS.iter().enumerate() {
            arrive(&mut w, &mut p, day);
            first.push(w.run(date));
        }
        for (day, date) in DAYS.iter().enumerate() {
            assert_eq!(w.run(date), first[day], "seed {seed}: {date} changed after later days arrived");
        }
        // Each discrepancy is written once: no key is a finding on two days.
        let mut seen = std::collections::HashSet::new();
        for o in &first {
            for f in o.findings.iter().filter(|f| f.category.is_item()) {
                let key = (f.category, f.merchant_trans_id.clone(), f.merchant_refund_id.clone());
                assert!(seen.insert(key.clone()), "seed {seed}: {key:?} reported twice");
            }
        }
    }
}

/// The state-only engine (`run_state`) keeps what a whole run keeps (`run_keeping(.., true)`): on each
/// day's whole window and on its active keys from the day before's state, as each day arrives and
/// again after the last (the later exports restate earlier days).
#[test]
fn state_only_runs_keep_what_whole_runs_keep() {
    let check = |w: &World, date: &str| {
        let input = store::window::load(&w.conn, d(date), &w.params).unwrap();
        check_state_only(date, &input, &w.params);
        let prev = store::window::load(&w.conn, d(date) - chrono::Duration::days(1), &w.params).unwrap();
        let prev_ids = crate::reconcile::run_state(&prev, &w.params).unwrap().ids;
        let active = store::window::load_active(&w.conn, d(date), &w.params, &prev_ids).unwrap();
        check_state_only(date, &active, &w.params);
    };
    for seed in 0..12 {
        let mut p = plan(seed);
        let mut w = World::new();
        for (day, date) in DAYS.iter().enumerate() {
            arrive(&mut w, &mut p, day);
            check(&w, date);
        }
        DAYS.iter().for_each(|date| check(&w, date));
    }
}
