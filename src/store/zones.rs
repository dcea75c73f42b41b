//! Id zones (sql/0017): the smallest and largest id of each kind that an Alipay file (`files.id_zone`)
//! or a day's local records (`local_id_zones`) hold. An incremental run looks up each id of its day in
//! the stored history (`store::window::active`); an id outside every zone of the files and days it
//! could find is not looked up. Ids compare as bytes, as SQLite's BINARY collation (the lookups'
//! equality) does. Zones are written by the import of a file (`store::files`) and by the one writer of
//! local records (`store::sales::upsert_records`), and are only ever widened.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;

/// The smallest and largest of some ids; `None` for none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Span(Option<(String, String)>);

impl Span {
    /// Widens to `other`.
    pub fn widen(&mut self, other: &Span) {
        if let Some((lo, hi)) = &other.0 {
            self.widen_to(lo, hi);
        }
    }

    fn widen_to(&mut self, lo: &str, hi: &str) {
        match &mut self.0 {
            None => self.0 = Some((lo.to_string(), hi.to_string())),
            Some((l, h)) => {
                if lo < l.as_str() {
                    *l = lo.to_string();
                }
                if hi > h.as_str() {
                    *h = hi.to_string();
                }
            }
        }
    }

    pub fn lo(&self) -> Option<&str> {
        self.0.as_ref().map(|(l, _)| l.as_str())
    }

    pub fn hi(&self) -> Option<&str> {
        self.0.as_ref().map(|(_, h)| h.as_str())
    }
}

/// The span of some ids by reference (allocates once, when turned into a [`Span`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanOf<'a>(Option<(&'a str, &'a str)>);

impl<'a> SpanOf<'a> {
    pub fn add(&mut self, id: Option<&'a str>) {
        let Some(id) = id else { return };
        match &mut self.0 {
            None => self.0 = Some((id, id)),
            Some((lo, hi)) => {
                if id < *lo {
                    *lo = id;
                }
                if id > *hi {
                    *hi = id;
                }
            }
        }
    }

    pub fn owned(self) -> Span {
        Span(self.0.map(|(l, h)| (l.to_string(), h.to_string())))
    }
}

/// The ids of a file or a day, by kind: merchant ids and Alipay's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdZone {
    pub merchant: Span,
    pub alipay: Span,
}

impl IdZone {
    pub fn widen(&mut self, other: &IdZone) {
        self.merchant.widen(&other.merchant);
        self.alipay.widen(&other.alipay);
    }

    /// As `files.id_zone` stores it: `[merchant_lo, merchant_hi, alipay_lo, alipay_hi]`.
    pub fn to_json(&self) -> String {
        serde_json::json!([self.merchant.lo(), self.merchant.hi(), self.alipay.lo(), self.alipay.hi()]).to_string()
    }

    /// A stored `files.id_zone`; `None` (not known) when it is not one.
    pub fn from_json(text: &str) -> Option<IdZone> {
        let v: [Option<String>; 4] = serde_json::from_str(text).ok()?;
        let span = |lo: &Option<String>, hi: &Option<String>| match (lo, hi) {
            (Some(l), Some(h)) => Some(Span(Some((l.clone(), h.clone())))),
            (None, None) => Some(Span(None)),
            _ => None,
        };
        Some(IdZone { merchant: span(&v[0], &v[1])?, alipay: span(&v[2], &v[3])? })
    }
}

