//! Local sales records in the store, with snapshot semantics (contracts.md §1): a later import of a key
//! replaces the earlier one; the payment module's ledger wins over POS files for ids it issued; a key
//! with several versions keeps every one in `local_record_history` (a key seen once is its
//! `local_records` row alone); the same file twice changes nothing.

use crate::domain::parsed::ParsedSales;
use crate::domain::LocalRecord;
use anyhow::Result;
use chrono::{NaiveDate, SecondsFormat};
use rusqlite::{params, Connection, OptionalExtension};

/// Where local records come from; a ledger record is never replaced by a POS record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Pos,
    Ledger,
}

impl Origin {
    pub fn as_str(&self) -> &'static str {
        match self {
            Origin::Pos => "pos",
            Origin::Ledger => "ledger",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SalesFileMeta {
    pub path: String,
    pub name: String,
    pub sha256: String,
    pub size: u64,
    pub archive_path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SalesImport {
    pub sales_file_id: i64,
    /// False when the same bytes were imported before (nothing changed).
    pub new: bool,
    pub loaded: usize,
    /// Records not applied because the ledger owns their key.
    pub ledger_kept: usize,
}

impl SalesImport {
    /// A file whose bytes were imported before (as sales file `id`): nothing stored.
    pub fn known(id: i64) -> SalesImport {
        SalesImport { sales_file_id: id, new: false, loaded: 0, ledger_kept: 0 }
    }
}

/// Imports a parsed sales file in one transaction.
pub fn import(
    conn: &mut Connection,
    meta: &SalesFileMeta,
    parsed: &ParsedSales,
    run_id: Option<i64>,
) -> Result<SalesImport> {
    let mut importer = match Importer::begin(conn, &meta.sha256, run_id)? {
        Begun::Known(id) => return Ok(SalesImport::known(id)),
        Begun::New(i) => i,
    };
    importer.add(&parsed.records)?;
    importer.finish(meta, parsed)
}

/// What [`Importer::begin`] found.
pub enum Begun<'c> {
    /// A file with these bytes was imported before (its id): nothing to do.
    Known(i64),
    /// A new file: its import has begun.
    New(Importer<'c>),
}

/// A sales file's import, one transaction: begun with the file's hash, fed its records in file order
/// (all at once, or in chunks while the rest of the file is still being parsed:
/// `sales::parse_in_chunks`), finished with the whole parsed file. Dropped unfinished, it stores
/// nothing.
pub struct Importer<'c> {
    conn: &'c Connection,
    file_id: i64,
    /// When the records were stored (`recorded_at`).
    now: String,
    tally: Tally,
    /// Whether the id zones covered every record before the import (`zones::local_zones_hold`).
    zoned: bool,
    /// The transaction is open and foreign keys are off (undone on drop unless finished).
    open: bool,
}

/// What applied records have done so far, and the earliest day whose answer they can change (their
/// dates; a replaced version's too).
#[derive(Default, Clone, Copy)]
struct Tally {
    applied: usize,
    kept: usize,
    earliest: Option<NaiveDate>,
}

impl<'c> Importer<'c> {
    /// Opens the import's transaction and records the sales file (its counts and paths are written by
    /// [`Importer::finish`]); [`Begun::Known`] when a file with this sha256 was imported before.
    pub fn begin(conn: &'c mut Connection, sha256: &str, run_id: Option<i64>) -> Result<Begun<'c>> {
        // As for Alipay files (store::files::begin): a day's sales are a million index entries in
        // random key order; a larger page cache keeps them from being spilled to the WAL repeatedly.
        super::files::widen_cache(conn)?;
        // Foreign keys are not checked per statement during the import: with them on, SQLite journals
        // every upsert so it can undo that statement alone on a violation — a third of the import's time
        // (7.3 -> 4.9 s at 1M records). The rows' only references are the sales file inserted in the same
        // transaction and the run, checked once below. (The pragma cannot change inside a transaction.)
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        let conn: &Connection = conn;
        let mut importer =
            Importer { conn, file_id: 0, now: String::new(), tally: Tally::default(), zoned: false, open: false };
        if let Err(e) = conn.execute_batch("BEGIN") {
            conn.pragma_update(None, "foreign_keys", "ON")?;
            return Err(e.into());
        }
        importer.open = true;
        if let Some(run) = run_id {
            let known: bool =
                conn.query_row("SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)", [run], |r| r.get(0))?;
            anyhow::ensure!(
                known,
                "run {run} is not recorded, so the sales file was not imported (a bug: the command must start its run first)"
            );
        }
        if let Some(id) = conn
            .query_row("SELECT id FROM sales_files WHERE sha256 = ?1", [sha256], |r| r.get::<_, i64>(0))
            .optional()?
        {
            return Ok(Begun::Known(id)); // dropped: the transaction ends, foreign keys are back on
        }
        conn.execute(
            "INSERT INTO sales_files (path, name, sha256, size, mapping, row_count, reject_count, conflict_count, archive_path, imported_at, run_id)
             VALUES ('', '', ?1, 0, '', 0, 0, 0, '', ?2, ?3)",
            params![sha256, super::now_text(), run_id],
        )?;
        importer.file_id = conn.last_insert_rowid();
        importer.now = super::now_text();
        importer.zoned = super::zones::local_zones_hold(conn)?;
        Ok(Begun::New(importer))
    }

    /// Applies records of the file, in file order (their time texts made on a second thread when
    /// there are many).
    pub fn add(&mut self, records: &[LocalRecord]) -> Result<()> {
        self.tally = apply_records(self.conn, records, Origin::Pos, Some(self.file_id), &self.now, self.tally)?;
        Ok(())
    }

    /// Applies a chunk of the file's records, in file order, with the time texts made where the
    /// chunk was.
    pub fn add_chunk(&mut self, chunk: &Chunk) -> Result<()> {
        let mut up = Upsert::prepare(self.conn, Origin::Pos, Some(self.file_id), &self.now, self.tally)?;
        up.tally.earliest = earlier(up.tally.earliest, chunk.records.iter().map(|r| r.business_date).min());
        for (r, t) in chunk.records.iter().zip(&chunk.texts) {
            up.apply(r, t)?;
        }
        self.tally = up.tally;
        Ok(())
    }

    /// Finishes the import with the whole parsed file (its records all added before, in order): the
    /// conflict flags that the file's later rows set on records already stored, the file's counts and
    /// paths, its rejected lines; then commits.
    pub fn finish(mut self, meta: &SalesFileMeta, parsed: &ParsedSales) -> Result<SalesImport> {
        let (conn, file_id) = (self.conn, self.file_id);
        {
            // A record handed over in a chunk before a disagreeing row of its key was read was stored
            // without its flag (as the key's snapshot, or copied into its history by a later version).
            let mut snap = conn.prepare_cached(
                "UPDATE local_records SET conflict = 1
                 WHERE record_type = ?1 AND record_id = ?2 AND sales_file_id = ?3 AND line = ?4 AND conflict = 0",
            )?;
            let mut hist = conn.prepare_cached(
                "UPDATE local_record_history SET conflict = 1
                 WHERE sales_file_id = ?3 AND line = ?4 AND record_type = ?1 AND record_id = ?2 AND conflict = 0",
            )?;
            for r in parsed.records.iter().filter(|r| r.conflict) {
                let (rt, id) = r.key();
                snap.execute(params![rt.as_str(), id, file_id, r.line])?;
                hist.execute(params![rt.as_str(), id, file_id, r.line])?;
            }
        }
        conn.execute(
            "UPDATE sales_files SET path = ?2, name = ?3, size = ?4, mapping = ?5, row_count = ?6, reject_count = ?7,
                conflict_count = ?8, archive_path = ?9, as_of = ?10
             WHERE id = ?1",
            params![
                file_id,
                meta.path,
                meta.name,
                meta.size as i64,
                parsed.mapping,
                parsed.records.len() as i64,
                parsed.rejects.len() as i64,
                parsed.conflict_count() as i64,
                meta.archive_path,
                // The file's "as of" date: a restatement it carries is visible from its newest business date.
                parsed.records.iter().map(|r| r.business_date).max().map(|d| d.to_string()),
            ],
        )?;
        records_applied(conn, &parsed.records, self.tally, self.zoned)?;
        {
            let mut st = conn.prepare_cached(
                "INSERT INTO sales_rejects (sales_file_id, line, field, reason, raw) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in &parsed.rejects {
                st.execute(params![file_id, r.line, r.field, r.reason, r.raw])?;
            }
        }
        conn.execute_batch("COMMIT")?;
        self.open = false;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(SalesImport { sales_file_id: file_id, new: true, loaded: self.tally.applied, ledger_kept: self.tally.kept })
    }
}

impl Drop for Importer<'_> {
    /// An unfinished import stores nothing: its transaction is rolled back, foreign keys are back on.
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
            let _ = self.conn.pragma_update(None, "foreign_keys", "ON");
        }
    }
}

