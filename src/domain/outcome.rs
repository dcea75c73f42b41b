//! What one day's reconciliation gives: its result (`Outcome`, stored by `store::results`) and what
//! the next day's incremental run keeps of it (`DayKeys`, stored by `store::state`). Plain data.

use super::{DaySummary, Finding, OpenItem, PendingItem};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// The result of one day's reconciliation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// `discrepancies.csv`: items first found on this day, in contract order.
    pub findings: Vec<Finding>,
    /// `pending.csv`: pending items, then items resolved on this day.
    pub pending: Vec<PendingItem>,
    /// `open_items.csv`: reported on an earlier day, still unexplained.
    pub open_items: Vec<OpenItem>,
    pub summary: DaySummary,
}

/// What the next day's incremental run needs of day T (`store::state`): the keys with a verdict at
/// T (found or pending), as the ids the store knows them by, and how many keys of this input both
/// sides agree on at T−1 (to carry the day's matched count over keys the next run does not load).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayKeys {
    /// Ids (merchant ids, Alipay ids) of the keys with a verdict at T, sorted, without duplicates.
    pub ids: Vec<String>,
    /// The keys of this input both sides agree on at T, counted by item date (the earliest date of
    /// the key's records): a key leaves the count when its item date leaves the open-item look-back.
    pub matched_by_day: MatchedByDay,
    /// [`DayKeys::matched_before`] by item date.
    pub matched_before_by_day: MatchedByDay,
    /// Keys of this input both sides agree on at T−1 as T−1's own run counts them (its open-item
    /// look-back); counted only when asked (`run_keeping(.., true)`), else 0.
    pub matched_before: i64,
}

/// Keys both sides agree on, by item date.
pub type MatchedByDay = BTreeMap<NaiveDate, i64>;
