//! `summary.json` (the day's counts and per-currency totals) and `manifest.json` (what the report was
//! made from). Money is written as decimal strings with the currency's exponent, never JSON numbers.
//! Both files are serde structs: keys come out in field order (maps are `BTreeMap`s, so their order
//! does not depend on serde_json's features), and a new field is added at the end of its struct.

use super::bridge::{alipay_activity, Activity, CurrencyBridge, Part};
use super::Prepared;
use super::TrendPoint;
use crate::domain::{format_minor, parse_major, Category, Currency, CurrencyTotals, PendingState};
use anyhow::Context;
use anyhow::Result;
use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

fn to_bytes(v: &impl Serialize) -> Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(v)?;
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

/// `summary.json`.
#[derive(Serialize)]
struct SummaryJson<'a> {
    business_date: String,
    merchant: &'a str,
    /// `clean` or `attention`.
    status: &'static str,
    discrepancies: i64,
    /// Every category, zeros included; `Category`'s order is the report order.
    counts: BTreeMap<Category, i64>,
    pending: i64,
    resolved: i64,
    open_items: i64,
    matched: i64,
    file_warnings: i64,
    currencies: BTreeMap<&'a str, CurrencyJson>,
    /// The day's resolutions, written-off and expired amounts (issue 18; `report::resolutions`).
    resolutions: super::resolutions::J,
}

/// One currency's totals as decimal strings of that currency.
#[derive(Serialize)]
struct CurrencyJson {
    #[serde(flatten)]
    alipay: ActivityJson,
    local_payments: String,
    local_payment_count: i64,
    local_refunds: String,
    local_refund_count: i64,
    fees: String,
    expected_net: String,
    net_settlement: String,
    settled_minus_expected: String,
    at_stake: String,
    /// Added by issue 17: the cash bridge (README "Contract additions").
    bridge: BridgeJson,
}

#[derive(Serialize)]
struct BridgeJson {
    /// Settlement currencies this pricing currency's money settles in, other than itself.
    settles_in: Vec<String>,
    /// Transaction files, pricing currency: gross payments − refunds − cancels.
    captured_net: String,
    /// Settlement files of the day in this settlement currency; `null` when none.
    settlement: Option<SettlementJson>,
    /// Pending, unsettled and settlement-mismatch money in this currency: not in the day's payout.
    follow_up: Vec<PartJson>,
    /// Added by issue 17 (the roll-forward): from the net of the day's captures priced in this
    /// currency to what settled in it; `null` when it has neither.
    roll_forward: Option<RollJson>,
}

/// `captured_net + Σ parts = settled_net`, exactly.
#[derive(Serialize)]
struct RollJson {
    captured_net: String,
    captured_count: i64,
    /// From the captures to the expected net (`fees`, `settlement_mismatch`, `settled_elsewhere`,
    /// `pending`, `later_day`, `not_known_yet`, `cancels`, `earlier_captures`, `priced_elsewhere`,
    /// `voided_settled`, `other_lines`), then `settled_minus_expected` (the settlement's parts) and
    /// `unexplained` only if the data leaves a remainder.
    parts: Vec<PartJson>,
    /// `null` when nothing settled in this currency today.
    expected_net: Option<String>,
    settled_net: String,
    /// `settled_net − captured_net`.
    difference: String,
}

#[derive(Serialize)]
struct SettlementJson {
    #[serde(flatten)]
    gross: ActivityJson,
    fees: String,
    other_lines: String,
    other_line_count: i64,
    /// `gross_payments − refunds − cancels − fees + other_lines`.
    expected_net: String,
    settled_net: String,
    /// Whether a settlement summary stated `settled_net` (else it is the detail rows' sum).
    from_summary: bool,
    /// `settled_net − expected_net`, equal to the sum of `parts`.
    difference: String,
    parts: Vec<PartJson>,
}

