//! The reconciliation engine (contracts.md §2–§3): typed rows of one look-back window in, findings,
//! pending/resolved items, open items and the day's summary out. Polars does the per-key group-bys
//! (`frames`); the rules live in `items` (payment items, UNSETTLED, secondary keys), `refunds` and
//! `checks` (file integrity, settlement, fees, summaries); `totals` builds the summary.
//!
//! Determinism and "a discrepancy is written once": the result for day T depends only on the input.
//! The engine replays every day D of the open-item look-back as a *cut* — the same data restricted to
//! rows dated ≤ D — so it knows what D's report listed without reading earlier runs' results. An item
//! found at cut T and not before is a finding of T; one found since an earlier cut is an open item; one
//! found at T−1 and explained at T is RESOLVED. T and T−1 are evaluated for every key; earlier days
//! only for the keys with a verdict on T or T−1 (the tests check this against a full replay).
//! `run_state` computes only what the next day's state keeps (cut T, and the matched count at T−1),
//! for the days an incremental run recomputes before its date (the tests check it against `run_keeping`).

mod checks;
mod flow;
mod frames;
mod items;
mod refunds;
mod totals;

#[cfg(test)]
pub(crate) mod tests;

// The engine's input rows, settings and results are plain domain data (`store` reads and writes them
// without importing the engine); `input` keeps the engine's own name for its rows.
pub use crate::domain::outcome::{DayKeys, MatchedByDay, Outcome};
pub use crate::domain::rows as input;
pub use crate::domain::rules::Params;
pub use input::{AlipayRow, FileIn, Input, IssueIn, LocalVersion, SummaryIn};

use crate::config::BusinessConfig;
use crate::domain::{
    sort_findings, Category, FileKind, Finding, OpenItem, PendingItem, PendingState, RecordType, TransType,
};
use anyhow::{Context, Result};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use frames::Frames;
use std::collections::BTreeMap;

/// The engine's hash maps: foldhash (several times SipHash's speed on short ids; still randomly
/// seeded per process, and nothing in the engine depends on iteration order).
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

// `Params` is the domain's; making it from the configuration is the engine's business.
impl Default for Params {
    fn default() -> Self {
        Params::from_config(&BusinessConfig::default())
    }
}

impl Params {
    pub fn from_config(b: &BusinessConfig) -> Params {
        Params {
            zone: b.timezone,
            grace_minutes: b.grace_minutes,
            cancel_window_minutes: b.cancel_window_minutes,
            open_item_days: b.open_item_days,
            settlement_lookback_days: b.settlement_lookback_days,
            unsettled_after_days: b.unsettled_after_days,
            amount_tolerance: b.amount_tolerance.clone(),
            fee_tolerance_minor: b.fee_tolerance_minor,
            refund_returns_fee: b.refund_returns_fee,
            fees: b.fees.clone(),
        }
    }
}

/// A verdict at one cut.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Found,
    Pending(String),
}

#[derive(Debug, Clone)]
struct Eval {
    /// Identity of the item across days: category + record type + key (or a day for missing files).
    pub ident: String,
    pub state: State,
    pub finding: Finding,
}

/// One replayed day: the data of `[cut − lookback, cut]`.
struct Cut<'a, 's> {
    pub input: &'s Input,
    pub params: &'a Params,
    pub frames: &'a Frames,
    pub cut: NaiveDate,
    /// End of the cut day (exclusive) in the business zone.
    pub end: DateTime<FixedOffset>,
    /// Items dated before this are past the open-item look-back of T: not reported any more.
    pub first_day: NaiveDate,
    /// Days with at least one complete transaction file.
    pub complete_days: &'a HashSet<NaiveDate>,
    /// Earliest settlement-detail date per (type, Alipay id or merchant id); built on first use
    /// (only items older than the UNSETTLED delay ask).
    pub settled: &'a Settled<'s>,
}

