//! The business rules' settings (contracts.md §0) as the engine and the store read them: plain data,
//! so that `store` (the window's dates, the state's rules hash) need not import the engine. Built from
//! `[business]` by `reconcile::Params::from_config`.

use super::{BusinessZone, Currency};
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The business rules' settings (contracts.md §0), from `[business]`.
/// Its `Debug` text is hashed (`store::state::rules_hash`): names and field order are part of every
/// stored state's key (pinned by a test).
#[derive(Debug, Clone)]
pub struct Params {
    pub zone: BusinessZone,
    pub grace_minutes: u32,
    pub cancel_window_minutes: u32,
    pub open_item_days: u32,
    pub settlement_lookback_days: u32,
    pub unsettled_after_days: u32,
    pub amount_tolerance: BTreeMap<Currency, i64>,
    pub fee_tolerance_minor: i64,
    pub refund_returns_fee: bool,
    pub fees: Vec<FeeRule>,
}

impl Params {
    pub fn tolerance(&self, c: Currency) -> i64 {
        self.amount_tolerance.get(&c).copied().unwrap_or(0)
    }

    /// How far back one day's checks look (matching, settlement, unsettled), in days.
    pub fn lookback_days(&self) -> i64 {
        self.open_item_days.max(self.settlement_lookback_days).max(self.unsettled_after_days) as i64
    }

    /// The first day of T's stored window: T's open-item look-back, each day of which is replayed
    /// with its own look-back behind it, so replays see exactly what that day's run saw.
    pub fn window_start(&self, date: NaiveDate) -> NaiveDate {
        date - Duration::days(self.open_item_days as i64 + self.lookback_days())
    }
}

/// A contract rate: `rate_ppm` parts per million of the amount plus `fixed_minor`, per settlement
/// currency, optionally only for a product code or wallet (userSite).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeeRule {
    pub currency: Currency,
    /// 1.8% = 18000 ppm. Integers, so no float touches money.
    #[serde(default)]
    pub rate_ppm: i64,
    #[serde(default)]
    pub fixed_minor: i64,
    #[serde(default)]
    pub product_code: Option<String>,
    #[serde(default)]
    pub wallet: Option<String>,
}
