//! The spine through the real binary: config errors, import idempotence, restatements, rejected lines,
//! not-ready exit code, sales import, and a SIGKILL in the middle of a large import.

use crate::harness::{wait_until, Run, Workspace};
use std::path::Path;
use std::time::Duration;

const DAY: &str = "2026-11-25";
const DAY_DIR: &str = "sftp/download/2188000000000001/20261125";

/// A workspace with a config whose source is the folder `sftp/` inside it.
pub fn spine_workspace() -> Workspace {
    let w = Workspace::new();
    w.write("alipay-recon.toml", crate::harness::dir_config("Test Store", &["intl"]));
    std::fs::create_dir_all(w.file("sftp")).unwrap();
    w
}

/// Generates a day with the real `gen` subcommand into the workspace's source folder.
pub fn gen_day(w: &Workspace, payments: usize) {
    w.run(&["gen", "--date", DAY, "--payments", &payments.to_string(), "--out", w.path().to_str().unwrap()])
        .expect_code(0);
}

fn db(w: &Workspace) -> rusqlite::Connection {
    rusqlite::Connection::open(w.file("data/recon.db")).unwrap()
}

fn count(w: &Workspace, sql: &str) -> i64 {
    db(w).query_row(sql, [], |r| r.get(0)).unwrap()
}

fn import(w: &Workspace) -> Run {
    w.run(&["import", "--date", DAY])
}

#[test]
fn bad_config_names_file_and_key() {
    let w = spine_workspace();
    let text =
        std::fs::read_to_string(w.file("alipay-recon.toml")).unwrap().replace("[store]", "[store]\ndatabse = \"x\"");
    w.write("alipay-recon.toml", text);
    let r = import(&w).expect_code(2);
    assert!(r.stderr.contains("alipay-recon.toml") && r.stderr.contains("databse"), "{}", r.stderr);
}

#[test]
fn missing_config_says_how_to_create_one() {
    let w = Workspace::new();
    let r = w.run(&["status"]).expect_code(2);
    assert!(r.stderr.contains("alipay-recon init"), "{}", r.stderr);
}

#[test]
fn init_writes_a_config_that_loads() {
    let w = Workspace::new();
    w.run(&["init"]).expect_code(0);
    assert!(w.file("alipay-recon.toml").exists());
    w.run(&["init"]).expect_code(2);
    // The example points at SFTP; switching to a folder source makes it usable offline.
    let mut w2 = w;
    w2.set_env("ALIPAY_RECON__SOURCE__KIND", "dir");
    w2.set_env("ALIPAY_RECON__SOURCE__DIR", ".");
    w2.run(&["status"]).expect_code(0);
}

#[test]
fn import_twice_changes_nothing() {
    let w = spine_workspace();
    gen_day(&w, 500);
    let r = import(&w);
    assert!(r.code == 0 || r.code == 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("imported"), "{}", r.stdout);
    let rows = count(&w, "SELECT COUNT(*) FROM alipay_rows");
    let files = count(&w, "SELECT COUNT(*) FROM files");
    assert_eq!(files, 3);
    assert!(rows > 500);
    let r2 = import(&w);
    assert!(r2.stdout.matches("unchanged").count() == 3, "{}", r2.stdout);
    assert_eq!(count(&w, "SELECT COUNT(*) FROM alipay_rows"), rows);
    assert_eq!(count(&w, "SELECT COUNT(*) FROM files"), files);
    // Every file is in the content-addressed archive.
    let archived = count(&w, "SELECT COUNT(*) FROM files");
    let mut n = 0;
    for e in walk(&w.file("data/archive/sha256")) {
        n += e.is_file() as i64;
    }
    assert_eq!(n, archived);
    // Two runs recorded.
    assert_eq!(count(&w, "SELECT COUNT(*) FROM runs WHERE command = 'import' AND outcome IN ('ok','attention')"), 2);
}

