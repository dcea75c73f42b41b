//! The engine's polars stage: the window's transaction rows and local record versions as frames,
//! and, per evaluated day ("cut"), one group-by per key joined across both sides. Rows are numbered
//! in a stable order before they enter a frame, so `min(pos)` is a key's first row and `max(pos)` its
//! latest local version; only keys, counts and positions come back out — polars types stay here.

use super::input::{Input, LocalVersion};
use crate::domain::{FileKind, RecordType, TransType};
use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use std::collections::HashMap;

/// Row kinds inside the transaction frame.
const T_PAY: i32 = 0;
const T_REFUND: i32 = 1;
const T_CANCEL: i32 = 2;

/// One key's aggregate at a cut: Alipay's rows (positions into `Frames::txn_rows`) and the local
/// version that is current at the cut (position into `Frames::local_rows`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KeyAgg {
    pub key: String,
    /// PAYMENT (or REFUND) rows, the distinct days they are on, and the most on one day.
    pub n: i64,
    pub days: i64,
    pub max_per_day: i64,
    pub first: Option<usize>,
    pub last: Option<usize>,
    pub n_cancel: i64,
    pub cancel_first: Option<usize>,
    pub local: Option<usize>,
}

pub(super) struct Frames {
    txn: DataFrame,
    local: DataFrame,
    /// Frame position → index into `Input::rows`, in (date, time, file, line) order.
    pub txn_rows: Vec<usize>,
    /// Frame position → index into `Input::local`, in (ledger, seq) order: the last visible wins.
    pub local_rows: Vec<usize>,
    /// Alipay payment id → merchant payment id, from every stored PAYMENT row of the window.
    pub payment_by_alipay_id: HashMap<String, String>,
}

