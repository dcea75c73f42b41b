//! Import throughput benchmark (issue "The spine", point 10). Rerun with:
//!   cargo bench --bench import -- [ROWS...]        (default: 100000 1000000)
//! For each size it generates a seeded intl day with `gen`, then measures, in the same process:
//!   floor  — the parsed rows inserted by a bare prepared-statement loop into the same schema (same
//!            indexes, one transaction, WAL + synchronous=NORMAL);
//!   import — file on disk → sha256 → archive → parse → rows committed (the real `import_bytes` path).
//! and prints rows/s for both and import as a percentage of the floor (target ≥ 60%).

use alipay_recon::config::Config;
use alipay_recon::domain::{Currency, FileFormat, FileKind};
use alipay_recon::formats::{self, ParseContext, Rows};
use alipay_recon::gen::{generate, GenSpec};
use alipay_recon::pipeline::{import_bytes, Workspace};
use alipay_recon::source::{RemoteFile, SafeName};
use rusqlite::params;
use std::time::Instant;

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![100_000, 1_000_000] } else { sizes };
    println!(
        "{:>10} {:>12} {:>14} {:>14} {:>8} {:>10}",
        "rows", "file MB", "floor rows/s", "import rows/s", "ratio", "peak RSS MB"
    );
    for n in sizes {
        bench(n);
    }
}

fn bench(payments: usize) {
    let dir = tempfile::tempdir().unwrap();
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let spec = GenSpec {
        date,
        payments,
        format: FileFormat::Intl,
        currency: Currency::parse("HKD").unwrap(),
        merchant_id: "2188000000000001".into(),
        seed: 7,
        zone: Default::default(),
        faults: true,
    };
    let rep = generate(&spec, &dir.path().join("gen")).unwrap();
    let path = rep.files[0].clone();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let bytes = std::fs::read(&path).unwrap();
    let ctx = ParseContext {
        file_name: name.clone(),
        format: FileFormat::Intl,
        kind: FileKind::Transactions,
        zone: Default::default(),
        name_currency: Currency::parse("HKD").ok(),
    };

    // Floor: pre-parsed rows, bare loop, same schema.
    let t = Instant::now();
    let parsed = formats::parse(&bytes, &ctx).unwrap();
    let parse_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = alipay_recon::archive::sha256_hex(&bytes);
    let sha_s = t.elapsed().as_secs_f64();
    let Rows::Detail(rows) = &parsed.rows else { panic!("detail rows") };
    let nrows = rows.len();
    let mut conn = alipay_recon::store::open(&dir.path().join("floor.db")).unwrap();
    conn.execute("INSERT INTO files (source, source_path, name, format, kind, business_date, size, sha256, encoding, header, row_count, reject_count, warning_count, version, archive_path, imported_at) VALUES ('b','b','b','intl','transactions','2026-11-25',0,'x','utf-8','[]',0,0,0,1,'x','x')", []).unwrap();
    let t = Instant::now();
    {
        let tx = conn.transaction().unwrap();
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO alipay_rows (file_id, line, kind, business_date, trans_type, type_raw, merchant_trans_id,
                    merchant_refund_id, alipay_id, original_alipay_id, amount, currency, amount_raw, settle_amount,
                    settle_currency, fee, fee_currency, trans_time, trans_time_utc, settle_time, batch_ref, status_raw,
                    remark, store_id, product_code, extra)
                 VALUES (1, ?1, 'transactions', '2026-11-25', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, NULL, NULL, NULL, ?11, ?12, NULL, NULL, ?13, ?14, ?15, ?16, NULL)",
                )
                .unwrap();
            for r in rows {
                st.execute(params![
                    r.line,
                    r.trans_type.0.as_str(),
                    r.type_raw,
                    r.merchant_trans_id,
                    r.merchant_refund_id,
                    r.alipay_id,
                    r.original_alipay_id,
                    r.amount,
                    r.currency.map(|c| c.to_string()),
                    r.amount_raw,
                    r.trans_time.map(|t| t.to_rfc3339()),
                    r.trans_time.map(|t| t.timestamp()),
                    r.status_raw,
                    r.remark,
                    r.store_id,
                    r.product_code,
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let floor = t.elapsed().as_secs_f64();
    drop(conn);
    drop(parsed);

    // Import: the real path, from the file on disk.
    let work = dir.path().join("work");
    let cfg = Config::demo(&work, &dir.path().join("gen/sftp"));
    let mut ws = Workspace::open(cfg).unwrap();
    let file = RemoteFile {
        format: FileFormat::Intl,
        kind: FileKind::Transactions,
        name: SafeName::parse(&name).unwrap(),
        remote_path: path.display().to_string(),
        size: bytes.len() as u64,
        mtime: None,
        date,
        currency: Some("HKD".into()),
    };
    drop(bytes);
    let t = Instant::now();
    let data = std::fs::read(&path).unwrap();
    let out = import_bytes(&mut ws, &file, "bench", &data, true, None).unwrap();
    let import = t.elapsed().as_secs_f64();
    assert!(matches!(out, alipay_recon::pipeline::FileOutcome::Imported { .. }), "{out:?}");

    let mb = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    let (f, i) = (nrows as f64 / floor, nrows as f64 / import);
    println!("{:>10} {:>12.1} {:>14.0} {:>14.0} {:>7.0}% {:>10}", nrows, mb, f, i, 100.0 * i / f, peak_rss_mb());
    eprintln!(
        "  breakdown: parse {parse_s:.2} s, sha256 {sha_s:.2} s, floor insert {floor:.2} s, whole import {import:.2} s"
    );
}

fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}
