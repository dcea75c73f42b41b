//! `summary.json` (the day's counts and per-currency totals) and `manifest.json` (what the report was
//! made from). Money is written as decimal strings with the currency's exponent, never JSON numbers, and
//! keys come out in a fixed order chosen here (not serde_json's map order, which depends on features).

use super::Prepared;
use super::TrendPoint;
use crate::domain::{format_minor, parse_major, Category, Currency, CurrencyTotals, PendingState};
use anyhow::Context;
use anyhow::Result;
use chrono::NaiveDate;
use serde::ser::{SerializeMap, SerializeSeq};
use sha2::{Digest, Sha256};
use std::path::Path;

/// A JSON value whose object keys keep the order they were pushed in.
pub(crate) enum J {
    Str(String),
    Int(i64),
    Obj(Vec<(String, J)>),
    Arr(Vec<J>),
}

impl serde::Serialize for J {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Str(v) => s.serialize_str(v),
            J::Int(v) => s.serialize_i64(*v),
            J::Obj(kv) => {
                let mut m = s.serialize_map(Some(kv.len()))?;
                for (k, v) in kv {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            J::Arr(items) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    q.serialize_element(v)?;
                }
                q.end()
            }
        }
    }
}

fn s(v: impl Into<String>) -> J {
    J::Str(v.into())
}

