//! The incremental run's input (`store::state`, ARCHITECTURE.md "Incremental state"): day T's window
//! restricted to the keys that can have a verdict on T, each with every row and version the window
//! has of it and of its family, so the unchanged engine gives the answer it gives on the whole window.
//!
//! A key can have a verdict on T only if it has a verdict on T−1 (the stored state, computed from
//! every row dated up to T−1: a late write invalidates it), or rows or a version dated T (or a version
//! that becomes visible on T), or is a payment or refund whose UNSETTLED deadline is T and that has
//! no settlement-detail row in the window (rows dated T − unsettled_after), or has rows on the day
//! that leaves T's cut (T − lookback − 1) and rows dated after it (its item date and answer move to
//! them) — or is a local sale of a
//! day in the open-item look-back without a transaction file (the FILE_MISSING row counts them). A
//! key matched on T−1 with none of these is matched on T alike, unless its item date leaves the
//! open-item look-back: the state counts matched keys by item date (`reconcile::carry_matched`), so
//! that day's keys leave the count without being loaded. From those
//! seeds the family is closed over every id the rules pair by — the merchant's payment and refund
//! ids, Alipay's id, the original Alipay id, the local acquirement id — until nothing new is found,
//! then refunds get their payment ids exactly as in the full load (and the closure continues from
//! them). Files, summary rows and issues are read in full: they are small.

use super::*;
use crate::store::zones;

/// Loads day `day`'s window restricted to the keys that can have a verdict on `day`, given the ids of
/// the keys with a verdict on the day before (`state_ids`).
#[cfg(test)]
pub fn load_active(conn: &Connection, day: NaiveDate, params: &Params, state_ids: &[String]) -> Result<Input> {
    load_active_with(conn, day, params, state_ids, Handoff::default())
}

/// [`load_active`], taking from `handoff` the rows of the files the run has just imported (the day's
/// own files: read back from the database they would be the same rows, `store::handoff`).
pub fn load_active_with(
    conn: &Connection,
    day: NaiveDate,
    params: &Params,
    state_ids: &[String],
    handoff: Handoff,
) -> Result<Input> {
    let t = std::time::Instant::now();
    let lap = |what: &str| tracing::debug!(what, ms = t.elapsed().as_millis() as u64, "active load phase");
    let input = load_active_inner(conn, day, params, state_ids, handoff, &lap)?;
    tracing::debug!(
        rows = input.rows.len(),
        local = input.local.len(),
        ms = t.elapsed().as_millis() as u64,
        "active window loaded"
    );
    Ok(input)
}

