//! `alipay-recon resolve ITEM --reason R [--note N] [--by U] [--date D]`, `resolve --from FILE` and
//! `alipay-recon reopen ITEM` — close a reported item with a configured reason, or open it again.
//!
//! ITEM is the item id printed in the reports' `item_id` column, or `--category C --key K` (the key is
//! the merchant payment id, `refund:<merchant refund id>` for a refund). `--from report.xlsx` applies
//! every row whose `resolution` cell is filled (the report's drop-down); `--from file.csv` every row
//! of a CSV with columns item_id, reason, note. All rows are checked first: all are applied or none.
//! A change takes effect on today's business day (or `--date`, an earlier day): that day's report and
//! later ones leave the item out of open_items.csv and list the change.

use crate::pipeline::Workspace;
use crate::resolve::{self, import, ItemRef, Recording};
use crate::sys::exit::Outcome;
use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Target {
    /// The item id (the item_id column of the reports).
    pub item: Option<String>,
    /// The item's category (with --key), e.g. MISSING_LOCALLY.
    #[arg(long, requires = "key")]
    pub category: Option<String>,
    /// The item's key (with --category): the payment id, or refund:<refund id>.
    #[arg(long, requires = "category")]
    pub key: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct Who {
    /// Who records it (default: the OS user).
    #[arg(long)]
    pub by: Option<String>,
    /// The business day it takes effect on (default: today in the business zone); an earlier day
    /// changes that day's report when it is rerun.
    #[arg(long)]
    pub date: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// One of the configured reasons (`resolutions.reasons`; defaults REFUNDED_AT_COUNTER,
    /// ALIPAY_CONFIRMED, CUSTOMER_REFUNDED, WRITTEN_OFF, POS_CORRECTED, OTHER).
    #[arg(long, required_unless_present = "from")]
    pub reason: Option<String>,
    /// Free text: what was checked, with whom.
    #[arg(long, default_value = "")]
    pub note: String,
    /// Apply the filled rows of a report.xlsx (resolution and note columns) or of a CSV
    /// (item_id, reason, note).
    #[arg(long, conflicts_with_all = ["item", "category", "key", "reason"])]
    pub from: Option<PathBuf>,
    #[command(flatten)]
    pub who: Who,
}

#[derive(Debug, clap::Args)]
pub struct ReopenArgs {
    #[command(flatten)]
    pub target: Target,
    /// Why it is reopened.
    #[arg(long, default_value = "")]
    pub note: String,
    #[command(flatten)]
    pub who: Who,
}

fn recording(ws: &Workspace, who: &Who) -> Result<Recording> {
    let now = chrono::Utc::now();
    let zone = ws.cfg.business.timezone;
    let today = zone.date_of(&now.with_timezone(&zone.offset_at(now)));
    let effective: NaiveDate = match &who.date {
        Some(s) => super::dates::parse_date(s, &zone, now)?,
        None => today,
    };
    if effective > today {
        bail!("--date {effective} is in the future (today is {today} in the business zone): a resolution takes effect on the day it is recorded or an earlier one");
    }
    let by = who.by.clone().unwrap_or_else(crate::sys::os::user_name);
    if by.trim().is_empty() {
        bail!("--by is empty: name who records this");
    }
    Ok(Recording { by: by.trim().to_string(), effective, recorded_at: crate::store::now_text(), import: None })
}

/// Reports already written for the effective day or later show the change only when rerun: say so.
fn rerun_hint(ws: &Workspace, rec: &Recording) -> Result<()> {
    if let Some(newest) = crate::store::resolutions::newest_report_date(&ws.conn)? {
        if newest >= rec.effective {
            outln!(
                "The reports of {} to {newest} were written before this change: rerun them to show it (alipay-recon reconcile --from {} --to {newest}).",
                rec.effective,
                rec.effective
            );
        }
    }
    Ok(())
}

fn target(t: &Target) -> Result<ItemRef> {
    ItemRef::parse(t.item.as_deref(), t.category.as_deref(), t.key.as_deref())
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let mut ws = Workspace::open(g.load_config()?)?;
    let rec = recording(&ws, &a.who)?;
    let reasons = ws.cfg.resolutions.reasons.clone();
    let days = ws.cfg.business.open_item_days;
    let (outcome, ()) = crate::pipeline::recorded(&mut ws, "resolve", Some(rec.effective), |ws, _| {
        if let Some(path) = &a.from {
            let done = import::import(&mut ws.conn, &reasons, days, path, &rec)?;
            outln!(
                "{}: {} filled row(s), {} resolution(s) recorded, effective {} (by {}).",
                path.display(),
                done.rows,
                done.applied.len(),
                rec.effective,
                rec.by
            );
            for e in &done.applied {
                outln!("  {} {} {} — {}", e.item_id, e.category.as_str(), e.key, e.reason);
            }
            if !done.applied.is_empty() {
                rerun_hint(ws, &rec)?;
            }
            return Ok((Outcome::Clean, ()));
        }
        let r = target(&a.target)?;
        let items = resolve::reported_items(&ws.conn, days, &[r.id()].into())?;
        let item = resolve::find(&items, &r).map_err(anyhow::Error::msg)?;
        let events = crate::store::resolutions::events(&ws.conn, None)?;
        let latest = resolve::latest_events(&events);
        let reason = a.reason.as_deref().unwrap_or_default();
        let Some(change) =
            resolve::plan_resolve(&reasons, &latest, item, reason, &a.note).map_err(anyhow::Error::msg)?
        else {
            outln!("Item {} is already resolved as {reason} with that note: nothing changed.", item.id);
            return Ok((Outcome::Clean, ()));
        };
        let done = resolve::record(&mut ws.conn, &[(change, "cli".into())], &rec)?;
        let e = &done[0];
        outln!(
            "Resolved {} ({} {}) as {} by {}, effective {}: it leaves open_items.csv from that day's report on.",
            e.item_id,
            e.category.as_str(),
            e.key,
            e.reason,
            e.by,
            rec.effective
        );
        rerun_hint(ws, &rec)?;
        Ok((Outcome::Clean, ()))
    })?;
    Ok(outcome)
}

pub fn reopen(g: &super::Globals, a: ReopenArgs) -> Result<Outcome> {
    let mut ws = Workspace::open(g.load_config()?)?;
    let rec = recording(&ws, &a.who)?;
    let (outcome, ()) = crate::pipeline::recorded(&mut ws, "reopen", Some(rec.effective), |ws, _| {
        let id = target(&a.target)?.id();
        let events = crate::store::resolutions::events(&ws.conn, None)?;
        let change =
            resolve::plan_reopen(&resolve::latest_events(&events), &id, &a.note).map_err(anyhow::Error::msg)?;
        resolve::record(&mut ws.conn, &[(change, "cli".into())], &rec).context("cannot record the reopen")?;
        outln!(
            "Reopened {id} by {}, effective {}: it is an open item again on that day's report.",
            rec.by,
            rec.effective
        );
        rerun_hint(ws, &rec)?;
        Ok((Outcome::Clean, ()))
    })?;
    Ok(outcome)
}