pub(super) fn day(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Frames {
    pub fn new(input: &Input) -> PolarsResult<Frames> {
        let mut payment_by_alipay_id = HashMap::new();
        for r in &input.rows {
            if r.kind == FileKind::Transactions && r.trans_type == TransType::Payment {
                if let (Some(a), Some(m)) = (nonempty(&r.alipay_id), nonempty(&r.merchant_trans_id)) {
                    payment_by_alipay_id.entry(a.to_string()).or_insert_with(|| m.to_string());
                }
            }
        }
        let mut txn_rows: Vec<usize> = (0..input.rows.len())
            .filter(|&i| {
                let r = &input.rows[i];
                r.kind == FileKind::Transactions && r.trans_type != TransType::Other
            })
            .collect();
        txn_rows.sort_by_key(|&i| {
            let r = &input.rows[i];
            (r.date, r.trans_time.map(|t| t.timestamp()), r.file_id, r.line)
        });
        let (mut t, mut key, mut dayc, mut pos) = (vec![], vec![], vec![], vec![]);
        for (p, &i) in txn_rows.iter().enumerate() {
            let r = &input.rows[i];
            let (kind, k) = match r.trans_type {
                TransType::Payment => (T_PAY, payment_key(r.merchant_trans_id.as_ref(), r.alipay_id.as_ref())),
                TransType::Cancel => {
                    let via = nonempty(&r.original_alipay_id).and_then(|a| payment_by_alipay_id.get(a));
                    let m = nonempty(&r.merchant_trans_id).map(str::to_string).or_else(|| via.cloned());
                    (T_CANCEL, payment_key(m.as_ref(), r.original_alipay_id.as_ref()))
                }
                _ => (T_REFUND, refund_key(r.merchant_refund_id.as_ref(), r.alipay_id.as_ref())),
            };
            t.push(kind);
            key.push(k);
            dayc.push(day(r.date));
            pos.push(p as i64);
        }
        let txn = DataFrame::new(
            t.len(),
            vec![
                Column::new("t".into(), t),
                Column::new("key".into(), key),
                Column::new("day".into(), dayc),
                Column::new("pos".into(), pos),
            ],
        )?;
        let mut local_rows: Vec<usize> = (0..input.local.len()).collect();
        local_rows.sort_by_key(|&i| (input.local[i].ledger, input.local[i].seq));
        let (mut t, mut key, mut as_of, mut bday, mut pos) = (vec![], vec![], vec![], vec![], vec![]);
        for (p, &i) in local_rows.iter().enumerate() {
            let v: &LocalVersion = &input.local[i];
            t.push(if v.record_type == RecordType::Payment { T_PAY } else { T_REFUND });
            key.push(v.key().to_string());
            as_of.push(day(v.as_of));
            bday.push(day(v.business_date));
            pos.push(p as i64);
        }
        let local = DataFrame::new(
            t.len(),
            vec![
                Column::new("t".into(), t),
                Column::new("key".into(), key),
                Column::new("as_of".into(), as_of),
                Column::new("bday".into(), bday),
                Column::new("pos".into(), pos),
            ],
        )?;
        Ok(Frames { txn, local, txn_rows, local_rows, payment_by_alipay_id })
    }

    /// Every payment (or refund) key seen in `[lo, cut]` on either side, with its aggregate.
    pub fn keys(&self, record: RecordType, lo: NaiveDate, cut: NaiveDate) -> PolarsResult<Vec<KeyAgg>> {
        let t = if record == RecordType::Payment { T_PAY } else { T_REFUND };
        let (lo, cut) = (day(lo), day(cut));
        let window = self.txn.clone().lazy().filter(col("day").gt_eq(lit(lo)).and(col("day").lt_eq(lit(cut))));
        let own = window.clone().filter(col("t").eq(lit(t)));
        let per_day = own
            .clone()
            .group_by([col("key"), col("day")])
            .agg([len().alias("nd")])
            .group_by([col("key")])
            .agg([col("nd").max().alias("max_per_day")]);
        let mut alipay = own
            .group_by([col("key")])
            .agg([
                len().alias("n"),
                col("day").n_unique().alias("days"),
                col("pos").min().alias("first"),
                col("pos").max().alias("last"),
            ])
            .join(per_day, [col("key")], [col("key")], JoinArgs::new(JoinType::Left));
        if record == RecordType::Payment {
            let cancels = window
                .filter(col("t").eq(lit(T_CANCEL)))
                .group_by([col("key")])
                .agg([len().alias("n_cancel"), col("pos").min().alias("cancel_first")]);
            alipay = alipay.join(cancels, [col("key")], [col("key")], full());
        }
        // The version current at the cut: the last one stated by a file visible at the cut.
        let local = self
            .local
            .clone()
            .lazy()
            .filter(col("t").eq(lit(t)).and(col("as_of").lt_eq(lit(cut))))
            .group_by([col("key")])
            .agg([col("pos").max().alias("lpos"), col("bday").max().alias("lbday")]);
        let joined = alipay.join(local, [col("key")], [col("key")], full()).collect()?;
        let int = |name: &str| -> PolarsResult<Vec<Option<i64>>> {
            match joined.column(name) {
                Ok(c) => Ok(c.cast(&DataType::Int64)?.i64()?.iter().collect()),
                Err(_) => Ok(vec![None; joined.height()]),
            }
        };
        let keys: Vec<String> =
            joined.column("key")?.str()?.iter().map(|k| k.unwrap_or_default().to_string()).collect();
        let (n, days, mpd, first, last) = (int("n")?, int("days")?, int("max_per_day")?, int("first")?, int("last")?);
        let (nc, cf, lpos, lbday) = (int("n_cancel")?, int("cancel_first")?, int("lpos")?, int("lbday")?);
        let mut out = Vec::with_capacity(keys.len());
        for (i, key) in keys.into_iter().enumerate() {
            // A local record dated outside the window is not this window's business.
            let local = match (lpos[i], lbday[i]) {
                (Some(p), Some(b)) if b >= lo as i64 && b <= cut as i64 => Some(p as usize),
                _ => None,
            };
            if n[i].is_none() && nc[i].is_none() && local.is_none() {
                continue;
            }
            out.push(KeyAgg {
                key,
                n: n[i].unwrap_or(0),
                days: days[i].unwrap_or(0),
                max_per_day: mpd[i].unwrap_or(0),
                first: first[i].map(|p| p as usize),
                last: last[i].map(|p| p as usize),
                n_cancel: nc[i].unwrap_or(0),
                cancel_first: cf[i].map(|p| p as usize),
                local,
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

fn full() -> JoinArgs {
    JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns)
}

/// A payment's key: the merchant's id, or Alipay's id when the row has none (cannot match locally
/// by id, but can by the secondary Alipay-id key).
pub(super) fn payment_key(mtid: Option<&String>, alipay_id: Option<&String>) -> String {
    match mtid.map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(m) => m.to_string(),
        None => format!("#{}", alipay_id.map(|s| s.trim()).unwrap_or("")),
    }
}

/// A refund's key: the merchant's refund id, or `#` + Alipay's id of the refund.
pub(super) fn refund_key(mrid: Option<&String>, alipay_id: Option<&String>) -> String {
    payment_key(mrid, alipay_id)
}
