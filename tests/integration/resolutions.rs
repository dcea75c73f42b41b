//! Closing items (issue 18) through the real binary on a real SQLite file: an item is found, resolved
//! from an edited report.xlsx, gone from the next day's open items, reopened; the audit chain verifies,
//! then is found broken after an UPDATE made behind the tool's back. Also: a bad import applies nothing.

use crate::harness::{copy_tree, dir_config, fixtures, Workspace};

const T: &str = "2026-11-24";
const T1: &str = "2026-11-25";

/// The carry-forward case's inputs: I-P5 is MISSING_LOCALLY on the 24th, an open item on the 25th.
fn workspace() -> Workspace {
    let w = Workspace::new();
    let case = fixtures().join("cases/carry-forward/in");
    copy_tree(&case.join("sftp"), &w.file("sftp"));
    copy_tree(&case.join("sales"), &w.file("sales"));
    w.write("alipay-recon.toml", dir_config("Closing Store", &["intl"]));
    w
}

fn run_day(w: &Workspace, date: &str) {
    w.run(&["import-sales", &format!("sales/sales-{date}.csv")]).expect_code(0);
    w.run(&["run", "--date", date, "--no-email"]).expect_code(1);
}

fn read(w: &Workspace, rel: &str) -> String {
    std::fs::read_to_string(w.file(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The item_id of the row of `csv` whose merchant_trans_id is `id`.
fn item_id_of(csv: &str, id: &str) -> String {
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let header = r.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} column"));
    let (trans, item) = (col("merchant_trans_id"), col("item_id"));
    let row = r.records().map(Result::unwrap).find(|rec| &rec[trans] == id);
    row.unwrap_or_else(|| panic!("{id} not in\n{csv}"))[item].to_string()
}

/// What an accountant sends back: the Discrepancies sheet with a resolution picked for `item`.
fn edited_workbook(w: &Workspace, item: &str) -> std::path::PathBuf {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Discrepancies").unwrap();
    for (i, h) in ["business_date", "category", "merchant_trans_id", "item_id", "resolution", "note"].iter().enumerate()
    {
        ws.write_string(0, i as u16, *h).unwrap();
    }
    for (i, v) in
        [T, "MISSING_LOCALLY", "I-P5", item, "WRITTEN_OFF", "customer paid twice, refunded in cash"].iter().enumerate()
    {
        ws.write_string(1, i as u16, *v).unwrap();
    }
    // A row nobody filled in is skipped.
    ws.write_string(2, 3, "0000000000").unwrap();
    let path = w.file("edited.xlsx");
    wb.save(&path).unwrap();
    path
}

#[test]
fn an_item_is_resolved_from_the_spreadsheet_reopened_and_its_audit_trail_checked() {
    let w = workspace();
    run_day(&w, T);
    let found = read(&w, &format!("reports/{T}/discrepancies.csv"));
    let id = item_id_of(&found, "I-P5");
    assert!(found.lines().next().unwrap().ends_with(",item_id"), "{found}");

    // The report's own workbook carries the columns and the drop-down of reasons.
    let xlsx = std::fs::read(w.file(&format!("reports/{T}/report.xlsx"))).unwrap();
    assert!(!xlsx.is_empty());

    let edited = edited_workbook(&w, &id);
    let r = w.run(&["resolve", "--from", edited.to_str().unwrap(), "--date", T1, "--by", "ann"]).expect_code(0);
    assert!(r.stdout.contains("1 resolution(s) recorded"), "{}", r.stdout);

    let r = w.run(&["items", "--state", "resolved", "--json"]).expect_code(0);
    let listed: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(listed[0]["item_id"], id.as_str(), "{}", r.stdout);
    assert_eq!(listed[0]["reason"], "WRITTEN_OFF");
    assert_eq!(listed[0]["by"], "ann");

    // The next day's report: gone from the open items, listed as resolved that day, written off.
    run_day(&w, T1);
    let open = read(&w, &format!("reports/{T1}/open_items.csv"));
    assert!(!open.contains("I-P5"), "{open}");
    assert!(open.lines().next().unwrap().ends_with(",item_id,state"), "{open}");
    let summary: serde_json::Value = serde_json::from_str(&read(&w, &format!("reports/{T1}/summary.json"))).unwrap();
    let res = &summary["resolutions"];
    assert_eq!(res["recorded"][0]["item_id"], id.as_str(), "{res}");
    assert_eq!(res["recorded"][0]["note"], "customer paid twice, refunded in cash");
    assert!(res["written_off"]["HKD"]["WRITTEN_OFF"]["amount"].is_string(), "{res}");

    // A rerun of the 24th still has it: the resolution took effect on the 25th.
    w.run(&["run", "--date", T, "--no-email"]).expect_code(1);
    assert_eq!(read(&w, &format!("reports/{T}/discrepancies.csv")), found);

    // Reopened: an open item again on the 25th's rerun.
    w.run(&["reopen", &id, "--date", T1, "--by", "bob", "--note", "Alipay disagrees"]).expect_code(0);
    w.run(&["run", "--date", T1, "--no-email"]).expect_code(1);
    let open = read(&w, &format!("reports/{T1}/open_items.csv"));
    let row = open.lines().find(|l| l.contains("I-P5")).unwrap_or_else(|| panic!("{open}"));
    assert!(row.ends_with(&format!(",{id},OPEN")), "{row}");

    // Closed again from the command line, by category and key this time.
    let r = w
        .run(&[
            "resolve",
            "--category",
            "MISSING_LOCALLY",
            "--key",
            "I-P5",
            "--reason",
            "ALIPAY_CONFIRMED",
            "--by",
            "cy",
        ])
        .expect_code(0);
    assert!(r.stdout.contains(&format!("Resolved {id}")), "{}", r.stdout);
    let r = w.run(&["items", "--state", "resolved"]).expect_code(0);
    assert!(
        r.stdout.contains(&id) && r.stdout.contains("ALIPAY_CONFIRMED") && r.stdout.contains("1 item(s)"),
        "{}",
        r.stdout
    );

    // The trail: the import, its row, the reopen, the resolve.
    let r = w.run(&["audit", "verify"]).expect_code(0);
    assert!(r.stdout.contains("intact: 4 entries"), "{}", r.stdout);
    let r = w.run(&["audit", "export"]).expect_code(0);
    assert_eq!(r.stdout.lines().count(), 5, "{}", r.stdout);
    assert!(r.stdout.lines().nth(1).unwrap().contains(",IMPORT,ann,"), "{}", r.stdout);

    // Behind the tool's back: someone turns the write-off into a confirmed item.
    let db = rusqlite::Connection::open(w.file("data/recon.db")).unwrap();
    db.execute_batch(
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET content = replace(content, 'WRITTEN_OFF', 'ALIPAY_CONFIRMED') WHERE seq = 2;",
    )
    .unwrap();
    drop(db);
    let r = w.run(&["audit", "verify"]).expect_code(1);
    assert!(r.stdout.contains("BROKEN") && r.stdout.contains("entry #2"), "{}", r.stdout);
}

#[test]
fn an_import_with_a_bad_row_applies_nothing_and_names_every_row() {
    let w = workspace();
    run_day(&w, T);
    let id = item_id_of(&read(&w, &format!("reports/{T}/discrepancies.csv")), "I-P5");
    w.write("answers.csv", format!("item_id,reason,note\n{id},WRITTEN_OFF,ok\nZZZZZZZZZZ,OTHER,\n{id}X,MAYBE,\n"));
    let r = w.run(&["resolve", "--from", "answers.csv"]).expect_code(2);
    assert!(r.stderr.contains("line 3: item ZZZZZZZZZZ"), "{}", r.stderr);
    assert!(r.stderr.contains("line 4:"), "{}", r.stderr);
    assert!(r.stderr.contains("none was"), "{}", r.stderr);
    let r = w.run(&["items", "--state", "resolved", "--json"]).expect_code(0);
    assert_eq!(r.stdout.trim(), "[]");
    let r = w.run(&["resolve", &id, "--reason", "NOT_A_REASON"]).expect_code(2);
    assert!(r.stderr.contains("WRITTEN_OFF"), "{}", r.stderr);
    let r = w.run(&["--help"]).expect_code(0);
    for verb in ["resolve", "reopen", "items", "audit"] {
        assert!(r.stdout.contains(verb), "{verb} not in --help:\n{}", r.stdout);
    }
}

#[test]
fn an_item_left_unresolved_is_reported_expired_on_its_last_day() {
    let w = workspace();
    let cfg = read(&w, "alipay-recon.toml")
        .replace("[environments.production]", "[business]\nopen_item_days = 1\n[environments.production]");
    w.write("alipay-recon.toml", cfg);
    run_day(&w, T);
    run_day(&w, T1);
    // Item date the 24th, look-back 1 day: the 25th is its last report.
    let open = read(&w, &format!("reports/{T1}/open_items.csv"));
    let row = open.lines().find(|l| l.contains("I-P5")).unwrap_or_else(|| panic!("{open}"));
    assert!(row.ends_with(",EXPIRED"), "{row}");
    let summary: serde_json::Value = serde_json::from_str(&read(&w, &format!("reports/{T1}/summary.json"))).unwrap();
    assert_eq!(summary["resolutions"]["expired"]["HKD"]["amount"], "8.00", "{summary}");
    let r = w.run(&["items", "--state", "expired", "--json"]).expect_code(0);
    let listed: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(listed[0]["key"], "I-P5", "{}", r.stdout);
}