fn load_active_inner(
    conn: &Connection,
    day: NaiveDate,
    params: &Params,
    state_ids: &[String],
    handoff: Handoff,
    lap: &dyn Fn(&str),
) -> Result<Input> {
    let from = params.window_start(day);
    let (a, b) = (from.to_string(), day.to_string());
    let mut input = Input { date: Some(day), from: Some(from), ..Default::default() };
    // Files, summaries and issues in full (no rows: the held part is empty, so every file is read by
    // its range — then the rows are replaced by the active ones).
    alipay_part(conn, &mut input, &a, &b, None)?;
    lap("files");

    create_temp_tables(conn)?;
    // Payments and refunds of this day reach the UNSETTLED delay on T: those not settled yet.
    let unsettled_day = day - chrono::Duration::days(params.unsettled_after_days as i64);
    // The day leaving T's cut: its payments that a refund or cancel refers to (that refund's answer may
    // change when its payment leaves the look-back); its other keys are past the open-item look-back.
    let leaving = leaving_day(day, params);
    // No key of the leaving day continues after it: its seeds are empty without their queries (at 100k
    // payments a day ~0.3 s of each recomputed day's load, which has no prefetch).
    let leaving_quiet = leaving_quiet(conn, leaving, from, day)?;
    let mut seeds: Vec<NaiveDate> = vec![day, unsettled_day, leaving];
    if leaving_quiet && leaving != unsettled_day {
        seeds.retain(|d| *d != leaving);
    }
    // Days whose rows are all seeds: T (and a look-back of 0 days).
    let whole_days: HashSet<NaiveDate> = HashSet::from_iter([day]);
    let file_days: HashSet<NaiveDate> =
        input.files.iter().filter(|f| f.kind == FileKind::Transactions).map(|f| f.date).collect();
    let local_days = local_days(day, params, |d| file_days.contains(&d));
    seeds.retain(|d| *d >= from && *d <= day);
    seeds.sort_unstable();
    seeds.dedup();

    // Where an id can be found that the seeds do not hold already (sql/0017): the files and the days'
    // local records not loaded whole. An id outside them is never looked up, nor kept: at volume most
    // of a day's ids are new (Alipay's, and most merchants', grow with time), and keeping each of a
    // million-payment day's ids cost about a second.
    let current: HashMap<i64, usize> = input.files.iter().enumerate().map(|(i, f)| (f.id, i)).collect();
    let files_cover = zones::file_covers(conn, &a, &b, |id| {
        current.get(&id).is_some_and(|&i| whole_days.contains(&input.files[i].date))
    })?;
    let local_cover = zones::local_covers(conn, &a, &b, |d| local_days.contains(&d))?;
    let mut ids = Ids {
        keep: Some([files_cover.merchant.union(&local_cover.merchant), files_cover.alipay.union(&local_cover.alipay)]),
        ..Default::default()
    };
    lap("zones");
    let mut handoff = handoff;
    let (prefetched, mut leaving_prefetched, mut unsettled_prefetched, mut state_probe) =
        match handoff.local_seeds.take().and_then(|p| p.take(day)).transpose()? {
            // It left out the leaving day's seeds, which the import's files made necessary: read here.
            Some(p) if p.leaving_quiet && !leaving_quiet => (None, None, None, None),
            Some(p) => (Some(p.local), Some(p.leaving), Some(p.unsettled), p.state),
            None => (None, None, None, None),
        };
    // The wait for the prefetch thread (at 1M payments a day it can still be reading when the import
    // ends), apart from the seeds' own time in the debug log.
    lap("prefetch joined");
    // Read before the import: still true unless the import stored a file dated before T.
    if handoff.files.iter().any(|(id, _)| current.get(id).is_none_or(|&i| input.files[i].date < day)) {
        (leaving_prefetched, unsettled_prefetched, state_probe) = (None, None, None);
    }
    // The state ids' Alipay rows found during the import, if for these ids (the day before's state was
    // not recomputed since): read in the first round. Their local keys are loaded in `prefetched`.
    let mut probed_hits = match state_probe.filter(|p| p.ids == state_ids) {
        Some(p) => {
            for id in state_ids {
                ids.mark(Kind::Merchant, id);
                ids.mark(Kind::Alipay, id);
            }
            p.hits
        }
        None => {
            // A state id is a key's name: a merchant id, or Alipay's for a key without one (both kinds).
            for id in state_ids {
                ids.add(Kind::Merchant, Some(id));
                ids.add(Kind::Alipay, Some(id));
            }
            Vec::new()
        }
    };

    // The local side (seeds, then each round's probes) runs on a second connection beside the Alipay
    // side when the database is a file: they read different tables, and the second core is otherwise
    // idle while the load waits on SQLite. An in-memory database (tests) has one connection: in turn.
    let mut side = match conn.path().filter(|p| !p.is_empty()) {
        Some(path) => Some(open_side(std::path::Path::new(path))?),
        None => None,
    };
    let mut rows: Vec<AlipayRow> = Vec::new();
    let mut seen_rows = SeenRows::default();
    let mut ccys = [Currencies::default(), Currencies::default(), Currencies::default()];
    let mut texts = RowTexts::default();
    let mut wallets: HashMap<i64, WalletAt> = HashMap::default();
    let mut locals = LocalSide::default();
    let seed = LocalSeeds { day, from, leaving, leaving_quiet, local_days: &local_days, a: &a, b: &b };
    // The seed days' Alipay rows here, the local seeds on the second connection meanwhile.
    // Without a prefetch (a day recomputed for its state, `reconcile`) the second connection reads the
    // leaving day's seed rows after the local seeds, beside the other Alipay seeds here: that query is
    // most of a recomputed day's seeding.
    let defer_leaving = prefetched.is_none()
        && side.is_some()
        && leaving >= from
        && leaving < day
        && leaving != unsettled_day
        && seeds.contains(&leaving);
    let is_leaving_file = |f: &FileIn| defer_leaving && f.kind == FileKind::Transactions && f.date == leaving;
    let alipay_seeds = || -> Result<()> {
        // The seed days' Alipay rows, file by file (each file's rows are one range of the table's key).
        {
            // The handoff's rows by file (they come file after file, in the order of its file list).
            let Handoff { rows: held_rows, files: held_files, .. } = handoff;
            let mut held = held_by_file(held_rows, held_files);
            let mut ranges = conn.prepare_cached("SELECT first_row, last_row FROM files WHERE id = ?1")?;
            let mut all =
                conn.prepare_cached(&format!("{ROW_COLUMNS} WHERE r.id BETWEEN ?2 AND ?3 AND r.file_id = ?1"))?;
            // The UNSETTLED day's transaction rows without a settlement-detail row of the same type and
            // Alipay id in the window (the others are settled at T as they were at T−1).
            let mut unsettled = conn.prepare_cached(&format!("{ROW_COLUMNS}{UNSETTLED_ROWS}"))?;
            // The leaving day's rows whose key (or a refund or cancel referring to them) has a row
            // or record dated after it: when the leaving day leaves T's cut, that key's item date and
            // answer move to its later rows (a sale booked by Alipay after midnight, a refund of an
            // earlier payment). A key all on the leaving day leaves with it; settlement rows do not
            // count (they settle a key, they are not its rows).
            let mut referred = conn.prepare_cached(&format!("{ROW_COLUMNS}{LEAVING_ROWS}"))?;
            // The same rows (leaving or unsettled), found while the run imported ([`SeedRows`]).
            let mut by_ids = conn
                .prepare_cached(&format!("{ROW_COLUMNS} WHERE r.id IN (SELECT value FROM rarray(?1)) ORDER BY r.id"))?;
            let seed_file = |f: &&FileIn| match f.kind {
                FileKind::SettlementSummary => false,
                FileKind::Transactions => seeds.contains(&f.date),
                FileKind::SettlementDetail => whole_days.contains(&f.date),
            };
            if held.is_empty() {
                // Read back (a rerun, a recomputed day): room for the whole days' rows and the other
                // seeds, made once (growing past a power of two holds both blocks at once).
                let whole: usize = input
                    .files
                    .iter()
                    .filter(seed_file)
                    .filter(|f| f.kind != FileKind::Transactions || whole_days.contains(&f.date))
                    .map(|f| f.row_count.max(0) as usize)
                    .sum();
                rows.reserve(whole + whole / 8);
            }
            for f in input.files.iter().filter(seed_file).filter(|f| !is_leaving_file(f)) {
                let (first, last): (Option<i64>, Option<i64>) =
                    ranges.query_row([f.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                let (first, last) = (first.unwrap_or(i64::MIN), last.unwrap_or(i64::MAX));
                let wallet_at = wallet_position(conn, f.id)?;
                let whole = f.kind != FileKind::Transactions || whole_days.contains(&f.date);
                // A held file's rows have the ids first..=last in line order (one insert transaction).
                if let Some(held_rows) = whole.then(|| held.remove(&f.id)).flatten() {
                    if usize::try_from(last - first + 1).ok() == Some(held_rows.len()) {
                        // Moved, not copied (a day's file is a million rows at volume), into the vector
                        // with more room: the hand-over's first vector has room for the whole import,
                        // and growing past a power of two held the old and the new block at once (at
                        // 1M payments a day, ~300 MB more at the peak on days with 2^21 rows or more).
                        seen_rows.add_range(first, last);
                        let mut held_rows = held_rows;
                        if held_rows.capacity() - held_rows.len() >= rows.len()
                            && rows.capacity() - rows.len() < held_rows.len()
                        {
                            std::mem::swap(&mut rows, &mut held_rows);
                        }
                        rows.extend(held_rows);
                        continue;
                    }
                }
                let mut read =
                    |r: &rusqlite::Row| Ok((r.get::<_, i64>(19)?, alipay_row(r, &mut ccys, &mut texts, wallet_at)?));
                let found = if whole {
                    all.query_map(params![f.id, first, last], &mut read)?
                } else if f.date == unsettled_day {
                    match unsettled_prefetched.as_mut().and_then(|l| l.remove(&f.id)) {
                        Some(ids) => {
                            let list = std::rc::Rc::new(
                                ids.into_iter().map(rusqlite::types::Value::Integer).collect::<Vec<_>>(),
                            );
                            by_ids.query_map(params![list], &mut read)?
                        }
                        None => unsettled.query_map(params![f.id, first, last, a, b], &mut read)?,
                    }
                } else if let Some(ids) = leaving_prefetched.as_mut().and_then(|l| l.remove(&f.id)) {
                    let list =
                        std::rc::Rc::new(ids.into_iter().map(rusqlite::types::Value::Integer).collect::<Vec<_>>());
                    by_ids.query_map(params![list], &mut read)?
                } else {
                    referred.query_map(params![f.id, first, last, leaving.to_string()], &mut read)?
                };
                for row in found {
                    let (rid, row) = row?;
                    if seen_rows.insert(rid) {
                        rows.push(row);
                    }
                }
                lap(if whole {
                    "seed file whole"
                } else if f.date == unsettled_day {
                    "seed file unsettled"
                } else {
                    "seed file leaving"
                });
            }
        }
        for r in &rows {
            for (kind, id) in row_ids(r) {
                ids.add(kind, id);
            }
        }
        lap("seed rows");
        Ok(())
    };
    match (side.as_mut(), prefetched) {
        // Read while the run imported its files.
        (_, Some(seeded)) => {
            locals = seeded;
            alipay_seeds()?;
        }
        (Some(c), None) => {
            let deferred = std::thread::scope(|s| -> Result<SeedRows> {
                let (locals, seed) = (&mut locals, &seed);
                let job = s.spawn(move || -> Result<SeedRows> {
                    locals.seed(c, seed)?;
                    match defer_leaving {
                        true => seed_rows(c, leaving, LEAVING_ROWS, &[&leaving.to_string()]),
                        false => Ok(SeedRows::default()),
                    }
                });
                alipay_seeds()?;
                job.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
            })?;
            for f in input.files.iter().filter(|f| is_leaving_file(f)) {
                let Some(rids) = deferred.get(&f.id) else { continue };
                let wallet_at = wallet_position(conn, f.id)?;
                let sql = format!("{ROW_COLUMNS} WHERE r.id IN (SELECT value FROM rarray(?1)) ORDER BY r.id");
                let read = by_row_ids(conn, &sql, rids, |r| {
                    Ok((r.get::<_, i64>(19)?, alipay_row(r, &mut ccys, &mut texts, wallet_at)?))
                })?;
                for (rid, row) in read {
                    if seen_rows.insert(rid) {
                        for (kind, id) in row_ids(&row) {
                            ids.add(kind, id);
                        }
                        rows.push(row);
                    }
                }
            }
            lap("seed file leaving (second connection)");
        }
        (None, None) => {
            alipay_seeds()?;
            locals.seed(conn, &seed)?;
        }
    }
    for v in &locals.local {
        for (kind, id) in version_ids(v) {
            ids.add(kind, id);
        }
    }

    lap("seed local");
    // The closure over the families' ids.
    let mut rounds = 0;
    loop {
        while !ids.is_done() || !probed_hits.is_empty() {
            rounds += 1;
            let [merchant, alipay] = ids.take();
            // The ids each probe looks up: those a file, or a day's local records, may hold.
            let (merchant_rows, alipay_rows) =
                (within(&merchant, &files_cover.merchant), within(&alipay, &files_cover.alipay));
            let (merchant_local, alipay_local) =
                (within(&merchant, &local_cover.merchant), within(&alipay, &local_cover.alipay));
            tracing::debug!(
                merchant_ids = merchant.len(),
                alipay_ids = alipay.len(),
                merchant_rows = merchant_rows.len(),
                alipay_rows = alipay_rows.len(),
                merchant_local = merchant_local.len(),
                alipay_local = alipay_local.len(),
                "active load round"
            );
            lap("round");
            let before = locals.local.len();
            // Alipay rows and local keys naming one of the ids in any id column.
            let mut hits = std::mem::take(&mut probed_hits);
            {
                let shared = &locals;
                let (merchant_rows, alipay_rows, a, b) = (&merchant_rows, &alipay_rows, a.as_str(), b.as_str());
                let (merchant_local, alipay_local) = (&merchant_local, &alipay_local);
                // Merchant ids' Alipay rows and local payments here; Alipay's ids, the merchant ids'
                // local refunds (by their own id and by their payment's) on the second connection:
                // about half the index probes each (at 1M payments a day the local keys of the state's
                // ~30k open ids were 0.4 s on one side).
                let alipay_side = |c: &Connection| alipay_probes(c, shared, alipay_rows, alipay_local, merchant_local);
                let merchant_side = || merchant_probes(conn, shared, merchant_rows, merchant_local);
                let ((merchant_hits, mut keys), (alipay_hits, alipay_keys)) = match side.as_mut() {
                    Some(c) => std::thread::scope(|s| -> Result<_> {
                        let job = s.spawn(move || alipay_side(c));
                        let merchant = merchant_side()?;
                        Ok((merchant, job.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?))
                    })?,
                    None => (merchant_side()?, alipay_side(conn)?),
                };
                hits.extend(merchant_hits);
                hits.extend(alipay_hits);
                keys.extend(alipay_keys);
                load_local_keys(conn, a, b, keys, &mut locals.seen, &mut locals.local)?;
            }
            lap("probe");
            // The rows not held yet, one statement per chunk of ids (one per row cost two statement
            // runs each: ~16 µs a row at 1M payments a day), each row read once: its file's wallet
            // column is known beforehand for every file of the window. Rows of files the window does
            // not read (not current, out of the window) are skipped (and stay in `seen_rows`).
            let mut unseen: Vec<i64> = hits.into_iter().filter(|&rid| seen_rows.insert(rid)).collect();
            unseen.sort_unstable();
            if !unseen.is_empty() {
                for f in &input.files {
                    if let std::collections::hash_map::Entry::Vacant(e) = wallets.entry(f.id) {
                        e.insert(wallet_position(conn, f.id)?);
                    }
                }
            }
            let read = by_row_ids(
                conn,
                &format!("{ROW_COLUMNS} WHERE r.id IN (SELECT value FROM rarray(?1)) ORDER BY r.id"),
                &unseen,
                |r| {
                    let fid: i64 = r.get(0)?;
                    match wallets.get(&fid) {
                        Some(&wallet_at) => alipay_row(r, &mut ccys, &mut texts, wallet_at).map(Some),
                        None => Ok(None),
                    }
                },
            )?;
            for row in read.into_iter().flatten() {
                for (kind, id) in row_ids(&row) {
                    ids.add(kind, id);
                }
                rows.push(row);
            }
            lap("read rows");
            for v in &locals.local[before..] {
                for (kind, id) in version_ids(v) {
                    ids.add(kind, id);
                }
            }
            lap("local");
        }
        // Every family is complete: refunds get their payment ids as the full load gives them; a
        // filled id may bring more of the window (its local payment), so the closure goes on.
        // A stable sort: it finds the runs the rows came in (each seed file, then the few rows the
        // probes found) and merges them, moving each row about once. The unstable sort moved every row
        // ~log n times: about a second of a 1M-payment day's load.
        rows.sort_by_key(|r| (current.get(&r.file_id).copied().unwrap_or(usize::MAX), r.line));
        input.rows = std::mem::take(&mut rows);
        fill_payment_ids(conn, &mut input, &b).context("cannot look up the payments of the window's refunds")?;
        // Only a refund's or cancel's payment id can have been filled (the others were added above).
        for r in input.rows.iter().filter(|r| matches!(r.trans_type, TransType::Refund | TransType::Cancel)) {
            ids.add(Kind::Merchant, r.merchant_trans_id.as_deref());
        }
        if ids.is_done() {
            break;
        }
        // Keep the rows and continue (`seen_rows` still skips the known ones).
        rows = std::mem::take(&mut input.rows);
    }
    input.local = locals.local;
    conn.execute("DELETE FROM temp.active_local", [])?;
    drop(side);
    tracing::debug!(ids = ids.len(), rounds, "active load closed");
    Ok(input)
}

/// The columns `alipay_row` reads, then the row id.
const ROW_COLUMNS: &str =
    "SELECT r.file_id, r.line, r.kind, r.business_date, r.trans_type, r.type_raw, r.merchant_trans_id,
        r.merchant_refund_id, r.alipay_id, r.original_alipay_id, r.amount, r.currency, r.settle_amount,
        r.settle_currency, r.fee, r.fee_currency, r.trans_time, r.product_code, r.extra, r.id
    FROM alipay_rows r";

/// Which id columns an id is looked up in: merchant ids (payment and refund ids) or Alipay's ids
/// (Alipay's id, the original Alipay id, the local acquirement id).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Merchant,
    Alipay,
}

/// The Alipay row ids read so far: whole held files as ranges (a day's files are millions of rows),
/// the others one by one.
#[derive(Default)]
struct SeenRows {
    ranges: Vec<(i64, i64)>,
    ids: HashSet<i64>,
}

impl SeenRows {
    fn add_range(&mut self, first: i64, last: i64) {
        self.ranges.push((first, last));
    }

    /// Whether the row was new.
    fn insert(&mut self, rid: i64) -> bool {
        !self.ranges.iter().any(|&(a, b)| (a..=b).contains(&rid)) && self.ids.insert(rid)
    }
}

/// The run's held rows (`Handoff`: files one after the other, as `files` counts them) by file id,
/// moved rather than copied where the counts add up.
fn held_by_file(mut rows: Vec<AlipayRow>, files: Vec<(i64, usize)>) -> HashMap<i64, Vec<AlipayRow>> {
    let mut held: HashMap<i64, Vec<AlipayRow>> = HashMap::default();
    if files.iter().map(|&(_, n)| n).sum::<usize>() == rows.len() {
        // From the last file back: each file's rows are the tail split off (the first file keeps the
        // vector itself).
        for &(id, n) in files.iter().rev() {
            let at = rows.len() - n;
            held.insert(id, if at == 0 { std::mem::take(&mut rows) } else { rows.split_off(at) });
        }
    } else {
        let mut it = rows.into_iter();
        for (id, n) in files {
            held.insert(id, it.by_ref().take(n).collect());
        }
    }
    held
}

/// The ids found so far, by kind, and those not looked up yet.
#[derive(Default)]
struct Ids {
    seen: [HashSet<Id>; 2],
    frontier: [Vec<Id>; 2],
    /// By kind, where an id may be found (`store::zones`); the others are dropped. `None`: all kept.
    keep: Option<[zones::Cover; 2]>,
}

impl Ids {
    fn add(&mut self, kind: Kind, id: Option<&str>) {
        let k = kind as usize;
        if let Some(id) = id.map(str::trim).filter(|s| !s.is_empty()) {
            if self.keep.as_ref().is_some_and(|keep| !keep[k].may_hold(id)) {
                return;
            }
            if !self.seen[k].contains(id) {
                // Inline texts (ids are short): no allocation per id at millions of ids.
                let id = Id::from(id);
                self.seen[k].insert(id.clone());
                self.frontier[k].push(id);
            }
        }
    }

    /// Records an id as looked up already (where the zones may hold it), without looking it up.
    fn mark(&mut self, kind: Kind, id: &str) {
        let id = id.trim();
        if !id.is_empty() && self.keep.as_ref().is_none_or(|keep| keep[kind as usize].may_hold(id)) {
            self.seen[kind as usize].insert(Id::from(id));
        }
    }

    /// Nothing left to look up.
    fn is_done(&self) -> bool {
        self.frontier.iter().all(Vec::is_empty)
    }

    /// The ids to look up now: merchant ids, Alipay ids.
    fn take(&mut self) -> [Vec<Id>; 2] {
        std::mem::take(&mut self.frontier)
    }

    fn len(&self) -> usize {
        self.seen.iter().map(HashSet::len).sum()
    }
}

fn row_ids(r: &AlipayRow) -> [(Kind, Option<&str>); 4] {
    [
        (Kind::Merchant, r.merchant_trans_id.as_deref()),
        (Kind::Alipay, r.alipay_id.as_deref()),
        (Kind::Merchant, r.merchant_refund_id().as_deref()),
        (Kind::Alipay, r.original_alipay_id().as_deref()),
    ]
}

fn version_ids(v: &LocalVersion) -> [(Kind, Option<&str>); 3] {
    [
        (Kind::Merchant, Some(&*v.merchant_trans_id)),
        (Kind::Merchant, v.merchant_refund_id.as_deref()),
        (Kind::Alipay, v.acquirement_id.as_deref()),
    ]
}

/// An incremental run's local seeds (`LocalSide::seed`), read on a connection of their own while the
/// run imports the day's files (`handoff::Handoff::start`): they do not depend on those files. The
/// seeds read that way can only be more than after the import — a day whose transaction file arrives
/// in the import still counts as a day without one, its sales are seeded too — or miss the payments
/// that only a refund of the day's own files refers to, which the closure finds from those rows:
/// the loaded keys and families are the same, only a few more keys may be loaded. The leaving day's
/// Alipay seed rows of the leaving day and of the UNSETTLED day ([`SeedRows`]) are read there too,
/// after the local seeds.
///
/// The leaving day's seeds (local and Alipay) are not read when no key of that day continues after it
/// in the data stored before the import (`zones::may_continue_after`, as the load decides after it; at
/// 100k payments a day they were ~0.6 s of the prefetch's ~1.1 s of CPU). If the import's files make
/// the day continue after all, the load drops the prefetch and reads its seeds itself.
pub(in crate::store) struct LocalSeedPrefetch {
    day: NaiveDate,
    handle: std::thread::JoinHandle<Result<Prefetched>>,
}

/// What [`LocalSeedPrefetch`] read.
struct Prefetched {
    /// No key of the leaving day continued after it before the import: its seeds were not read.
    leaving_quiet: bool,
    local: LocalSide,
    leaving: SeedRows,
    unsettled: SeedRows,
    state: Option<StateProbe>,
}

/// The first round's look-ups of the day before's state ids (`load_active_inner`), made during the
/// import: they read only data dated before T, which the import does not change unless it stores a
/// file dated before T (then the load looks them up itself). At 1M payments a day they were ~30k ids
/// and about a second of each day's load, mostly waiting for pages of older days. Their local keys
/// are loaded into [`Prefetched::local`]; the Alipay rows they name in the files dated before T are
/// `hits` (row ids, read by the load's first round like its own probes' hits).
struct StateProbe {
    ids: Vec<String>,
    hits: Vec<i64>,
}

/// Seed rows of one day's transaction files (row ids by file id), read with the local seeds while
/// the run imports:
/// - the leaving day's rows that stay seeds ([`LEAVING_ROWS`]): they depend only on data dated after
///   the leaving day and before T;
/// - the UNSETTLED day's rows without a settlement-detail row in the window ([`UNSETTLED_ROWS`]): the
///   day's own settlement file may or may not be stored yet when they are read, so they can only be
///   more than after the import — a row it settles is loaded as a key of its own, with the same
///   answer (a settled payment).
///
/// The import changes neither unless it stores a file dated before T (then the load reads them
/// itself). Rows linked only to the day's own files are found by the closure from those rows' ids, as
/// after the import.
type SeedRows = HashMap<i64, Vec<i64>>;

/// [`SeedRows`] of `date`'s current transaction files: the ids of the rows `filter` (a WHERE clause of
/// `alipay_rows r` taking the file, its first and last row id, then `args`) keeps.
fn seed_rows(conn: &Connection, date: NaiveDate, filter: &str, args: &[&str]) -> Result<SeedRows> {
    let mut files = conn.prepare(
        "SELECT id, first_row, last_row FROM files WHERE current = 1 AND kind = ?1 AND business_date = ?2
         AND first_row IS NOT NULL",
    )?;
    let mut rows = conn.prepare(&format!("SELECT r.id FROM alipay_rows r{filter}"))?;
    let mut out = SeedRows::default();
    let list: Vec<(i64, i64, i64)> = files
        .query_map(params![FileKind::Transactions.as_str(), date.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (id, first, last) in list {
        let mut p: Vec<&dyn rusqlite::ToSql> = vec![&id, &first, &last];
        p.extend(args.iter().map(|a| a as &dyn rusqlite::ToSql));
        let ids = rows.query_map(p.as_slice(), |r| r.get(0))?.collect::<rusqlite::Result<Vec<i64>>>()?;
        out.insert(id, ids);
    }
    Ok(out)
}

/// [`StateProbe`]: the state ids looked up as the load's first round looks them up — where the files
/// dated `a` to T−1 (T's are held whole by the load) and the local records of the days not loaded
/// whole may hold them — their local keys loaded into `side`.
fn probe_state_ids(
    conn: &Connection,
    side: &mut LocalSide,
    state_ids: Vec<String>,
    a: &str,
    b: &str,
    day: NaiveDate,
    local_days: &[NaiveDate],
) -> Result<StateProbe> {
    let yesterday = (day - chrono::Duration::days(1)).to_string();
    let files_cover = zones::file_covers(conn, a, &yesterday, |_| false)?;
    let local_cover = zones::local_covers(conn, a, b, |d| local_days.contains(&d))?;
    let ids: Vec<Id> = state_ids.iter().map(|id| id.trim()).filter(|id| !id.is_empty()).map(Id::from).collect();
    let merchant_local = within(&ids, &local_cover.merchant);
    let (mut hits, mut keys) = merchant_probes(conn, side, &within(&ids, &files_cover.merchant), &merchant_local)?;
    let (h, k) = alipay_probes(
        conn,
        side,
        &within(&ids, &files_cover.alipay),
        &within(&ids, &local_cover.alipay),
        &merchant_local,
    )?;
    hits.extend(h);
    keys.extend(k);
    load_local_keys(conn, a, b, keys, &mut side.seen, &mut side.local)?;
    // The next round, as far as it can be known before the import: the Alipay ids of the rows found
    // (their pages read now, while the import keeps the CPU busy: at 1M payments a day these pages of
    // older days are mostly not in memory, and reading them in the load took up to two seconds). Its
    // rows and local keys are the families' too; the load's own round finds them again, in memory.
    hits.sort_unstable();
    hits.dedup();
    let next: Vec<[Option<String>; 2]> = by_row_ids(
        conn,
        "SELECT r.alipay_id, r.original_alipay_id FROM rarray(?1) k CROSS JOIN alipay_rows r ON r.id = k.value",
        &hits,
        |r| Ok([r.get(0)?, r.get(1)?]),
    )?;
    let mut alipay: Vec<Id> =
        next.iter().flatten().flatten().map(|id| id.trim()).filter(|id| !id.is_empty()).map(Id::from).collect();
    alipay.sort_unstable();
    alipay.dedup();
    let (h, keys) =
        alipay_probes(conn, side, &within(&alipay, &files_cover.alipay), &within(&alipay, &local_cover.alipay), &[])?;
    hits.extend(h);
    load_local_keys(conn, a, b, keys, &mut side.seen, &mut side.local)?;
    Ok(StateProbe { ids: state_ids, hits })
}

impl LocalSeedPrefetch {
    pub(in crate::store) fn start(
        path: std::path::PathBuf,
        day: NaiveDate,
        params: &Params,
        state_ids: Vec<String>,
    ) -> Option<Self> {
        let from = params.window_start(day);
        let leaving = leaving_day(day, params);
        let params = params.clone();
        let handle = std::thread::Builder::new()
            .name("local-seeds".into())
            .spawn(move || -> Result<Prefetched> {
                // Beside the import's parser and inserting threads it only takes their time: at nice 19
                // it runs in their gaps and still ends before the import does (at 1M payments a day
                // the settlement file's import took 3.4-3.9 s beside it at the same priority, 2.6 s
                // now, as on a first day; BENCHMARKS.md).
                crate::sys::os::lower_thread_priority();
                let conn = open_side(&path)?;
                let (a, b) = (from.to_string(), day.to_string());
                let mut st = conn.prepare(
                    "SELECT DISTINCT business_date FROM files WHERE current = 1 AND kind = ?1
                     AND business_date BETWEEN ?2 AND ?3",
                )?;
                let file_days: HashSet<String> = st
                    .query_map(params![FileKind::Transactions.as_str(), a, b], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                let local_days = local_days(day, &params, |d| file_days.contains(&d.to_string()));
                let mut side = LocalSide::default();
                let t = std::time::Instant::now();
                let lap = |what: &str| tracing::debug!(what, ms = t.elapsed().as_millis() as u64, "prefetch phase");
                // Before the import (its files may still make the day continue: the load checks again).
                let leaving_quiet = leaving_quiet(&conn, leaving, from, day)?;
                let seeds = LocalSeeds { day, from, leaving, leaving_quiet, local_days: &local_days, a: &a, b: &b };
                side.seed(&conn, &seeds)?;
                lap("local seeds");
                let leaving = match leaving >= from && !leaving_quiet {
                    true => seed_rows(&conn, leaving, LEAVING_ROWS, &[&leaving.to_string()])?,
                    false => SeedRows::default(),
                };
                lap("leaving rows");
                let unsettled_day = day - chrono::Duration::days(params.unsettled_after_days as i64);
                let unsettled = match unsettled_day >= from && unsettled_day < day {
                    true => seed_rows(&conn, unsettled_day, UNSETTLED_ROWS, &[&a, &b])?,
                    false => SeedRows::default(),
                };
                lap("unsettled rows");
                let state = probe_state_ids(&conn, &mut side, state_ids, &a, &b, day, &local_days)?;
                lap("state ids");
                Ok(Prefetched { leaving_quiet, local: side, leaving, unsettled, state: Some(state) })
            })
            .ok()?;
        Some(LocalSeedPrefetch { day, handle })
    }

    #[cfg(test)]
    pub(in crate::store) fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// The seeds, if they are `day`'s.
    fn take(self, day: NaiveDate) -> Option<Result<Prefetched>> {
        (self.day == day).then(|| self.handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    }
}

/// The day leaving T's cut (the day before T − look-back): its keys with rows after it are seeds.
fn leaving_day(day: NaiveDate, params: &Params) -> NaiveDate {
    day - chrono::Duration::days(params.lookback_days() + 1)
}

/// Whether the leaving day (of T = `day`, window from `from`) is in the window and no key of it
/// continues after it (`zones::may_continue_after`: its ids and the later ones do not meet): its seeds
/// are then empty. The load and the prefetch decide by this one rule (the prefetch before the import).
fn leaving_quiet(conn: &Connection, leaving: NaiveDate, from: NaiveDate, day: NaiveDate) -> Result<bool> {
    Ok(leaving >= from && leaving < day && !zones::may_continue_after(conn, leaving)?)
}

/// A local record's key: record type and record id, as stored.
type LocalKey = (String, String);

/// The days whose local sales are all seeds of `day`: the day itself, and the days of its open-item
/// look-back (within the window) without a transaction file (the FILE_MISSING row counts them).
fn local_days(day: NaiveDate, params: &Params, has_file: impl Fn(NaiveDate) -> bool) -> Vec<NaiveDate> {
    let from = params.window_start(day);
    let first_day = (day - chrono::Duration::days(params.open_item_days as i64)).max(from);
    first_day.iter_days().take_while(|d| *d <= day).filter(|d| *d == day || !has_file(*d)).collect()
}

/// What the local seeds depend on.
struct LocalSeeds<'a> {
    day: NaiveDate,
    from: NaiveDate,
    leaving: NaiveDate,
    /// No key of the leaving day continues after it ([`zones::may_continue_after`]).
    leaving_quiet: bool,
    local_days: &'a [NaiveDate],
    a: &'a str,
    b: &'a str,
}

/// The leaving day's transaction rows (`?1` file, `?2..=?3` its row ids, `?4` the leaving day) whose
/// key, or a refund or cancel referring to them, has a row or record dated after that day. Every
/// subquery is one index probe (`leaving_seeds_probe_indexes`): `+l.business_date` keeps the date
/// index from serving a range of days per row; a row's own kind and date (those of its file) spare a
/// join to `files` per candidate.
const LEAVING_ROWS: &str = " WHERE r.id BETWEEN ?2 AND ?3 AND r.file_id = ?1 AND (
        EXISTS (SELECT 1 FROM alipay_rows o WHERE o.merchant_trans_id = r.merchant_trans_id
            AND o.kind = 'transactions' AND o.business_date > ?4)
        OR EXISTS (SELECT 1 FROM alipay_rows o WHERE o.original_alipay_id = r.alipay_id
            AND o.kind = 'transactions' AND o.business_date > ?4)
        OR EXISTS (SELECT 1 FROM alipay_rows o WHERE o.alipay_id = r.alipay_id
            AND o.kind = 'transactions' AND o.business_date > ?4)
        OR EXISTS (SELECT 1 FROM local_records l WHERE l.record_type = 'PAYMENT'
            AND l.record_id = r.merchant_trans_id AND +l.business_date > ?4)
        OR EXISTS (SELECT 1 FROM local_records l WHERE l.record_type = 'REFUND'
            AND l.merchant_trans_id = r.merchant_trans_id AND +l.business_date > ?4)
        OR EXISTS (SELECT 1 FROM local_records l
            WHERE l.acquirement_id = r.alipay_id AND +l.business_date > ?4)
        OR (r.merchant_refund_id IS NOT NULL AND EXISTS (SELECT 1 FROM local_records l
            WHERE l.record_type = 'REFUND' AND l.record_id = r.merchant_refund_id
            AND +l.business_date > ?4)))";

/// The UNSETTLED day's payment and refund rows (`?1` file, `?2..=?3` its row ids) without a
/// settlement-detail row of the same type and Alipay id in the window (`?4..=?5`): the others are
/// settled at T as they were at T−1. That check is one seek in the Alipay-id index, which holds the
/// type and the file (sql/0018). Cancels are never UNSETTLED (and are never settled: at 1M
/// payments a day they were a third of these seeds), nor is a cancelled payment: one whose key (its
/// merchant id) has a CANCEL row in a transaction file dated from its own day to T — inside cut T's
/// look-back, as `unsettled_after_days` is at most the look-back — is not captured at T. At 1M
/// payments a day those were ~26k keys loaded with their families every day. A cancel that names the
/// payment only by Alipay's id is not looked for here: its payment is loaded, as before.
const UNSETTLED_ROWS: &str = " WHERE r.id BETWEEN ?2 AND ?3 AND r.file_id = ?1
    AND r.trans_type IN ('PAYMENT', 'REFUND') AND NOT EXISTS (
        SELECT 1 FROM alipay_rows s JOIN files sf ON sf.id = s.file_id
        WHERE s.alipay_id = r.alipay_id AND s.trans_type = r.trans_type AND sf.kind = 'settlement_detail'
          AND sf.current = 1 AND sf.business_date BETWEEN ?4 AND ?5)
    AND NOT (r.trans_type = 'PAYMENT' AND trim(r.merchant_trans_id) <> '' AND EXISTS (
        SELECT 1 FROM alipay_rows c JOIN files cf ON cf.id = c.file_id
        WHERE c.merchant_trans_id = r.merchant_trans_id AND c.trans_type = 'CANCEL' AND cf.kind = 'transactions'
          AND cf.current = 1 AND cf.business_date BETWEEN r.business_date AND ?5))";

/// The leaving day's (`?1`) local records whose key, or the payment a refund refers to, has a row or
/// record dated after it.
const LEAVING_LOCAL: &str = "SELECT p.record_type, p.record_id FROM local_records p WHERE p.business_date = ?1 AND (
        EXISTS (SELECT 1 FROM alipay_rows o WHERE o.merchant_trans_id = p.merchant_trans_id
            AND o.kind = 'transactions' AND o.business_date > ?1)
        OR EXISTS (SELECT 1 FROM local_records l WHERE l.record_type = 'PAYMENT'
            AND l.record_id = p.merchant_trans_id AND +l.business_date > ?1)
        OR EXISTS (SELECT 1 FROM local_records l WHERE l.record_type = 'REFUND'
            AND l.merchant_trans_id = p.merchant_trans_id AND +l.business_date > ?1)
        OR (p.acquirement_id IS NOT NULL AND EXISTS (SELECT 1 FROM alipay_rows o
            WHERE o.alipay_id = p.acquirement_id AND o.kind = 'transactions' AND o.business_date > ?1))
        OR (p.record_type = 'REFUND' AND EXISTS (SELECT 1 FROM alipay_rows o
            WHERE o.merchant_refund_id = p.record_id AND o.kind = 'transactions' AND o.business_date > ?1)))";

/// The local keys loaded so far: their visible versions, in load order.
#[derive(Default)]
pub(in crate::store) struct LocalSide {
    local: Vec<LocalVersion>,
    seen: LoadedKeys,
}

/// The local keys loaded, by record type: looked up by `&str` (a round checks every merchant id
/// against them without allocating), held inline (a day's million keys are not a million
/// allocations).
#[derive(Default)]
struct LoadedKeys([HashSet<Id>; 2]);

impl LoadedKeys {
    fn contains(&self, t: RecordType, id: &str) -> bool {
        self.0[t as usize].contains(id)
    }

    /// Room for this many more payment and refund keys.
    fn reserve(&mut self, payments: usize, refunds: usize) {
        self.0[RecordType::Payment as usize].reserve(payments);
        self.0[RecordType::Refund as usize].reserve(refunds);
    }

    /// Whether the key was new.
    fn insert(&mut self, t: RecordType, id: &str) -> bool {
        !self.contains(t, id) && self.0[t as usize].insert(Id::from(id))
    }
}

impl LocalSide {
    /// The seed days' local keys: day T's records and those of the days without a transaction file,
    /// the leaving day's payments a refund or cancel refers to, and the keys a later version restates
    /// on T−1 or T.
    fn seed(&mut self, conn: &Connection, s: &LocalSeeds) -> Result<()> {
        let (day, b) = (s.day, s.b);
        let mut keys: Vec<(String, String)> = Vec::new();
        // T's records with one version are read by date, straight from the snapshot (no key list);
        // keys with several versions go through the key list like the others (a later version may
        // carry another date).
        if s.local_days.contains(&day) {
            // Moved into place, the key sets sized once: at 1M payments a day, pushing the versions
            // one by one (the vector doubling, each new block faulted in) and growing the sets were
            // ~0.9 s of CPU beside the day's import (perf, BENCHMARKS.md).
            let day_versions = single_versions(conn, b, b, ALL_RECORDS)?;
            let refunds = day_versions.iter().filter(|v| v.record_type == RecordType::Refund).count();
            self.seen.reserve(day_versions.len() - refunds, refunds);
            for v in &day_versions {
                self.seen.insert(v.record_type, v.key());
            }
            if self.local.is_empty() {
                self.local = day_versions;
            } else {
                self.local.extend(day_versions);
            }
            let mut st = conn.prepare_cached(
                "SELECT record_type, record_id FROM local_records WHERE business_date = ?1 AND versions > 1",
            )?;
            for k in st.query_map([b], |r| Ok((r.get(0)?, r.get(1)?)))? {
                keys.push(k?);
            }
        }
        let mut st =
            conn.prepare_cached("SELECT record_type, record_id FROM local_records WHERE business_date = ?1")?;
        for d in s.local_days.iter().filter(|d| **d != day) {
            for k in st.query_map([d.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))? {
                keys.push(k?);
            }
        }
        // The leaving day's local records whose key (or the payment a refund refers to) has a row or
        // record dated after it (as on the Alipay side above). `+l.business_date`: the date index
        // must not serve a range of days per probe (the key's index does; EXPLAIN QUERY PLAN).
        if s.leaving >= s.from && !s.local_days.contains(&s.leaving) && !s.leaving_quiet {
            let mut st = conn.prepare_cached(LEAVING_LOCAL)?;
            for k in st.query_map([s.leaving.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))? {
                keys.push(k?);
            }
        }
        // Later versions that become visible on T−1 or T (a restating export): their keys.
        let mut st = conn.prepare_cached(
            "SELECT h.record_type, h.record_id FROM sales_files sf JOIN local_record_history h ON h.sales_file_id = sf.id
             WHERE sf.as_of BETWEEN ?1 AND ?2",
        )?;
        let yesterday = (day - chrono::Duration::days(1)).to_string();
        for k in st.query_map(params![yesterday, b], |r| Ok((r.get(0)?, r.get(1)?)))? {
            keys.push(k?);
        }
        load_local_keys(conn, s.a, b, keys, &mut self.seen, &mut self.local)
    }

    /// The local keys of type `t` a round's merchant ids name by their own id (a payment's or refund's
    /// record id, also in the history, whose versions may carry other ids than the snapshot), except
    /// the keys already loaded. Refunds by their payment id: [`refunds_by_payment_id`].
    fn keys_by_merchant_id(&self, conn: &Connection, merchant: &[Id], t: RecordType) -> Result<Vec<(String, String)>> {
        // The record keys not loaded yet: most of a round's ids are the day's own sales, loaded.
        let unseen: Vec<&Id> = merchant.iter().filter(|id| !self.seen.contains(t, id)).collect();
        let key = |r: &rusqlite::Row| Ok((r.get(0)?, r.get(1)?));
        // A key found twice is kept once by `load_local_keys`.
        let sql = format!(
            "SELECT lr.record_type, lr.record_id FROM rarray(?1) k CROSS JOIN local_records lr
                 ON lr.record_type = '{t}' AND lr.record_id = k.value
             UNION ALL SELECT h.record_type, h.record_id FROM rarray(?1) k CROSS JOIN local_record_history h
                 ON h.record_type = '{t}' AND h.record_id = k.value",
            t = t.as_str()
        );
        probe_in_chunks(conn, &sql, unseen, key)
    }
}

/// The local refunds of the payments a round's merchant ids name (every id: a refund of a loaded
/// payment may not be loaded). A payment's merchant id is its record id: only refunds are looked up by
/// it (the partial index local_records_refunds_by_trans_id; without `record_type = 'REFUND'` SQLite
/// would build a temporary index of every local record on each round).
fn refunds_by_payment_id(conn: &Connection, merchant: &[Id]) -> Result<Vec<LocalKey>> {
    probe_in_chunks(
        conn,
        "SELECT lr.record_type, lr.record_id FROM rarray(?1) k CROSS JOIN local_records lr
             ON lr.record_type = 'REFUND' AND lr.merchant_trans_id = k.value",
        merchant,
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// The local keys whose acquirement id is one of a round's Alipay ids.
fn keys_by_alipay_id(conn: &Connection, alipay: &[Id]) -> Result<Vec<(String, String)>> {
    probe_in_chunks(
        conn,
        "SELECT lr.record_type, lr.record_id FROM rarray(?1) k CROSS JOIN local_records lr ON lr.acquirement_id = k.value",
        alipay,
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Runs `sql`, whose one parameter `?1` is a list of ids as the `rarray` table-valued function
/// (rusqlite's `array` module: the statement reads the list in place, where a temporary table cost a
/// B-tree insert per id — more than the probes themselves), over `ids` sorted (the probes then walk
/// each index in order) and in chunks (the list's copy of the ids stays small at millions of ids).
fn probe_in_chunks<'a, T>(
    conn: &Connection,
    sql: &str,
    ids: impl IntoIterator<Item = &'a Id>,
    row: impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    const CHUNK: usize = 50_000;
    let mut ids: Vec<&Id> = ids.into_iter().collect();
    ids.sort_unstable();
    let mut st = conn.prepare_cached(sql)?;
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let list =
            std::rc::Rc::new(chunk.iter().map(|id| rusqlite::types::Value::Text(id.to_string())).collect::<Vec<_>>());
        for x in st.query_map([list], &row)? {
            out.push(x?);
        }
    }
    Ok(out)
}

/// Runs `sql`, whose one parameter `?1` is a list of row ids (`rarray`), over `rids` in chunks.
fn by_row_ids<T>(
    conn: &Connection,
    sql: &str,
    rids: &[i64],
    mut row: impl FnMut(&rusqlite::Row) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    const CHUNK: usize = 50_000;
    let mut st = conn.prepare_cached(sql)?;
    let mut out = Vec::with_capacity(rids.len());
    for chunk in rids.chunks(CHUNK) {
        let list = std::rc::Rc::new(chunk.iter().copied().map(rusqlite::types::Value::Integer).collect::<Vec<_>>());
        for x in st.query_map([list], &mut row)? {
            out.push(x?);
        }
    }
    Ok(out)
}

// The probes of the closure's rounds, one per id kind. UNION ALL: a row found twice is skipped by the
// caller (`seen_rows`), without SQLite's sort. CROSS JOIN keeps the id list as the outer loop: without
// statistics SQLite chose to scan every stored row against it (1.8 s per round at 22 days of 100k,
// growing with the history) instead of one index probe per id. Merchant ids are looked up in the
// merchant id columns, Alipay ids in Alipay's (the rules never pair one kind with the other). Only the
// row id: it is in each index, so a match costs no read of the table's row (most matches are rows
// already held); new rows are read after.
const MERCHANT_ID_PROBES: &str =
    "SELECT r.id FROM rarray(?1) k CROSS JOIN alipay_rows r ON r.merchant_trans_id = k.value
     UNION ALL SELECT r.id FROM rarray(?1) k CROSS JOIN alipay_rows r ON r.merchant_refund_id = k.value";
const ALIPAY_ID_PROBES: &str = "SELECT r.id FROM rarray(?1) k CROSS JOIN alipay_rows r ON r.alipay_id = k.value
     UNION ALL SELECT r.id FROM rarray(?1) k CROSS JOIN alipay_rows r ON r.original_alipay_id = k.value";

/// One round's look-ups of merchant ids: the Alipay rows naming them (`merchant_rows`), the local
/// payments they are the key of (`merchant_local`, except those loaded). With [`alipay_probes`], every
/// look-up a round makes: the load runs the two on two connections at once, the state ids' prefetch
/// one after the other.
fn merchant_probes(
    c: &Connection,
    locals: &LocalSide,
    merchant_rows: &[Id],
    merchant_local: &[Id],
) -> Result<(Vec<i64>, Vec<LocalKey>)> {
    timed_probes("merchant-id probes", c, MERCHANT_ID_PROBES, merchant_rows, || {
        locals.keys_by_merchant_id(c, merchant_local, RecordType::Payment)
    })
}

/// One round's look-ups of Alipay ids (rows, local keys by acquirement id) and the merchant ids' local
/// refunds (by their own id and by their payment's): see [`merchant_probes`].
fn alipay_probes(
    c: &Connection,
    locals: &LocalSide,
    alipay_rows: &[Id],
    alipay_local: &[Id],
    merchant_local: &[Id],
) -> Result<(Vec<i64>, Vec<LocalKey>)> {
    timed_probes("alipay-id probes", c, ALIPAY_ID_PROBES, alipay_rows, || {
        let mut keys = keys_by_alipay_id(c, alipay_local)?;
        keys.extend(refunds_by_payment_id(c, merchant_local)?);
        keys.extend(locals.keys_by_merchant_id(c, merchant_local, RecordType::Refund)?);
        Ok(keys)
    })
}

/// The row ids `probes` finds for `rows`, then the local keys `keys` looks up; logs how long each took
/// (debug: `what`, `rows_ms`, `keys_ms`).
fn timed_probes(
    what: &'static str,
    c: &Connection,
    probes: &str,
    rows: &[Id],
    keys: impl FnOnce() -> Result<Vec<LocalKey>>,
) -> Result<(Vec<i64>, Vec<LocalKey>)> {
    let t = std::time::Instant::now();
    let hits = row_hits(c, probes, rows)?;
    let rows_ms = t.elapsed().as_millis() as u64;
    let keys = keys()?;
    tracing::debug!(rows_ms, keys_ms = t.elapsed().as_millis() as u64 - rows_ms, "{what}");
    Ok((hits, keys))
}

/// The ids a cover may hold.
fn within(ids: &[Id], cover: &zones::Cover) -> Vec<Id> {
    ids.iter().filter(|id| cover.may_hold(id)).cloned().collect()
}

/// The row ids one of the probes above finds for `ids`.
fn row_hits(conn: &Connection, probes: &str, ids: &[Id]) -> Result<Vec<i64>> {
    probe_in_chunks(conn, probes, ids, |r| r.get::<_, i64>(0))
}

/// The temporary tables the active load uses, on `conn`.
fn create_temp_tables(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS active_local (record_type TEXT NOT NULL, record_id TEXT NOT NULL,
             PRIMARY KEY (record_type, record_id)) WITHOUT ROWID;
         DELETE FROM temp.active_local;",
    )?;
    Ok(())
}

/// A second, read-only connection to the database at `path`, for the local side of the load.
fn open_side(path: &std::path::Path) -> Result<Connection> {
    let c = super::super::open_reader(path)?;
    c.pragma_update(None, "temp_store", "MEMORY")?;
    create_temp_tables(&c)?;
    Ok(c)
}

/// Reads every visible version of the local keys not read yet into `out`.
fn load_local_keys(
    conn: &Connection,
    a: &str,
    b: &str,
    keys: Vec<(String, String)>,
    seen: &mut LoadedKeys,
    out: &mut Vec<LocalVersion>,
) -> Result<()> {
    conn.execute("DELETE FROM temp.active_local", [])?;
    let mut any = false;
    {
        let mut ins =
            conn.prepare_cached("INSERT OR IGNORE INTO temp.active_local (record_type, record_id) VALUES (?1, ?2)")?;
        for (rt, id) in keys {
            let Some(t) = RecordType::parse(&rt) else { continue };
            if seen.insert(t, &id) {
                ins.execute(params![rt, id])?;
                any = true;
            }
        }
    }
    if !any {
        return Ok(());
    }
    out.extend(single_versions(conn, a, b, ACTIVE_RECORDS)?);
    out.extend(multi_versions(conn, a, b, ACTIVE_RECORDS)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's plan of `sql` (every parameter NULL), one line per step.
    fn query_plan(conn: &Connection, sql: &str) -> Vec<String> {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let nulls = vec![rusqlite::types::Null; st.parameter_count()];
        st.query_map(rusqlite::params_from_iter(nulls), |r| r.get(3)).unwrap().map(Result::unwrap).collect()
    }

    /// The UNSETTLED seeds' settlement check reads only the Alipay-id index (sql/0018: the row's type
    /// and file are in it), not each settlement row from the table: on a 22-day database of 100k
    /// payments a day the probe took 141–149 ms with that read, 61–68 ms without.
    #[test]
    fn the_unsettled_settlement_check_reads_only_the_index() {
        let conn = crate::store::open_in_memory().unwrap();
        let plan = query_plan(&conn, &format!("{ROW_COLUMNS}{UNSETTLED_ROWS}"));
        assert!(
            plan.iter().any(|l| l.contains("SEARCH s USING COVERING INDEX alipay_rows_by_alipay_id_type")),
            "{plan:#?}"
        );
    }

    /// Each subquery of the leaving day's seeds (and of the UNSETTLED day's) is one index probe per row: a plan that scans a table,
    /// or a range of dates, per row took minutes at 100k rows a day (the date index once served
    /// `l.business_date > ?` in place of the key's index).
    #[test]
    fn leaving_seeds_probe_indexes() {
        let conn = crate::store::open_in_memory().unwrap();
        let seeds = [
            (format!("{ROW_COLUMNS}{LEAVING_ROWS}"), 5),
            (LEAVING_LOCAL.to_string(), 5),
            (format!("{ROW_COLUMNS}{UNSETTLED_ROWS}"), 2),
        ];
        for (sql, at_least) in seeds {
            let plan = query_plan(&conn, &sql);
            let subqueries = plan.iter().filter(|l| l.contains("SUBQUERY")).count();
            assert!(subqueries >= at_least, "{plan:#?}");
            for line in plan.iter().filter(|l| !l.contains("SUBQUERY")) {
                let probe = line.starts_with("SEARCH") && (line.contains("=?)") || line.contains("rowid>?"));
                assert!(probe && !line.contains("business_date>"), "not one index probe: {line}\n{plan:#?}");
            }
        }
    }
}
