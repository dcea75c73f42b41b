//! The resolution rules on an in-memory store: what a day's report applies, the all-or-none import,
//! and the audit chain catching edits made behind the tool's back.

use super::*;
use crate::domain::item::finding_item_id;
use crate::domain::{Currency, Finding, OpenItem};
use crate::reconcile::Outcome;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn finding(cat: Category, id: &str, item_date: &str, amount: i64) -> Finding {
    let hkd = Currency::parse("HKD").unwrap();
    Finding {
        business_date: d(item_date),
        item_date: d(item_date),
        category: cat,
        merchant_trans_id: id.into(),
        merchant_refund_id: String::new(),
        acquirement_id: String::new(),
        currency: Some(hkd),
        local_amount: None,
        alipay_currency: Some(hkd),
        alipay_amount: Some(amount),
        local_type: String::new(),
        alipay_type: "PAYMENT".into(),
        detail: "Alipay has it, we do not".into(),
    }
}

/// Saves a current result of `date` listing `findings` and T2 (item date 11-01) open for `age_days`.
fn save_with_t2_open(conn: &mut Connection, date: &str, age_days: i64, findings: Vec<Finding>) {
    let mut out = Outcome { findings, ..Default::default() };
    out.open_items.push(OpenItem {
        finding: finding(Category::MissingLocally, "T2", "2026-11-01", 1200),
        first_reported: d("2026-11-01"),
        age_days,
    });
    crate::store::results::save(conn, None, d(date), &out).unwrap();
}

/// A store with a current result of 2026-11-05 listing T1 (found that day) and T2 (open since 11-01).
fn store() -> Connection {
    let mut conn = crate::store::open_in_memory().unwrap();
    save_with_t2_open(&mut conn, "2026-11-05", 4, vec![finding(Category::MissingLocally, "T1", "2026-11-05", 5600)]);
    conn
}

/// [`store`] and a later report, of 11-08, on which T2 (item date 11-01) is on its last day of a
/// 7-day look-back.
fn store_with_t2_expiring() -> Connection {
    let mut conn = store();
    save_with_t2_open(&mut conn, "2026-11-08", 7, Vec::new());
    conn
}

fn reasons() -> Vec<String> {
    crate::config::DEFAULT_REASONS.iter().map(|s| s.to_string()).collect()
}

fn rec(effective: &str) -> Recording {
    Recording { by: "ann".into(), effective: d(effective), recorded_at: "2026-11-06T02:00:00Z".into(), import: None }
}

fn resolve(conn: &mut Connection, key: &str, reason: &str, effective: &str) {
    let r = ItemRef::Key(Category::MissingLocally, key.into());
    let items = reported_items(conn, 7, &[r.id()].into()).unwrap();
    let item = find(&items, &r).unwrap().clone();
    let events = rs::events(conn, None).unwrap();
    let c = plan_resolve(&reasons(), &latest_events(&events), &item, reason, "cash at till 3").unwrap().unwrap();
    record(conn, &[(c, "cli".into())], &rec(effective)).unwrap();
}

fn open_on(conn: &Connection, date: &str) -> (Vec<OpenItem>, DayResolutions) {
    let mut open = vec![OpenItem {
        finding: finding(Category::MissingLocally, "T2", "2026-11-01", 1200),
        first_reported: d("2026-11-01"),
        age_days: 4,
    }];
    let mut summary = DaySummary::default();
    let r = apply(conn, d(date), 7, &mut open, &mut summary).unwrap();
    (open, r)
}

#[test]
fn a_resolution_applies_from_its_day_on_and_reruns_of_earlier_days_keep_the_item() {
    let mut conn = store();
    resolve(&mut conn, "T2", "WRITTEN_OFF", "2026-11-06");
    let (open, day) = open_on(&conn, "2026-11-05");
    assert_eq!(open.len(), 1, "a rerun of the day before the resolution still lists it");
    assert!(day.recorded.is_empty());
    let (open, day) = open_on(&conn, "2026-11-06");
    assert!(open.is_empty());
    assert_eq!(day.recorded.len(), 1);
    assert_eq!(day.recorded[0].note, "cash at till 3");
    assert_eq!(day.written_off["HKD"]["WRITTEN_OFF"], AmountCount { amount: 1200, count: 1 });
    let (open, day) = open_on(&conn, "2026-11-07");
    assert!(open.is_empty() && day.recorded.is_empty() && day.written_off.is_empty());
}

