//! The hand-written CSV splitter (`formats::text`) against the `csv` crate (issue 19, item 4: "the
//! `csv` crate in the parsers unless a benchmark shows the hand splitter earns its place"). Rerun with:
//!   cargo bench --bench csv_split -- [PAYMENTS] [PASSES]      (default: 1000000 7)
//! It generates one seeded intl transaction day with `gen` (the file `benches/import.rs` imports),
//! decodes it once, and then times `PASSES` times each (the three split ways alternating, then the
//! whole parses):
//!   hand — `text::records` + `text::split_into` into a reused buffer, as `Table::scan` reads a file;
//!   csv  — `csv::Reader` (no headers, flexible widths) reading `StringRecord`s from the same decoded
//!          text, each field trimmed as it is read, as a parser would have to (the decoding of GBK
//!          and BOMs stays ours either way);
//!   csv-trim — the same with the crate trimming the fields (`Trim::All`);
//!   parse — the whole `formats::parse` of the file, for scale (what share of a parse the split is).
//! Before timing, one untimed pass checks that both ways give the same records, field for field.
//! It prints the median, min and max of each, each split's share of a whole parse, and the ratios of
//! the medians (csv / hand, csv-trim / hand).

use alipay_recon::demo::gen::{generate, GenSpec};
use alipay_recon::domain::{Currency, FileFormat, FileKind};
use alipay_recon::formats::text::{decode_cow, records, split_into, Delim};
use alipay_recon::formats::{self, ParseContext};
use std::borrow::Cow;
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let payments = args.first().copied().unwrap_or(1_000_000);
    let passes = args.get(1).copied().unwrap_or(7).max(5);

    let dir = tempfile::tempdir().unwrap();
    // The day `benches/import.rs` imports: seed 7, HKD, with the deliberate faults.
    let (date, format, zone) =
        (chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(), FileFormat::Intl, Default::default());
    let (currency, merchant_id) = (Currency::parse("HKD").unwrap(), "2188000000000001".to_string());
    let spec = GenSpec { date, payments, format, currency, merchant_id, seed: 7, zone, faults: true };
    let rep = generate(&spec, &dir.path().join("gen")).unwrap();
    let path = rep.files[0].clone();
    let bytes = std::fs::read(&path).unwrap();
    let (text, _) = decode_cow(&bytes);
    let file_name = path.file_name().unwrap().to_string_lossy().to_string();
    let kind = FileKind::Transactions;
    let ctx = ParseContext { file_name, format, kind, zone: Default::default(), name_currency: Some(currency) };

    let tally = same_records(&text);
    assert_eq!(tally, csv_way(&text, false), "both ways must read the same records");
    assert_eq!(tally, csv_way(&text, true), "both ways must read the same records");
    println!(
        "file: {} records ({} payments), {:.1} MB, {} passes each",
        tally.0,
        payments,
        bytes.len() as f64 / 1e6,
        passes
    );

    // The split ways alternating, so a change in the machine's load falls on each alike.
    let mut times: [Vec<f64>; 4] = Default::default();
    for _ in 0..passes {
        let t = Instant::now();
        std::hint::black_box(hand_way(&text));
        times[0].push(t.elapsed().as_secs_f64());
        for (i, crate_trims) in [(1, false), (2, true)] {
            let t = Instant::now();
            std::hint::black_box(csv_way(&text, crate_trims));
            times[i].push(t.elapsed().as_secs_f64());
        }
    }
    // The whole parses after the splits: freeing a parse's million rows left the allocator in a state
    // that made the next split pass up to 4x slower (hand's median 679 ms against its min 220 ms
    // when they alternated).
    for _ in 0..passes {
        let t = Instant::now();
        std::hint::black_box(formats::parse(&bytes, &ctx).unwrap().rows.len());
        times[3].push(t.elapsed().as_secs_f64());
    }
    let names = ["hand", "csv", "csv-trim", "parse"];
    let medians: Vec<f64> = times.iter_mut().map(|v| median(v)).collect();
    for ((name, m), all) in names.iter().zip(&medians).zip(&times) {
        println!(
            "{name:>8}: median {:>7.1} ms  (min {:.1}, max {:.1}){}",
            m * 1e3,
            all[0] * 1e3,
            all[all.len() - 1] * 1e3,
            if *name == "parse" { String::new() } else { format!("  {:.0}% of a whole parse", 100.0 * m / medians[3]) }
        );
    }
    println!("ratio csv/hand: {:.2}   csv-trim/hand: {:.2}", medians[1] / medians[0], medians[2] / medians[0]);
}

/// (records, fields, bytes of field text): what the ways must agree on.
type Tally = (usize, usize, usize);

/// The parsers' way: the file's records (quoted line breaks joined), each split into trimmed fields
/// borrowed from the text (owned only when quoted).
fn hand_way(text: &str) -> Tally {
    let mut buf: Vec<Cow<'_, str>> = Vec::with_capacity(32);
    let mut t = (0, 0, 0);
    for (_, l) in records(text, Delim::Comma) {
        split_into(l, Delim::Comma, &mut buf);
        t.0 += 1;
        t.1 += buf.len();
        t.2 += buf.iter().map(|f| f.len()).sum::<usize>();
    }
    t
}

/// The `csv` crate with the settings a parser would need: rows of any width (a wrong width is a
/// reject, not an error), no header handling (the layouts find theirs); with `crate_trims`, the
/// crate trims every field (`Trim::All`), else the fields are trimmed as they are read.
fn csv_reader(text: &str, crate_trims: bool) -> csv::Reader<&[u8]> {
    let trim = if crate_trims { csv::Trim::All } else { csv::Trim::None };
    csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(trim).from_reader(text.as_bytes())
}

/// The `csv` crate's way: `StringRecord`s (UTF-8 checked, as the parsers need `&str`), every field
/// trimmed.
fn csv_way(text: &str, crate_trims: bool) -> Tally {
    let mut rd = csv_reader(text, crate_trims);
    let mut rec = csv::StringRecord::new();
    let mut t = (0, 0, 0);
    while rd.read_record(&mut rec).unwrap() {
        t.0 += 1;
        t.1 += rec.len();
        t.2 += rec.iter().map(|f| f.trim().len()).sum::<usize>();
    }
    t
}

/// The untimed check: every record the same, field for field (the tally of the hand way returned).
fn same_records(text: &str) -> Tally {
    let mut rd = csv_reader(text, false);
    let mut rec = csv::StringRecord::new();
    let mut buf: Vec<Cow<'_, str>> = Vec::new();
    for (no, l) in records(text, Delim::Comma) {
        split_into(l, Delim::Comma, &mut buf);
        assert!(rd.read_record(&mut rec).unwrap(), "csv ended before line {no}");
        let theirs: Vec<&str> = rec.iter().map(str::trim).collect();
        let ours: Vec<&str> = buf.iter().map(|f| f.as_ref()).collect();
        assert_eq!(ours, theirs, "line {no} differs");
    }
    assert!(!rd.read_record(&mut rec).unwrap(), "csv has records after the last line");
    hand_way(text)
}

/// Sorts the samples and returns their median.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
