//! Closing reported items (issue 18): an accountant resolves an item with a configured reason, a note
//! and their name, or reopens it; every change is appended to a hash-chained audit trail.
//!
//! Owns the rules: which reported item an id or category + key names ([`reported_items`]), what may
//! be resolved or reopened ([`plan_resolve`], [`plan_reopen`]), recording a batch all or nothing
//! ([`record`]), what a day's report shows ([`apply`]), the `items` listing ([`list`]), the audit
//! chain ([`audit`]) and imports from report.xlsx or a CSV ([`import`]). SQL lives in
//! `store::resolutions`; the vocabulary (item ids, [`DayResolutions`]) in `domain::item`.
//!
//! **Determinism**: a resolve or reopen takes effect on the business day (zone Z) it was recorded on
//! (or an earlier day given with `--date`). Day T's report applies the events effective on or before
//! T, the last one per item winning, so a rerun of T gives the same report whenever it runs. Recording
//! an event effective on D invalidates the stored day state from D (`store::state::invalidate_from`),
//! as a restated file does, so the next run recomputes from D.

pub mod audit;
pub mod import;
mod list;

pub use list::{list, Filter, ItemState, ListedItem};

use crate::domain::item::{
    finding_item_id, item_id, item_key, normalise_item_id, AmountCount, DayResolutions, ResolutionAction,
    ResolutionEntry,
};
use crate::domain::{Category, DaySummary, Finding, OpenItem};
use crate::store::resolutions::{self as rs, Event};
use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use rusqlite::Connection;
use std::collections::{BTreeMap, BTreeSet};

/// The recent reports: the open-item look-back plus this many days before the newest report. An item
/// stays on every report while it is open, so nearly every id an accountant copies is on them; they
/// are read first, and the older reports only for an id not found there ([`reported_items`]). `items`
/// lists the expired items of this span (or from its `--from` item date, when that is earlier).
pub const RECENT_EXTRA_DAYS: i64 = 31;

/// The first report date of the recent reports ([`RECENT_EXTRA_DAYS`]) when the newest is `newest`.
pub fn recent_from(newest: NaiveDate, open_item_days: u32) -> NaiveDate {
    newest - chrono::Duration::days(open_item_days as i64 + RECENT_EXTRA_DAYS)
}

/// Before every stored report date (the older reports' lower bound).
const EARLIEST_REPORT: NaiveDate = NaiveDate::MIN;

/// What names an item on the command line or in an import row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemRef {
    Id(String),
    Key(Category, String),
}

impl ItemRef {
    /// An item id, or `CATEGORY` + key.
    pub fn parse(id: Option<&str>, category: Option<&str>, key: Option<&str>) -> Result<ItemRef> {
        match (id, category, key) {
            (Some(id), None, None) => match normalise_item_id(id) {
                Some(id) => Ok(ItemRef::Id(id)),
                None => bail!(
                    "'{id}' is not an item id (10 letters and digits, as in the item_id column of the reports); or name the item with --category and --key"
                ),
            },
            (None, Some(c), Some(k)) => {
                let cat = Category::parse(&c.trim().to_ascii_uppercase()).with_context(|| {
                    format!(
                        "'{c}' is not a category: use one of {}",
                        Category::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
                    )
                })?;
                Ok(ItemRef::Key(cat, k.trim().to_string()))
            }
            _ => bail!("name the item either by its id (the item_id column of the reports) or by --category and --key"),
        }
    }

    pub fn id(&self) -> String {
        match self {
            ItemRef::Id(id) => id.clone(),
            ItemRef::Key(c, k) => item_id(*c, k),
        }
    }
}

/// A reported item: its id, category, key and the newest stored row about it.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub key: String,
    pub finding: Finding,
    /// The newest report that listed it.
    pub last_report: NaiveDate,
}

impl Item {
    fn entry(&self, action: ResolutionAction, reason: &str, note: &str, by: &str, at: &str) -> ResolutionEntry {
        let stake = self.finding.at_stake();
        ResolutionEntry {
            item_id: self.id.clone(),
            category: self.finding.category,
            key: self.key.clone(),
            item_date: self.finding.item_date,
            action,
            reason: reason.to_string(),
            note: note.to_string(),
            by: by.to_string(),
            recorded_at: at.to_string(),
            currency: stake.map(|(c, _)| c),
            amount: stake.map(|(_, a)| a),
        }
    }
}