impl Cut<'_, '_> {
    pub fn row(&self, pos: u32) -> &AlipayRow {
        &self.input.rows[self.frames.txn_rows[pos as usize]]
    }
    pub fn local(&self, pos: u32) -> &LocalVersion {
        &self.input.local[self.frames.local_rows[pos as usize]]
    }
    /// The first settlement-detail date of a payment or refund by Alipay's id or the merchant's id.
    pub fn settled_on(&self, record: RecordType, key: &str) -> Option<NaiveDate> {
        self.settled.on(self.input, self.params, record, key)
    }
    /// The merchant payment id a refund row refunds: its own column, else through Alipay's id.
    pub fn payment_of_refund(&self, r: &AlipayRow) -> Option<String> {
        r.merchant_trans_id.as_deref().filter(|s| !s.trim().is_empty()).map(str::to_string).or_else(|| {
            r.original_alipay_id().as_deref().and_then(|a| self.frames.payment_by_alipay_id.get(a.trim()).cloned())
        })
    }
}

/// Reconciles day `input.date` (T) over the stored window in `input`.
pub fn run(input: &Input, params: &Params) -> Result<Outcome> {
    Ok(run_replaying(input, params, Cuts::Needed, false)?.0)
}

/// Day T's matched count by item date, from T−1's (`prev`, over every key) and the keys an
/// incremental run loaded (`keys`, from `run_keeping(.., true)`): the loaded keys' T−1 counts are
/// replaced by their T counts; the other keys agree at T as at T−1, and leave the count when their
/// item date leaves T's open-item look-back (before `first_day`).
pub fn carry_matched(prev: &MatchedByDay, keys: &DayKeys, first_day: NaiveDate) -> MatchedByDay {
    let mut by_day = prev.clone();
    for (day, n) in &keys.matched_before_by_day {
        *by_day.entry(*day).or_default() -= n;
    }
    for (day, n) in &keys.matched_by_day {
        *by_day.entry(*day).or_default() += n;
    }
    by_day.retain(|day, n| *day >= first_day && *n != 0);
    by_day
}

/// [`run`], also returning what the next day's state keeps ([`DayKeys`]); with `count_before`, how
/// many keys of the input agree at T−1 as T−1's run counted them (an incremental run carries the
/// matched count of the keys it did not load from there).
pub fn run_keeping(input: &Input, params: &Params, count_before: bool) -> Result<(Outcome, DayKeys)> {
    run_replaying(input, params, Cuts::Needed, count_before)
}

/// Only what the next day's state keeps of T: `run_keeping(input, params, true)`'s [`DayKeys`],
/// without its outcome (for the days an incremental run recomputes before its date, whose outcome
/// nobody reads). The same frames and the same evaluation of cut T (its verdict keys, its matched
/// count) and of cut T−1 ([`matched_before`]); none of T−1's verdicts for T,
/// earlier cuts, file checks, summary or roll-forward.
pub fn run_state(input: &Input, params: &Params) -> Result<DayKeys> {
    let date = business_date(input)?;
    let frames = frames(input)?;
    // Sequential: evaluating T−1 on a second thread beside cut T was no faster on 2 cores and kept
    // ~250 MiB more at the peak (the thread's allocator heap).
    let settled = Settled::new();
    let (_, mut keys) = replay(input, params, date, &frames, Cuts::T, &settled)?;
    keys.set_matched_before(matched_before(input, params, &frames, &settled)?);
    Ok(keys)
}

/// The business date of the input (T).
fn business_date(input: &Input) -> Result<NaiveDate> {
    input.date.context("the reconciliation input has no business date (a bug: load it with store::window)")
}

/// T's frames, built once for every cut.
fn frames(input: &Input) -> Result<Frames> {
    let clock = std::time::Instant::now();
    let frames = Frames::new(input).context("cannot build the reconciliation frames")?;
    tracing::debug!(what = "frames", ms = clock.elapsed().as_millis() as u64, cpu_ms = cpu_ms(), "engine phase");
    Ok(frames)
}

/// Which cuts [`replay`] evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cuts {
    /// T only: T's [`DayKeys`], no outcome ([`run_state`]).
    T,
    /// T and T−1 for every key, earlier days for the keys with a verdict on either ([`run`]).
    Needed,
    /// Every day of the look-back for every key (the slow reference the tests compare with).
    Every,
}

impl DayKeys {
    /// The count at T−1 ([`matched_before`]) by item date, and its total.
    fn set_matched_before(&mut self, by_day: MatchedByDay) {
        self.matched_before = by_day.values().sum();
        self.matched_before_by_day = by_day;
    }
}

/// A payment's or refund's id (Alipay's or the merchant's) as the settlement index holds it.
type SettledId<'a> = (RecordType, &'a str);
/// The first settlement-detail date of each id ([`settled_index`]).
type SettledIndex<'a> = HashMap<SettledId<'a>, NaiveDate>;

