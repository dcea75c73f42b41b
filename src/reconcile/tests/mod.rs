//! Engine tests through the real store: typed Alipay rows and sales-v1 CSV lines are imported into an
//! in-memory database with `store::files::import` / `store::sales::import`, loaded back with
//! `store::window::load`, and reconciled.

mod days;
mod ids;
mod items;
mod random;
mod scale;
mod settlement;

use super::{run, Outcome, Params};
use crate::config::SalesConfig;
use crate::domain::{Category, Currency, FileFormat, FileKind, PendingState, TransType};
use crate::formats::{DetailRow, ParsedFile, Rows, SummaryRow, TransTypeOrDefault, Warning, WarningCode};
use crate::store::{self, files::FileMeta, sales::SalesFileMeta};
use chrono::{DateTime, FixedOffset, NaiveDate};
use rusqlite::Connection;

pub(crate) fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub(crate) fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

pub(crate) fn hkd() -> Currency {
    Currency::parse("HKD").unwrap()
}

fn row(tt: TransType, time: &str, amount: i64) -> DetailRow {
    DetailRow {
        trans_type: TransTypeOrDefault(tt),
        type_raw: tt.as_str().into(),
        amount: Some(amount),
        currency: Some(hkd()),
        amount_raw: amount.to_string(),
        trans_time: Some(t(time)),
        ..Default::default()
    }
}

/// An Alipay PAYMENT row.
pub(crate) fn pay(mtid: &str, aid: &str, amount: i64, time: &str) -> DetailRow {
    DetailRow {
        merchant_trans_id: Some(mtid.into()),
        alipay_id: Some(aid.into()),
        ..row(TransType::Payment, time, amount)
    }
}

/// An Alipay CANCEL (or REVERSAL) row of payment `mtid`/`aid`.
pub(crate) fn cancel(mtid: &str, aid: &str, amount: i64, time: &str) -> DetailRow {
    DetailRow {
        merchant_trans_id: Some(mtid.into()),
        alipay_id: Some(format!("C{aid}")),
        original_alipay_id: Some(aid.into()),
        ..row(TransType::Cancel, time, amount)
    }
}

/// An intl REFUND row: refund id, and the payment's Alipay id only.
pub(crate) fn refund(mrid: &str, orig_aid: &str, amount: i64, time: &str) -> DetailRow {
    DetailRow {
        merchant_refund_id: Some(mrid.into()),
        alipay_id: Some(format!("R{mrid}")),
        original_alipay_id: Some(orig_aid.into()),
        ..row(TransType::Refund, time, amount)
    }
}

/// A settlement-detail row for a transaction row: net = amount − fee, fee in HKD.
pub(crate) fn settle(r: &DetailRow, fee: i64) -> DetailRow {
    let sign = if r.trans_type.0 == TransType::Refund { -1 } else { 1 };
    DetailRow {
        settle_amount: r.amount.map(|a| sign * a - fee),
        settle_currency: Some(hkd()),
        fee: Some(fee),
        fee_currency: Some(hkd()),
        ..r.clone()
    }
}

pub(crate) struct World {
    pub conn: Connection,
    pub params: Params,
    n: u32,
}

impl World {
    pub fn new() -> World {
        World::with(Params::default())
    }

    pub fn with(params: Params) -> World {
        World { conn: store::open_in_memory().unwrap(), params, n: 0 }
    }

    /// A world whose database is a SQLite file at `path`.
    pub fn on_disk(path: &std::path::Path, params: Params) -> World {
        World { conn: store::open(path).unwrap(), params, n: 0 }
    }

