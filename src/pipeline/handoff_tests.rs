//! A run hands its window over (the rows of the files it just imported, the local records read while
//! they imported); the reconciliation must get exactly the window it would read back from the
//! database — every file format, every column, offsets of times included (compared through `Debug`:
//! `DateTime`'s `==` ignores the offset).

use super::*;
use crate::reconcile::{Input, Params};
use crate::store::handoff::Handoff;
use crate::store::window;

pub(super) fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

/// A workspace on a database file (the local records are read on a second connection) with the
/// bundled fixtures' sales records: intl, classic and antom files for 2026-11-24 and -25 (also the
/// day runner's tests).
pub(super) fn workspace() -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut ws = Workspace::open(Config::demo(&dir.path().join("work"), &fixtures.join("sftp"))).unwrap();
    for s in ["sales_2026-11-24.csv", "sales_2026-11-25.csv"] {
        import_sales(&mut ws, &fixtures.join("sales").join(s), None).unwrap();
    }
    (dir, ws)
}

fn import(ws: &mut Workspace, day: NaiveDate) {
    let mut source = open_source(&ws.cfg).unwrap();
    let after_deadline = deadline(&ws.cfg, day) + chrono::Duration::hours(1);
    import_day(ws, source.as_mut(), day, after_deadline, None).unwrap();
}

fn assert_same(held: &Input, stored: &Input) {
    assert!(!stored.rows.is_empty() && !stored.local.is_empty());
    let dbg = |i: &Input| {
        (
            format!("{:?}", i.rows),
            format!("{:?}", i.local),
            format!("{:?}", i.files),
            format!("{:?} {:?}", i.summaries, i.issues),
            (i.date, i.from),
        )
    };
    let (h, s) = (dbg(held), dbg(stored));
    assert_eq!(h.0, s.0, "rows");
    assert_eq!(h.1, s.1, "local records");
    assert_eq!((h.2, h.3, h.4), (s.2, s.3, s.4));
}

#[test]
fn a_run_hands_over_the_window_it_would_read_back() {
    let (_dir, mut ws) = workspace();
    let params = Params::from_config(&ws.cfg.business);
    // 24th: every file of the window is held; 25th: the 24th's files are read, the 25th's held.
    for day in [date(24), date(25)] {
        ws.handoff = Some(Handoff::start(&ws.conn, day, &params));
        import(&mut ws, day);
        let h = ws.handoff.take().unwrap();
        assert!(h.files() >= 3, "the day's detail files of every format are held: {}", h.files());
        let held = window::load_with(&ws.conn, day, &params, h).unwrap();
        let stored = window::load(&ws.conn, day, &params).unwrap();
        assert_same(&held, &stored);
        assert!(stored.rows.iter().any(|r| r.wallet.is_some()), "the fixtures cover the wallet column");
    }
}

#[test]
fn held_rows_of_files_outside_the_window_are_left_out() {
    let (_dir, mut ws) = workspace();
    let params = Params::from_config(&ws.cfg.business);
    // One handoff holds the 25th's files, then the 24th's (higher ids): the 24th's window does not
    // read the 25th's, which come first, and its local records were prefetched for another window.
    let mut h = Handoff::start(&ws.conn, date(25), &params);
    for day in [date(25), date(24)] {
        ws.handoff = Some(h);
        import(&mut ws, day);
        h = ws.handoff.take().unwrap();
    }
    let held = window::load_with(&ws.conn, date(24), &params, h).unwrap();
    let stored = window::load(&ws.conn, date(24), &params).unwrap();
    assert_same(&held, &stored);
    assert!(held.rows.iter().all(|r| r.date == date(24)));
}