/// Records with their time texts, made where the chunk is made (the parsing thread of a streamed
/// import), for [`Importer::add_chunk`].
pub struct Chunk {
    records: Vec<LocalRecord>,
    texts: Vec<TimeText>,
}

impl Chunk {
    pub fn new(records: Vec<LocalRecord>) -> Chunk {
        let texts = records.iter().map(TimeText::of).collect();
        Chunk { records, texts }
    }
}

/// Applies records (already inside a transaction). Returns (applied, kept because the ledger owns them).
pub fn upsert_records(
    tx: &Connection,
    records: &[LocalRecord],
    origin: Origin,
    file_id: Option<i64>,
) -> Result<(usize, usize)> {
    // Whether the id zones covered every record before this write (else they are built again after it).
    let zoned = super::zones::local_zones_hold(tx)?;
    let tally = apply_records(tx, records, origin, file_id, &super::now_text(), Tally::default())?;
    records_applied(tx, records, tally, zoned)?;
    Ok((tally.applied, tally.kept))
}

/// Applies `records` after those `tally` counts; returns the new tally.
fn apply_records(
    tx: &Connection,
    records: &[LocalRecord],
    origin: Origin,
    file_id: Option<i64>,
    now: &str,
    tally: Tally,
) -> Result<Tally> {
    let mut up = Upsert::prepare(tx, origin, file_id, now, tally)?;
    up.tally.earliest = earlier(up.tally.earliest, records.iter().map(|r| r.business_date).min());
    let mut apply = |r: &LocalRecord, times: &TimeText| up.apply(r, times);
    if records.len() < 2 * TEXT_CHUNK {
        for r in records {
            apply(r, &TimeText::of(r))?;
        }
    } else {
        apply_ahead(records, &mut apply)?;
    }
    Ok(up.tally)
}