    /// Imports a file of `kind` dated `date` holding `rows`; `edit` may mark it truncated etc.
    pub fn file(&mut self, kind: FileKind, date: &str, rows: Rows, edit: impl FnOnce(&mut ParsedFile)) -> i64 {
        self.n += 1;
        let mut rows = rows;
        match &mut rows {
            Rows::Detail(v) => v.iter_mut().enumerate().for_each(|(i, r)| r.line = i as u32 + 2),
            Rows::Summary(v) => v.iter_mut().enumerate().for_each(|(i, r)| r.line = i as u32 + 2),
        }
        let mut parsed = ParsedFile {
            encoding: "utf-8",
            header: vec![],
            declared_count: None,
            has_end_marker: None,
            rows,
            rejects: vec![],
            warnings: vec![],
        };
        edit(&mut parsed);
        let stem = match kind {
            FileKind::Transactions => "TRANSACTION_DETAIL",
            FileKind::SettlementDetail => "SETTLEMENT_DETAIL",
            FileKind::SettlementSummary => "SETTLEMENT_SUMMARY",
        };
        let name = format!("ALIPAY_{stem}_HKD_{}.csv", date.replace('-', ""));
        let meta = FileMeta {
            source: "test".into(),
            source_path: name.clone(),
            name,
            format: FileFormat::Intl,
            kind,
            business_date: d(date),
            currency: Some("HKD".into()),
            size: 1,
            sha256: format!("{:064}", self.n),
            archive_path: "x".into(),
            remote_mtime: None,
        };
        store::files::import(&mut self.conn, &meta, &parsed, None).unwrap().file_id()
    }

    pub fn txns(&mut self, date: &str, rows: Vec<DetailRow>) -> i64 {
        self.file(FileKind::Transactions, date, Rows::Detail(rows), |_| {})
    }

    pub fn settlement(&mut self, date: &str, rows: Vec<DetailRow>) -> i64 {
        self.file(FileKind::SettlementDetail, date, Rows::Detail(rows), |_| {})
    }

    pub fn summary(&mut self, date: &str, rows: Vec<SummaryRow>) -> i64 {
        self.file(FileKind::SettlementSummary, date, Rows::Summary(rows), |_| {})
    }

    /// A transaction file without its `<END>` line (truncated), as the parser would report it.
    pub fn truncated_txns(&mut self, date: &str, rows: Vec<DetailRow>) -> i64 {
        self.file(FileKind::Transactions, date, Rows::Detail(rows), |p| {
            p.has_end_marker = Some(false);
            p.warnings.push(Warning {
                line: None,
                code: WarningCode::MissingEnd,
                message: "no <END> line: the file is truncated or still uploading".into(),
            });
        })
    }

    /// Imports a sales-v1 file made of these data lines.
    pub fn sales(&mut self, lines: &[&str]) {
        self.n += 1;
        let text = format!(
            "record_type,merchant_trans_id,merchant_refund_id,amount,currency,status,created_at,store_id,terminal_id,acquirement_id\n{}\n",
            lines.join("\n")
        );
        let name = format!("sales-{}.csv", self.n);
        let parsed = crate::sales::parse(text.as_bytes(), &name, &self.params.zone, &SalesConfig::default()).unwrap();
        let meta = SalesFileMeta {
            path: name.clone(),
            name,
            sha256: crate::archive::sha256_hex(text.as_bytes()),
            size: text.len() as u64,
            archive_path: "x".into(),
        };
        store::sales::import(&mut self.conn, &meta, &parsed, None).unwrap();
    }

