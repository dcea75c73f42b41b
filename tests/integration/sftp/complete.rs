//! Day completeness over a real sshd (contracts.md v3 §2): a matching file still being written or
//! with a refused name makes the day incomplete — exit 3 before the file deadline; after it, one
//! FILE_INTEGRITY row per such file, the day's unexplained sales pending, and never "all clear".

use super::*;
use crate::harness::sshd::Sshd;
use crate::harness::Workspace;

const HEADER: &str = "merchantId,sellerID,storeId,productCode,paymentTime,orderTitle,transType,transStatus,\
merchantTransId,acquirementId,originalAcquirementId,orderAmount,orderCurrency,remark,userSite,siteUserId\n";

fn one_payment(id: &str, amount: &str, ccy: &str) -> Vec<u8> {
    format!(
        "{HEADER}{MID},S1,ST1,OFFLINE_PAY,2026-11-25T10:00:00+08:00,Coffee,PAYMENT,Success,{id},A-{id},,{amount},{ccy},,ALIPAY_HK,U1\n"
    )
    .into_bytes()
}

/// Local sales of 2026-11-25: HKD M1 (in the HKD file) and USD U1 37.50 (in the USD file only).
fn sales(w: &Workspace) {
    let p = w.write(
        "sales.csv",
        "record_type,merchant_trans_id,merchant_refund_id,amount,currency,status,created_at,store_id,terminal_id,acquirement_id\n\
         PAYMENT,M1,,12.50,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,A-M1\n\
         PAYMENT,U1,,37.50,USD,SUCCESS,2026-11-25T10:00:00+08:00,,,A-U1\n",
    );
    w.run(&["import-sales", p.to_str().unwrap()]).expect_code(0);
}

fn email_files(w: &Workspace) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(w.file("eml")).unwrap() {
        all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    all
}

const FILE_EMAIL: &str = "[email]\ntransport = \"file\"\ndir = \"eml\"\n";

#[test]
fn a_file_still_being_written_is_not_ready_before_the_deadline() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    config(&w, &sshd, sshd.port, &Login::password(&sshd), FILE_EMAIL);
    // Today in the business zone (UTC+8): its deadline (18:00 tomorrow) has not passed.
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let ymd = today.format("%Y%m%d").to_string();
    let dir = format!("/download/{MID}/{ymd}");
    let hkd = format!("{dir}/ALIPAY_TRANSACTION_DETAIL_HKD_{ymd}.csv");
    sshd.put_stable(&hkd, &one_payment("M1", "12.50", "HKD"));
    let usd = format!("{dir}/ALIPAY_TRANSACTION_DETAIL_USD_{ymd}.csv");
    sshd.put(&usd, &one_payment("U1", "37.50", "USD")); // modified just now: still being written
    let r = w.run(&["run", "--date", &today.to_string()]).expect_code(3);
    assert!(r.stderr.contains(&format!("ALIPAY_TRANSACTION_DETAIL_USD_{ymd}.csv")), "{}", r.stderr);
    assert!(r.stderr.contains("still being written"), "{}", r.stderr);
    assert!(!r.stdout.contains("all clear"), "{}", r.stdout);
    assert!(!w.file("eml").exists() || email_files(&w).is_empty(), "no email before the day is complete");
    // A rerun before the deadline that finds the HKD file unchanged still knows the day is incomplete.
    let r = w.run(&["run", "--date", &today.to_string()]).expect_code(3);
    assert!(r.stderr.contains("still being written"), "{}", r.stderr);
}

#[test]
fn after_the_deadline_a_skipped_file_is_file_integrity_and_its_sales_stay_pending() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    let cfg = config(&w, &sshd, sshd.port, &Login::password(&sshd), FILE_EMAIL);
    sales(&w);
    let hkd = format!("{DAY_DIR}/ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv");
    sshd.put_stable(&hkd, &one_payment("M1", "12.50", "HKD"));
    let usd_name = "ALIPAY_TRANSACTION_DETAIL_USD_20261125.csv";
    let usd = format!("{DAY_DIR}/{usd_name}");
    sshd.put(&usd, &one_payment("U1", "37.50", "USD"));
    let r = w.run(&["run", "--date", "2026-11-25"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("all clear"), "{}", r.stdout);
    let report = w.file("reports/2026-11-25");
    let disc = std::fs::read_to_string(report.join("discrepancies.csv")).unwrap();
    let integrity: Vec<&str> = disc.lines().filter(|l| l.contains("FILE_INTEGRITY")).collect();
    assert_eq!(integrity.len(), 1, "{disc}");
    assert!(integrity[0].contains(usd_name) && integrity[0].contains("still being written"), "{disc}");
    assert!(!disc.contains("MISSING_AT_ALIPAY"), "U1 must stay pending, not missing:\n{disc}");
    let pending = std::fs::read_to_string(report.join("pending.csv")).unwrap();
    assert!(pending.contains("U1"), "{pending}");
    let mail = email_files(&w);
    assert!(mail.contains("Subject:") && !mail.contains("all clear"), "{mail}");
    // Recorded durably: an offline rerun of the day sees the skipped file too.
    let r = w.run(&["reconcile", "--date", "2026-11-25", "--no-email"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let disc = std::fs::read_to_string(report.join("discrepancies.csv")).unwrap();
    assert!(disc.contains(usd_name), "{disc}");
    // Once the file is stable it imports, the record goes and the day is clean.
    sshd.age(&usd, hour());
    let r = w.run(&["run", "--date", "2026-11-25", "--no-email"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("all clear"), "{}", r.stdout);
    let conn = rusqlite::Connection::open(cfg.path(&cfg.store.database)).unwrap();
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM skipped_files", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0);
}

#[test]
fn a_refused_name_is_file_integrity_and_never_all_clear() {
    let sshd = Sshd::start();
    let w = Workspace::new();
    // An unanchored pattern, as a merchant might configure: the hostile name matches it.
    let layout = layout_with_transactions(r"TRANSACTION_DETAIL_(?P<ccy>[A-Z]{3})_(?P<date>\d{8})");
    config(&w, &sshd, sshd.port, &Login::password(&sshd), &format!("{FILE_EMAIL}{layout}"));
    sales(&w);
    for (name, id, amount, ccy) in [
        ("ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv", "M1", "12.50", "HKD"),
        ("ALIPAY_TRANSACTION_DETAIL_USD_20261125\u{1b}[2J.csv", "U1", "37.50", "USD"),
    ] {
        let remote = format!("{DAY_DIR}/{name}");
        sshd.put_stable(&remote, &one_payment(id, amount, ccy));
    }
    let r = w.run(&["run", "--date", "2026-11-25"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("all clear"), "{}", r.stdout);
    let disc = std::fs::read_to_string(w.file("reports/2026-11-25/discrepancies.csv")).unwrap();
    let integrity: Vec<&str> = disc.lines().filter(|l| l.contains("FILE_INTEGRITY")).collect();
    assert_eq!(integrity.len(), 1, "{disc}");
    assert!(integrity[0].contains("ALIPAY_TRANSACTION_DETAIL_USD_20261125\\u{1b}[2J.csv"), "{disc}");
    assert!(integrity[0].contains("refused"), "{disc}");
    assert!(!disc.contains('\u{1b}'), "the control character is never written raw");
    let mail = email_files(&w);
    assert!(mail.contains("Subject:") && !mail.contains("all clear"), "{mail}");
}