#[test]
fn resolving_invalidates_the_day_state_from_its_effective_day() {
    let mut conn = store();
    use crate::store::state;
    let g = state::generation(&conn).unwrap();
    let keys = crate::reconcile::DayKeys::default();
    for day in ["2026-11-05", "2026-11-06", "2026-11-07"] {
        assert!(state::save(&conn, g, d(day), "h", &Default::default(), &keys).unwrap());
    }
    resolve(&mut conn, "T1", "OTHER", "2026-11-06");
    assert!(state::generation(&conn).unwrap() > g, "a run racing with it does not store its state");
    assert!(state::get(&conn, d("2026-11-05"), "h").unwrap().is_some());
    assert!(state::get(&conn, d("2026-11-06"), "h").unwrap().is_none());
    assert!(state::get(&conn, d("2026-11-07"), "h").unwrap().is_none());
}

#[test]
fn an_unresolved_item_on_its_last_day_is_expired_with_its_amount() {
    let conn = store();
    let (open, day) = open_on(&conn, "2026-11-07");
    assert_eq!(open.len(), 1);
    assert!(day.expired.is_empty(), "item date 11-01 has a day left in the look-back on 11-07");
    // 11-08 − 7 days = 11-01: its last day, reported once as expired with its amount.
    let (open, day) = open_on(&conn, "2026-11-08");
    assert!(day.expired.contains(&finding_item_id(&open[0].finding)));
    assert_eq!(day.expired_amount["HKD"], AmountCount { amount: 1200, count: 1 });
}

#[test]
fn resolved_differently_is_refused_until_reopened() {
    let mut conn = store();
    resolve(&mut conn, "T1", "OTHER", "2026-11-06");
    let items = reported_items(&conn, 7, &BTreeSet::new()).unwrap();
    let item = find(&items, &ItemRef::Key(Category::MissingLocally, "T1".into())).unwrap().clone();
    let events = rs::events(&conn, None).unwrap();
    let latest = latest_events(&events);
    assert!(plan_resolve(&reasons(), &latest, &item, "OTHER", "cash at till 3").unwrap().is_none());
    let e = plan_resolve(&reasons(), &latest, &item, "WRITTEN_OFF", "").unwrap_err();
    assert!(e.contains("already resolved as OTHER") && e.contains("reopen"), "{e}");
    let e = plan_resolve(&reasons(), &latest, &item, "NOPE", "").unwrap_err();
    assert!(e.contains("NOPE") && e.contains("WRITTEN_OFF"), "{e}");
    let c = plan_reopen(&latest, &item.id, "wrong call").unwrap();
    record(&mut conn, &[(c, "cli".into())], &rec("2026-11-07")).unwrap();
    let events = rs::events(&conn, None).unwrap();
    assert!(plan_reopen(&latest_events(&events), &item.id, "").is_err());
    let listed = list(&conn, 7, &Filter { states: vec![ItemState::Open], ..Default::default() }).unwrap();
    assert!(listed.iter().any(|i| i.item_id == item.id));
}

#[test]
fn an_import_is_all_or_none_and_names_each_bad_row() {
    let mut conn = store();
    let t1 = item_id(Category::MissingLocally, "T1");
    let t2 = item_id(Category::MissingLocally, "T2");
    let csv = format!("item_id,reason,note\n{t1},WRITTEN_OFF,ok\nZZZZZZZZZZ,OTHER,\n{t2},MAYBE,\n");
    let rows = import::read_csv(csv.as_bytes()).unwrap();
    let errors = import::plan(&conn, &reasons(), 7, &rows).unwrap().unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("line 3: item ZZZZZZZZZZ"), "{errors:?}");
    assert!(errors[1].starts_with("line 4: reason 'MAYBE'"), "{errors:?}");
    let csv = format!("item_id,reason,note\n{t1},WRITTEN_OFF,ok\n{t2},OTHER,\n");
    let rows = import::read_csv(csv.as_bytes()).unwrap();
    let changes = import::plan(&conn, &reasons(), 7, &rows).unwrap().unwrap();
    assert_eq!(changes.len(), 2);
    record(&mut conn, &changes, &rec("2026-11-06")).unwrap();
    assert_eq!(rs::events(&conn, None).unwrap().len(), 2);
}