    /// Reconciles `date`, checking that replaying only the keys that matter gives the same result
    /// as replaying every earlier day in full.
    ///
    /// It also checks the incremental step (`store::state`): from the day before's state (its
    /// verdict keys and matched count, from the whole window), the active keys' window gives the same
    /// outcome and the same state.
    pub fn run(&self, date: &str) -> Outcome {
        let input = store::window::load(&self.conn, d(date), &self.params).unwrap();
        let (out, keys) = super::run_keeping(&input, &self.params, false).unwrap();
        let reference = super::run_replaying(&input, &self.params, super::Cuts::Every, false).unwrap().0;
        drop(input);
        let prev = store::window::load(&self.conn, d(date) - chrono::Duration::days(1), &self.params).unwrap();
        let (prev, prev_keys) = super::run_keeping(&prev, &self.params, false).unwrap();
        let active = store::window::load_active(&self.conn, d(date), &self.params, &prev_keys.ids).unwrap();
        let (mut inc, inc_keys) = super::run_keeping(&active, &self.params, true).unwrap();
        // What a day recomputed before a run's date keeps (`run_state`) is what the whole run keeps.
        assert_eq!(super::run_state(&active, &self.params).unwrap(), inc_keys, "run_state of {date} differs");
        let first_day = d(date) - chrono::Duration::days(self.params.open_item_days as i64);
        let carried = super::carry_matched(&prev_keys.matched_by_day, &inc_keys, first_day);
        inc.summary.matched = carried.values().sum();
        assert_eq!(prev.summary.matched, prev_keys.matched_by_day.values().sum::<i64>());
        assert_eq!(inc_keys.ids, keys.ids, "the incremental state of {date} differs from the whole window's");
        check_same(date, "incremental", &inc, &out);
        if out != reference {
            let compact = |o: &Outcome| {
                let mut v: Vec<String> = o
                    .findings
                    .iter()
                    .map(|f| format!("F {:?} {} {}", f.category, f.merchant_trans_id, f.merchant_refund_id))
                    .collect();
                v.extend(o.open_items.iter().map(|i| {
                    format!(
                        "O {:?} {} {} {}",
                        i.finding.category, i.finding.merchant_trans_id, i.finding.merchant_refund_id, i.first_reported
                    )
                }));
                v.extend(o.pending.iter().map(|i| {
                    format!(
                        "P {:?} {:?} {} {}",
                        i.state, i.finding.category, i.finding.merchant_trans_id, i.finding.merchant_refund_id
                    )
                }));
                v
            };
            let (a, b) = (compact(&out), compact(&reference));
            let only_a: Vec<_> = a.iter().filter(|x| !b.contains(x)).collect();
            let only_b: Vec<_> = b.iter().filter(|x| !a.contains(x)).collect();
            panic!(
                "partial replay differs from a full replay on {date}: partial only {only_a:?}, full only {only_b:?}"
            );
        }
        out
    }
}

/// The state-only engine (`run_state`, for the days an incremental run recomputes before its date)
/// keeps exactly what a whole run keeps (`run_keeping(.., true)`): the verdict keys, the matched
/// counts at T and at T−1.
fn check_state_only(date: &str, input: &super::Input, params: &Params) {
    let whole = super::run_keeping(input, params, true).unwrap().1;
    let state_only = super::run_state(input, params).unwrap();
    assert_eq!(state_only, whole, "run_state keeps another state of {date} than run_keeping");
}

/// Panics with the differing rows when `a` (computed `how`) is not `reference`.
pub(crate) fn check_same(date: &str, how: &str, a: &Outcome, reference: &Outcome) {
    if a == reference {
        return;
    }
    let rows = |o: &Outcome| {
        let mut v: Vec<String> = o.findings.iter().map(|f| format!("F {f:?}")).collect();
        v.extend(o.open_items.iter().map(|i| format!("O {i:?}")));
        v.extend(o.pending.iter().map(|i| format!("P {i:?}")));
        v.push(format!("S {:?}", o.summary));
        v
    };
    let (x, y) = (rows(a), rows(reference));
    let only_a: Vec<_> = x.iter().filter(|r| !y.contains(r)).collect();
    let only_b: Vec<_> = y.iter().filter(|r| !x.contains(r)).collect();
    panic!(
        "{how} differs from the whole window on {date}:\n  {how} only: {only_a:#?}\n  whole window only: {only_b:#?}"
    );
}

/// `(category, merchant_trans_id, merchant_refund_id)` of each finding, in report order.
pub(crate) fn cats(o: &Outcome) -> Vec<(Category, String, String)> {
    o.findings.iter().map(|f| (f.category, f.merchant_trans_id.clone(), f.merchant_refund_id.clone())).collect()
}

pub(crate) fn pending(o: &Outcome, state: PendingState) -> Vec<(Category, String)> {
    o.pending
        .iter()
        .filter(|p| p.state == state)
        .map(|p| (p.finding.category, format!("{}{}", p.finding.merchant_trans_id, p.finding.merchant_refund_id)))
        .collect()
}

pub(crate) fn c(cat: Category, mtid: &str, mrid: &str) -> (Category, String, String) {
    (cat, mtid.into(), mrid.into())
}
