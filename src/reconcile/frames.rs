//! The engine's polars stage: the window's transaction rows and local record versions in one frame,
//! and, per evaluated day ("cut"), one lazy filter + group-by per key over both sides. Key texts are
//! interned to integer ids numbered in text order, and the frame is sorted by id, so polars groups by
//! slicing (no hashing) and the groups come out in key order. Rows are numbered in a stable order
//! before they enter the frame, so `min(pos)` is a key's first row and `max(pos)` its latest local
//! version; only keys, counts and positions come back out — polars types stay here.

use super::input::{Id, Input, LocalVersion};
use super::{HashMap, HashSet};
use crate::domain::{FileKind, RecordType, TransType};
use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use std::borrow::Cow;
use std::hash::BuildHasher;

/// Rows per slice of a cut's group-by ([`Frames::keys`]): a 1M-payment window is two slices.
const SLICE_ROWS: usize = 2_000_000;

/// Row kinds inside the frame: Alipay's rows, then local versions.
const T_PAY: i32 = 0;
const T_REFUND: i32 = 1;
const T_CANCEL: i32 = 2;
const L_PAY: i32 = 3;
const L_REFUND: i32 = 4;

/// One key's aggregate at a cut: Alipay's rows (positions into `Frames::txn_rows`) and the local
/// version that is current at the cut (position into `Frames::local_rows`). 32-bit counts and
/// positions (a frame holds fewer than 2^31 rows): a cut holds one per key, millions at volume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KeyAgg {
    /// The key's integer id ([`Frames::name`] gives its text), and that of a local-only key paired
    /// with it by a secondary key.
    pub kid: u32,
    pub partner: Option<u32>,
    /// PAYMENT (or REFUND) rows, the distinct days they are on, and the most on one day.
    pub n: u32,
    pub days: u32,
    pub max_per_day: u32,
    pub first: Option<u32>,
    pub last: Option<u32>,
    pub n_cancel: u32,
    pub cancel_first: Option<u32>,
    pub local: Option<u32>,
}

/// The slices' aggregates so far, and the keys whose days need counting exactly (more than two rows).
#[derive(Default)]
struct Grouped {
    aggs: Vec<KeyAgg>,
    repeated: Vec<u32>,
}

pub(super) struct Frames {
    /// Alipay's transaction rows and the local versions in one frame sorted by key id (so a key's
    /// rows are contiguous and polars groups them by slicing, without hashing): `key`, `t` (row
    /// kind), `day` (Alipay row date / local business date), `as_of` (local: first day it is
    /// visible; Alipay: its date) and `pos` (position in `txn_rows` / `local_rows`).
    all: DataFrame,
    /// Frame position → index into `Input::rows`, in (date, time, file, line) order.
    pub txn_rows: Vec<usize>,
    /// Frame position → index into `Input::local`, in (ledger, seq) order: the last visible wins.
    pub local_rows: Vec<usize>,
    /// Frame position → key id of that local version.
    pub local_keys: Vec<u32>,
    /// Alipay payment id → merchant payment id, from every stored PAYMENT row of the window.
    pub payment_by_alipay_id: HashMap<String, String>,
    /// Refunded merchant payment id → Alipay's id of the payment ([`alipay_ids_of_payments`]), built
    /// on first use: only a refund row whose files do not name its payment's Alipay id (classic) asks.
    alipay_by_payment: std::sync::OnceLock<HashMap<Id, Id>>,
    /// Key id (the frames' integer key) → key text, and back. Grouping and joining on integers; ids
    /// are numbered in key-text order, so sorting by id sorts by key.
    keys: Interner,
}

/// Gives each distinct key text one integer id. Each text is held once, inline (ids are short: no
/// allocation); the hash table holds only the ids, and hashes and compares through the texts — at
/// ten million keys a table of texts was gigabytes, and an allocation per key seconds.
#[derive(Default)]
struct Interner {
    table: hashbrown::HashTable<u32>,
    names: Vec<Id>,
    hasher: foldhash::fast::RandomState,
}

impl Interner {
    fn with_capacity(n: usize) -> Interner {
        Interner { table: hashbrown::HashTable::with_capacity(n), names: Vec::with_capacity(n), ..Default::default() }
    }