/// The first settlement-detail date of the payments and refunds of an input ([`settled_index`]), built
/// on first use and shared by every cut of a run.
///
/// The UNSETTLED rule asks only about transaction rows due by T (dated `unsettled_after_days` or more
/// before it): the index is built first for the ids those rows name ([`asked_ids`]), and over every
/// settlement row only if a cut asks about another id. An incremental run holds the day's whole
/// settlement file but few such rows: at 1M payments a day indexing every settlement row was ~0.6 s of
/// each day's engine once the window had due rows (perf, BENCHMARKS.md).
#[derive(Default)]
pub(crate) struct Settled<'a> {
    /// The ids asked about, and the index over the settlement rows that name one of them.
    asked: std::cell::OnceCell<(HashSet<SettledId<'a>>, SettledIndex<'a>)>,
    /// Over every settlement row.
    all: std::cell::OnceCell<SettledIndex<'a>>,
}

impl<'a> Settled<'a> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The first settlement-detail date of `key` (Alipay's id or the merchant's) as a `record`.
    fn on(&self, input: &'a Input, params: &Params, record: RecordType, key: &str) -> Option<NaiveDate> {
        let (ids, index) = self.asked.get_or_init(|| {
            let ids = asked_ids(input, params);
            let index = settled_index(input, Some(&ids));
            (ids, index)
        });
        if ids.contains(&(record, key)) {
            let on = index.get(&(record, key)).copied();
            // Every engine test checks the asked ids' index against the whole one.
            #[cfg(test)]
            assert_eq!(on, self.all.get_or_init(|| settled_index(input, None)).get(&(record, key)).copied());
            return on;
        }
        self.all.get_or_init(|| settled_index(input, None)).get(&(record, key)).copied()
    }
}

/// The ids (trimmed) of the payment and refund rows of `input`'s transaction files due by T: those the
/// UNSETTLED rule can ask about, by Alipay's id or the merchant's.
fn asked_ids<'a>(input: &'a Input, params: &Params) -> HashSet<SettledId<'a>> {
    let mut ids = HashSet::default();
    let Some(date) = input.date else { return ids };
    let due_by = date - Duration::days(params.unsettled_after_days as i64);
    for r in input.rows.iter().filter(|r| r.kind == FileKind::Transactions && r.date <= due_by) {
        ids.extend(settled_ids(r));
    }
    ids
}

/// A payment or refund row's ids as the settlement index holds them: Alipay's and the merchant's own
/// (its payment id, or its refund id), trimmed, the empty ones left out. None for other rows.
fn settled_ids(r: &AlipayRow) -> impl Iterator<Item = SettledId<'_>> {
    let (rt, own) = match r.trans_type {
        TransType::Payment => (Some(RecordType::Payment), &r.merchant_trans_id),
        TransType::Refund => (Some(RecordType::Refund), r.merchant_refund_id()),
        _ => (None, &None),
    };
    rt.into_iter().flat_map(move |rt| {
        [&r.alipay_id, own].into_iter().flatten().map(|k| k.trim()).filter(|k| !k.is_empty()).map(move |k| (rt, k))
    })
}

/// The days of `input` that are complete: a day is complete when it has a transaction file and none of
/// its transaction files (skipped ones included) is incomplete (contracts.md §2). One definition for
/// every cut: the count at T−1 once took a day with one truncated and one complete file as complete.
fn complete_days(input: &Input) -> HashSet<NaiveDate> {
    let incomplete: HashSet<NaiveDate> =
        input.files.iter().filter(|f| f.kind == FileKind::Transactions && f.truncated).map(|f| f.date).collect();
    input
        .files
        .iter()
        .filter(|f| f.kind == FileKind::Transactions && !incomplete.contains(&f.date))
        .map(|f| f.date)
        .collect()
}

/// The keys of `input` both sides agree on at T−1 with T−1's first reported day, on T's frames (the
/// same input: built once).
fn matched_before<'a>(
    input: &'a Input,
    params: &Params,
    frames: &Frames,
    settled: &Settled<'a>,
) -> Result<MatchedByDay> {
    let date = business_date(input)?;
    let yesterday = date - Duration::days(1);
    let complete_days = complete_days(input);
    let cx = Cut {
        input,
        params,
        frames,
        cut: yesterday,
        end: params.zone.day_bounds(yesterday).1,
        first_day: yesterday - Duration::days(params.open_item_days as i64),
        complete_days: &complete_days,
        settled,
    };
    Ok(evaluate(&cx, None)?.1)
}

