//! Volume: a synthetic window built directly as typed input (no SQLite) with known injected
//! discrepancies, to check the counts at volume and to time the engine. `RECON_SCALE_N` (payments
//! per day) makes it a manual benchmark; the default keeps the test fast.

use super::*;
use crate::domain::{Category::*, LocalStatus, RecordType};
use crate::reconcile::{AlipayRow, FileIn, Input, LocalVersion};

pub(super) fn synthetic(per_day: usize, days: i64, end: NaiveDate) -> Input {
    let mut input = Input { date: Some(end), from: Some(end - chrono::Duration::days(days - 1)), ..Default::default() };
    let mut seq = 0;
    for k in 0..days {
        let day = end - chrono::Duration::days(days - 1 - k);
        input.files.push(FileIn {
            id: k,
            name: format!("t{k}"),
            format: FileFormat::Intl,
            kind: FileKind::Transactions,
            date: day,
            truncated: false,
            declared_count: None,
            row_count: per_day as i64,
        });
        let noon = Params::default().zone.day_bounds(day).0 + chrono::Duration::hours(10);
        for i in 0..per_day {
            let id = format!("P{k}-{i}");
            let at = noon + chrono::Duration::milliseconds(i as i64);
            if i % 1000 != 1 {
                input.rows.push(AlipayRow {
                    file_id: k,
                    line: i as i64 + 2,
                    kind: FileKind::Transactions,
                    date: day,
                    trans_type: TransType::Payment,
                    type_raw: "PAYMENT".into(),
                    merchant_trans_id: Some(id.as_str().into()),
                    refund_ids: None,
                    alipay_id: Some(format!("A{k}-{i}").into()),
                    amount: Some(5600 + (i % 7) as i64),
                    currency: Some(hkd()),
                    settle_amount: None,
                    settle_currency: None,
                    fee: None,
                    fee_currency: None,
                    trans_time: Some(at),
                    product_code: None,
                    wallet: None,
                });
            }
            if i % 1000 == 2 {
                continue; // missing locally
            }
            seq += 1;
            input.local.push(LocalVersion {
                record_type: RecordType::Payment,
                merchant_trans_id: id.into(),
                merchant_refund_id: None,
                amount: 5600 + (i % 7) as i64 + if i % 1000 == 3 { 1 } else { 0 },
                currency: hkd(),
                status: LocalStatus::Success,
                created_at: at,
                business_date: day,
                acquirement_id: None,
                as_of: day,
                seq,
                ledger: false,
                conflict: false,
                origin_file: Some("synthetic".into()),
                origin_line: None,
            });
        }
    }
    input
}

#[test]
fn volume_counts_are_exact() {
    let per_day: usize = std::env::var("RECON_SCALE_N").ok().and_then(|s| s.parse().ok()).unwrap_or(5_000);
    let end = d("2026-11-20");
    let input = synthetic(per_day, 3, end);
    let started = std::time::Instant::now();
    let o = run(&input, &Params::default()).unwrap();
    eprintln!("reconciled {} rows + {} local versions in {:?}", input.rows.len(), input.local.len(), started.elapsed());
    let per = per_day.div_ceil(1000) as i64;
    let count = |c: Category| o.summary.counts.get(&c).copied().unwrap_or(0);
    // Only the last day's items are new; the two earlier days' are open.
    assert_eq!((count(MissingAtAlipay), count(MissingLocally), count(AmountMismatch)), (per, per, per));
    assert_eq!(o.open_items.len() as i64, 2 * 3 * per);
    assert_eq!(o.summary.matched, 3 * (per_day as i64 - 3 * per));
}

/// A cut grouped in slices of whole keys gives exactly the aggregates of one group-by over the frame
/// (slices of 7 rows: most keys' rows straddle a nominal boundary).
#[test]
fn slices_of_whole_keys_group_like_the_whole_frame() {
    let end = d("2026-11-20");
    let input = synthetic(500, 3, end);
    let frames = crate::reconcile::frames::Frames::new(&input).unwrap();
    for record in [RecordType::Payment, RecordType::Refund] {
        for lo in [end - chrono::Duration::days(2), end] {
            let whole = frames.keys_sliced(record, lo, end, None, usize::MAX).unwrap();
            let sliced = frames.keys_sliced(record, lo, end, None, 7).unwrap();
            assert!(record == RecordType::Refund || whole.len() >= 500, "{}", whole.len());
            assert_eq!(sliced, whole, "{record:?} from {lo}");
        }
    }
}

/// The same synthetic window through SQLite: import, `store::window::load`, reconcile.
#[test]
fn store_volume_counts_are_exact() {
    use crate::sales::LocalRecord;
    let per_day: usize = std::env::var("RECON_STORE_N").ok().and_then(|s| s.parse().ok()).unwrap_or(2_000);
    let end = d("2026-11-20");
    let synth = synthetic(per_day, 2, end);
    let mut w = World::new();
    for f in &synth.files {
        let rows: Vec<DetailRow> = synth
            .rows
            .iter()
            .filter(|r| r.file_id == f.id)
            .map(|r| DetailRow {
                merchant_trans_id: r.merchant_trans_id.as_ref().map(|s| s.to_string()),
                alipay_id: r.alipay_id.as_ref().map(|s| s.to_string()),
                ..pay("", "", r.amount.unwrap(), &r.trans_time.unwrap().to_rfc3339())
            })
            .collect();
        w.txns(&f.date.to_string(), rows);
    }
    let records: Vec<LocalRecord> = synth
        .local
        .iter()
        .map(|v| LocalRecord {
            record_type: v.record_type,
            merchant_trans_id: v.merchant_trans_id.to_string(),
            merchant_refund_id: None,
            amount: v.amount,
            currency: v.currency,
            status: v.status,
            created_at: v.created_at,
            business_date: v.business_date,
            store_id: None,
            terminal_id: None,
            acquirement_id: None,
            line: 2,
            conflict: false,
        })
        .collect();
    let tx = w.conn.transaction().unwrap();
    store::sales::upsert_records(&tx, &records, store::sales::Origin::Ledger, None).unwrap();
    tx.commit().unwrap();
    let started = std::time::Instant::now();
    let input = store::window::load(&w.conn, end, &w.params).unwrap();
    let loaded = started.elapsed();
    let o = run(&input, &w.params).unwrap();
    eprintln!(
        "loaded {} rows + {} versions in {loaded:?}, reconciled in {:?}",
        input.rows.len(),
        input.local.len(),
        started.elapsed() - loaded
    );
    assert_eq!((input.rows.len(), input.local.len()), (synth.rows.len(), synth.local.len()));
    let per = per_day.div_ceil(1000) as i64;
    let count = |c: Category| o.summary.counts.get(&c).copied().unwrap_or(0);
    assert_eq!((count(MissingAtAlipay), count(MissingLocally), count(AmountMismatch)), (per, per, per));
    assert_eq!(o.open_items.len() as i64, 3 * per);
}