/// Widens the stored zones of local records' dates by `zones` (inside the writer's transaction, after
/// its records), or, when they did not cover every record before that write (`held` false: never
/// built, or a writer without zones), builds them all again from the tables.
pub fn widen_local(tx: &Connection, zones: &BTreeMap<NaiveDate, IdZone>, held: bool) -> Result<()> {
    if !held {
        tx.execute_batch(REBUILD_LOCAL).context("cannot rebuild the id zones of the local records")?;
    } else {
        let mut get = tx.prepare_cached(
            "SELECT merchant_lo, merchant_hi, alipay_lo, alipay_hi FROM local_id_zones WHERE business_date = ?1",
        )?;
        let mut put = tx.prepare_cached(
            "INSERT OR REPLACE INTO local_id_zones (business_date, merchant_lo, merchant_hi, alipay_lo, alipay_hi)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (date, zone) in zones {
            let d = date.to_string();
            let stored = get
                .query_row([&d], |r| {
                    let span = |a: Option<String>, b: Option<String>| Span(a.zip(b));
                    Ok(IdZone { merchant: span(r.get(0)?, r.get(1)?), alipay: span(r.get(2)?, r.get(3)?) })
                })
                .optional()?;
            let mut z = stored.unwrap_or_default();
            z.widen(zone);
            put.execute(params![d, z.merchant.lo(), z.merchant.hi(), z.alipay.lo(), z.alipay.hi()])
                .with_context(|| format!("cannot record the ids of the local records dated {d}"))?;
        }
    }
    tx.prepare_cached(&format!(
        "UPDATE local_id_zones_written SET records_rowid = {RECORDS_NOW}, history_id = {HISTORY_NOW}"
    ))?
    .execute([])?;
    Ok(())
}

/// Every date's zone from the local records and their history: one aggregate pass over each (both id
/// columns are NOT NULL; ~0.4 s per 1M records here, where a union of the columns sorted took 1.1 s).
const REBUILD_LOCAL: &str = "DELETE FROM local_id_zones;
    INSERT INTO local_id_zones (business_date, merchant_lo, merchant_hi, alipay_lo, alipay_hi)
    SELECT business_date, MIN(mlo), MAX(mhi), MIN(alo), MAX(ahi) FROM (
        SELECT business_date, MIN(MIN(record_id, merchant_trans_id)) AS mlo,
               MAX(MAX(record_id, merchant_trans_id)) AS mhi, MIN(acquirement_id) AS alo, MAX(acquirement_id) AS ahi
        FROM local_records GROUP BY business_date
        UNION ALL
        SELECT business_date, MIN(MIN(record_id, merchant_trans_id)), MAX(MAX(record_id, merchant_trans_id)),
               MIN(acquirement_id), MAX(acquirement_id)
        FROM local_record_history GROUP BY business_date)
    GROUP BY business_date;";

/// The local records and history the zones cover (`local_id_zones_written`): the largest ids now.
const RECORDS_NOW: &str = "(SELECT COALESCE(MAX(rowid), 0) FROM local_records)";
const HISTORY_NOW: &str = "(SELECT COALESCE(MAX(id), 0) FROM local_record_history)";

/// Whether every local record and version stored was written with its zone (a build without zones
/// leaves larger ids behind).
pub fn local_zones_hold(conn: &Connection) -> Result<bool> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM local_id_zones_written WHERE records_rowid = {RECORDS_NOW} AND history_id = {HISTORY_NOW})"
    );
    Ok(conn.query_row(&sql, [], |r| r.get(0))?)
}

/// Where ids may be found: the union of some zones' spans, merged, or everywhere (a zone not known).
#[derive(Debug, Clone, Default)]
pub struct Cover {
    everywhere: bool,
    /// Disjoint, sorted by their start.
    spans: Vec<(String, String)>,
}

impl Cover {
    /// Ids may be anywhere.
    pub fn everywhere() -> Cover {
        Cover { everywhere: true, spans: Vec::new() }
    }

    pub fn add(&mut self, span: &Span) {
        if let Some((l, h)) = &span.0 {
            self.spans.push((l.clone(), h.clone()));
        }
    }

    /// Sorts and merges the spans (after the last [`Cover::add`]).
    pub fn merged(mut self) -> Cover {
        self.spans.sort();
        let mut out: Vec<(String, String)> = Vec::with_capacity(self.spans.len());
        for (l, h) in self.spans {
            match out.last_mut() {
                Some((_, ph)) if l <= *ph => {
                    if h > *ph {
                        *ph = h;
                    }
                }
                _ => out.push((l, h)),
            }
        }
        Cover { everywhere: self.everywhere, spans: out }
    }