/// The items on the stored current reports, by id (the newest report's row of each): every item of
/// the recent reports ([`RECENT_EXTRA_DAYS`]), and each of `wanted` that is not on them but on an older
/// report, however old (those are read only when an id is missing from the recent ones; an item
/// expired long ago can still be resolved). An id on no stored report is absent: [`find`] says so.
pub fn reported_items(
    conn: &Connection,
    open_item_days: u32,
    wanted: &BTreeSet<String>,
) -> Result<BTreeMap<String, Item>> {
    let Some(newest) = rs::newest_report_date(conn)? else { return Ok(BTreeMap::new()) };
    let mut items = BTreeMap::new();
    add_items(&mut items, rs::reported_rows(conn, recent_from(newest, open_item_days))?, |_| true);
    if wanted.iter().any(|id| !items.contains_key(id)) {
        // Newest first, so an older report's row never replaces a newer one already kept.
        add_items(&mut items, rs::reported_rows(conn, EARLIEST_REPORT)?, |id| wanted.contains(id));
    }
    Ok(items)
}

/// Adds the items of `rows` (newest report first) whose id `keep` accepts and that `items` lacks.
fn add_items(items: &mut BTreeMap<String, Item>, rows: Vec<rs::ReportedRow>, keep: impl Fn(&str) -> bool) {
    for row in rows {
        let key = item_key(&row.finding);
        let id = item_id(row.finding.category, &key);
        if keep(&id) && !items.contains_key(&id) {
            items.insert(id.clone(), Item { id, key, finding: row.finding, last_report: row.report_date });
        }
    }
}

/// The last event of each item (all events: the state now, whatever day they take effect on).
pub fn latest_events(events: &[Event]) -> BTreeMap<&str, &Event> {
    let mut m = BTreeMap::new();
    for e in events {
        m.insert(e.entry.item_id.as_str(), e);
    }
    m
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct Change {
    pub item: Item,
    pub action: ResolutionAction,
    pub reason: String,
    pub note: String,
}

/// Why a change is refused (import rows collect these; the CLI prints the first).
pub type Refusal = String;

/// Finds the item a reference names among `items` ([`reported_items`] with the reference's id wanted).
pub fn find<'a>(items: &'a BTreeMap<String, Item>, r: &ItemRef) -> std::result::Result<&'a Item, Refusal> {
    let id = r.id();
    items.get(&id).ok_or_else(|| match r {
        ItemRef::Id(_) => format!(
            "item {id} is on no stored report: copy the id from the item_id column of a report, or run that day's reconciliation first"
        ),
        ItemRef::Key(c, k) => format!(
            "no stored report lists a {} item with key '{k}' (a refund's key is refund:<merchant_refund_id>): check the category and id, or use the item id",
            c.as_str()
        ),
    })
}

/// Checks a resolve of `item` with `reason` and `note`: `Ok(None)` when it is already resolved exactly
/// so (nothing to do), a refusal when the reason is not configured or it is resolved differently.
pub fn plan_resolve(
    reasons: &[String],
    latest: &BTreeMap<&str, &Event>,
    item: &Item,
    reason: &str,
    note: &str,
) -> std::result::Result<Option<Change>, Refusal> {
    let reason = reason.trim();
    if !reasons.iter().any(|r| r == reason) {
        return Err(format!(
            "reason '{reason}' is not a configured reason: use one of {} (config `resolutions.reasons`)",
            reasons.join(", ")
        ));
    }
    if let Some(e) = latest.get(item.id.as_str()).filter(|e| e.entry.action == ResolutionAction::Resolve) {
        if e.entry.reason == reason && e.entry.note == note.trim() {
            return Ok(None);
        }
        return Err(format!(
            "item {} is already resolved as {} by {} (effective {}): reopen it first (alipay-recon reopen {}) to resolve it differently",
            item.id, e.entry.reason, e.entry.by, e.effective_date, item.id
        ));
    }
    Ok(Some(Change {
        item: item.clone(),
        action: ResolutionAction::Resolve,
        reason: reason.to_string(),
        note: note.trim().to_string(),
    }))
}

/// Checks a reopen: the item must be resolved now.
pub fn plan_reopen(latest: &BTreeMap<&str, &Event>, id: &str, note: &str) -> std::result::Result<Change, Refusal> {
    match latest.get(id) {
        Some(e) if e.entry.action == ResolutionAction::Resolve => Ok(Change {
            item: Item {
                id: id.to_string(),
                key: e.entry.key.clone(),
                finding: finding_of(&e.entry),
                last_report: e.effective_date,
            },
            action: ResolutionAction::Reopen,
            reason: String::new(),
            note: note.trim().to_string(),
        }),
        _ => Err(format!(
            "item {id} is not resolved: nothing to reopen (alipay-recon items --state resolved lists what is)"
        )),
    }
}

