//! `alipay-recon items [--state open|resolved|expired] [--from D] [--to D] [--category C]
//! [--currency X] [--reason R] [--json]` — the reported items and what became of them: open on the
//! newest report, resolved (with reason, note and who), or expired (reached the end of the open-item
//! look-back unresolved). Dates filter the item date.

use crate::pipeline::Workspace;
use crate::resolve::{self, Filter, ItemState};
use crate::sys::exit::Outcome;
use anyhow::{Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these states (repeat or comma-separate; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub state: Vec<ItemState>,
    /// Item dates from (YYYY-MM-DD, inclusive). Expired items are listed from the last weeks'
    /// reports (the open-item look-back plus 31 days); an earlier --from reaches back to it.
    #[arg(long)]
    pub from: Option<chrono::NaiveDate>,
    /// Item dates up to (YYYY-MM-DD, inclusive).
    #[arg(long)]
    pub to: Option<chrono::NaiveDate>,
    /// Only this category, e.g. MISSING_LOCALLY.
    #[arg(long)]
    pub category: Option<String>,
    /// Only this currency (ISO 4217).
    #[arg(long)]
    pub currency: Option<String>,
    /// Only items resolved with this reason.
    #[arg(long)]
    pub reason: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let ws = Workspace::open(g.load_config()?)?;
    let category = match &a.category {
        Some(c) => Some(
            crate::domain::Category::parse(&c.to_ascii_uppercase())
                .with_context(|| format!("--category {c} is not a category (e.g. MISSING_LOCALLY, AMOUNT_MISMATCH)"))?,
        ),
        None => None,
    };
    let f = Filter {
        states: a.state.clone(),
        from: a.from,
        to: a.to,
        category,
        currency: a.currency.as_ref().map(|c| c.to_ascii_uppercase()),
        reason: a.reason.clone(),
    };
    let items = resolve::list(&ws.conn, ws.cfg.business.open_item_days, &f)?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(Outcome::Clean);
    }
    outln!(
        "{:<10}  {:<8}  {:<18} {:<10}  {:<28} {:>14}  {:<10}  reason / note / by",
        "item_id",
        "state",
        "category",
        "item_date",
        "key",
        "amount",
        "report"
    );
    for i in &items {
        let state = match i.state {
            ItemState::Open => "OPEN",
            ItemState::Resolved => "RESOLVED",
            ItemState::Expired => "EXPIRED",
        };
        let amount = format!("{} {}", i.amount.as_deref().unwrap_or(""), i.currency.as_deref().unwrap_or(""));
        let extra = if i.state == ItemState::Resolved {
            format!("{} — {} — {}", i.reason, i.note, i.by)
        } else {
            String::new()
        };
        outln!(
            "{:<10}  {:<8}  {:<18} {:<10}  {:<28} {:>14}  {:<10}  {}",
            i.item_id,
            state,
            i.category.as_str(),
            i.item_date,
            i.key,
            amount.trim(),
            i.report_date,
            extra
        );
    }
    outln!("{} item(s).", items.len());
    Ok(Outcome::Clean)
}