/// The earlier of two dates, either of which may be missing.
fn earlier(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What follows applying a batch of local records (all of a sales file's, or the ledger's), in its
/// transaction: the state of every day they can change is invalidated, and the records' ids go into
/// their dates' id zones (`zoned`: whether the zones covered every record before the batch).
fn records_applied(tx: &Connection, records: &[LocalRecord], tally: Tally, zoned: bool) -> Result<()> {
    if let Some(d) = tally.earliest {
        super::state::invalidate_from(tx, d)?;
    }
    super::zones::widen_local(tx, &local_zones(records), zoned)?;
    Ok(())
}

/// The ids of `records` by business date (sql/0017): merchant ids are the key's id and the payment
/// id, Alipay's the acquirement id.
fn local_zones(records: &[LocalRecord]) -> std::collections::BTreeMap<NaiveDate, super::zones::IdZone> {
    use super::zones::SpanOf;
    let mut by_date: std::collections::BTreeMap<NaiveDate, (SpanOf, SpanOf)> = Default::default();
    for r in records {
        let (merchant, alipay) = by_date.entry(r.business_date).or_default();
        merchant.add(Some(r.key().1));
        merchant.add(Some(&r.merchant_trans_id));
        alipay.add(r.acquirement_id.as_deref());
    }
    by_date
        .into_iter()
        .map(|(d, (m, a))| (d, super::zones::IdZone { merchant: m.owned(), alipay: a.owned() }))
        .collect()
}

/// One batch of records being applied: its statements and what they have done so far.
struct Upsert<'c> {
    insert: rusqlite::CachedStatement<'c>,
    replace: rusqlite::CachedStatement<'c>,
    first_version: rusqlite::CachedStatement<'c>,
    hist: rusqlite::CachedStatement<'c>,
    count_kept: rusqlite::CachedStatement<'c>,
    stored_date: rusqlite::CachedStatement<'c>,
    origin: Origin,
    file_id: Option<i64>,
    now: String,
    date_text: DateText,
    tally: Tally,
}