fn walk(p: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn restated_file_becomes_a_new_version() {
    let w = spine_workspace();
    gen_day(&w, 200);
    import(&w);
    let settle = w.file(&format!("{DAY_DIR}/ALIPAY_SETTLEMENT_DETAIL_HKD_20261125.csv"));
    let before = count(&w, "SELECT COUNT(*) FROM alipay_rows r JOIN files f ON f.id = r.file_id WHERE f.current = 1");
    // Alipay restates the settlement file (T+2 fees): drop the last row.
    let text = std::fs::read_to_string(&settle).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(&settle, lines.join("\n") + "\n").unwrap();
    let r = import(&w);
    assert!(r.stdout.contains("restated  version 2"), "{}", r.stdout);
    assert_eq!(
        count(&w, "SELECT COUNT(*) FROM files WHERE name LIKE 'ALIPAY_SETTLEMENT_DETAIL%'"),
        2,
        "both versions recorded"
    );
    assert_eq!(count(&w, "SELECT COUNT(*) FROM files WHERE name LIKE 'ALIPAY_SETTLEMENT_DETAIL%' AND current = 1"), 1);
    let after = count(&w, "SELECT COUNT(*) FROM alipay_rows r JOIN files f ON f.id = r.file_id WHERE f.current = 1");
    assert_eq!(after, before - 1, "the new version replaces the old rows");
    let st = w.run(&["status", "--from", DAY, "--to", DAY, "--all-versions"]);
    assert!(st.stdout.contains("version 2") && st.stdout.contains("superseded"), "{}", st.stdout);
}

#[test]
fn rejected_lines_are_kept_and_reported() {
    let w = spine_workspace();
    gen_day(&w, 50);
    let tx = w.file(&format!("{DAY_DIR}/ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv"));
    let mut text = std::fs::read_to_string(&tx).unwrap();
    text.push_str("2188000000000001,S1,ST01,OFFLINE_PAY,2026-11-25T12:00:00+08:00,Bad,PAYMENT,Success,BAD-1,2026X,,12.345,HKD,,ALIPAY_HK,u1\n");
    std::fs::write(&tx, text).unwrap();
    let r = import(&w).expect_code(1);
    assert!(r.stdout.contains("1 rejected lines"), "{}", r.stdout);
    assert_eq!(count(&w, "SELECT COUNT(*) FROM file_issues WHERE severity = 'reject'"), 1);
    let (line, msg): (i64, String) = db(&w)
        .query_row("SELECT line, message FROM file_issues WHERE severity = 'reject'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(line > 50, "line number of the bad row: {line}");
    assert!(msg.contains("12.345"), "{msg}");
    let st = w.run(&["status", "--from", DAY, "--to", DAY]).expect_code(1);
    assert!(st.stdout.contains("1 rejected lines"), "{}", st.stdout);
}

#[test]
fn missing_files_before_deadline_exit_3() {
    let w = spine_workspace();
    let r = w.run(&["import", "--date", "today"]).expect_code(3);
    assert!(r.stderr.contains("not there yet") && r.stderr.contains("retry later"), "{}", r.stderr);
    assert_eq!(count(&w, "SELECT COUNT(*) FROM runs WHERE outcome = 'not_ready' AND exit_code = 3"), 1);
}

#[test]
fn missing_files_after_deadline_need_attention() {
    let w = spine_workspace();
    let r = w.run(&["import", "--date", "2020-01-01"]).expect_code(1);
    assert!(r.stderr.contains("after the deadline"), "{}", r.stderr);
}

#[test]
fn sales_import_rejects_bad_rows_and_is_idempotent() {
    let w = spine_workspace();
    let f = w.write(
        "sales.csv",
        "record_type,merchant_trans_id,merchant_refund_id,amount,currency,status,created_at,store_id,terminal_id,acquirement_id\n\
         PAYMENT,P1,,10.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n\
         PAYMENT,P2,,ten,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n",
    );
    let r = w.run(&["import-sales", f.to_str().unwrap()]).expect_code(1);
    assert!(
        r.stdout.contains("1 records loaded, 1 rejected") && r.stdout.contains("rejected line 3 (amount)"),
        "{}",
        r.stdout
    );
    let r = w.run(&["import-sales", f.to_str().unwrap()]).expect_code(0);
    assert!(r.stdout.contains("unchanged"), "{}", r.stdout);
    assert_eq!(count(&w, "SELECT COUNT(*) FROM local_records"), 1);
    assert_eq!(count(&w, "SELECT COUNT(*) FROM sales_rejects"), 1);
}

#[test]
fn sigkill_during_a_large_import_leaves_one_complete_copy() {
    let w = spine_workspace();
    gen_day(&w, 150_000);
    let expected_rows = {
        // Count data rows of the two detail files (header excluded).
        let mut n = 0;
        for name in ["ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv", "ALIPAY_SETTLEMENT_DETAIL_HKD_20261125.csv"] {
            n += std::fs::read_to_string(w.file(&format!("{DAY_DIR}/{name}"))).unwrap().lines().count() as i64 - 1;
        }
        n
    };
    // Kill at two points, each waited for (not guessed with a sleep): as soon as the first run is
    // recorded as running, before any file is stored; and in the second run once its first file is
    // committed, while the next file's rows are being written.
    let stored = |sql: &str| {
        let ro = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY; // never creates the file before the run does
        rusqlite::Connection::open_with_flags(w.file("data/recon.db"), ro).ok()?.query_row(sql, [], |r| r.get(0)).ok()
    };
    let points = [
        ("the first run to be recorded", "SELECT COUNT(*) FROM runs WHERE outcome = 'running'", 1i64),
        ("the second run's first stored file", "SELECT COUNT(*) FROM files", 1),
    ];
    for (what, sql, at_least) in points {
        let mut child = w
            .cmd(&["import", "--date", DAY])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_until(what, Duration::from_secs(60), || {
            stored(sql).is_some_and(|n: i64| n >= at_least) || child.try_wait().is_ok_and(|st| st.is_some())
        });
        let _ = child.kill(); // SIGKILL (a run that ended first is left as it is)
        child.wait().unwrap();
    }
    // Whatever was committed before the kills is whole: no file has partial rows.
    let partial = count(
        &w,
        "SELECT COUNT(*) FROM files f WHERE f.row_count != (SELECT COUNT(*) FROM alipay_rows r WHERE r.file_id = f.id)
           + (SELECT COUNT(*) FROM summary_rows s WHERE s.file_id = f.id)",
    );
    assert_eq!(partial, 0);
    assert!(
        count(&w, "SELECT COUNT(*) FROM runs WHERE outcome = 'running'") >= 1,
        "a kill landed while a run was recorded as running"
    );
    let r = import(&w);
    assert!(r.code == 0 || r.code == 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(count(&w, "SELECT COUNT(*) FROM alipay_rows"), expected_rows, "exactly one complete copy");
    assert_eq!(count(&w, "SELECT COUNT(*) FROM files"), 3);
    assert_eq!(
        count(&w, "SELECT COUNT(*) FROM runs WHERE outcome = 'interrupted'"),
        count(&w, "SELECT COUNT(*) FROM runs") - 1
    );
    // And once more: nothing changes.
    import(&w);
    assert_eq!(count(&w, "SELECT COUNT(*) FROM alipay_rows"), expected_rows);
}

#[test]
fn explain_follows_a_payment_across_files_and_local_records() {
    let w = spine_workspace();
    gen_day(&w, 300);
    import(&w);
    let sales = w.file("sales/sales-2026-11-25.csv");
    w.run(&["import-sales", sales.to_str().unwrap()]);
    // Find a refunded payment in the generated sales file.
    let text = std::fs::read_to_string(&sales).unwrap();
    let refund = text.lines().find(|l| l.starts_with("REFUND,")).expect("the generator makes refunds");
    let cols: Vec<&str> = refund.split(',').collect();
    let (pay_id, refund_id) = (cols[1], cols[2]);
    let r = w.run(&["explain", pay_id]).expect_code(0);
    assert!(r.stdout.contains("PAYMENT") && r.stdout.contains("REFUND"), "{}", r.stdout);
    assert!(
        r.stdout.contains("ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv")
            && r.stdout.contains("ALIPAY_SETTLEMENT_DETAIL"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(refund_id), "{}", r.stdout);
    let j = w.run(&["explain", refund_id, "--json"]).expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert!(v["alipay"].as_array().unwrap().len() >= 2, "refund rows and its payment: {}", j.stdout);
    assert_eq!(v["local"][0]["record_id"], refund_id);
    let r = w.run(&["explain", "NO-SUCH-ID"]).expect_code(2);
    assert!(r.stderr.contains("nothing is stored") && r.stderr.contains("status"), "{}", r.stderr);
}

#[test]
fn runs_lists_the_history() {
    let w = spine_workspace();
    w.run(&["import", "--date", "today"]).expect_code(3);
    w.run(&["import", "--date", "2020-01-01"]).expect_code(1);
    let r = w.run(&["runs"]).expect_code(0);
    assert!(
        r.stdout.contains("not_ready") && r.stdout.contains("attention") && r.stdout.contains("tester@"),
        "{}",
        r.stdout
    );
    let j = w.run(&["runs", "--json"]).expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["exit_code"], 1);
    assert_eq!(v[1]["exit_code"], 3);
}

#[test]
fn a_second_run_of_a_locked_date_exits_4_naming_the_holder() {
    let w = spine_workspace();
    gen_day(&w, 20);
    let mut holder = w
        .cmd(&["daemon", "with-lock", "--date", DAY, "--", "sleep", "5"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = w.file(&format!("data/locks/{DAY}.lock"));
    wait_until("the lock file to name the holder", Duration::from_secs(5), || {
        std::fs::read_to_string(&lock).unwrap_or_default().contains(&holder.id().to_string())
    });
    let r = w.run(&["run", "--date", DAY, "--no-email"]).expect_code(4);
    assert!(
        r.stderr.contains(&format!("pid {}", holder.id())) || r.stderr.contains(&holder.id().to_string()),
        "{}",
        r.stderr
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The kernel released the killed holder's lock: the run goes ahead.
    let r = w.run(&["run", "--date", DAY, "--no-email"]);
    assert!(r.code == 0 || r.code == 1, "{}{}", r.stdout, r.stderr);
}

#[test]
fn rerunning_a_date_keeps_the_earlier_report_and_says_what_changed() {
    let w = spine_workspace();
    gen_day(&w, 2000);
    let sales = w.file("sales/sales-2026-11-25.csv");
    w.run(&["import-sales", sales.to_str().unwrap()]);
    let first = w.run(&["run", "--date", DAY, "--no-email"]).expect_code(1);
    assert!(!first.stdout.contains("rerun:"), "{}", first.stdout);
    let again = w.run(&["reconcile", "--date", DAY]).expect_code(1);
    assert!(again.stdout.contains("rerun: same findings as the previous report"), "{}", again.stdout);
    // A later export fixes one UNKNOWN payment: the rerun says what changed.
    let text = std::fs::read_to_string(&sales).unwrap();
    let unknown = text.lines().find(|l| l.contains(",UNKNOWN,")).expect("the generator injects UNKNOWN").to_string();
    let id = unknown.split(',').nth(1).unwrap().to_string();
    w.write("fix.csv", format!("{}\n{}\n", text.lines().next().unwrap(), unknown.replace(",UNKNOWN,", ",SUCCESS,")));
    w.run(&["import-sales", w.file("fix.csv").to_str().unwrap()]).expect_code(0);
    let changed = w.run(&["reconcile", "--date", DAY]).expect_code(1);
    assert!(
        changed.stdout.contains("rerun: changed since the previous report")
            && changed.stdout.contains("discrepancies.csv: 0 new rows, 1 gone"),
        "{}",
        changed.stdout
    );
    // Both earlier sets are kept under history/.
    let hist: Vec<_> = std::fs::read_dir(w.file(&format!("reports/{DAY}/history"))).unwrap().collect();
    assert_eq!(hist.len(), 2);
    // explain shows the payment's report history.
    let e = w.run(&["explain", &id]).expect_code(0);
    assert!(e.stdout.contains("Reports (current result of each date):"), "{}", e.stdout);
}