    /// Where either cover may hold ids (merged).
    pub fn union(&self, other: &Cover) -> Cover {
        let mut spans = self.spans.clone();
        spans.extend(other.spans.iter().cloned());
        Cover { everywhere: self.everywhere || other.everywhere, spans }.merged()
    }

    /// Whether some id may be in both (merged) covers.
    pub fn meets(&self, other: &Cover) -> bool {
        let nonempty = |c: &Cover| c.everywhere || !c.spans.is_empty();
        if (self.everywhere && nonempty(other)) || (other.everywhere && nonempty(self)) {
            return true;
        }
        let (mut i, mut j) = (0, 0);
        while i < self.spans.len() && j < other.spans.len() {
            let ((a0, a1), (b0, b1)) = (&self.spans[i], &other.spans[j]);
            if a0 <= b1 && b0 <= a1 {
                return true;
            }
            if a1 < b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        false
    }

    /// Whether `id` may be held (in a merged cover).
    pub fn may_hold(&self, id: &str) -> bool {
        if self.everywhere {
            return true;
        }
        // The last span starting at or before `id`.
        let i = self.spans.partition_point(|(l, _)| l.as_str() <= id);
        i > 0 && id <= self.spans[i - 1].1.as_str()
    }
}

/// Where the day's ids may be found, by kind: in the files, and in the days' local records, that
/// the load does not hold whole.
#[derive(Debug, Clone, Default)]
pub struct Covers {
    pub merchant: Cover,
    pub alipay: Cover,
}

/// The covers of the current detail files dated `a..=b` that `skip` does not exclude (a file
/// without a known zone covers everything).
pub fn file_covers(conn: &Connection, a: &str, b: &str, skip: impl Fn(i64) -> bool) -> Result<Covers> {
    covers_of_files(conn, a, b, "kind <> 'settlement_summary'", skip)
}

/// Whether a key with a transaction row or a local record dated `day` may also have one dated after
/// it (in a current transaction file, or a local record): the ids of `day`'s transaction files and
/// records meet those of the later ones. When not, no key of `day` continues after it (the leaving
/// day's seeds, `store::window::active`, are then empty without a query).
pub fn may_continue_after(conn: &Connection, day: NaiveDate) -> Result<bool> {
    let (d, after) = (day.to_string(), (day + chrono::Duration::days(1)).to_string());
    const TXNS: &str = "kind = 'transactions'";
    let own = covers_of_files(conn, &d, &d, TXNS, |_| false)?;
    let own_local = local_covers(conn, &d, &d, |_| false)?;
    let later = covers_of_files(conn, &after, "9999-12-31", TXNS, |_| false)?;
    let later_local = local_covers(conn, &after, "9999-12-31", |_| false)?;
    let meet = |a: &Cover, b: &Cover, c: &Cover, e: &Cover| a.union(b).meets(&c.union(e));
    Ok(meet(&own.merchant, &own_local.merchant, &later.merchant, &later_local.merchant)
        || meet(&own.alipay, &own_local.alipay, &later.alipay, &later_local.alipay))
}

fn covers_of_files(conn: &Connection, a: &str, b: &str, kinds: &str, skip: impl Fn(i64) -> bool) -> Result<Covers> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT id, id_zone FROM files WHERE current = 1 AND business_date BETWEEN ?1 AND ?2 AND {kinds}"
    ))?;
    let mut c = Covers::default();
    for r in st.query_map([a, b], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?)))? {
        let (id, zone) = r?;
        if skip(id) {
            continue;
        }
        match zone.as_deref().and_then(IdZone::from_json) {
            Some(z) => {
                c.merchant.add(&z.merchant);
                c.alipay.add(&z.alipay);
            }
            None => c = Covers { merchant: Cover::everywhere(), alipay: Cover::everywhere() },
        }
    }
    Ok(Covers { merchant: c.merchant.merged(), alipay: c.alipay.merged() })
}