    /// One hash per row: a million-row window interns two million texts.
    fn id(&mut self, k: &str) -> u32 {
        let (names, hasher) = (&self.names, &self.hasher);
        let entry = self.table.entry(
            hasher.hash_one(k),
            |&i| names[i as usize] == k,
            |&i| hasher.hash_one(names[i as usize].as_str()),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(e) => *e.get(),
            hashbrown::hash_table::Entry::Vacant(e) => {
                let next = self.names.len() as u32;
                e.insert(next);
                self.names.push(Id::from(k));
                next
            }
        }
    }

    fn get(&self, k: &str) -> Option<u32> {
        self.table.find(self.hasher.hash_one(k), |&i| self.names[i as usize] == k).copied()
    }

    /// Renumbers the ids in key-text order; returns old id → new id.
    fn sort(&mut self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize]));
        let mut rank = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            rank[old as usize] = new as u32;
        }
        let mut old = std::mem::take(&mut self.names);
        self.names = order.iter().map(|&o| std::mem::take(&mut old[o as usize])).collect();
        for v in self.table.iter_mut() {
            *v = rank[*v as usize];
        }
        rank
    }
}

pub(super) fn day(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

fn nonempty(s: &Option<super::input::Id>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Merchant payment id → Alipay's id of the payment, for the payments in `wanted`, filled as the
/// payment's own rows fill `acquirement_id` (contracts.md §3): the local record's (its newest version
/// that has one), else the first transaction PAYMENT row's.
pub(super) fn alipay_ids_of_payments(input: &Input, wanted: &HashSet<&str>) -> HashMap<Id, Id> {
    let mut local: HashMap<&str, (bool, i64, &str)> = HashMap::default();
    for l in input.local.iter().filter(|l| l.record_type == RecordType::Payment) {
        if let Some(a) = nonempty(&l.acquirement_id).filter(|_| wanted.contains(l.merchant_trans_id.trim())) {
            let e = local.entry(l.merchant_trans_id.as_str()).or_insert((l.ledger, l.seq, a));
            if (l.ledger, l.seq) > (e.0, e.1) {
                *e = (l.ledger, l.seq, a);
            }
        }
    }
    let mut m: HashMap<Id, Id> = local.into_iter().map(|(p, (_, _, a))| (p.into(), a.into())).collect();
    for r in input.rows.iter().filter(|r| r.kind == FileKind::Transactions && r.trans_type == TransType::Payment) {
        if let (Some(p), Some(a)) = (nonempty(&r.merchant_trans_id), nonempty(&r.alipay_id)) {
            if wanted.contains(p) {
                m.entry(p.into()).or_insert_with(|| a.into());
            }
        }
    }
    m
}

impl Frames {
    pub fn new(input: &Input) -> PolarsResult<Frames> {
        let payment_by_alipay_id = payments_refunds_point_at(input);
        let txn_rows = ordered_txn_rows(input);
        tracing::trace!("frames: rows ordered");
        // The frame's columns, a row per transaction row then per local version: kind, key id, day
        // number, position in its own ordering (`txn_rows`, `local_rows`).
        let mut names = Interner::with_capacity(txn_rows.len().max(input.local.len()));
        let (mut kinds, mut keys, mut days, mut positions) = (vec![], vec![], vec![], vec![]);
        for (p, &i) in txn_rows.iter().enumerate() {
            let r = &input.rows[i];
            let (kind, k) = match r.trans_type {
                TransType::Payment => (T_PAY, key_text(r.merchant_trans_id.as_deref(), r.alipay_id.as_deref())),
                TransType::Cancel => {
                    let via = nonempty(r.original_alipay_id()).and_then(|a| payment_by_alipay_id.get(a));
                    let m = nonempty(&r.merchant_trans_id).or(via.map(String::as_str));
                    (T_CANCEL, key_text(m, r.original_alipay_id().as_deref()))
                }
                _ => (T_REFUND, key_text(r.merchant_refund_id().as_deref(), r.alipay_id.as_deref())),
            };
            kinds.push(kind);
            keys.push(names.id(&k));
            days.push(day(r.date));
            positions.push(p as i32);
        }
        let txn_as_of = days.clone();
        let mut local_rows: Vec<usize> = (0..input.local.len()).collect();
        local_rows.sort_by_key(|&i| (input.local[i].ledger, input.local[i].seq));
        for (p, &i) in local_rows.iter().enumerate() {
            let v: &LocalVersion = &input.local[i];
            kinds.push(if v.record_type == RecordType::Payment { L_PAY } else { L_REFUND });
            keys.push(names.id(v.key()));
            days.push(day(v.business_date));
            positions.push(p as i32);
        }
        let mut as_of = txn_as_of;
        as_of.extend(local_rows.iter().map(|&i| day(input.local[i].as_of)));
        tracing::trace!("frames: keys interned");
        let rank = names.sort();
        tracing::trace!("frames: keys sorted");
        for k in keys.iter_mut() {
            *k = rank[*k as usize];
        }
        let local_keys = keys[txn_rows.len()..].to_vec();
        let all = key_sorted_frame(&keys, names.names.len(), &kinds, &days, &as_of, &positions)?;
        Ok(Frames {
            all,
            txn_rows,
            local_rows,
            local_keys,
            payment_by_alipay_id,
            alipay_by_payment: Default::default(),
            keys: names,
        })
    }

    /// Alipay's id of merchant payment `pid`, as the payment's own rows name it.
    pub fn alipay_id_of_payment(&self, input: &Input, pid: &str) -> Option<&str> {
        let ids = self.alipay_by_payment.get_or_init(|| {
            let refunded = input.local.iter().filter(|l| l.record_type == RecordType::Refund);
            alipay_ids_of_payments(input, &refunded.map(|l| l.merchant_trans_id.trim()).collect())
        });
        ids.get(pid.trim()).map(|a| a.as_str())
    }

    /// How many key ids there are (ids are `0..key_count()`).
    pub fn key_count(&self) -> usize {
        self.keys.names.len()
    }

    /// The integer id of a key text, when the window has it.
    pub fn id_of(&self, key: &str) -> Option<u32> {
        self.keys.get(key)
    }

    /// The text of key id `kid`.
    pub fn name(&self, kid: u32) -> &str {
        &self.keys.names[kid as usize]
    }

    /// Ids of the keys of local records dated on one of `days`.
    pub fn local_keys_on(&self, input: &Input, days: &HashSet<NaiveDate>) -> Vec<u32> {
        self.local_rows
            .iter()
            .zip(&self.local_keys)
            .filter(|(&i, _)| days.contains(&input.local[i].business_date))
            .map(|(_, &k)| k)
            .collect()
    }

    /// Every payment (or refund) key seen in `[lo, cut]` on either side, with its aggregate.
    /// `only` restricts the result to these key ids (a semi-join), for replays that need a few keys.
    ///
    /// The frame is grouped in slices of whole keys (it is sorted by key): a cut's filtered and masked
    /// columns exist for one slice at a time, not for the whole window (at ten million payments,
    /// gigabytes), and the slices' groups come out in key order.
    pub fn keys(
        &self,
        record: RecordType,
        lo: NaiveDate,
        cut: NaiveDate,
        only: Option<&[u32]>,
    ) -> PolarsResult<Vec<KeyAgg>> {
        self.keys_sliced(record, lo, cut, only, SLICE_ROWS)
    }

    /// [`Frames::keys`] with slices of about `rows` rows.
    pub(super) fn keys_sliced(
        &self,
        record: RecordType,
        lo: NaiveDate,
        cut: NaiveDate,
        only: Option<&[u32]>,
        rows: usize,
    ) -> PolarsResult<Vec<KeyAgg>> {
        let mut acc = Grouped::default();
        // A semi-join to a few keys is one small group-by: not sliced.
        for frame in self.key_slices(if only.is_some() { usize::MAX } else { rows })? {
            self.keys_in(frame, record, lo, cut, only, &mut acc)?;
        }
        let Grouped { aggs: mut out, repeated } = acc;
        // Ids are numbered in key order (`Interner::sort`).
        out.sort_unstable_by_key(|a| a.kid);
        if !repeated.is_empty() {
            let own = if record == RecordType::Payment { T_PAY } else { T_REFUND };
            let exact = self.days_per_key(own, day(lo), day(cut), &repeated)?;
            for a in out.iter_mut() {
                if let Some(&(days, max)) = exact.get(&a.kid) {
                    (a.days, a.max_per_day) = (days as u32, max as u32);
                }
            }
        }
        Ok(out)
    }

    /// The frame cut into slices of about `rows` rows that end at a change of key (zero-copy views).
    fn key_slices(&self, rows: usize) -> PolarsResult<Vec<DataFrame>> {
        let n = self.all.height();
        if n <= rows {
            return Ok(vec![self.all.clone()]);
        }
        let key = self.all.column("key")?.as_materialized_series().rechunk();
        let key = key.u32()?.cont_slice()?;
        let mut out = Vec::with_capacity(n / rows + 1);
        let mut start = 0;
        while start < n {
            let mut end = (start + rows).min(n);
            while end < n && key[end] == key[end - 1] {
                end += 1;
            }
            out.push(self.all.slice(start as i64, end - start));
            start = end;
        }
        Ok(out)
    }

    /// [`Frames::keys`] over one slice of whole keys, added to `acc`.
    fn keys_in(
        &self,
        frame: DataFrame,
        record: RecordType,
        lo: NaiveDate,
        cut: NaiveDate,
        only: Option<&[u32]>,
        acc: &mut Grouped,
    ) -> PolarsResult<()> {
        let (lo, cut) = (day(lo), day(cut));
        let grouped = group_slice(frame, record, lo, cut, only)?;
        add_groups(&grouped, lo, cut, acc)
    }

    /// Distinct days and the most rows on one day, of the keys in `ids` (rows of kind `own` in the window).
    fn days_per_key(&self, own: i32, lo: i32, cut: i32, ids: &[u32]) -> PolarsResult<HashMap<u32, (i64, i64)>> {
        let subset = DataFrame::new(ids.len(), vec![Column::new("key".into(), ids.to_vec())])?.lazy();
        let per_day = self
            .all
            .clone()
            .lazy()
            .join(subset, [col("key")], [col("key")], JoinArgs::new(JoinType::Semi))
            .filter(col("t").eq(lit(own)).and(col("day").gt_eq(lit(lo))).and(col("day").lt_eq(lit(cut))))
            .group_by([col("key"), col("day")])
            .agg([len().alias("nd")])
            .group_by([col("key")])
            .agg([len().alias("days"), col("nd").max().alias("max_per_day")])
            .collect()?;
        let int = |name: &str| -> PolarsResult<Vec<Option<i64>>> {
            Ok(per_day.column(name)?.cast(&DataType::Int64)?.i64()?.iter().collect())
        };
        let (k, d, m) = (int("key")?, int("days")?, int("max_per_day")?);
        Ok((0..k.len()).filter_map(|i| Some((k[i]? as u32, (d[i].unwrap_or(0), m[i].unwrap_or(0))))).collect())
    }
}

/// Merchant payment id by Alipay's payment id, for only the Alipay ids that refunds and cancels point
/// at: the index stays small at volume.
fn payments_refunds_point_at(input: &Input) -> HashMap<String, String> {
    let wanted: HashSet<&str> = input
        .rows
        .iter()
        .filter(|r| matches!(r.trans_type, TransType::Refund | TransType::Cancel))
        .filter_map(|r| nonempty(r.original_alipay_id()))
        .collect();
    let mut payment_by_alipay_id = HashMap::default();
    for r in &input.rows {
        if r.kind == FileKind::Transactions && r.trans_type == TransType::Payment {
            if let (Some(a), Some(m)) = (nonempty(&r.alipay_id), nonempty(&r.merchant_trans_id)) {
                if wanted.contains(a) {
                    payment_by_alipay_id.entry(a.to_string()).or_insert_with(|| m.to_string());
                }
            }
        }
    }
    payment_by_alipay_id
}

/// The transaction rows (not of type Other) in their reconciliation order: date, time, file, line.
fn ordered_txn_rows(input: &Input) -> Vec<usize> {
    let txn_rows: Vec<usize> = (0..input.rows.len())
        .filter(|&i| {
            let r = &input.rows[i];
            r.kind == FileKind::Transactions && r.trans_type != TransType::Other
        })
        .collect();
    // Sort keys computed once per row, not once per comparison.
    let mut order: Vec<(NaiveDate, Option<i64>, i64, i64, usize)> = txn_rows
        .iter()
        .map(|&i| {
            let r = &input.rows[i];
            (r.date, r.trans_time.map(|t| t.timestamp()), r.file_id, r.line, i)
        })
        .collect();
    order.sort_unstable();
    order.into_iter().map(|o| o.4).collect()
}

/// The frame of the rows' columns, its rows sorted by key id (a counting sort: ids are dense, below
/// `key_count`) and in their given order within a key.
fn key_sorted_frame(
    keys: &[u32],
    key_count: usize,
    kinds: &[i32],
    days: &[i32],
    as_of: &[i32],
    positions: &[i32],
) -> PolarsResult<DataFrame> {
    let mut start = vec![0usize; key_count + 1];
    for &k in keys {
        start[k as usize + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut order = vec![0usize; keys.len()];
    for (row, &k) in keys.iter().enumerate() {
        order[start[k as usize]] = row;
        start[k as usize] += 1;
    }
    let pick_i32 = |v: &[i32]| order.iter().map(|&r| v[r]).collect::<Vec<i32>>();
    let mut key_col = Column::new("key".into(), order.iter().map(|&r| keys[r]).collect::<Vec<u32>>());
    key_col.set_sorted_flag(polars::series::IsSorted::Ascending);
    DataFrame::new(
        keys.len(),
        vec![
            key_col,
            Column::new("t".into(), pick_i32(kinds)),
            Column::new("day".into(), pick_i32(days)),
            Column::new("as_of".into(), pick_i32(as_of)),
            Column::new("pos".into(), pick_i32(positions)),
        ],
    )
}

/// "None" in a masked column aggregated by `min` (the key has no row of that kind): above every
/// position and day number.
const NONE_BY_MIN: i32 = i32::MAX;
/// "None" in a masked column aggregated by `max`: below every position and day number.
const NONE_BY_MAX: i32 = -1;

/// A position or day of a masked column's aggregate, or `None` where it is a sentinel.
fn unless_none(v: i32) -> Option<i32> {
    (v != NONE_BY_MIN && v != NONE_BY_MAX).then_some(v)
}

/// One slice's rows of `record` visible at the cut, grouped by key: a row per key with its counts
/// and its first and last positions and days per kind (sentinels where it has none).
fn group_slice(
    frame: DataFrame,
    record: RecordType,
    lo: i32,
    cut: i32,
    only: Option<&[u32]>,
) -> PolarsResult<DataFrame> {
    let (own, local_t) = if record == RecordType::Payment { (T_PAY, L_PAY) } else { (T_REFUND, L_REFUND) };
    let mut lf = frame.lazy();
    if let Some(ids) = only {
        let subset = DataFrame::new(ids.len(), vec![Column::new("key".into(), ids.to_vec())])?.lazy();
        lf = lf.join(subset, [col("key")], [col("key")], JoinArgs::new(JoinType::Semi));
    }
    let t = || col("t");
    let alipay_kind =
        if record == RecordType::Payment { t().eq(lit(own)).or(t().eq(lit(T_CANCEL))) } else { t().eq(lit(own)) };
    // Alipay's rows dated in the window; the local versions visible at the cut (a version's
    // business date is checked against the window below, on the key's current version).
    let visible = alipay_kind
        .and(col("day").gt_eq(lit(lo)))
        .and(col("day").lt_eq(lit(cut)))
        .or(t().eq(lit(local_t)).and(col("as_of").lt_eq(lit(cut))));
    // Masked columns carry a sentinel instead of null where the row is of another kind: without
    // nulls, polars aggregates sorted slice groups with its vectorised kernels.
    // 32-bit columns: positions and day numbers fit, and a million-key group-by moves half the bytes.
    let (none_lo, none_hi) = (lit(NONE_BY_MIN), lit(NONE_BY_MAX));
    let when_t = |kind: i32, c: &str, otherwise: Expr| when(t().eq(lit(kind))).then(col(c)).otherwise(otherwise);
    // One group-by of simple aggregations (polars' fast path on sorted keys).
    lf.filter(visible)
        .select([
            col("key"),
            t().eq(lit(own)).cast(DataType::Int32).alias("is_own"),
            t().eq(lit(T_CANCEL)).cast(DataType::Int32).alias("is_cancel"),
            when_t(own, "pos", none_lo.clone()).alias("own_first"),
            when_t(own, "pos", none_hi.clone()).alias("own_last"),
            when_t(own, "day", none_lo.clone()).alias("own_d0"),
            when_t(own, "day", none_hi.clone()).alias("own_d1"),
            when_t(T_CANCEL, "pos", none_lo.clone()).alias("cancel_pos"),
            when_t(local_t, "pos", none_hi.clone()).alias("local_pos"),
            when_t(local_t, "day", none_hi.clone()).alias("local_day"),
        ])
        .group_by([col("key")])
        .agg([
            col("is_own").sum().alias("n"),
            col("is_cancel").sum().alias("n_cancel"),
            col("own_first").min().alias("first"),
            col("own_last").max().alias("last"),
            col("own_d0").min().alias("d0"),
            col("own_d1").max().alias("d1"),
            col("cancel_pos").min().alias("cancel_first"),
            col("local_pos").max().alias("local_pos"),
            col("local_day").max().alias("local_day"),
        ])
        .collect()
}

/// Adds a slice's groups (`group_slice`) to `acc` as key aggregates, keys with nothing in the window
/// left out. Keys with more than two rows of their own kind go to `acc.repeated` for an exact count.
fn add_groups(grouped: &DataFrame, lo: i32, cut: i32, acc: &mut Grouped) -> PolarsResult<()> {
    let Grouped { aggs: out, repeated } = acc;
    // Borrowed as plain slices (no per-column copies at a million keys); sentinels become None.
    let series = |name: &str| -> PolarsResult<Series> {
        Ok(grouped.column(name)?.as_materialized_series().cast(&DataType::Int32)?.rechunk())
    };
    let cols =
        ["key", "n", "n_cancel", "first", "last", "d0", "d1", "cancel_first", "local_pos", "local_day"].map(series);
    let mut held = Vec::with_capacity(cols.len());
    for c in cols {
        held.push(c?);
    }
    let mut slices = Vec::with_capacity(held.len());
    for s in &held {
        slices.push(s.i32()?.cont_slice()?);
    }
    let [key_ids, own_rows, cancel_rows, own_first, own_last, own_first_day, own_last_day, cancel_first, local_pos, local_day] =
        slices[..]
    else {
        unreachable!("ten columns")
    };
    out.reserve(key_ids.len());
    for (i, &key) in key_ids.iter().enumerate() {
        let kid = key as u32;
        // A local record dated outside the window is not this window's business.
        let local = match (unless_none(local_pos[i]), unless_none(local_day[i])) {
            (Some(p), Some(b)) if b >= lo && b <= cut => Some(p as u32),
            _ => None,
        };
        let (n, n_cancel) = (own_rows[i] as u32, cancel_rows[i] as u32);
        if n == 0 && n_cancel == 0 && local.is_none() {
            continue;
        }
        // One row: one day. Two: one or two days. More (rare): counted exactly below.
        let (days, max_per_day) = match n {
            0 | 1 => (n, n),
            2 if own_first_day[i] == own_last_day[i] => (1, 2),
            2 => (2, 1),
            _ => {
                repeated.push(kid);
                (0, 0)
            }
        };
        out.push(KeyAgg {
            kid,
            partner: None,
            n,
            days,
            max_per_day,
            first: unless_none(own_first[i]).map(|p| p as u32),
            last: unless_none(own_last[i]).map(|p| p as u32),
            n_cancel,
            cancel_first: unless_none(cancel_first[i]).map(|p| p as u32),
            local,
        });
    }
    Ok(())
}

/// A row's key text without allocating in the usual case (the merchant's id is present).
fn key_text<'a>(own: Option<&'a str>, alipay_id: Option<&str>) -> Cow<'a, str> {
    match own.map(str::trim).filter(|s| !s.is_empty()) {
        Some(m) => Cow::Borrowed(m),
        None => Cow::Owned(format!("#{}", alipay_id.map(str::trim).unwrap_or(""))),
    }
}

/// A payment's key: the merchant's id, or Alipay's id when the row has none (cannot match locally
/// by id, but can by the secondary Alipay-id key).
pub(super) fn payment_key(mtid: Option<&str>, alipay_id: Option<&str>) -> String {
    match mtid.map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(m) => m.to_string(),
        None => format!("#{}", alipay_id.map(|s| s.trim()).unwrap_or("")),
    }
}

/// A refund's key: the merchant's refund id, or `#` + Alipay's id of the refund.
pub(super) fn refund_key(mrid: Option<&str>, alipay_id: Option<&str>) -> String {
    payment_key(mrid, alipay_id)
}
