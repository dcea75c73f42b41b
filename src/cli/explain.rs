//! `alipay-recon explain ID [--json]` — every record of one payment or refund (merchant id, refund id or
//! Alipay id) across Alipay files (all versions), local sales records and their history.

use crate::domain::{display_money, Currency};
use crate::pipeline::Workspace;
use crate::sys::exit::Outcome;
use anyhow::{bail, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A merchant payment id, refund id, or Alipay id (acquirementId / Transaction_id / transactionId).
    pub id: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn money(v: Option<i64>, c: Option<&str>) -> String {
    match (v, c.and_then(|c| Currency::parse(c).ok())) {
        (Some(v), Some(c)) => display_money(v, c),
        (Some(v), None) => format!("{v} (minor units)"),
        _ => "-".into(),
    }
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let ws = Workspace::open(g.load_config()?)?;
    let t = crate::store::explain::trace(&ws.conn, &a.id)?;
    let reports = crate::store::results::history_of(&ws.conn, &a.id)?;
    if t.is_empty() && reports.is_empty() {
        bail!("nothing is stored about '{}': check the id (merchant payment id, refund id or Alipay id) and that its day was imported (`alipay-recon status`)", a.id);
    }
    if a.json {
        let v = serde_json::json!({ "alipay": t.alipay, "local": t.local, "history": t.history, "reports": reports });
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(Outcome::Clean);
    }
    outln!("Alipay files:");
    if t.alipay.is_empty() {
        outln!("  (none)");
    }
    for r in &t.alipay {
        let ids = [r.merchant_trans_id.as_deref(), r.merchant_refund_id.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ");
        outln!(
            "  {} {:<8} {:<17} {} alipay {} {}  {}:{}{}{}",
            r.trans_time.as_deref().unwrap_or("-"),
            r.trans_type,
            money(r.amount, r.currency.as_deref()),
            ids,
            r.alipay_id.as_deref().unwrap_or("-"),
            r.original_alipay_id.as_deref().map(|o| format!("(of {o})")).unwrap_or_default(),
            r.file,
            r.line,
            if r.version > 1 { format!(" v{}", r.version) } else { String::new() },
            if r.current { "" } else { " (superseded)" }
        );
    }
    outln!("Local records:");
    if t.local.is_empty() {
        outln!("  (none)");
    }
    for l in &t.local {
        outln!(
            "  {} {} {} {} {} [{}]{} from {}:{}",
            l.created_at,
            l.record_type,
            l.record_id,
            l.status,
            money(Some(l.amount), Some(&l.currency)),
            l.origin,
            if l.conflict { " CONFLICT" } else { "" },
            l.file.as_deref().unwrap_or("ledger"),
            l.line.unwrap_or(0)
        );
    }
    if t.history.len() > t.local.len() {
        outln!("Local history (every version imported):");
        for h in &t.history {
            outln!(
                "  {} {} {} from {}:{} {}",
                h.recorded_at,
                h.record_type,
                h.record_id,
                h.file.as_deref().unwrap_or("ledger"),
                h.line.unwrap_or(0),
                if h.conflict { "CONFLICT" } else { "" }
            );
        }
    }
    outln!("Reports (current result of each date):");
    if reports.is_empty() {
        outln!("  (never reported: matched, or its days were not reconciled yet)");
    }
    for r in &reports {
        let f = &r.finding;
        let state = match (r.section.as_str(), &r.reason) {
            ("finding", _) => "discrepancy".to_string(),
            ("open", _) => format!("open item, {} days old", r.age_days.unwrap_or(0)),
            (s, Some(reason)) => format!("{s}: {reason}"),
            (s, None) => s.to_string(),
        };
        // A refund's rows carry its payment's id (contracts.md §3): name the refund too.
        let refund =
            if f.merchant_refund_id.is_empty() { String::new() } else { format!(" refund {}", f.merchant_refund_id) };
        outln!(
            "  {} {} {}{refund} — {}: {}",
            f.business_date,
            f.category.as_str(),
            f.merchant_trans_id,
            state,
            f.detail
        );
    }
    Ok(Outcome::Clean)
}