/// Payments, refunds and cancels with their counts, in the currency's decimals.
#[derive(Serialize)]
struct ActivityJson {
    gross_payments: String,
    payment_count: i64,
    refunds: String,
    refund_count: i64,
    cancels: String,
    cancel_count: i64,
}

fn activity_json(a: &Activity, cur: Currency) -> ActivityJson {
    ActivityJson {
        gross_payments: format_minor(a.payments, cur),
        payment_count: a.payment_count,
        refunds: format_minor(a.refunds, cur),
        refund_count: a.refund_count,
        cancels: format_minor(a.cancels, cur),
        cancel_count: a.cancel_count,
    }
}

#[derive(Serialize)]
struct PartJson {
    key: &'static str,
    label: String,
    amount: String,
    count: i64,
}

fn part_json(p: &Part, cur: Currency) -> PartJson {
    PartJson { key: p.key, label: p.label.clone(), amount: format_minor(p.amount, cur), count: p.count }
}

fn bridge_json(b: Option<&CurrencyBridge>, cur: Currency) -> BridgeJson {
    let m = |v: i64| format_minor(v, cur);
    let Some(b) = b else {
        return BridgeJson {
            settles_in: vec![],
            captured_net: m(0),
            settlement: None,
            follow_up: vec![],
            roll_forward: None,
        };
    };
    BridgeJson {
        settles_in: b.settles_in.clone(),
        captured_net: m(b.captured.as_ref().map_or(0, |c| c.net())),
        settlement: b.settlement.as_ref().map(|s| SettlementJson {
            gross: activity_json(&s.gross, cur),
            fees: m(s.fees),
            other_lines: m(s.other),
            other_line_count: s.other_count,
            expected_net: m(s.expected_net),
            settled_net: m(s.settled_net),
            from_summary: s.has_summary,
            difference: m(s.difference()),
            parts: s.parts.iter().map(|p| part_json(p, cur)).collect(),
        }),
        follow_up: b.follow_up.iter().map(|p| part_json(p, cur)).collect(),
        roll_forward: b.roll.as_ref().map(|r| {
            let mut parts: Vec<PartJson> = r.to_expected.iter().map(|p| part_json(p, cur)).collect();
            if r.expected_net().is_some() {
                parts.push(PartJson {
                    key: "settled_minus_expected",
                    label: "Settled - expected (the settlement's parts)".into(),
                    amount: m(r.to_settled()),
                    count: b.settlement.as_ref().map_or(0, |s| s.parts.len() as i64),
                });
            }
            parts.extend(r.unexplained.iter().map(|p| part_json(p, cur)));
            RollJson {
                captured_net: m(r.captured_net()),
                captured_count: r.captured_count(),
                parts,
                expected_net: r.expected_net().map(m),
                settled_net: m(r.settled_net()),
                difference: m(r.difference()),
            }
        }),
    }
}

/// One currency's totals; `at_stake` from the summary's at-stake map.
fn currency_json(p: &Prepared, code: &str) -> CurrencyJson {
    let cur = p.currency(code);
    let zero = CurrencyTotals::default();
    let t = p.input.summary.currencies.get(code).unwrap_or(&zero);
    let at_stake = p.input.summary.at_stake.get(code).copied().unwrap_or(0);
    let m = |v: i64| format_minor(v, cur);
    CurrencyJson {
        alipay: activity_json(&alipay_activity(t), cur),
        local_payments: m(t.local_payments),
        local_payment_count: t.local_payment_count,
        local_refunds: m(t.local_refunds),
        local_refund_count: t.local_refund_count,
        fees: m(t.fees),
        expected_net: m(t.expected_net),
        net_settlement: m(t.settled_net),
        settled_minus_expected: m(t.settled_net - t.expected_net),
        at_stake: m(at_stake),
        bridge: bridge_json(p.bridge.iter().find(|b| b.currency == cur), cur),
    }
}

