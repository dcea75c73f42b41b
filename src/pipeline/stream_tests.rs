//! The streamed import's all-or-nothing promise: a parse or SQL error in the middle of a file leaves
//! no rows and no `files` row, and an incomplete antom file before the deadline leaves nothing either.

use super::*;
use crate::demo::gen::{generate, GenSpec};
use crate::domain::{Currency, FileFormat};
use crate::source::SafeName;

struct Day {
    _dir: tempfile::TempDir,
    ws: Workspace,
    file: RemoteFile,
    bytes: Vec<u8>,
}

/// A workspace and one generated intl transactions file of `payments` payments (several batches).
fn day(payments: usize) -> Day {
    let dir = tempfile::tempdir().unwrap();
    let date = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let spec = GenSpec {
        date,
        payments,
        format: FileFormat::Intl,
        currency: Currency::parse("HKD").unwrap(),
        merchant_id: "2188000000000001".into(),
        seed: 3,
        zone: Default::default(),
        faults: false,
    };
    let rep = generate(&spec, &dir.path().join("gen")).unwrap();
    let path = rep.files.iter().find(|p| p.to_string_lossy().contains("trans")).unwrap_or(&rep.files[0]).clone();
    let bytes = std::fs::read(&path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let ws = Workspace::open(Config::demo(&dir.path().join("work"), &dir.path().join("gen/sftp"))).unwrap();
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
    Day { _dir: dir, ws, file, bytes }
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap()
}

#[test]
fn sql_error_in_the_middle_leaves_nothing_and_a_retry_imports_everything() {
    let mut d = day(45_000);
    // Fails on a row of the second batch, after the first batch was inserted. (A schema trigger: an
    // import switches `temp_store`, which drops TEMP objects.)
    d.ws.conn
        .execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON alipay_rows WHEN NEW.line = 30000
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
        )
        .unwrap();
    // A run keeping the rows for its reconciliation keeps none of a file that was not stored.
    d.ws.handoff = Some(store::handoff::Handoff::default());
    let err =
        import_bytes(&mut d.ws, Fetched { file: &d.file, source: "test", bytes: &d.bytes, staged: None }, true, None)
            .unwrap_err();
    let held = d.ws.handoff.as_ref().unwrap();
    assert_eq!((held.mark(), held.files()), (0, 0), "rows of a rolled-back file are not held");
    let msg = format!("{err:#}");
    assert!(msg.contains(d.file.name.as_str()) && msg.contains("disk on fire"), "{msg}");
    assert_eq!((count(&d.ws.conn, "alipay_rows"), count(&d.ws.conn, "files")), (0, 0));
    assert_eq!(count(&d.ws.conn, "file_issues"), 0);

    d.ws.conn.execute_batch("DROP TRIGGER boom").unwrap();
    let out =
        import_bytes(&mut d.ws, Fetched { file: &d.file, source: "test", bytes: &d.bytes, staged: None }, true, None)
            .unwrap();
    let FileOutcome::Imported { rows, .. } = out else { panic!("{out:?}") };
    assert!(rows > 40_000, "{rows}");
    assert_eq!(count(&d.ws.conn, "alipay_rows"), rows as i64);
    let held = d.ws.handoff.as_ref().unwrap();
    assert_eq!((held.mark(), held.files()), (rows, 1), "the stored file's rows are held");
    let stored: i64 = d.ws.conn.query_row("SELECT row_count FROM files", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, rows as i64);
    // The batches' rows are one id range, recorded for the window load.
    let (first, last, lo, hi): (i64, i64, i64, i64) = d
        .ws
        .conn
        .query_row("SELECT first_row, last_row, (SELECT MIN(id) FROM alipay_rows), (SELECT MAX(id) FROM alipay_rows) FROM files", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap();
    assert_eq!((first, last), (lo, hi));
    assert_eq!(last - first + 1, rows as i64);
}

#[test]
fn parse_error_after_some_batches_leaves_nothing() {
    let mut d = day(2_000);
    let ctx = ParseContext {
        file_name: d.file.name.to_string(),
        format: FileFormat::Intl,
        kind: FileKind::Transactions,
        zone: Default::default(),
        name_currency: Currency::parse("HKD").ok(),
    };
    let rows = formats::parse(&d.bytes, &ctx).unwrap().rows;
    assert!(rows.len() > 1_000);
    let meta = FileMeta {
        source: "test".into(),
        source_path: "p".into(),
        name: d.file.name.to_string(),
        format: FileFormat::Intl,
        kind: FileKind::Transactions,
        business_date: d.file.date,
        currency: None,
        size: 1,
        sha256: "abc".into(),
        archive_path: String::new(),
        remote_mtime: None,
    };
    let res = stream_into(&mut d.ws.conn, &meta, None, None, |emit| {
        emit(rows.clone()).map_err(BatchError::Emit)?;
        Err(BatchError::Parse(formats::ParseError { file: "f".into(), message: "line 9: bad bytes".into() }))
    });
    let msg = format!("{:#}", res.err().expect("a parse error after stored rows fails the import"));
    assert!(msg.contains("line 9: bad bytes") && msg.contains("nothing was imported"), "{msg}");
    assert_eq!((count(&d.ws.conn, "alipay_rows"), count(&d.ws.conn, "files")), (0, 0));

    // A parse error before any row is the "unreadable file" case: recorded with one reject.
    match stream_into(&mut d.ws.conn, &meta, None, None, |_| {
        Err(BatchError::Parse(formats::ParseError { file: "f".into(), message: "no header".into() }))
    })
    .unwrap()
    {
        StreamOutcome::Open { imp, parsed, rows: 0 } => {
            assert!(parsed.rejects[0].reason.contains("no header"));
            imp.finish(&parsed, 0, "sha256/ab/abc").unwrap();
        }
        _ => panic!("expected an open import of no rows"),
    }
    assert_eq!((count(&d.ws.conn, "files"), count(&d.ws.conn, "file_issues")), (1, 1));
}

#[test]
fn incomplete_antom_file_before_the_deadline_is_rolled_back_and_not_archived() {
    let mut d = day(10);
    let text = "transactionType,transactionRequestId,transactionId,transactionAmountValue,transactionCurrency\n\
                PAYMENT,m1,a1,10.00,JPY\nPAYMENT,m2,a2,11.00,JPY\n";
    d.file.format = FileFormat::Antom;
    d.ws.handoff = Some(store::handoff::Handoff::default());
    let out = import_bytes(
        &mut d.ws,
        Fetched { file: &d.file, source: "test", bytes: text.as_bytes(), staged: None },
        false,
        None,
    )
    .unwrap();
    assert!(matches!(out, FileOutcome::Deferred { .. }), "{out:?}");
    assert_eq!(d.ws.handoff.as_ref().unwrap().mark(), 0, "a deferred file's rows are not held");
    assert_eq!((count(&d.ws.conn, "alipay_rows"), count(&d.ws.conn, "files")), (0, 0));
    assert!(!d.ws.archive.root().join("sha256").exists(), "a deferred file is not archived");
    // After the deadline the same bytes import, flagged truncated.
    let out = import_bytes(
        &mut d.ws,
        Fetched { file: &d.file, source: "test", bytes: text.as_bytes(), staged: None },
        true,
        None,
    )
    .unwrap();
    assert!(matches!(out, FileOutcome::Imported { rows: 2, .. }), "{out:?}");
    let truncated: bool = d.ws.conn.query_row("SELECT truncated FROM files", [], |r| r.get(0)).unwrap();
    assert!(truncated);
}