/// `run` with the cuts `cuts` (`Cuts::Every`: every earlier day replayed in full, the slow reference
/// the tests compare with). The file checks of T (`checks::day_checks`) read only the input: they run
/// on a second thread while the frames are built and the cuts replayed. With `count_before`, also the
/// matched count at T−1 on the same frames ([`run_keeping`]).
fn run_replaying(input: &Input, params: &Params, cuts: Cuts, count_before: bool) -> Result<(Outcome, DayKeys)> {
    let date = business_date(input)?;
    std::thread::scope(|scope| {
        let checks = scope.spawn(|| checks::day_checks(input, params, date));
        // The settlement index of the input, built once for every cut (and the count at T−1).
        let settled = Settled::new();
        let out = frames(input).and_then(|frames| Ok((replay(input, params, date, &frames, cuts, &settled)?, frames)));
        let checks = checks.join().map_err(|_| anyhow::anyhow!("the file checks of {date} panicked (a bug)"))?;
        let ((mut out, mut keys), frames) = out?;
        if count_before {
            keys.set_matched_before(matched_before(input, params, &frames, &settled)?);
        }
        let (checks, settled) = checks;
        out.findings.extend(checks);
        sort_findings(&mut out.findings);
        // The payments cancelled in the window: not captured, for the totals and the roll-forward alike.
        let cancelled = totals::cancelled(input);
        out.summary = totals::summary(input, &frames, date, &out, keys.matched_by_day.values().sum(), &cancelled);
        flow::add(input, date, &settled, &cancelled, &mut out);
        tracing::debug!("engine phase: checks joined, summary");
        Ok((out, keys))
    })
}

/// Replays `cuts` of T's look-back on T's frames; returns T's items (without the file checks; empty
/// with `Cuts::T`) and T's [`DayKeys`] (without the count at T−1: [`matched_before`]).
fn replay<'a>(
    input: &'a Input,
    params: &Params,
    date: NaiveDate,
    frames: &Frames,
    cuts: Cuts,
    settled: &Settled<'a>,
) -> Result<(Outcome, DayKeys)> {
    let clock = std::time::Instant::now();
    let lap =
        |what: &str| tracing::debug!(what, ms = clock.elapsed().as_millis() as u64, cpu_ms = cpu_ms(), "engine phase");
    let complete_days = complete_days(input);
    let first_day = date - Duration::days(params.open_item_days as i64);
    let mut history: BTreeMap<NaiveDate, HashMap<String, Eval>> = BTreeMap::new();
    let cut = |d: NaiveDate| Cut {
        input,
        params,
        frames,
        cut: d,
        end: params.zone.day_bounds(d).1,
        first_day,
        complete_days: &complete_days,
        settled,
    };
    // T and T−1 are evaluated in full (T's verdicts; what T−1 listed that T may resolve). Earlier
    // days only matter for keys with a verdict on T or T−1 (when were they first found?), and for the
    // local keys of days without a transaction file (the FILE_INTEGRITY row's first day).
    let (evals, matched_by_day, mut keys) = evaluate(&cut(date), None)?;
    let day_keys = DayKeys { ids: state_ids(frames, &keys), matched_by_day, ..Default::default() };
    lap("cut T");
    if cuts == Cuts::T {
        return Ok((Outcome::default(), day_keys));
    }
    history.insert(date, evals.into_iter().map(|e| (e.ident.clone(), e)).collect());
    let yesterday = date - Duration::days(1);
    if yesterday >= first_day {
        let (evals, _, more) = evaluate(&cut(yesterday), None)?;
        history.insert(yesterday, evals.into_iter().map(|e| (e.ident.clone(), e)).collect());
        keys.extend(more);
    }
    let file_days: HashSet<NaiveDate> =
        input.files.iter().filter(|f| f.kind == FileKind::Transactions).map(|f| f.date).collect();
    let no_file: HashSet<NaiveDate> =
        input.local.iter().map(|l| l.business_date).filter(|d| !file_days.contains(d)).collect();
    keys.extend(frames.local_keys_on(input, &no_file));
    keys.sort_unstable();
    keys.dedup();
    lap("cut T-1");
    let mut d = first_day;
    while d < yesterday {
        let (evals, _, _) = evaluate(&cut(d), if cuts == Cuts::Every { None } else { Some(&keys) })?;
        history.insert(d, evals.into_iter().map(|e| (e.ident.clone(), e)).collect());
        d += Duration::days(1);
    }
    lap("earlier cuts");
    let out = carry(&history, date);
    lap("carry");
    Ok((out, day_keys))
}