/// `summary.json`. `counts`, `pending`, `resolved` and `open_items` count the rows actually written.
pub fn summary_json(p: &Prepared) -> Result<Vec<u8>> {
    let (pending, resolved) = pending_counts(p);
    let j = SummaryJson {
        business_date: p.input.business_date.to_string(),
        merchant: &p.input.merchant,
        status: if p.input.is_clean() { "clean" } else { "attention" },
        discrepancies: p.findings.len() as i64,
        counts: category_counts(p).into_iter().collect(),
        pending,
        resolved,
        open_items: p.open.len() as i64,
        matched: p.input.summary.matched,
        file_warnings: p.warnings.len() as i64,
        currencies: p.currencies.keys().map(|code| (code.as_str(), currency_json(p, code))).collect(),
        resolutions: super::resolutions::summary_obj(p),
    };
    to_bytes(&j)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `manifest.json`: the tool version, the config hash, the input files and a hash of every output
/// file. It names no run, time or path of its own (contracts.md v3 §4: a rerun of identical inputs is
/// byte-identical); the run that wrote the set is kept beside it in the folder's `.run-id`.
pub fn manifest_json(p: &Prepared, outputs: &[(&'static str, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut inputs: Vec<_> = p.input.input_files.iter().collect();
    inputs.sort_by(|a, b| {
        (a.business_date, a.kind, &a.name, &a.sha256).cmp(&(b.business_date, b.kind, &b.name, &b.sha256))
    });
    let (pending, resolved) = pending_counts(p);
    let j = ManifestJson {
        business_date: p.input.business_date.to_string(),
        tool: "alipay-recon",
        tool_version: &p.input.tool_version,
        config_hash: &p.input.config_hash,
        merchant: &p.input.merchant,
        rows: RowsJson { discrepancies: p.findings.len() as i64, pending, resolved, open_items: p.open.len() as i64 },
        input_files: inputs
            .into_iter()
            .map(|f| InputJson {
                name: &f.name,
                sha256: &f.sha256,
                format: f.format.as_str(),
                kind: f.kind.as_str(),
                business_date: f.business_date.to_string(),
            })
            .collect(),
        outputs: outputs
            .iter()
            .map(|(name, bytes)| OutputJson { name, sha256: sha256_hex(bytes), bytes: bytes.len() as i64 })
            .collect(),
    };
    to_bytes(&j)
}

#[derive(Serialize)]
struct ManifestJson<'a> {
    business_date: String,
    tool: &'static str,
    tool_version: &'a str,
    config_hash: &'a str,
    merchant: &'a str,
    rows: RowsJson,
    input_files: Vec<InputJson<'a>>,
    outputs: Vec<OutputJson<'a>>,
}

#[derive(Serialize)]
struct RowsJson {
    discrepancies: i64,
    pending: i64,
    resolved: i64,
    open_items: i64,
}

#[derive(Serialize)]
struct InputJson<'a> {
    name: &'a str,
    sha256: &'a str,
    format: &'static str,
    kind: &'static str,
    business_date: String,
}

#[derive(Serialize)]
struct OutputJson<'a> {
    name: &'a str,
    sha256: String,
    bytes: i64,
}

/// The run id recorded in a `manifest.json` written before contracts v3 (which carried one), if any.
pub fn manifest_run_id(bytes: &[u8]) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    v.get("run_id")?.as_i64()
}

/// The name of the summary in a report folder (`report::folder` lists it in the set).
pub const FILE_NAME: &str = "summary.json";

/// The trend point of an earlier report, read back from `reports_dir/<date>/summary.json`; `None` when
/// that day has no report. A fallback for callers that keep no per-day history of their own: note that
/// it makes the trend depend on which reports exist on disk, unlike everything else in the report.
pub fn read_trend_point(reports_dir: &Path, date: NaiveDate) -> Result<Option<TrendPoint>> {
    let path = reports_dir.join(date.format("%Y-%m-%d").to_string()).join(FILE_NAME);
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
