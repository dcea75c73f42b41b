//! Import throughput benchmark (issue "The spine", point 10). Rerun with:
//!   cargo bench --bench import -- [ROWS...]        (default: 100000 1000000)
//! For each size it generates a seeded intl day with `gen`, then measures, in the same process:
//!   floor  — the parsed rows inserted by a bare prepared-statement loop into the same schema (same
//!            indexes, one transaction, WAL + synchronous=NORMAL);
//!   same   — the floor storing every value the import stores (`extra`) with the import's page cache;
//!   import — file on disk → sha256 → archive → parse → rows committed (the real `import_bytes` path).
//! and prints rows/s for both and import as a percentage of the floor (target ≥ 60%), the process's
//! peak RSS and the import's own peak (it runs before the floor, which holds every parsed row).

use alipay_recon::config::Config;
use alipay_recon::demo::gen::{generate, GenSpec};
use alipay_recon::domain::{Currency, FileFormat, FileKind};
use alipay_recon::formats::{self, ParseContext, Rows};
use alipay_recon::pipeline::{import_bytes, Fetched, Workspace};
use alipay_recon::source::{RemoteFile, SafeName};
use rusqlite::params;
use std::time::Instant;

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![100_000, 1_000_000] } else { sizes };
    println!(
        "{:>10} {:>8} {:>13} {:>13} {:>7} {:>13} {:>7} {:>9} {:>11}",
        "rows", "file MB", "floor rows/s", "import rows/s", "ratio", "same-floor/s", "ratio", "peak MB", "import peak"
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
    let size = std::fs::metadata(&path).unwrap().len();
    let ctx = ParseContext {
        file_name: name.clone(),
        format: FileFormat::Intl,
        kind: FileKind::Transactions,
        zone: Default::default(),
        name_currency: Currency::parse("HKD").ok(),
    };

    // Import: the real path, from the file on disk.
    let work = dir.path().join("work");
    let cfg = Config::demo(&work, &dir.path().join("gen/sftp"));
    let mut ws = Workspace::open(cfg).unwrap();
    let file = RemoteFile {
        format: FileFormat::Intl,
        kind: FileKind::Transactions,
        name: SafeName::parse(&name).unwrap(),
        remote_path: path.display().to_string(),
        size,
        mtime: None,
        date,
        currency: Some("HKD".into()),
    };
    // The import runs first, so its peak RSS is its own (the floor below holds every parsed row);
    // the mark is reset in case an earlier size left a larger one.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let t = Instant::now();
    let data = std::fs::read(&path).unwrap();
    let out = import_bytes(&mut ws, Fetched { file: &file, source: "bench", bytes: &data, staged: None }, true, None)
        .unwrap();
    let import = t.elapsed().as_secs_f64();
    assert!(matches!(out, alipay_recon::pipeline::FileOutcome::Imported { .. }), "{out:?}");
    let import_peak = peak_rss_mb();
    drop((data, ws));

    // Floor: pre-parsed rows, bare loop, same schema.
    let bytes = std::fs::read(&path).unwrap();
    let t = Instant::now();
    let parsed = formats::parse(&bytes, &ctx).unwrap();
    let parse_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = alipay_recon::archive::sha256_hex(&bytes);
    let sha_s = t.elapsed().as_secs_f64();
    let Rows::Detail(rows) = &parsed.rows else { panic!("detail rows") };
    let nrows = rows.len();
    let floor = floor_insert(&dir.path().join("floor.db"), rows, false);
    // The same with every value the import stores (the floor above leaves `extra` NULL, and the
    // generated intl rows carry five unknown columns there) and the import's 64 MiB page cache.
    let floor_same = floor_insert(&dir.path().join("floor-same.db"), rows, true);
    drop((parsed, bytes));

    let mb = size as f64 / 1e6;
    let (f, i, fs) = (nrows as f64 / floor, nrows as f64 / import, nrows as f64 / floor_same);
    println!(
        "{:>10} {:>8.1} {:>13.0} {:>13.0} {:>6.0}% {:>13.0} {:>6.0}% {:>9} {:>11}",
        nrows,
        mb,
        f,
        i,
        100.0 * i / f,
        fs,
        100.0 * i / fs,
        peak_rss_mb(),
        import_peak
    );
    eprintln!(
        "  breakdown: parse {parse_s:.2} s, sha256 {sha_s:.2} s, floor insert {floor:.2} s, same-values floor {floor_same:.2} s, whole import {import:.2} s"
    );
}

/// The bare loop: pre-parsed rows into a fresh database of the same schema, one transaction. With
/// `same`, it also stores `extra` and uses the import's page cache.
fn floor_insert(db: &std::path::Path, rows: &[formats::DetailRow], same: bool) -> f64 {
    let mut conn = alipay_recon::store::open(db).unwrap();
    conn.execute("INSERT INTO files (source, source_path, name, format, kind, business_date, size, sha256, encoding, header, row_count, reject_count, warning_count, version, archive_path, imported_at) VALUES ('b','b','b','intl','transactions','2026-11-25',0,'x','utf-8','[]',0,0,0,1,'x','x')", []).unwrap();
    if same {
        conn.pragma_update(None, "cache_size", -65_536).unwrap();
    }
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
                 VALUES (1, ?1, 'transactions', '2026-11-25', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, NULL, NULL, NULL, ?11, ?12, NULL, NULL, ?13, ?14, ?15, ?16, ?17)",
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
                    (same && !r.extra.is_empty()).then(|| serde_json::to_string(&r.extra).unwrap()),
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    t.elapsed().as_secs_f64()
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