/// The covers of the local records dated `a..=b`, except the dates `skip` excludes.
pub fn local_covers(conn: &Connection, a: &str, b: &str, skip: impl Fn(NaiveDate) -> bool) -> Result<Covers> {
    let mut st = conn.prepare_cached(
        "SELECT business_date, merchant_lo, merchant_hi, alipay_lo, alipay_hi FROM local_id_zones
         WHERE business_date BETWEEN ?1 AND ?2",
    )?;
    if !local_zones_hold(conn)? {
        // Once per process: a load asks for several covers.
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            tracing::info!(
                "the local records' id zones are not built (a database migrated with records, or records stored by an \
             older version of alipay-recon): every id is looked up until the next sales import builds them"
            )
        });
        return Ok(Covers { merchant: Cover::everywhere(), alipay: Cover::everywhere() });
    }
    let mut c = Covers::default();
    let rows = st.query_map([a, b], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Span(r.get::<_, Option<String>>(1)?.zip(r.get::<_, Option<String>>(2)?)),
            Span(r.get::<_, Option<String>>(3)?.zip(r.get::<_, Option<String>>(4)?)),
        ))
    })?;
    for r in rows {
        let (date, merchant, alipay) = r?;
        // A date that does not parse is not skipped.
        if date.parse::<NaiveDate>().is_ok_and(&skip) {
            continue;
        }
        c.merchant.add(&merchant);
        c.alipay.add(&alipay);
    }
    Ok(Covers { merchant: c.merchant.merged(), alipay: c.alipay.merged() })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Imports a sales-v1 file of `lines` whose header is the required columns then `more`.
    pub(crate) fn import_sales(c: &mut Connection, more: &str, lines: &str) {
        let text = format!(
            "record_type,merchant_trans_id,merchant_refund_id,amount,currency,status,created_at{more}\n{lines}"
        );
        let config = crate::config::SalesConfig::default();
        let parsed = crate::sales::parse(text.as_bytes(), "s.csv", &Default::default(), &config).unwrap();
        let meta = crate::store::sales::SalesFileMeta {
            path: "s.csv".into(),
            name: "s.csv".into(),
            sha256: crate::archive::sha256_hex(text.as_bytes()),
            size: 1,
            archive_path: "x".into(),
        };
        crate::store::sales::import(c, &meta, &parsed, None).unwrap();
    }

    fn span(l: &str, h: &str) -> Span {
        Span(Some((l.into(), h.into())))
    }

    #[test]
    fn a_cover_holds_exactly_its_spans_ends_included() {
        let mut c = Cover::default();
        for s in [span("G05", "G09"), span("G01", "G03"), span("G02", "G04"), span("A", "A")] {
            c.add(&s);
        }
        c.add(&Span::default());
        let c = c.merged();
        assert_eq!(c.spans, vec![("A".into(), "A".into()), ("G01".into(), "G04".into()), ("G05".into(), "G09".into())]);
        for (id, held) in [
            ("A", true),
            ("A0", false),
            ("", false),
            ("G00", false),
            ("G01", true),
            ("G035", true),
            ("G04", true),
            ("G041", false),
            ("G05", true),
            ("G09", true),
            ("G1", false),
            ("Z", false),
        ] {
            assert_eq!(c.may_hold(id), held, "{id}");
        }
        let mut other = Cover::default();
        other.add(&span("G041", "G042"));
        let u = c.union(&other.merged());
        assert!(u.may_hold("G0415") && u.may_hold("G03") && !u.may_hold("G0425"));
        assert!(c.union(&Cover::everywhere()).may_hold("Z"));
        let one = |l: &str, h: &str| {
            let mut x = Cover::default();
            x.add(&span(l, h));
            x.merged()
        };
        for (l, h, meets) in [("G041", "G0499", false), ("G04", "G041", true), ("B", "G01", true), ("H", "Z", false)] {
            assert_eq!(c.meets(&one(l, h)), meets, "{l}..{h}");
            assert_eq!(one(l, h).meets(&c), meets, "{l}..{h}");
        }
        assert!(!c.meets(&Cover::default().merged()) && !Cover::everywhere().meets(&Cover::default().merged()));
        assert!(c.meets(&Cover::everywhere()));
        assert!(!Cover::default().merged().may_hold("x"));
        assert!(Cover::everywhere().merged().may_hold("x"));
    }

    #[test]
    fn ids_compare_as_sqlite_compares_them() {
        let conn = Connection::open_in_memory().unwrap();
        let ids = ["a", "B", "b", "é", "z", "Z9", "10", "9", "", " 1", "\u{7f}"];
        for x in ids {
            for y in ids {
                let sql: i64 = conn.query_row("SELECT ?1 < ?2", [x, y], |r| r.get(0)).unwrap();
                assert_eq!(sql == 1, x < y, "{x:?} < {y:?}");
            }
        }
    }

    /// Local records stored without their zones (an older build after a downgrade) make the load look
    /// every id up, until the next write of local records builds every zone again from the tables.
    #[test]
    fn a_writer_without_zones_is_noticed_and_the_next_write_rebuilds_them() {
        let mut c = crate::store::open_in_memory().unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let import = |c: &mut Connection, lines: &str| import_sales(c, ",store_id,terminal_id,acquirement_id", lines);
        let covers = |c: &Connection| local_covers(c, "2026-11-01", "2026-11-30", |_| false).unwrap();
        assert!(local_zones_hold(&c).unwrap(), "a new database: nothing stored, every zone complete");
        assert!(!covers(&c).merchant.everywhere && !covers(&c).merchant.may_hold("P5"));
        import(&mut c, "PAYMENT,P5,,1.00,HKD,SUCCESS,2026-11-20T10:00:00+08:00,,,A5\n");
        let cv = covers(&c);
        assert!(!cv.merchant.everywhere && cv.merchant.may_hold("P5") && !cv.merchant.may_hold("P6"));
        assert!(cv.alipay.may_hold("A5") && !cv.alipay.may_hold("A6"));
        // An older build stores Z1 on the 21st without a zone.
        c.execute(
            "INSERT INTO local_records (record_type, record_id, merchant_trans_id, amount, currency, status, created_at,
                created_utc, business_date, origin) VALUES ('PAYMENT', 'Z1', 'Z1', 100, 'HKD', 'SUCCESS', 'x', 0, '2026-11-21', 'pos')",
            [],
        )
        .unwrap();
        assert!(covers(&c).merchant.everywhere && covers(&c).alipay.everywhere);
        // A widen over other days would not cover Z1: the write builds every zone again.
        import(&mut c, "PAYMENT,P7,,1.00,HKD,SUCCESS,2026-11-22T10:00:00+08:00,,,\n");
        let cv = covers(&c);
        assert!(!cv.merchant.everywhere);
        for id in ["P5", "P7", "Z1"] {
            assert!(cv.merchant.may_hold(id), "{id}");
        }
        assert!(!cv.merchant.may_hold("P6"));
        let only_21st = local_covers(&c, "2026-11-21", "2026-11-21", |_| false).unwrap();
        assert!(only_21st.merchant.may_hold("Z1") && !only_21st.merchant.may_hold("P5"));
        assert!(!local_covers(&c, "2026-11-01", "2026-11-30", |x| x != d("2026-11-22"))
            .unwrap()
            .merchant
            .may_hold("P5"));
    }

    #[test]
    fn zones_round_trip_and_widen() {
        let mut z = IdZone { merchant: span("G2", "G5"), alipay: Span::default() };
        assert_eq!(IdZone::from_json(&z.to_json()), Some(z.clone()));
        z.widen(&IdZone { merchant: span("G1", "G3"), alipay: span("2026", "2027") });
        assert_eq!(z, IdZone { merchant: span("G1", "G5"), alipay: span("2026", "2027") });
        assert_eq!(IdZone::from_json("[\"a\",null,null,null]"), None, "half a span is not known");
        assert_eq!(IdZone::from_json("nonsense"), None);
    }
}