/// The store's ids of keys (a key without its own id is `#` + Alipay's id: both forms are kept).
fn state_ids(frames: &Frames, keys: &[u32]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::with_capacity(keys.len());
    for &k in keys {
        let name = frames.name(k);
        ids.push(name.to_string());
        if let Some(rest) = name.strip_prefix('#') {
            ids.push(rest.to_string());
        }
    }
    ids.retain(|s| !s.trim().is_empty());
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The process's CPU time so far (all threads), for the phase log: steadier than wall time on a
/// busy machine.
fn cpu_ms() -> u64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid out-pointer for getrusage(2).
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let ms = |t: libc::timeval| t.tv_sec as u64 * 1000 + t.tv_usec as u64 / 1000;
    ms(ru.ru_utime) + ms(ru.ru_stime)
}

/// Every verdict at one cut (of the keys in `only`, or all), how many keys both sides agree on, and
/// the ids of the keys that have a verdict.
fn evaluate(cx: &Cut, only: Option<&[u32]>) -> Result<(Vec<Eval>, MatchedByDay, Vec<u32>)> {
    let lo = cx.cut - Duration::days(cx.params.lookback_days());
    let mut payments = cx.frames.keys(RecordType::Payment, lo, cx.cut, only).context("payment group-by failed")?;
    let mut refunds = cx.frames.keys(RecordType::Refund, lo, cx.cut, only).context("refund group-by failed")?;
    tracing::trace!(cut = %cx.cut, cpu_ms = cpu_ms(), "keys grouped");
    items::pair_secondary(cx, RecordType::Payment, &mut payments);
    items::pair_secondary(cx, RecordType::Refund, &mut refunds);
    let exceeding = refunds::exceeding_refunds(cx, &payments, &refunds);
    tracing::trace!(cut = %cx.cut, cpu_ms = cpu_ms(), "secondary keys paired");
    let mut out = Vec::new();
    let mut matched = MatchedByDay::new();
    let mut keys = Vec::new();
    let mut local_days: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    let note = |keys: &mut Vec<u32>, agg: &frames::KeyAgg, before: usize, after: usize| {
        if after > before {
            keys.push(agg.kid);
            keys.extend(agg.partner);
        }
    };
    for p in &payments {
        let n = out.len();
        if items::payment(cx, p, &mut out) {
            *matched
                .entry(items::payment_date(cx, p).context("a matched payment without a date (a bug)")?)
                .or_default() += 1;
        }
        note(&mut keys, p, n, out.len());
        note_local_day(cx, p, &mut local_days);
    }
    for r in &refunds {
        let n = out.len();
        if refunds::refund(cx, r, &exceeding, &mut out) {
            *matched
                .entry(refunds::refund_date(cx, r).context("a matched refund without a date (a bug)")?)
                .or_default() += 1;
        }
        if out.len() > n {
            // The refunded payment decides "refunds exceed the payment": replay it too.
            let local = r.local.map(|p| cx.local(p).merchant_trans_id.to_string());
            let alipay = r.first.and_then(|p| cx.payment_of_refund(cx.row(p)));
            keys.extend([local, alipay].into_iter().flatten().filter_map(|id| cx.frames.id_of(&id)));
        }
        note(&mut keys, r, n, out.len());
        note_local_day(cx, r, &mut local_days);
    }
    tracing::trace!(cut = %cx.cut, cpu_ms = cpu_ms(), "keys classified");
    for (day, n) in local_days {
        if day < cx.first_day
            || day < lo
            || cx.input.files.iter().any(|f| f.kind == FileKind::Transactions && f.date == day)
        {
            continue;
        }
        out.push(Eval {
            ident: format!("FILE_MISSING|{day}"),
            state: State::Found,
            finding: checks::integrity_finding(
                cx.cut,
                day,
                format!(
                    "There is no Alipay transaction file for {day} although {n} local sale(s) are SUCCESS or UNKNOWN: fetch the day again (alipay-recon run --date {day}) or ask Alipay; the day's sales stay pending until the file is imported."
                ),
            ),
        });
    }
    Ok((out, matched, keys))
}