impl<'c> Upsert<'c> {
    fn prepare(tx: &'c Connection, origin: Origin, file_id: Option<i64>, now: &str, tally: Tally) -> Result<Self> {
        // A new key is one insert (almost every record of a day's file); the history is only written for
        // keys that get a second version (sql/0009): then the stored version is copied there first, once.
        let insert = tx.prepare_cached(
            "INSERT INTO local_records (record_type, record_id, merchant_trans_id, merchant_refund_id, amount, currency,
            status, created_at, created_utc, business_date, store_id, terminal_id, acquirement_id, origin, sales_file_id, line,
            conflict, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
         ON CONFLICT (record_type, record_id) DO NOTHING",
        )?;
        // Replaces the earlier version — unless the ledger owns the key and this is a POS record (the WHERE
        // makes it a no-op, reported by changes() == 0).
        let replace = tx.prepare_cached(
            "UPDATE local_records SET merchant_trans_id = ?3, merchant_refund_id = ?4, amount = ?5, currency = ?6,
            status = ?7, created_at = ?8, created_utc = ?9, business_date = ?10, store_id = ?11, terminal_id = ?12,
            acquirement_id = ?13, origin = ?14, sales_file_id = ?15, line = ?16, conflict = ?17, recorded_at = ?18,
            versions = versions + 1
         WHERE record_type = ?1 AND record_id = ?2 AND (origin != 'ledger' OR ?14 = 'ledger')",
        )?;
        // The stored version as the history has it (its time with "Z" for UTC, as a version's JSON had it).
        let first_version = tx.prepare_cached(concat!(
            "INSERT INTO local_record_history (record_type, record_id, sales_file_id, line, merchant_trans_id, merchant_refund_id,
            amount, currency, status, created_at, business_date, store_id, terminal_id, acquirement_id, conflict, recorded_at)
         SELECT record_type, record_id, sales_file_id, line, merchant_trans_id, merchant_refund_id, amount, currency, status, ",
            history_created_at!("created_at"),
            ", business_date, store_id, terminal_id, acquirement_id, conflict, COALESCE(recorded_at, '')
         FROM local_records WHERE record_type = ?1 AND record_id = ?2 AND versions <= 1"
        ))?;
        let hist = tx.prepare_cached(
            "INSERT INTO local_record_history (record_type, record_id, sales_file_id, line, merchant_trans_id, merchant_refund_id,
            amount, currency, status, created_at, business_date, store_id, terminal_id, acquirement_id, conflict, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?;
        // The key's history grew although the ledger kept its snapshot: count the version all the same.
        let count_kept = tx.prepare_cached(
            "UPDATE local_records SET versions = versions + 1 WHERE record_type = ?1 AND record_id = ?2",
        )?;
        let stored_date =
            tx.prepare_cached("SELECT business_date FROM local_records WHERE record_type = ?1 AND record_id = ?2")?;
        Ok(Upsert {
            insert,
            replace,
            first_version,
            hist,
            count_kept,
            stored_date,
            origin,
            file_id,
            now: now.to_string(),
            date_text: DateText::default(),
            tally,
        })
    }

