//! Plain-SQL migrations from `sql/`, embedded at build time, applied in name order, each in its own
//! transaction and recorded in `schema_migrations`.

use anyhow::{Context, Result};
use rusqlite::Connection;

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

pub fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)",
    )?;
    for (name, sql) in MIGRATIONS {
        let done: bool =
            conn.query_row("SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE name = ?1)", [name], |r| r.get(0))?;
        if done {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql).with_context(|| format!("migration sql/{name}.sql failed"))?;
        tx.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES (?1, ?2)",
            rusqlite::params![name, super::now_text()],
        )?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// An in-memory database with the migrations before `name` applied (an older build's schema).
    fn schema_before(name: &str) -> rusqlite::Connection {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)").unwrap();
        for (n, sql) in super::MIGRATIONS.iter().filter(|(n, _)| *n < name) {
            c.execute_batch(sql).unwrap();
            c.execute("INSERT INTO schema_migrations VALUES (?1, 'then')", [n]).unwrap();
        }
        c
    }

    /// A new database file gets 8 KiB pages; one created with SQLite's 4 KiB pages keeps them.
    #[test]
    fn new_databases_get_the_page_size_and_old_ones_keep_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let page_size = |c: &rusqlite::Connection| c.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0)).unwrap();
        let new = crate::store::open(&dir.path().join("new.db")).unwrap();
        assert_eq!(page_size(&new), crate::store::PAGE_SIZE);
        let old_path = dir.path().join("old.db");
        let old = rusqlite::Connection::open(&old_path).unwrap();
        old.execute_batch("PRAGMA page_size = 4096; CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
        drop(old);
        let old = crate::store::open(&old_path).unwrap();
        assert_eq!(page_size(&old), 4096);
        assert_eq!(old.query_row("SELECT x FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
    }

    /// Files written before 0007 get their rows' id range; even rows of two files that interleave
    /// (never written so, but possible by hand) load per file, because the file id is checked too.
    #[test]
    fn row_ranges_are_backfilled_and_the_window_reads_each_files_rows() {
        use rusqlite::params;
        let mut c = schema_before("0007");
        for (id, name) in [(1, "a"), (2, "b"), (3, "summary")] {
            c.execute(
                "INSERT INTO files (id, source, source_path, name, format, kind, business_date, size, sha256, encoding,
                    header, row_count, reject_count, warning_count, version, archive_path, imported_at)
                 VALUES (?1, 't', ?2, ?2, 'intl', 'transactions', '2026-11-20', 1, ?2, 'utf-8', '[]', 2, 0, 0, 1, 'x', 'then')",
                params![id, name],
            )
            .unwrap();
        }
        for (file, line, id) in [(1, 2, "A1"), (2, 2, "B1"), (1, 3, "A2"), (2, 3, "B2")] {
            c.execute(
                "INSERT INTO alipay_rows (file_id, line, kind, business_date, trans_type, type_raw, merchant_trans_id,
                    amount, currency, amount_raw)
                 VALUES (?1, ?2, 'transactions', '2026-11-20', 'PAYMENT', 'PAYMENT', ?3, 100, 'HKD', '1.00')",
                params![file, line, id],
            )
            .unwrap();
        }
        super::migrate(&mut c).unwrap();
        let ranges: Vec<(i64, Option<i64>, Option<i64>)> = c
            .prepare("SELECT id, first_row, last_row FROM files ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(ranges, vec![(1, Some(1), Some(3)), (2, Some(2), Some(4)), (3, None, None)]);
        let indexes: i64 = c
            .query_row("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'alipay_rows_by_file'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(indexes, 0);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let w = crate::store::window::load(&c, day, &crate::reconcile::Params::default()).unwrap();
        let got: Vec<(i64, i64, &str)> =
            w.rows.iter().map(|r| (r.file_id, r.line, r.merchant_trans_id.as_deref().unwrap())).collect();
        assert_eq!(got, vec![(1, 2, "A1"), (1, 3, "A2"), (2, 2, "B1"), (2, 3, "B2")]);
        // A file written without a range (an older build after a downgrade) is still read whole.
        c.execute("UPDATE files SET first_row = NULL, last_row = NULL WHERE id = 2", []).unwrap();
        let w = crate::store::window::load(&c, day, &crate::reconcile::Params::default()).unwrap();
        assert_eq!(w.rows.len(), 4);
    }

    /// 0018 replaces the Alipay-id index by one that also holds the row's type and file, built over
    /// the rows already stored: a look-up by Alipay id finds them through it.
    #[test]
    fn the_alipay_id_index_gains_type_and_file_over_stored_rows() {
        let mut c = schema_before("0018");
        c.execute_batch(
            "INSERT INTO files (id, source, source_path, name, format, kind, business_date, size, sha256, encoding,
                header, row_count, reject_count, warning_count, version, archive_path, imported_at)
             VALUES (1, 't', 'f', 'f', 'intl', 'settlement_detail', '2026-11-20', 1, 'x', 'utf-8', '[]', 1, 0, 0, 1, 'x', 'then');",
        )
        .unwrap();
        c.execute_batch(
            "INSERT INTO alipay_rows (file_id, line, kind, business_date, trans_type, type_raw, amount_raw, alipay_id)
             VALUES (1, 2, 'settlement_detail', '2026-11-20', 'PAYMENT', 'PAYMENT', '1.00', 'A1')",
        )
        .unwrap();
        super::migrate(&mut c).unwrap();
        let names = |sql: &str| -> Vec<String> {
            c.prepare(sql).unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        let indexes =
            names("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'alipay_rows' ORDER BY name");
        assert!(indexes.contains(&"alipay_rows_by_alipay_id_type".to_string()), "{indexes:?}");
        assert!(!indexes.contains(&"alipay_rows_by_alipay_id".to_string()), "{indexes:?}");
        let columns = names("SELECT name FROM pragma_index_info('alipay_rows_by_alipay_id_type') ORDER BY seqno");
        assert_eq!(columns, ["alipay_id", "trans_type", "file_id"]);
        let found: (String, i64) = c
            .query_row(
                "SELECT trans_type, file_id FROM alipay_rows INDEXED BY alipay_rows_by_alipay_id_type WHERE alipay_id = 'A1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(found, ("PAYMENT".to_string(), 1));
    }

    /// Files stored before 0017 get the id zones an import now writes (`store::zones`): each kind's
    /// smallest and largest id over both of its columns, nulls left out; a file without rows holds
    /// none; a summary has no zone. Local zones are built by the first write of local records.
    #[test]
    fn id_zones_are_backfilled_as_imports_write_them() {
        use rusqlite::{params, Connection};
        let mut c = schema_before("0017");
        // File 5 is dated more than 60 days before the newest: not backfilled (NULL: every id looked up).
        for (id, kind, date) in [
            (1, "transactions", "2026-11-20"),
            (2, "settlement_detail", "2026-11-20"),
            (3, "settlement_summary", "2026-11-20"),
            (4, "transactions", "2026-11-20"),
            (5, "transactions", "2026-09-20"),
        ] {
            c.execute(
                "INSERT INTO files (id, source, source_path, name, format, kind, business_date, size, sha256, encoding,
                    header, row_count, reject_count, warning_count, version, archive_path, imported_at)
                 VALUES (?1, 't', ?2, ?2, 'intl', ?2, ?3, 1, ?1, 'utf-8', '[]', 0, 0, 0, 1, 'x', 'then')",
                params![id, kind, date],
            )
            .unwrap();
        }
        // File, then merchant_trans_id, merchant_refund_id, alipay_id, original_alipay_id.
        type Ids<'a> = (i64, Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let rows: [Ids; 5] = [
            (1, Some("M5"), None, Some("A5"), None),
            (1, Some("M2"), Some("R9"), Some("A7"), Some("A1")),
            (2, Some("M3"), None, None, None),
            (2, None, None, Some("B"), None),
            (5, Some("OLD"), None, Some("AOLD"), None),
        ];
        let mut want: std::collections::BTreeMap<i64, crate::store::zones::IdZone> = Default::default();
        for (file, m, r, a, o) in rows {
            c.execute(
                "INSERT INTO alipay_rows (file_id, line, kind, business_date, trans_type, type_raw, merchant_trans_id,
                    merchant_refund_id, alipay_id, original_alipay_id, amount, currency, amount_raw)
                 VALUES (?1, 2, 'transactions', '2026-11-20', 'PAYMENT', 'PAYMENT', ?2, ?3, ?4, ?5, 100, 'HKD', '1.00')",
                params![file, m, r, a, o],
            )
            .unwrap();
            let (mut ms, mut as_) = (crate::store::zones::SpanOf::default(), crate::store::zones::SpanOf::default());
            [m, r].into_iter().for_each(|x| ms.add(x));
            [a, o].into_iter().for_each(|x| as_.add(x));
            want.entry(file)
                .or_default()
                .widen(&crate::store::zones::IdZone { merchant: ms.owned(), alipay: as_.owned() });
        }
        c.execute_batch(
            "UPDATE files SET first_row = (SELECT MIN(id) FROM alipay_rows r WHERE r.file_id = files.id),
                              last_row = (SELECT MAX(id) FROM alipay_rows r WHERE r.file_id = files.id)",
        )
        .unwrap();
        // A database with local records: their zones are built by the first write after the upgrade.
        c.execute(
            "INSERT INTO local_records (record_type, record_id, merchant_trans_id, amount, currency, status, created_at,
                created_utc, business_date, origin) VALUES ('PAYMENT', 'P1', 'P1', 100, 'HKD', 'SUCCESS', 'x', 0, '2026-11-20', 'pos')",
            [],
        )
        .unwrap();
        super::migrate(&mut c).unwrap();
        let got: Vec<(i64, Option<String>)> = c
            .prepare("SELECT id, id_zone FROM files ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let expect = vec![
            (1, Some(want[&1].to_json())),
            (2, Some(want[&2].to_json())),
            (3, None),
            (4, Some(crate::store::zones::IdZone::default().to_json())),
            (5, None),
        ];
        assert_eq!(got, expect);
        assert_eq!(expect[0].1.as_deref(), Some(r#"["M2","R9","A1","A7"]"#));
        assert!(!crate::store::zones::local_zones_hold(&c).unwrap(), "local zones: built by the first write");
        // A database without local records: its zones are complete at once (a new database's first
        // import widens them, it does not rebuild them).
        let mut empty = Connection::open_in_memory().unwrap();
        super::migrate(&mut empty).unwrap();
        assert!(crate::store::zones::local_zones_hold(&empty).unwrap());
    }

    #[test]
    fn migrations_apply_twice_without_change() {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        super::migrate(&mut c).unwrap();
        super::migrate(&mut c).unwrap();
        let n: i64 = c.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(n as usize, super::MIGRATIONS.len());
    }

    /// A database written by the schema up to 0005 (history as JSON text, no version counts) migrates
    /// to typed history and reads back the same window as one written by the current code.
    #[test]
    fn json_history_migrates_to_typed_columns_with_the_same_window() {
        use crate::config::SalesConfig;
        use crate::reconcile::Params;
        use crate::store::sales::{self, Origin, SalesFileMeta};
        use rusqlite::{params, Connection};

        const H: &str = "record_type,merchant_trans_id,merchant_refund_id,amount,currency,status,created_at,store_id,terminal_id,acquirement_id\n";
        let ledger = "PAYMENT,P9,,1.00,HKD,SUCCESS,2026-11-20T10:00:00+08:00,,,A9\n";
        let files = [
            (
                "a.csv",
                "PAYMENT,P1,,1.00,HKD,UNKNOWN,2026-11-20T10:00:00+08:00,S1,T1,\n\
                 PAYMENT,P9,,1.00,HKD,FAILED,2026-11-20T11:00:00+08:00,,,\n\
                 REFUND,P1,R1,0.50,HKD,SUCCESS,2026-11-20T12:00:00.250+08:00,S1,,\n",
            ),
            (
                "b.csv",
                "PAYMENT,P1,,1.00,HKD,SUCCESS,2026-11-20T10:00:00+08:00,S1,T1,A1\n\
                 PAYMENT,P2,,2.00,USD,SUCCESS,2026-11-21T09:00:00Z,,,\n\
                 PAYMENT,P3,,3.00,HKD,SUCCESS,2026-11-21T10:00:00+08:00,,,\n\
                 PAYMENT,P3,,3.50,HKD,SUCCESS,2026-11-21T10:00:00+08:00,,,\n",
            ),
        ];
        let parse = |body: &str| {
            let text = format!("{H}{body}");
            crate::sales::parse(text.as_bytes(), "s.csv", &Default::default(), &SalesConfig::default()).unwrap()
        };

        // The old schema, written the way the previous store::sales wrote it.
        let mut old = schema_before("0006");
        let old_upsert = |c: &Connection, body: &str, file: Option<i64>| {
            let origin = if file.is_some() { "pos" } else { "ledger" };
            for r in &parse(body).records {
                let (rt, id) = r.key();
                c.execute(
                    "INSERT INTO local_record_history (record_type, record_id, sales_file_id, line, row_json, conflict, recorded_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, '2026-11-26T00:00:00Z')",
                    params![rt.as_str(), id, file, r.line, serde_json::to_string(r).unwrap(), r.conflict],
                )
                .unwrap();
                c.execute(
                    "INSERT INTO local_records (record_type, record_id, merchant_trans_id, merchant_refund_id, amount, currency,
                        status, created_at, created_utc, business_date, store_id, terminal_id, acquirement_id, origin, sales_file_id, line, conflict)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
                     ON CONFLICT (record_type, record_id) DO UPDATE SET
                        merchant_trans_id = excluded.merchant_trans_id, merchant_refund_id = excluded.merchant_refund_id,
                        amount = excluded.amount, currency = excluded.currency, status = excluded.status,
                        created_at = excluded.created_at, created_utc = excluded.created_utc, business_date = excluded.business_date,
                        store_id = excluded.store_id, terminal_id = excluded.terminal_id, acquirement_id = excluded.acquirement_id,
                        origin = excluded.origin, sales_file_id = excluded.sales_file_id, line = excluded.line, conflict = excluded.conflict
                     WHERE local_records.origin != 'ledger' OR excluded.origin = 'ledger'",
                    params![
                        rt.as_str(), id, r.merchant_trans_id, r.merchant_refund_id, r.amount, r.currency.as_str(),
                        r.status.as_str(), r.created_at.to_rfc3339(), r.created_at.timestamp(), r.business_date.to_string(),
                        r.store_id, r.terminal_id, r.acquirement_id, origin, file, r.line, r.conflict
                    ],
                )
                .unwrap();
            }
        };
        old_upsert(&old, ledger, None);
        for (name, body) in files {
            old.execute(
                "INSERT INTO sales_files (path, name, sha256, size, mapping, row_count, reject_count, conflict_count, archive_path, imported_at)
                 VALUES (?1, ?1, ?1, 1, 'sales-v1', 0, 0, 0, 'x', 'then')",
                [name],
            )
            .unwrap();
            old_upsert(&old, body, Some(old.last_insert_rowid()));
        }

        // The same data through the current code.
        let mut new = crate::store::open_in_memory().unwrap();
        let tx = new.transaction().unwrap();
        sales::upsert_records(&tx, &parse(ledger).records, Origin::Ledger, None).unwrap();
        tx.commit().unwrap();
        for (name, body) in files {
            let meta = SalesFileMeta {
                path: name.into(),
                name: name.into(),
                sha256: name.into(),
                size: 1,
                archive_path: "x".into(),
            };
            sales::import(&mut new, &meta, &parse(body), None).unwrap();
        }

        super::migrate(&mut old).unwrap();
        let n: i64 = old.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(n as usize, super::MIGRATIONS.len());
        let counts = |c: &Connection| -> Vec<(String, String, i64)> {
            let mut st = c.prepare("SELECT record_type, record_id, versions FROM local_records ORDER BY 1, 2").unwrap();
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
            rows.collect::<rusqlite::Result<_>>().unwrap()
        };
        let want: Vec<(String, String, i64)> = [
            ("PAYMENT", "P1", 2),
            ("PAYMENT", "P2", 1),
            ("PAYMENT", "P3", 2),
            ("PAYMENT", "P9", 2),
            ("REFUND", "R1", 1),
        ]
        .iter()
        .map(|(t, i, n)| (t.to_string(), i.to_string(), *n))
        .collect();
        assert_eq!(counts(&old), want);
        assert_eq!(counts(&new), want);
        let as_of = |c: &Connection| -> Vec<Option<String>> {
            let mut st = c.prepare("SELECT as_of FROM sales_files ORDER BY id").unwrap();
            let rows = st.query_map([], |r| r.get(0)).unwrap();
            rows.collect::<rusqlite::Result<_>>().unwrap()
        };
        assert_eq!(as_of(&old), vec![Some("2026-11-20".to_string()), Some("2026-11-21".to_string())]);
        assert_eq!(as_of(&new), as_of(&old));

        let p = Params::default();
        // The same versions; `seq` orders a key's versions (sql/0009 numbers history rows only for keys
        // with several, so the numbers themselves differ between the two databases).
        let versions = |c: &Connection, day| {
            let mut v = crate::store::window::load(c, day, &p).unwrap().local;
            v.sort_by(|a, b| (a.record_type.as_str(), a.key(), a.seq).cmp(&(b.record_type.as_str(), b.key(), b.seq)));
            v.into_iter().map(|v| crate::reconcile::LocalVersion { seq: (v.seq > 0) as i64, ..v }).collect::<Vec<_>>()
        };
        for day in ["2026-11-20", "2026-11-21", "2026-11-22"] {
            let day = day.parse().unwrap();
            assert_eq!(versions(&old, day), versions(&new, day), "{day}");
        }
        let w = crate::store::window::load(&old, "2026-11-21".parse().unwrap(), &p).unwrap();
        assert_eq!(w.local.len(), 8, "{:#?}", w.local);
        let multi: Vec<_> =
            w.local.iter().filter(|v| v.seq > 0).map(|v| (v.key(), v.status, v.amount, v.as_of)).collect();
        assert!(
            multi.contains(&("P1", crate::domain::LocalStatus::Success, 100, "2026-11-21".parse().unwrap())),
            "{multi:?}"
        );

        // explain shows each version as the JSON the import used to store, in both databases.
        let mut all = parse(ledger).records;
        for (_, body) in files {
            all.extend(parse(body).records);
        }
        let want: Vec<String> = all.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
        for c in [&old, &new] {
            let mut got = Vec::new();
            for id in ["P1", "P2", "P3", "P9"] {
                got.extend(crate::store::explain::trace(c, id).unwrap().history.into_iter().map(|h| h.row_json));
            }
            let mut w2 = want.clone();
            w2.sort();
            got.sort();
            assert_eq!(got, w2);
        }
    }

    /// A database written before 0011 (each row's extra columns as an object naming them) migrates in
    /// place: the names go to the file once, the rows keep their values by position, and everything
    /// that reads them sees the same: the `*_extra` views give the old texts byte for byte, the store's
    /// decoder the same objects, the window the same wallets, and `explain` the same trace.
    #[test]
    fn extra_objects_migrate_to_values_by_position_with_the_same_reads() {
        use rusqlite::{params, Connection};
        let mut c = schema_before("0011");
        for (id, name, kind, first, last) in
            [(1, "t.csv", "transactions", Some(1), Some(4)), (2, "s.csv", "settlement_summary", None, None)]
        {
            c.execute(
                "INSERT INTO files (id, source, source_path, name, format, kind, business_date, size, sha256, encoding,
                    header, row_count, reject_count, warning_count, version, archive_path, imported_at, first_row, last_row)
                 VALUES (?1, 't', ?2, ?2, 'intl', ?3, '2026-11-20', 1, ?2, 'utf-8', '[]', 4, 0, 0, 1, 'x', 'then', ?4, ?5)",
                params![id, name, kind, first, last],
            )
            .unwrap();
        }
        let extras = [
            Some(r#"{"merchantId":"2188","userSite":"ALIPAY_HK"}"#),
            None,
            Some(r#"{"merchantId":"2188","orderTitle":"a \"quoted\", 茶 title"}"#),
            Some(r#"{"userSite":"ALIPAY_CN"}"#),
        ];
        for (i, x) in extras.iter().enumerate() {
            let line = i as i64 + 2;
            c.execute(
                "INSERT INTO alipay_rows (file_id, line, kind, business_date, trans_type, type_raw, merchant_trans_id,
                    alipay_id, amount, currency, amount_raw, extra)
                 VALUES (1, ?1, 'transactions', '2026-11-20', 'PAYMENT', 'PAYMENT', ?2, ?3, 100, 'HKD', '1.00', ?4)",
                params![line, format!("P{line}"), format!("A{line}"), x],
            )
            .unwrap();
        }
        c.execute(
            "INSERT INTO summary_rows (file_id, line, business_date, summary_type, extra)
             VALUES (2, 2, '2026-11-20', 'TOTAL', '{\"merchantId\":\"2188\"}')",
            [],
        )
        .unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let traces = |c: &Connection| {
            (2..=5)
                .map(|l| serde_json::to_string(&crate::store::explain::trace(c, &format!("P{l}")).unwrap()).unwrap())
                .collect::<Vec<_>>()
        };
        let before = traces(&c);

        super::migrate(&mut c).unwrap();
        let names: Vec<Option<String>> = c
            .prepare("SELECT extra_columns FROM files ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            names,
            [Some(r#"["merchantId","orderTitle","userSite"]"#.to_string()), Some(r#"["merchantId"]"#.to_string())]
        );
        let rows: Vec<(Option<String>, Option<String>)> = c
            .prepare(
                "SELECT r.extra, v.extra FROM alipay_rows r LEFT JOIN alipay_rows_extra v ON v.id = r.id ORDER BY r.id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let cols: Vec<String> = serde_json::from_str(names[0].as_deref().unwrap()).unwrap();
        for ((stored, view), old) in rows.iter().zip(extras) {
            assert_eq!(view.as_deref(), old, "the view gives the old text");
            assert!(stored.as_deref().is_none_or(|s| s.starts_with('[')), "{stored:?}");
            let decoded = stored.as_deref().map(|s| crate::store::files::ExtraColumns::decode(&cols, s).unwrap());
            let old: Option<std::collections::BTreeMap<String, String>> = old.map(|o| serde_json::from_str(o).unwrap());
            assert_eq!(decoded, old);
        }
        let summary: (String, String) = c
            .query_row(
                "SELECT s.extra, v.extra FROM summary_rows s JOIN summary_rows_extra v ON v.id = s.id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(summary, (r#"["2188"]"#.to_string(), r#"{"merchantId":"2188"}"#.to_string()));
        let w = crate::store::window::load(&c, day, &crate::reconcile::Params::default()).unwrap();
        let wallets: Vec<Option<String>> = w.rows.iter().map(|r| r.wallet.map(|t| t.as_str().to_string())).collect();
        assert_eq!(wallets, [Some("ALIPAY_HK".to_string()), None, None, Some("ALIPAY_CN".to_string())]);
        assert_eq!(traces(&c), before);
    }
}
