//! Unit tests of the pure parts: entry classification (hostile names, stability) and backoff.

use super::*;
use crate::domain::FileKind;

fn dir(pattern: &str) -> ExpectedDir {
    let mut l = FormatLayout::default_for(FileFormat::Classic);
    l.transactions = pattern.to_string();
    let d = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    DayLayout::new("2088", &[(FileFormat::Classic, l)]).unwrap().dirs_for(d).remove(0)
}

fn entry(name: &[u8], mtime: i64) -> RawEntry {
    RawEntry { name: name.to_vec(), size: 42, mtime: Some(mtime), is_file: true }
}

const NOW: i64 = 1_800_000_000;

#[test]
fn hostile_names_are_refused_before_becoming_paths() {
    let permissive = dir(r"transaction");
    let date = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let stable = Duration::from_secs(120);
    for bad in [
        &b"../../etc/transaction"[..],
        b"..transaction",
        b".transaction",
        b"-transaction",
        b"a\\transaction",
        b"a\ntransaction",
        b"transaction:x",
        b"\xfftransaction",
    ] {
        let got = classify_entry(&permissive, &entry(bad, NOW - 3600), date, NOW, stable);
        assert!(matches!(got, EntryOutcome::Refused(..)), "{:?} gave {got:?}", String::from_utf8_lossy(bad));
    }
    // A separator is refused even when no pattern matches.
    let strict = dir(r"^\d+_transaction_(?P<date>\d{8})\.txt$");
    let got = classify_entry(&strict, &entry(b"../x", NOW - 3600), date, NOW, stable);
    assert!(matches!(got, EntryOutcome::Refused(..)), "{got:?}");
    assert_eq!(classify_entry(&strict, &entry(b"notes.txt", NOW - 3600), date, NOW, stable), EntryOutcome::Ignored);
}

#[test]
fn matching_stable_files_are_listed_with_their_metadata() {
    let strict = dir(r"^\d+_transaction_(?P<date>\d{8})\.txt$");
    let date = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let stable = Duration::from_secs(120);
    let got = classify_entry(&strict, &entry(b"2088_transaction_20261125.txt", NOW - 121), date, NOW, stable);
    let EntryOutcome::File(f) = got else { panic!("{got:?}") };
    assert_eq!(f.remote_path, "/download/2088_transaction_20261125.txt");
    assert_eq!((f.kind, f.size, f.mtime, f.date), (FileKind::Transactions, 42, Some(NOW - 121), date));
    // Another day's file in the same flat directory is not this day's.
    let other = classify_entry(&strict, &entry(b"2088_transaction_20261124.txt", NOW - 999), date, NOW, stable);
    assert_eq!(other, EntryOutcome::Ignored);
    // Modified 30 s ago: still being written.
    let fresh = classify_entry(&strict, &entry(b"2088_transaction_20261125.txt", NOW - 30), date, NOW, stable);
    assert!(matches!(fresh, EntryOutcome::Unstable(..)), "{fresh:?}");
    // A directory with a matching name is not a file: skipped, and the day is incomplete.
    let mut d = entry(b"2088_transaction_20261125.txt", NOW - 999);
    d.is_file = false;
    let got = classify_entry(&strict, &d, date, NOW, stable);
    assert!(
        matches!(&got, EntryOutcome::NotFile(n, why) if n == "2088_transaction_20261125.txt" && why.contains("not a regular file")),
        "{got:?}"
    );
}