fn note_local_day(cx: &Cut, agg: &frames::KeyAgg, days: &mut BTreeMap<NaiveDate, i64>) {
    use crate::domain::LocalStatus;
    if let Some(l) = agg.local.map(|p| cx.local(p)) {
        if matches!(l.status, LocalStatus::Success | LocalStatus::Unknown) {
            *days.entry(l.business_date).or_default() += 1;
        }
    }
}

/// The first settlement-detail date of each payment and refund id of `input` (of those in `only`).
fn settled_index<'a>(input: &'a Input, only: Option<&HashSet<SettledId<'a>>>) -> SettledIndex<'a> {
    let mut m: HashMap<(RecordType, &str), NaiveDate> = HashMap::default();
    let settlement = || input.rows.iter().filter(|r| r.kind == FileKind::SettlementDetail);
    // Sized once: two keys per settlement row (rehashing millions of entries as it grew was half its
    // cost). The rows held, not the files' row counts: an incremental run holds only the active keys'
    // rows of the window's files, and sizing by the files reserved a table for the whole window (277 MB
    // at 100k payments a day once 19 days of settlement files were in it, gigabytes at 1M).
    m.reserve(only.map_or_else(|| 2 * settlement().count(), HashSet::len));
    for r in settlement() {
        for id in settled_ids(r).filter(|id| only.is_none_or(|ids| ids.contains(id))) {
            let e = m.entry(id).or_insert(r.date);
            *e = (*e).min(r.date);
        }
    }
    m
}

/// Turns the replayed cuts into T's findings, open items, pending and resolved items.
fn carry(history: &BTreeMap<NaiveDate, HashMap<String, Eval>>, date: NaiveDate) -> Outcome {
    let found_at =
        |d: NaiveDate, id: &str| history.get(&d).and_then(|m| m.get(id)).is_some_and(|e| e.state == State::Found);
    // The first day of the unbroken run of cuts, ending at `end`, that found `id`.
    let run_start = |id: &str, end: NaiveDate| {
        let mut s = end;
        while found_at(s - Duration::days(1), id) {
            s -= Duration::days(1);
        }
        s
    };
    let mut out = Outcome::default();
    let today = &history[&date];
    let mut idents: Vec<&String> = today.keys().collect();
    idents.sort();
    for id in idents {
        let e = &today[id];
        match &e.state {
            State::Found => {
                let start = run_start(id, date);
                if start == date {
                    out.findings.push(e.finding.clone());
                } else {
                    out.open_items.push(OpenItem {
                        finding: e.finding.clone(),
                        first_reported: start,
                        age_days: (date - start).num_days(),
                    });
                }
            }
            State::Pending(reason) => out.pending.push(PendingItem {
                state: PendingState::Pending,
                finding: e.finding.clone(),
                first_reported: None,
                reason: reason.clone(),
            }),
        }
    }
    let yesterday = date - Duration::days(1);
    if let Some(prev) = history.get(&yesterday) {
        let mut ids: Vec<&String> =
            prev.keys().filter(|id| found_at(yesterday, id) && !today.contains_key(*id)).collect();
        ids.sort();
        for id in ids {
            let mut f = prev[id].finding.clone();
            f.business_date = date;
            out.pending.push(PendingItem {
                state: PendingState::Resolved,
                finding: f,
                first_reported: Some(run_start(id, yesterday)),
                reason: format!("explained by the data up to {date}: no action needed any more"),
            });
        }
    }
    out.open_items.sort_by(|a, b| a.finding.sort_key().cmp(&b.finding.sort_key()));
    out.pending.sort_by(|a, b| (a.state, a.finding.sort_key()).cmp(&(b.state, b.finding.sort_key())));
    out
}

/// The category counts of a finding list (for summaries and the store).
pub fn category_counts(findings: &[Finding]) -> BTreeMap<Category, i64> {
    let mut m = BTreeMap::new();
    for f in findings {
        *m.entry(f.category).or_insert(0) += 1;
    }
    m
}