    /// Inserts a new key; a key stored before gets its history written and its snapshot replaced.
    fn apply(&mut self, r: &LocalRecord, times: &TimeText) -> Result<()> {
        let (rt, id) = r.key();
        let created_at = times.history.as_str();
        let snapshot_created_at = times.snapshot.as_deref().unwrap_or(created_at);
        let business_date = self.date_text.get(r.business_date);
        let (file_id, now) = (self.file_id, self.now.as_str());
        let snapshot = params![
            rt.as_str(),
            id,
            r.merchant_trans_id,
            r.merchant_refund_id,
            r.amount,
            r.currency.as_str(),
            r.status.as_str(),
            snapshot_created_at,
            r.created_at.timestamp(),
            business_date,
            r.store_id,
            r.terminal_id,
            r.acquirement_id,
            self.origin.as_str(),
            file_id,
            r.line,
            r.conflict,
            now,
        ];
        if self.insert.execute(snapshot)? == 1 {
            self.tally.applied += 1;
            return Ok(());
        }
        // A key stored before: its history gets the stored version (if it was the only one) and this one.
        let old: Option<String> = self.stored_date.query_row(params![rt.as_str(), id], |r| r.get(0)).optional()?;
        if let Some(old) = old.and_then(|o| o.parse::<NaiveDate>().ok()) {
            self.tally.earliest = earlier(self.tally.earliest, Some(old));
        }
        self.first_version.execute(params![rt.as_str(), id])?;
        self.hist.execute(params![
            rt.as_str(),
            id,
            file_id,
            r.line,
            r.merchant_trans_id,
            r.merchant_refund_id,
            r.amount,
            r.currency.as_str(),
            r.status.as_str(),
            created_at,
            business_date,
            r.store_id,
            r.terminal_id,
            r.acquirement_id,
            r.conflict,
            now
        ])?;
        if self.replace.execute(snapshot)? == 1 {
            self.tally.applied += 1;
        } else {
            self.count_kept.execute(params![rt.as_str(), id])?;
            self.tally.kept += 1;
        }
        Ok(())
    }
}

/// Applies a file's worth of records: their time texts (two RFC 3339 formats per record, a sixth of the
/// inserting thread's time) are made on a second thread, a chunk ahead of the inserts.
fn apply_ahead(records: &[LocalRecord], apply: &mut impl FnMut(&LocalRecord, &TimeText) -> Result<()>) -> Result<()> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<TimeText>>(2);
        s.spawn(move || {
            for chunk in records.chunks(TEXT_CHUNK) {
                if tx.send(chunk.iter().map(TimeText::of).collect()).is_err() {
                    return; // the inserts failed
                }
            }
        });
        let mut recs = records.iter();
        for texts in rx.iter() {
            // The chunk's texts first: zip must not take a record past the chunk's end.
            for (t, r) in texts.iter().zip(recs.by_ref()) {
                apply(r, t)?;
            }
        }
        anyhow::ensure!(recs.next().is_none(), "the time texts of the local records stopped early (a bug)");
        Ok(())
    })
}

/// Records per chunk of [`TimeText`]s made ahead of the inserts.
const TEXT_CHUNK: usize = 16_384;

/// A record's `created_at` as stored: the history's form (UTC as "Z", as a version's JSON had it) and,
/// when it differs, the snapshot's (UTC as "+00:00").
struct TimeText {
    history: String,
    snapshot: Option<String>,
}

impl TimeText {
    fn of(r: &LocalRecord) -> TimeText {
        TimeText {
            history: r.created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            snapshot: (r.created_at.offset().local_minus_utc() == 0).then(|| r.created_at.to_rfc3339()),
        }
    }
}

/// `YYYY-MM-DD` of the last date asked for, kept: a sales file's records share a handful of dates.
#[derive(Default)]
struct DateText {
    last: Option<(NaiveDate, String)>,
}