#[test]
fn the_audit_chain_names_the_first_changed_or_removed_entry() {
    let mut conn = store();
    resolve(&mut conn, "T1", "OTHER", "2026-11-06");
    resolve(&mut conn, "T2", "WRITTEN_OFF", "2026-11-06");
    let v = audit::verify(&conn).unwrap();
    assert_eq!((v.entries, v.broken.clone()), (2, None));
    assert_eq!(v.head.len(), 64);
    let csv = String::from_utf8(audit::export_csv(&conn).unwrap()).unwrap();
    assert_eq!(csv.lines().count(), 3);

    // Behind the tool's back: the triggers dropped, one reason rewritten in both tables.
    conn.execute_batch(
        "DROP TRIGGER resolution_events_no_update; DROP TRIGGER audit_log_no_update;
         UPDATE resolution_events SET reason = 'ALIPAY_CONFIRMED' WHERE audit_seq = 2;",
    )
    .unwrap();
    let broken = audit::verify(&conn).unwrap().broken.unwrap();
    assert!(broken.contains("entry #2") && broken.contains("resolution_events"), "{broken}");
    conn.execute_batch(
        "UPDATE audit_log SET content = replace(content, 'WRITTEN_OFF', 'ALIPAY_CONFIRMED') WHERE seq = 2;",
    )
    .unwrap();
    let broken = audit::verify(&conn).unwrap().broken.unwrap();
    assert!(broken.starts_with("entry #2") && broken.contains("changed"), "{broken}");
    conn.execute_batch("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 1;").unwrap();
    let broken = audit::verify(&conn).unwrap().broken.unwrap();
    assert!(broken.contains("entry #1 was removed"), "{broken}");
}

/// report.xlsx carries item_id, resolution (a drop-down of the reasons) and note on its item sheets,
/// and what an accountant fills in there is read back by `resolve --from`.
#[test]
fn the_workbook_offers_the_reasons_and_its_filled_rows_are_read_back() {
    let mut ri = crate::report::ReportInput::new(d("2026-11-05"), "Shop");
    ri.findings.push(finding(Category::MissingLocally, "T1", "2026-11-05", 5600));
    ri.resolutions.reasons = reasons();
    let dir = tempfile::tempdir().unwrap();
    let w = crate::report::write(dir.path(), &ri, 1).unwrap();
    let bytes = std::fs::read(&w.report_xlsx).unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
    // The Discrepancies sheet (its place among the sheets is not fixed: find it by its drop-down).
    let sheets: Vec<String> = (1..=z.len())
        .filter_map(|i| {
            let mut sheet = String::new();
            let mut f = z.by_name(&format!("xl/worksheets/sheet{i}.xml")).ok()?;
            std::io::Read::read_to_string(&mut f, &mut sheet).ok()?;
            Some(sheet)
        })
        .collect();
    let sheet = sheets.iter().find(|s| s.contains("<dataValidation")).expect("a sheet with the reasons' drop-down");
    assert!(sheet.contains("WRITTEN_OFF"), "{sheet}");
    assert!(import::read_xlsx(&bytes).unwrap().is_empty(), "no resolution picked yet");

    // The accountant's copy: the same columns, one resolution picked.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Open items").unwrap();
    for (i, h) in ["category", "item_id", "resolution", "note"].iter().enumerate() {
        ws.write_string(0, i as u16, *h).unwrap();
    }
    let id = item_id(Category::MissingLocally, "T1");
    for (i, v) in ["MISSING_LOCALLY", id.as_str(), "OTHER", "checked"].iter().enumerate() {
        ws.write_string(3, i as u16, *v).unwrap();
    }
    let rows = import::read_xlsx(&wb.save_to_buffer().unwrap()).unwrap();
    assert_eq!(
        rows,
        vec![import::Row {
            place: "sheet 'Open items' row 4".into(),
            item: id,
            reason: "OTHER".into(),
            note: "checked".into()
        }]
    );
}

/// The day's resolutions reach summary.json, report.html and the email's text.
#[test]
fn the_days_resolutions_reach_the_summary_the_page_and_the_email() {
    let mut conn = store();
    resolve(&mut conn, "T2", "WRITTEN_OFF", "2026-11-06");
    let mut ri = crate::report::ReportInput::new(d("2026-11-06"), "Shop");
    ri.open_items.push(OpenItem {
        finding: finding(Category::MissingLocally, "T2", "2026-11-01", 1200),
        first_reported: d("2026-11-01"),
        age_days: 5,
    });
    let cfg = crate::config::Config::demo(std::path::Path::new("/tmp"), std::path::Path::new("/tmp"));
    ri.resolutions = for_day(&conn, &cfg, d("2026-11-06"), &mut ri.open_items, &mut ri.summary).unwrap();
    assert!(ri.open_items.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let w = crate::report::write(dir.path(), &ri, 1).unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&w.summary_json).unwrap()).unwrap();
    assert_eq!(summary["resolutions"]["written_off"]["HKD"]["WRITTEN_OFF"]["amount"], "12.00");
    assert_eq!(summary["resolutions"]["recorded"][0]["by"], "ann");
    let html = std::fs::read_to_string(&w.report_html).unwrap();
    assert!(html.contains("Resolutions (1)") && html.contains("cash at till 3"), "{html}");
    let lines = crate::report::resolution_email_lines(&w.dir);
    assert!(lines.iter().any(|l| l == "Written off today, WRITTEN_OFF: 12.00 HKD (1 item(s))"), "{lines:?}");
}

