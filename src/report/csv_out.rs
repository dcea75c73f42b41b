//! The three CSVs of the report folder: `discrepancies.csv` exactly as contracts.md §3 defines it, and
//! `pending.csv` / `open_items.csv` with the same columns plus theirs at the end (see the module docs
//! of `report`). One CSV dialect for all: UTF-8 without BOM, LF, quotes only where needed.

use super::resolutions::{item_id, open_state, ITEM_ID, STATE};
use super::text::{amounts, cur_text, neutralise};
use super::Prepared;
use crate::domain::{Finding, PendingState};
use anyhow::Result;
use chrono::NaiveDate;

/// The contract's columns, in order. Outside tools read them by position and name: never reorder.
pub const COLUMNS: [&str; 14] = [
    "business_date",
    "item_date",
    "category",
    "merchant_trans_id",
    "merchant_refund_id",
    "acquirement_id",
    "currency",
    "local_amount",
    "alipay_currency",
    "alipay_amount",
    "difference",
    "local_type",
    "alipay_type",
    "detail",
];

pub const PENDING_EXTRA: [&str; 3] = ["state", "first_reported", "reason"];
pub const OPEN_EXTRA: [&str; 2] = ["first_reported", "age_days"];

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new())
}

/// The 14 contract fields of a finding on the report of `report_date`.
fn finding_fields(report_date: NaiveDate, f: &Finding) -> Result<Vec<String>> {
    let a = amounts(f)?;
    Ok(vec![
        report_date.to_string(),
        f.item_date.to_string(),
        f.category.as_str().to_string(),
        f.merchant_trans_id.clone(),
        f.merchant_refund_id.clone(),
        f.acquirement_id.clone(),
        cur_text(f.currency),
        a.local,
        cur_text(f.alipay_currency),
        a.alipay,
        a.difference,
        f.local_type.clone(),
        f.alipay_type.clone(),
        neutralise(&f.detail),
    ])
}

fn finish(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>> {
    w.into_inner().map_err(|e| anyhow::anyhow!("cannot finish CSV in memory: {}", e.error()))
}

pub fn state_text(s: PendingState) -> &'static str {
    match s {
        PendingState::Pending => "PENDING",
        PendingState::Resolved => "RESOLVED",
    }
}

pub fn discrepancies(p: &Prepared) -> Result<Vec<u8>> {
    let mut w = writer();
    w.write_record(COLUMNS.iter().chain([&ITEM_ID]))?;
    for f in &p.findings {
        let mut rec = finding_fields(p.input.business_date, f)?;
        rec.push(item_id(f));
        w.write_record(rec)?;
    }
    finish(w)
}

pub fn pending(p: &Prepared) -> Result<Vec<u8>> {
    let mut w = writer();
    w.write_record(COLUMNS.iter().chain(PENDING_EXTRA.iter()).chain([&ITEM_ID]))?;
    for item in &p.pending {
        let mut rec = finding_fields(p.input.business_date, &item.finding)?;
        rec.push(state_text(item.state).to_string());
        rec.push(item.first_reported.map(|d| d.to_string()).unwrap_or_default());
        rec.push(neutralise(&item.reason));
        rec.push(item_id(&item.finding));
        w.write_record(rec)?;
    }
    finish(w)
}

pub fn open_items(p: &Prepared) -> Result<Vec<u8>> {
    let mut w = writer();
    w.write_record(COLUMNS.iter().chain(OPEN_EXTRA.iter()).chain([&ITEM_ID, &STATE]))?;
    for item in &p.open {
        let mut rec = finding_fields(p.input.business_date, &item.finding)?;
        rec.push(item.first_reported.to_string());
        rec.push(item.age_days.to_string());
        rec.push(item_id(&item.finding));
        rec.push(open_state(p, item).to_string());
        w.write_record(rec)?;
    }
    finish(w)
}