fn obj(kv: Vec<(&str, J)>) -> J {
    J::Obj(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn to_bytes(j: &J) -> Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(j)?;
    out.push(b'\n');
    Ok(out)
}

/// Per-category counts of the rows written (all categories, zeros included), in report order.
pub(crate) fn category_counts(p: &Prepared) -> Vec<(Category, i64)> {
    Category::ALL.iter().map(|c| (*c, p.findings.iter().filter(|f| f.category == *c).count() as i64)).collect()
}

pub(crate) fn pending_counts(p: &Prepared) -> (i64, i64) {
    let pending = p.pending.iter().filter(|i| i.state == PendingState::Pending).count() as i64;
    (pending, p.pending.len() as i64 - pending)
}

/// One currency's totals as decimal strings; `at_stake` from the summary's at-stake map.
fn currency_obj(p: &Prepared, code: &str) -> J {
    let cur = p.currency(code);
    let zero = CurrencyTotals::default();
    let t = p.input.summary.currencies.get(code).unwrap_or(&zero);
    let at_stake = p.input.summary.at_stake.get(code).copied().unwrap_or(0);
    let m = |v: i64| s(format_minor(v, cur));
    obj(vec![
        ("gross_payments", m(t.alipay_payments)),
        ("payment_count", J::Int(t.alipay_payment_count)),
        ("refunds", m(t.alipay_refunds)),
        ("refund_count", J::Int(t.alipay_refund_count)),
        ("cancels", m(t.alipay_cancels)),
        ("cancel_count", J::Int(t.alipay_cancel_count)),
        ("local_payments", m(t.local_payments)),
        ("local_payment_count", J::Int(t.local_payment_count)),
        ("local_refunds", m(t.local_refunds)),
        ("local_refund_count", J::Int(t.local_refund_count)),
        ("fees", m(t.fees)),
        ("expected_net", m(t.expected_net)),
        ("net_settlement", m(t.settled_net)),
        ("settled_minus_expected", m(t.settled_net - t.expected_net)),
        ("at_stake", m(at_stake)),
    ])
}

/// `summary.json`. `counts`, `pending`, `resolved` and `open_items` count the rows actually written.
pub fn summary_json(p: &Prepared) -> Result<Vec<u8>> {
    let counts = category_counts(p);
    let (pending, resolved) = pending_counts(p);
    let status = if p.input.is_clean() { "clean" } else { "attention" };
    let currencies = p.currencies.keys().map(|code| (code.clone(), currency_obj(p, code))).collect();
    let j = obj(vec![
        ("business_date", s(p.input.business_date.to_string())),
        ("merchant", s(p.input.merchant.clone())),
        ("status", s(status)),
        ("discrepancies", J::Int(p.findings.len() as i64)),
        ("counts", J::Obj(counts.iter().map(|(c, n)| (c.as_str().to_string(), J::Int(*n))).collect())),
        ("pending", J::Int(pending)),
        ("resolved", J::Int(resolved)),
        ("open_items", J::Int(p.open.len() as i64)),
        ("matched", J::Int(p.input.summary.matched)),
        ("file_warnings", J::Int(p.warnings.len() as i64)),
        ("currencies", J::Obj(currencies)),
        ("resolutions", super::resolutions::summary_obj(p)),
    ]);
    to_bytes(&j)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `manifest.json`: the tool version, the config hash, the input files and a hash of every output
/// file. It names no run, time or path of its own (contracts.md v3 §4: a rerun of identical inputs is
/// byte-identical); the run that wrote the set is kept beside it in [`super::folder::RUN_ID`].
pub fn manifest_json(p: &Prepared, outputs: &[(&'static str, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut inputs: Vec<_> = p.input.input_files.iter().collect();
    inputs.sort_by(|a, b| {
        (a.business_date, a.kind, &a.name, &a.sha256).cmp(&(b.business_date, b.kind, &b.name, &b.sha256))
    });
    let inputs = inputs
        .into_iter()
        .map(|f| {
            obj(vec![
                ("name", s(f.name.clone())),
                ("sha256", s(f.sha256.clone())),
                ("format", s(f.format.as_str())),
                ("kind", s(f.kind.as_str())),
                ("business_date", s(f.business_date.to_string())),
            ])
        })
        .collect();
    let outputs = outputs
        .iter()
        .map(|(name, bytes)| {
            obj(vec![("name", s(*name)), ("sha256", s(sha256_hex(bytes))), ("bytes", J::Int(bytes.len() as i64))])
        })
        .collect();
    let (pending, resolved) = pending_counts(p);
    let j = obj(vec![
        ("business_date", s(p.input.business_date.to_string())),
        ("tool", s("alipay-recon")),
        ("tool_version", s(p.input.tool_version.clone())),
        ("config_hash", s(p.input.config_hash.clone())),
        ("merchant", s(p.input.merchant.clone())),
        (
            "rows",
            obj(vec![
                ("discrepancies", J::Int(p.findings.len() as i64)),
                ("pending", J::Int(pending)),
                ("resolved", J::Int(resolved)),
                ("open_items", J::Int(p.open.len() as i64)),
            ]),
        ),
        ("input_files", J::Arr(inputs)),
        ("outputs", J::Arr(outputs)),
    ]);
    to_bytes(&j)
}

/// The run id recorded in a `manifest.json` written before contracts v3 (which carried one), if any.
pub fn manifest_run_id(bytes: &[u8]) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    v.get("run_id")?.as_i64()
}

/// The trend point of an earlier report, read back from `reports_dir/<date>/summary.json`; `None` when
/// that day has no report. A fallback for callers that keep no per-day history of their own: note that
/// it makes the trend depend on which reports exist on disk, unlike everything else in the report.
pub fn read_trend_point(reports_dir: &Path, date: NaiveDate) -> Result<Option<TrendPoint>> {
    let path = reports_dir.join(date.format("%Y-%m-%d").to_string()).join(super::folder::SUMMARY);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let bad = |what: &str| format!("{} has no valid {what}: delete it or rerun the report of {date}", path.display());
    let v: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| bad("JSON"))?;
    let discrepancies = v["discrepancies"].as_i64().with_context(|| bad("\"discrepancies\" count"))?;
    let mut at_stake = std::collections::BTreeMap::new();
    if let Some(curs) = v["currencies"].as_object() {
        for (code, totals) in curs {
            let cur = Currency::parse(code).with_context(|| bad("currency key"))?;
            let text = totals["at_stake"].as_str().with_context(|| bad("\"at_stake\""))?;
            at_stake.insert(code.clone(), parse_major(text, cur).with_context(|| bad("\"at_stake\" amount"))?);
        }
    }
    Ok(Some(TrendPoint { date, discrepancies, at_stake }))
}