/// `items`: open on the newest report, expired when a report showed it on its last day, resolved with
/// who and why; filters by state, category, currency and reason.
#[test]
fn items_lists_open_expired_and_resolved_with_filters() {
    let mut conn = store_with_t2_expiring();
    resolve(&mut conn, "T1", "OTHER", "2026-11-06");
    let all = list(&conn, 7, &Filter::default()).unwrap();
    let states: Vec<(ItemState, &str)> = all.iter().map(|i| (i.state, i.key.as_str())).collect();
    assert_eq!(states, [(ItemState::Resolved, "T1"), (ItemState::Expired, "T2")]);
    assert_eq!(all[1].amount.as_deref(), Some("12.00"));
    let by_reason = list(&conn, 7, &Filter { reason: Some("OTHER".into()), ..Default::default() }).unwrap();
    assert_eq!(by_reason.len(), 1);
    assert_eq!(by_reason[0].by, "ann");
    let none = list(&conn, 7, &Filter { currency: Some("JPY".into()), ..Default::default() }).unwrap();
    assert!(none.is_empty());
}

/// An item whose last report is older than the recent reports (the open-item look-back plus
/// `RECENT_EXTRA_DAYS` before the newest) is still found when asked for, and resolved; `items --from`
/// reaches back to it. Before, it was "on no stored report of the last weeks" and could never be closed.
#[test]
fn an_item_reported_long_before_the_newest_report_is_found_resolved_and_listed() {
    let mut conn = store_with_t2_expiring();
    // The newest report, 57 days later (beyond 7 + 31 days), lists neither T1 nor T2.
    let newest = d("2027-01-04");
    assert!(recent_from(newest, 7) > d("2026-11-08"), "the old reports are outside the recent ones");
    let mut out = Outcome::default();
    out.findings.push(finding(Category::MissingLocally, "T9", "2027-01-04", 100));
    crate::store::results::save(&mut conn, None, newest, &out).unwrap();

    let t2 = ItemRef::Key(Category::MissingLocally, "T2".into());
    let recent = reported_items(&conn, 7, &BTreeSet::new()).unwrap();
    assert_eq!(recent.len(), 1, "only the recent reports are read when no id is missing");
    let e = find(&recent, &t2).unwrap_err();
    assert!(e.contains("no stored report lists a MISSING_LOCALLY item with key 'T2'"), "{e}");

    let items = reported_items(&conn, 7, &[t2.id()].into()).unwrap();
    let item = find(&items, &t2).unwrap();
    assert_eq!((item.last_report, item.finding.item_date), (d("2026-11-08"), d("2026-11-01")), "its newest report");
    let t1 = ItemRef::Key(Category::MissingLocally, "T1".into()).id();
    assert!(!items.contains_key(&t1), "of the older reports, only the ids asked for");
    let unknown = ItemRef::Id("0000000000".into());
    let none = reported_items(&conn, 7, &[unknown.id()].into()).unwrap();
    let e = find(&none, &unknown).unwrap_err();
    assert!(e.contains("item 0000000000 is on no stored report") && e.contains("run that day's reconciliation"), "{e}");

    // `items` lists the recent reports' expired items; `--from` an older item date reaches back.
    let keys = |conn: &Connection, f: Filter| {
        list(conn, 7, &f).unwrap().into_iter().map(|i| (i.state, i.key)).collect::<Vec<_>>()
    };
    assert_eq!(keys(&conn, Filter::default()), [(ItemState::Open, "T9".to_string())]);
    let since_october = || Filter { from: Some(d("2026-10-01")), ..Default::default() };
    assert_eq!(keys(&conn, since_october()), [(ItemState::Open, "T9".into()), (ItemState::Expired, "T2".into())]);

    resolve(&mut conn, "T2", "WRITTEN_OFF", "2027-01-05");
    assert_eq!(keys(&conn, since_october()), [(ItemState::Open, "T9".into()), (ItemState::Resolved, "T2".into())]);
}