impl DateText {
    fn get(&mut self, d: NaiveDate) -> &str {
        if self.last.as_ref().is_none_or(|(l, _)| *l != d) {
            self.last = Some((d, d.to_string()));
        }
        &self.last.as_ref().expect("just set").1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SalesConfig;
    use crate::domain::BusinessZone;

    const H: &str = "record_type,merchant_trans_id,merchant_refund_id,amount,currency,status,created_at,store_id,terminal_id,acquirement_id\n";

    /// A sales file `name` with the header and `body`, parsed, and its metadata.
    fn file(name: &str, body: &str) -> (ParsedSales, SalesFileMeta) {
        let text = format!("{H}{body}");
        let parsed =
            crate::sales::parse(text.as_bytes(), name, &BusinessZone::default(), &SalesConfig::default()).unwrap();
        let meta = SalesFileMeta {
            path: name.into(),
            name: name.into(),
            sha256: crate::archive::sha256_hex(text.as_bytes()),
            size: text.len() as u64,
            archive_path: "x".into(),
        };
        (parsed, meta)
    }

    fn load(c: &mut Connection, body: &str) -> SalesImport {
        let (parsed, meta) = file("s.csv", body);
        import(c, &meta, &parsed, None).unwrap()
    }

    fn status(c: &Connection, id: &str) -> String {
        c.query_row("SELECT status FROM local_records WHERE record_type='PAYMENT' AND record_id=?1", [id], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn later_import_replaces_and_same_file_changes_nothing() {
        let mut c = crate::store::open_in_memory().unwrap();
        let a = "PAYMENT,P1,,1.00,HKD,UNKNOWN,2026-11-25T10:00:00+08:00,,,\n";
        let b = "PAYMENT,P1,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n";
        assert!(load(&mut c, a).new);
        assert_eq!(status(&c, "P1"), "UNKNOWN");
        load(&mut c, b);
        assert_eq!(status(&c, "P1"), "SUCCESS");
        let again = load(&mut c, a);
        assert!(!again.new);
        assert_eq!(status(&c, "P1"), "SUCCESS", "re-importing the older file changes nothing");
        let h: i64 = c.query_row("SELECT COUNT(*) FROM local_record_history", [], |r| r.get(0)).unwrap();
        assert_eq!(h, 2);
    }

    /// A key seen once is its snapshot alone; the second version copies the first into the history
    /// (with its time in the history's form and when it was recorded), then adds itself; explain shows
    /// every version either way, in import order.
    #[test]
    fn the_history_holds_the_keys_with_several_versions() {
        let mut c = crate::store::open_in_memory().unwrap();
        let hist = |c: &Connection| -> Vec<(String, String, String)> {
            let mut st =
                c.prepare("SELECT record_id, status, created_at FROM local_record_history ORDER BY id").unwrap();
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
            rows.collect::<rusqlite::Result<_>>().unwrap()
        };
        load(
            &mut c,
            "PAYMENT,P1,,1.00,HKD,UNKNOWN,2026-11-25T02:00:00Z,,,\nPAYMENT,P2,,2.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n",
        );
        assert!(hist(&c).is_empty(), "{:?}", hist(&c));
        c.execute("UPDATE local_records SET recorded_at = 'first' WHERE record_id = 'P1'", []).unwrap();
        load(&mut c, "PAYMENT,P1,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n");
        assert_eq!(
            hist(&c),
            [("P1", "UNKNOWN", "2026-11-25T02:00:00Z"), ("P1", "SUCCESS", "2026-11-25T10:00:00+08:00")]
                .map(|(a, b, t)| (a.to_string(), b.to_string(), t.to_string()))
        );
        let v: (i64, String) = c
            .query_row("SELECT versions, status FROM local_records WHERE record_id = 'P1'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(v, (2, "SUCCESS".to_string()));
        // A third version does not copy the stored one again.
        load(&mut c, "PAYMENT,P1,,1.00,HKD,FAILED,2026-11-25T10:00:00+08:00,,,\n");
        assert_eq!(hist(&c).len(), 3);
        let p1 = crate::store::explain::trace(&c, "P1").unwrap().history;
        let got: Vec<(&str, bool)> =
            p1.iter().map(|h| (h.recorded_at.as_str(), h.row_json.contains("UNKNOWN"))).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], ("first", true), "{got:?}");
        let p2 = crate::store::explain::trace(&c, "P2").unwrap().history;
        assert_eq!(p2.len(), 1);
        assert!(p2[0].row_json.contains(r#""status":"SUCCESS""#) && !p2[0].recorded_at.is_empty(), "{:?}", p2[0]);
    }

    /// The import runs without per-statement foreign key checks and turns them back on, also when it
    /// fails; a run id that is not recorded fails the import and stores nothing.
    #[test]
    fn foreign_keys_are_back_on_after_an_import_and_an_unknown_run_is_refused() {
        let mut c = crate::store::open_in_memory().unwrap();
        let fk = |c: &Connection| c.query_row("PRAGMA foreign_keys", [], |r| r.get::<_, i64>(0)).unwrap();
        load(&mut c, "PAYMENT,P1,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n");
        assert_eq!(fk(&c), 1);
        let (parsed, meta) = file("t.csv", "PAYMENT,P2,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n");
        let err = import(&mut c, &meta, &parsed, Some(77)).unwrap_err();
        assert!(format!("{err:#}").contains("run 77 is not recorded"), "{err:#}");
        assert_eq!(fk(&c), 1);
        let n: i64 = c.query_row("SELECT COUNT(*) FROM local_records", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
        let run = crate::store::runs::start(&c, "import-sales", &[], None).unwrap();
        assert!(import(&mut c, &meta, &parsed, Some(run)).unwrap().new);
    }

    #[test]
    fn ledger_wins_over_pos() {
        let mut c = crate::store::open_in_memory().unwrap();
        let text = format!("{H}PAYMENT,P9,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n");
        let parsed =
            crate::sales::parse(text.as_bytes(), "l", &BusinessZone::default(), &SalesConfig::default()).unwrap();
        let tx = c.transaction().unwrap();
        upsert_records(&tx, &parsed.records, Origin::Ledger, None).unwrap();
        tx.commit().unwrap();
        let r = load(&mut c, "PAYMENT,P9,,1.00,HKD,FAILED,2026-11-25T10:00:00+08:00,,,\n");
        assert_eq!(r.ledger_kept, 1);
        assert_eq!(status(&c, "P9"), "SUCCESS");
    }

    /// Every stored row of the sales tables as text (the times things were recorded left out: they
    /// are the clock's).
    fn dump(c: &Connection) -> Vec<String> {
        let mut out = Vec::new();
        for table in [
            "sales_files",
            "local_records",
            "local_record_history",
            "sales_rejects",
            "local_id_zones",
            "local_id_zones_written",
        ] {
            let mut st = c.prepare(&format!("SELECT * FROM {table} ORDER BY 1")).unwrap();
            let names: Vec<String> = st.column_names().map(|n| n.to_string()).collect();
            let rows = st
                .query_map([], |r| {
                    let mut row = vec![table.to_string()];
                    for (i, n) in names.iter().enumerate() {
                        if !n.ends_with("_at") || n == "created_at" {
                            row.push(format!("{n}={:?}", r.get::<_, rusqlite::types::Value>(i)?));
                        }
                    }
                    Ok(row.join(" "))
                })
                .unwrap();
            let mut rows: Vec<String> = rows.map(Result::unwrap).collect();
            rows.sort();
            out.extend(rows);
        }
        out
    }

    /// A file stored in chunks while it is parsed stores exactly what a whole import stores: also the
    /// conflict flags that a later row sets on a key whose first row is stored already — as its
    /// snapshot, copied into its history by the next version, or behind a ledger record — and the
    /// file's counts, "as of" date and rejects. A chunked import that is dropped stores nothing.
    #[test]
    fn a_file_imported_in_chunks_stores_what_a_whole_import_stores() {
        let body = "PAYMENT,P1,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n\
                    PAYMENT,P2,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n\
                    PAYMENT,P9,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n\
                    PAYMENT,P3,,1.00,HK,SUCCESS,2026-11-25T10:00:00+08:00,,,\n\
                    REFUND,P1,R1,1.00,HKD,SUCCESS,2026-11-24T10:00:00Z,S,T,A1\n\
                    PAYMENT,P2,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n\
                    PAYMENT,P1,,2.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n\
                    PAYMENT,P2,,3.00,HKD,SUCCESS,2026-11-26T10:00:00+08:00,,,\n\
                    PAYMENT,P9,,3.00,HKD,FAILED,2026-11-25T10:00:00+08:00,,,\n";
        let setup = || {
            let mut c = crate::store::open_in_memory().unwrap();
            load(&mut c, "PAYMENT,P2,,1.00,HKD,UNKNOWN,2026-11-20T10:00:00+08:00,,,\n");
            let (ledger, _) = file("l.csv", "PAYMENT,P9,,1.00,HKD,SUCCESS,2026-11-25T10:00:00+08:00,,,\n");
            let tx = c.transaction().unwrap();
            upsert_records(&tx, &ledger.records, Origin::Ledger, None).unwrap();
            tx.commit().unwrap();
            c
        };
        let (parsed, meta) = file("s.csv", body);
        assert_eq!(parsed.conflict_count(), 6);
        let mut whole = setup();
        let want = import(&mut whole, &meta, &parsed, None).unwrap();
        assert_eq!((want.loaded, want.ledger_kept), (5, 2));
        let text = format!("{H}{body}");
        for chunk in [1, 2, 3, 5, 100] {
            let mut chunks = Vec::new();
            let p = crate::sales::parse_in_chunks(
                text.as_bytes(),
                "s.csv",
                &BusinessZone::default(),
                &SalesConfig::default(),
                chunk,
                |r| chunks.push(Chunk::new(r)),
            )
            .unwrap();
            let mut c = setup();
            let Begun::New(mut imp) = Importer::begin(&mut c, &meta.sha256, None).unwrap() else { panic!() };
            for ch in &chunks {
                imp.add_chunk(ch).unwrap();
            }
            assert_eq!(imp.finish(&meta, &p).unwrap(), want, "chunk {chunk}");
            assert_eq!(dump(&c), dump(&whole), "chunk {chunk}");
            // The same bytes again: known, nothing changes.
            assert!(
                matches!(Importer::begin(&mut c, &meta.sha256, None).unwrap(), Begun::Known(id) if id == want.sales_file_id)
            );
            assert_eq!(dump(&c), dump(&whole), "chunk {chunk}");
        }
        let mut c = setup();
        let before = dump(&c);
        let Begun::New(mut imp) = Importer::begin(&mut c, &meta.sha256, None).unwrap() else { panic!() };
        imp.add(&parsed.records).unwrap();
        drop(imp);
        assert_eq!(dump(&c), before);
        assert_eq!(c.query_row("PRAGMA foreign_keys", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
    }

    /// A file big enough for the time texts to be made on a second thread stores every record with
    /// the same texts as the one-thread path (snapshot "+00:00", history "Z"), new keys and versions.
    #[test]
    fn a_large_file_stores_the_same_texts_with_the_second_thread() {
        let n = 2 * TEXT_CHUNK + 5;
        let body = |status: &str| {
            (0..n)
                .map(|i| {
                    let t = if i % 2 == 0 { "2026-11-20T10:00:00Z" } else { "2026-11-20T10:00:00.5+08:00" };
                    format!("PAYMENT,P{i},,1.00,HKD,{status},{t},,,\n")
                })
                .collect::<String>()
        };
        let mut c = crate::store::open_in_memory().unwrap();
        assert_eq!(load(&mut c, &body("UNKNOWN")).loaded, n);
        let (parsed, mut meta) = file("s2.csv", &body("SUCCESS"));
        meta.sha256 = "other".into();
        assert_eq!(import(&mut c, &meta, &parsed, None).unwrap().loaded, n);
        let q = |sql: &str| c.query_row(sql, [], |r| r.get::<_, String>(0)).unwrap();
        assert_eq!(
            q("SELECT COUNT(*) || '' FROM local_records WHERE status = 'SUCCESS' AND versions = 2"),
            n.to_string()
        );
        assert_eq!(q("SELECT COUNT(*) || '' FROM local_record_history"), (2 * n).to_string());
        let last = n - 1;
        assert_eq!(q("SELECT created_at FROM local_records WHERE record_id = 'P0'"), "2026-11-20T10:00:00+00:00");
        assert_eq!(
            q(&format!("SELECT created_at FROM local_records WHERE record_id = 'P{last}'")),
            if last.is_multiple_of(2) { "2026-11-20T10:00:00+00:00" } else { "2026-11-20T10:00:00.500+08:00" }
        );
        assert_eq!(
            q("SELECT group_concat(DISTINCT created_at) FROM local_record_history WHERE record_id = 'P0'"),
            "2026-11-20T10:00:00Z"
        );
    }
}
