//! The identity of a reported item across days and reports (issue 18): its category plus a key made
//! from its ids, and a short stable id derived from both that every report prints. Also the
//! resolution vocabulary a day's report carries ([`DayResolutions`]).

use super::{Category, Currency, Finding};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Length of an item id: 10 Crockford base32 characters (50 bits: a collision among a million items
/// has odds of about 1 in 2,000, and a lookup that finds two names both and asks for category + key).
pub const ITEM_ID_LEN: usize = 10;
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The key of a finding within its category: what stays the same for the item from day to day.
/// A refund is keyed by its own id (`refund:R1`; the payment id beside it may only be learnt later),
/// a payment by the merchant's id, else Alipay's (`alipay:2026…`); a row about no single payment or
/// refund (FILE_INTEGRITY, SUMMARY_MISMATCH) by its item date and a hash of its detail.
pub fn item_key(f: &Finding) -> String {
    let (refund, trans, acq) = (f.merchant_refund_id.trim(), f.merchant_trans_id.trim(), f.acquirement_id.trim());
    if !refund.is_empty() {
        format!("refund:{refund}")
    } else if !trans.is_empty() {
        trans.to_string()
    } else if !acq.is_empty() {
        format!("alipay:{acq}")
    } else {
        let h = Sha256::digest(f.detail.as_bytes());
        format!("{}:{}", f.item_date, &hex::encode(h)[..12])
    }
}

/// The short id of an item: the first [`ITEM_ID_LEN`] Crockford base32 digits of
/// sha256(category `\n` key).
pub fn item_id(category: Category, key: &str) -> String {
    let h = Sha256::digest(format!("{}\n{}", category.as_str(), key).as_bytes());
    let mut bits: u64 = 0;
    for b in &h[..8] {
        bits = (bits << 8) | *b as u64;
    }
    (0..ITEM_ID_LEN).map(|i| CROCKFORD[((bits >> (59 - 5 * i)) & 31) as usize] as char).collect()
}

/// The id of the item a finding is about.
pub fn finding_item_id(f: &Finding) -> String {
    item_id(f.category, &item_key(f))
}

/// A user's spelling of an item id in canonical form (Crockford: case-insensitive, O→0, I/L→1), or
/// `None` when it cannot be one.
pub fn normalise_item_id(raw: &str) -> Option<String> {
    let s: String = raw
        .trim()
        .chars()
        .filter(|c| *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    (s.len() == ITEM_ID_LEN && s.bytes().all(|b| CROCKFORD.contains(&b))).then_some(s)
}

/// What was done to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResolutionAction {
    Resolve,
    Reopen,
}

impl ResolutionAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            ResolutionAction::Resolve => "RESOLVE",
            ResolutionAction::Reopen => "REOPEN",
        }
    }

    pub fn parse(s: &str) -> Option<ResolutionAction> {
        match s {
            "RESOLVE" => Some(ResolutionAction::Resolve),
            "REOPEN" => Some(ResolutionAction::Reopen),
            _ => None,
        }
    }
}

/// One resolve or reopen, as a day's report lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResolutionEntry {
    pub item_id: String,
    pub category: Category,
    pub key: String,
    pub item_date: chrono::NaiveDate,
    pub action: ResolutionAction,
    /// A configured reason (empty for a reopen).
    pub reason: String,
    pub note: String,
    pub by: String,
    /// RFC 3339 UTC.
    pub recorded_at: String,
    pub currency: Option<Currency>,
    pub amount: Option<i64>,
}

/// Amount (minor units) and count of items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AmountCount {
    pub amount: i64,
    pub count: i64,
}

/// What the resolutions change on one day's report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayResolutions {
    /// Resolves and reopens that took effect on the day, in the order they were recorded.
    pub recorded: Vec<ResolutionEntry>,
    /// Open items on their last day of the open-item look-back, unresolved: `EXPIRED` in open_items.csv.
    pub expired: BTreeSet<String>,
    /// Amount resolved on the day (still resolved at its end) per currency code and reason.
    pub written_off: BTreeMap<String, BTreeMap<String, AmountCount>>,
    /// Amount of the expired open items per currency code.
    pub expired_amount: BTreeMap<String, AmountCount>,
    /// The configured reasons (the workbook's drop-down).
    pub reasons: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn finding(cat: Category, trans: &str, refund: &str) -> Finding {
        let d = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        Finding {
            merchant_trans_id: trans.into(),
            merchant_refund_id: refund.into(),
            ..Finding::blank(d, d, cat, "x".into())
        }
    }

    #[test]
    fn item_ids_are_stable_short_and_distinct() {
        let a = finding_item_id(&finding(Category::MissingLocally, "T1", ""));
        assert_eq!(a.len(), ITEM_ID_LEN);
        assert_eq!(a, item_id(Category::MissingLocally, "T1"));
        // Pinned: reports printed this id; it must never change.
        assert_eq!(a, "EWP0C4K3VX");
        assert_ne!(a, finding_item_id(&finding(Category::MissingAtAlipay, "T1", "")));
        // A refund is keyed by its own id whatever payment id is known beside it.
        assert_eq!(
            finding_item_id(&finding(Category::MissingLocally, "", "R1")),
            finding_item_id(&finding(Category::MissingLocally, "T9", "R1"))
        );
        assert_eq!(normalise_item_id(&a.to_lowercase()), Some(a.clone()));
        assert_eq!(normalise_item_id("short"), None);
        assert_eq!(normalise_item_id("oooooooooo"), Some("0000000000".into()));
    }
}
