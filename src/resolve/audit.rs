//! The audit trail's content and checks: the canonical JSON of each entry, `audit verify` (recompute
//! the hash chain; compare every stored resolution with the entry that recorded it) and
//! `audit export` (the trail as CSV).

use crate::domain::item::ResolutionEntry;
use crate::store::resolutions::{self as rs, AuditEntry, Event, GENESIS};
use anyhow::Result;
use chrono::NaiveDate;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

/// The canonical content of a resolve or reopen entry: fields in this order, serde_json's escaping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct EventContent {
    action: String,
    item_id: String,
    category: String,
    key: String,
    item_date: String,
    reason: String,
    note: String,
    by: String,
    effective_date: String,
    recorded_at: String,
    currency: Option<String>,
    amount: Option<i64>,
    source: String,
}

impl EventContent {
    fn of(e: &ResolutionEntry, effective: NaiveDate, source: &str) -> EventContent {
        EventContent {
            action: e.action.as_str().to_string(),
            item_id: e.item_id.clone(),
            category: e.category.as_str().to_string(),
            key: e.key.clone(),
            item_date: e.item_date.to_string(),
            reason: e.reason.clone(),
            note: e.note.clone(),
            by: e.by.clone(),
            effective_date: effective.to_string(),
            recorded_at: e.recorded_at.clone(),
            currency: e.currency.map(|c| c.to_string()),
            amount: e.amount,
            source: source.to_string(),
        }
    }
}

/// The audit content of a resolve or reopen.
pub fn event_content(e: &ResolutionEntry, effective: NaiveDate, source: &str) -> String {
    serde_json::to_string(&EventContent::of(e, effective, source)).expect("plain struct serialises")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ImportContent {
    action: String,
    file: String,
    sha256: String,
    rows: usize,
    applied: usize,
    by: String,
    effective_date: String,
    recorded_at: String,
}

/// The audit content of an import (written before the entries of the rows it applied).
pub fn import_content(
    file: &str,
    sha256: &str,
    rows: usize,
    applied: usize,
    by: &str,
    recorded_at: &str,
    effective: NaiveDate,
) -> String {
    serde_json::to_string(&ImportContent {
        action: "IMPORT".into(),
        file: file.into(),
        sha256: sha256.into(),
        rows,
        applied,
        by: by.into(),
        effective_date: effective.to_string(),
        recorded_at: recorded_at.into(),
    })
    .expect("plain struct serialises")
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: usize,
    /// The newest entry's hash (note it elsewhere to detect a rewrite of the whole chain).
    pub head: String,
    /// The first problem found, in plain words; `None` when the chain is intact.
    pub broken: Option<String>,
}

/// Recomputes the chain and compares each stored resolution with its entry.
pub fn verify(conn: &Connection) -> Result<Verified> {
    let entries = rs::audit_entries(conn)?;
    let events = rs::events_by_audit_seq(conn)?;
    Ok(check(&entries, &events))
}

fn check(entries: &[AuditEntry], events: &[Event]) -> Verified {
    let head = entries.last().map(|e| e.hash.clone()).unwrap_or_else(|| GENESIS.to_string());
    let broken = first_problem(entries, events);
    Verified { entries: entries.len(), head, broken }
}

fn first_problem(entries: &[AuditEntry], events: &[Event]) -> Option<String> {
    let mut prev = GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        let expected = i as i64 + 1;
        if e.seq != expected {
            return Some(format!(
                "entry #{expected} was removed: the trail jumps from #{} to #{}",
                expected - 1,
                e.seq
            ));
        }
        if e.prev_hash != prev {
            return Some(format!(
                "entry #{} does not follow entry #{}: its recorded previous hash differs, so entry #{} was changed or removed",
                e.seq,
                e.seq - 1,
                e.seq - 1
            ));
        }
        if rs::chain_hash(&e.prev_hash, &e.content) != e.hash {
            return Some(format!(
                "entry #{} ({} by {} at {}) was changed: its content no longer matches its hash",
                e.seq, e.action, e.by_user, e.recorded_at
            ));
        }
        let head: Option<(String, String, String)> =
            serde_json::from_str::<serde_json::Value>(&e.content).ok().map(|v| {
                let f = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
                (f("action"), f("by"), f("recorded_at"))
            });
        if head != Some((e.action.clone(), e.by_user.clone(), e.recorded_at.clone())) {
            return Some(format!(
                "entry #{} was changed: its action, user or time columns differ from its hashed content",
                e.seq
            ));
        }
        prev = e.hash.clone();
    }
    let by_seq: std::collections::BTreeMap<i64, &AuditEntry> = entries.iter().map(|e| (e.seq, e)).collect();
    let mut recorded = std::collections::BTreeSet::new();
    for ev in events {
        recorded.insert(ev.audit_seq);
        let Some(a) = by_seq.get(&ev.audit_seq) else {
            return Some(format!(
                "the resolution of item {} (row {}) names audit entry #{}, which is not in the trail",
                ev.entry.item_id, ev.id, ev.audit_seq
            ));
        };
        let stored: Option<EventContent> = serde_json::from_str(&a.content).ok();
        let source = stored.as_ref().map(|s| s.source.clone()).unwrap_or_default();
        if stored != Some(EventContent::of(&ev.entry, ev.effective_date, &source)) {
            return Some(format!(
                "the resolution of item {} recorded by entry #{} was changed in the resolution_events table (row {}): it no longer matches the entry",
                ev.entry.item_id, ev.audit_seq, ev.id
            ));
        }
    }
    for e in entries.iter().filter(|e| e.action != "IMPORT") {
        if !recorded.contains(&e.seq) {
            return Some(format!(
                "the {} recorded by entry #{} was removed from the resolution_events table",
                e.action.to_lowercase(),
                e.seq
            ));
        }
    }
    None
}

/// The trail as CSV: seq, recorded_at, action, by, content, prev_hash, hash.
pub fn export_csv(conn: &Connection) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(["seq", "recorded_at", "action", "by", "content", "prev_hash", "hash"])?;
    for e in rs::audit_entries(conn)? {
        w.write_record([&e.seq.to_string(), &e.recorded_at, &e.action, &e.by_user, &e.content, &e.prev_hash, &e.hash])?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("cannot finish the audit CSV in memory: {}", e.error()))
}