/// A finding carrying what an event kept of its item (for reopens of items no longer reported).
fn finding_of(e: &ResolutionEntry) -> Finding {
    Finding {
        business_date: e.item_date,
        item_date: e.item_date,
        category: e.category,
        merchant_trans_id: String::new(),
        merchant_refund_id: String::new(),
        acquirement_id: String::new(),
        currency: e.currency,
        local_amount: None,
        alipay_currency: e.currency,
        alipay_amount: e.amount,
        local_type: String::new(),
        alipay_type: String::new(),
        detail: String::new(),
    }
}

/// Who recorded a batch, when, effective which day, from where.
#[derive(Debug, Clone)]
pub struct Recording {
    pub by: String,
    pub effective: NaiveDate,
    /// RFC 3339 UTC.
    pub recorded_at: String,
    /// An import: its file name, sha256 and row count (an IMPORT audit entry comes first).
    pub import: Option<(String, String, usize)>,
}

/// Records `changes` in one transaction: each is an audit entry plus its event (and an IMPORT entry
/// first for an import); all or none. Invalidates the day state from the effective day.
pub fn record(conn: &mut Connection, changes: &[(Change, String)], rec: &Recording) -> Result<Vec<ResolutionEntry>> {
    let tx = conn.transaction().context("cannot start the resolutions' transaction")?;
    if let Some((file, sha, rows)) = &rec.import {
        let content = audit::import_content(file, sha, *rows, changes.len(), &rec.by, &rec.recorded_at, rec.effective);
        rs::append_audit(&tx, &rec.recorded_at, "IMPORT", &rec.by, &content)?;
    }
    let mut done = Vec::new();
    for (c, source) in changes {
        let entry = c.item.entry(c.action, &c.reason, &c.note, &rec.by, &rec.recorded_at);
        let content = audit::event_content(&entry, rec.effective, source);
        let seq = rs::append_audit(&tx, &rec.recorded_at, entry.action.as_str(), &rec.by, &content)?;
        rs::insert_event(&tx, seq, rec.effective, &entry)?;
        done.push(entry);
    }
    crate::store::state::invalidate_from(&tx, rec.effective)?;
    tx.commit().context("cannot commit the resolutions")?;
    Ok(done)
}

/// Day `date`'s view of the resolutions: removes the items resolved as of `date` from `open` (and
/// from the summary's count), marks the unresolved open items on their last day of the look-back as
/// expired, and lists the day's events and written-off totals. Reads only events effective ≤ `date`.
pub fn apply(
    conn: &Connection,
    date: NaiveDate,
    open_item_days: u32,
    open: &mut Vec<OpenItem>,
    summary: &mut DaySummary,
) -> Result<DayResolutions> {
    let events = rs::events(conn, Some(date))?;
    Ok(apply_events(&events, date, open_item_days, open, summary))
}

/// [`apply`] with the configuration's look-back and reasons (the pipeline's one call per day).
pub fn for_day(
    conn: &Connection,
    cfg: &crate::config::Config,
    date: NaiveDate,
    open: &mut Vec<OpenItem>,
    summary: &mut DaySummary,
) -> Result<DayResolutions> {
    let mut r = apply(conn, date, cfg.business.open_item_days, open, summary)?;
    r.reasons = cfg.resolutions.reasons.clone();
    Ok(r)
}

/// [`apply`] on events already read (effective ≤ `date`, in effect order).
pub fn apply_events(
    events: &[Event],
    date: NaiveDate,
    open_item_days: u32,
    open: &mut Vec<OpenItem>,
    summary: &mut DaySummary,
) -> DayResolutions {
    let latest = latest_events(events);
    let resolved: BTreeSet<&str> =
        latest.iter().filter(|(_, e)| e.entry.action == ResolutionAction::Resolve).map(|(id, _)| *id).collect();
    let mut out = DayResolutions::default();
    if !resolved.is_empty() {
        open.retain(|o| !resolved.contains(finding_item_id(&o.finding).as_str()));
        summary.open_items = open.len() as i64;
    }
    let last_day = date - chrono::Duration::days(open_item_days as i64);
    for o in open.iter().filter(|o| o.finding.item_date <= last_day) {
        out.expired.insert(finding_item_id(&o.finding));
        if let Some((c, a)) = o.finding.at_stake() {
            let t = out.expired_amount.entry(c.to_string()).or_default();
            t.amount += a;
            t.count += 1;
        }
    }
    for e in events.iter().filter(|e| e.effective_date == date) {
        out.recorded.push(e.entry.clone());
    }
    for e in latest.values().filter(|e| e.effective_date == date && e.entry.action == ResolutionAction::Resolve) {
        if let (Some(c), Some(a)) = (e.entry.currency, e.entry.amount) {
            let t: &mut AmountCount =
                out.written_off.entry(c.to_string()).or_default().entry(e.entry.reason.clone()).or_default();
            t.amount += a;
            t.count += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests;
