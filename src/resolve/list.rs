//! `alipay-recon items`: the reported items and what became of them — open on the newest report,
//! expired (shown on their last day of the open-item look-back unresolved), or resolved.

use super::{latest_events, recent_from};
use crate::domain::item::{item_id, item_key, ResolutionAction};
use crate::domain::Category;
use crate::store::resolutions as rs;
use anyhow::Result;
use chrono::NaiveDate;
use rusqlite::Connection;
use std::collections::BTreeSet;

/// The state of an item in the `items` listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ItemState {
    Open,
    Resolved,
    Expired,
}

/// A row of `alipay-recon items`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListedItem {
    pub item_id: String,
    pub state: ItemState,
    pub category: Category,
    pub key: String,
    pub item_date: NaiveDate,
    /// The newest report that listed it (for a resolved item: the day the resolution took effect).
    pub report_date: NaiveDate,
    pub currency: Option<String>,
    /// Amount at stake in major units.
    pub amount: Option<String>,
    pub reason: String,
    pub note: String,
    pub by: String,
}

/// Filters of the listing; `None` keeps everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub states: Vec<ItemState>,
    /// Item dates, inclusive.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub category: Option<Category>,
    pub currency: Option<String>,
    pub reason: Option<String>,
}

/// Open (on the newest report, unresolved), expired (reached the end of the look-back unresolved) and
/// resolved items (their last event is a resolve), filtered and sorted by state, item date and id.
pub fn list(conn: &Connection, open_item_days: u32, f: &Filter) -> Result<Vec<ListedItem>> {
    let events = rs::events(conn, None)?;
    let latest = latest_events(&events);
    let newest = rs::newest_report_date(conn)?;
    let mut out = Vec::new();
    let money = |c: Option<crate::domain::Currency>, a: Option<i64>| match (c, a) {
        (Some(c), Some(a)) => (Some(c.to_string()), Some(crate::domain::format_minor(a, c))),
        (c, _) => (c.map(|c| c.to_string()), None),
    };
    let mut seen = BTreeSet::new();
    if let Some(newest) = newest {
        // An item is reported on or after its item date, so `--from` reaches back as far as it asks.
        let from = f.from.map_or(recent_from(newest, open_item_days), |d| d.min(recent_from(newest, open_item_days)));
        for row in rs::reported_rows(conn, from)? {
            let key = item_key(&row.finding);
            let id = item_id(row.finding.category, &key);
            let resolved = latest.get(id.as_str()).is_some_and(|e| e.entry.action == ResolutionAction::Resolve);
            if resolved || seen.contains(&id) {
                continue;
            }
            let last_day = row.report_date - chrono::Duration::days(open_item_days as i64);
            let state = if row.section == "open" && row.finding.item_date <= last_day {
                ItemState::Expired
            } else if row.report_date == newest {
                ItemState::Open
            } else {
                continue;
            };
            seen.insert(id.clone());
            let (currency, amount) = match row.finding.at_stake() {
                Some((c, a)) => money(Some(c), Some(a)),
                None => (None, None),
            };
            out.push(ListedItem {
                item_id: id,
                state,
                category: row.finding.category,
                key,
                item_date: row.finding.item_date,
                report_date: row.report_date,
                currency,
                amount,
                reason: String::new(),
                note: String::new(),
                by: String::new(),
            });
        }
    }
    for e in latest.values().filter(|e| e.entry.action == ResolutionAction::Resolve) {
        let (currency, amount) = money(e.entry.currency, e.entry.amount);
        out.push(ListedItem {
            item_id: e.entry.item_id.clone(),
            state: ItemState::Resolved,
            category: e.entry.category,
            key: e.entry.key.clone(),
            item_date: e.entry.item_date,
            report_date: e.effective_date,
            currency,
            amount,
            reason: e.entry.reason.clone(),
            note: e.entry.note.clone(),
            by: e.entry.by.clone(),
        });
    }
    out.retain(|i| {
        (f.states.is_empty() || f.states.contains(&i.state))
            && f.from.is_none_or(|d| i.item_date >= d)
            && f.to.is_none_or(|d| i.item_date <= d)
            && f.category.is_none_or(|c| i.category == c)
            && f.currency.as_ref().is_none_or(|c| i.currency.as_deref() == Some(c.as_str()))
            && f.reason.as_ref().is_none_or(|r| &i.reason == r)
    });
    out.sort_by(|a, b| (a.state, a.item_date, &a.item_id).cmp(&(b.state, b.item_date, &b.item_id)));
    Ok(out)
}
