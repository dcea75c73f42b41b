//! The `[business]` section: Alipay's day, windows and tolerances (contracts.md §0).

use crate::domain::{BusinessZone, Currency};
// The fee rule is part of the engine's settings (`domain::Params`): the domain holds it.
pub use crate::domain::FeeRule;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusinessConfig {
    /// Alipay's business day zone: `UTC+8` (default), `+09:00`, `Asia/Shanghai`.
    pub timezone: BusinessZone,
    pub grace_minutes: u32,
    /// Cancels are allowed the same business day plus this buffer.
    pub cancel_window_minutes: u32,
    pub open_item_days: u32,
    pub settlement_lookback_days: u32,
    pub unsettled_after_days: u32,
    /// Per-currency amount tolerance in minor units (default 0).
    pub amount_tolerance: BTreeMap<Currency, i64>,
    /// Fee tolerance per row in minor units of the settlement currency.
    pub fee_tolerance_minor: i64,
    /// Refunds return the fee pro rata (default true).
    pub refund_returns_fee: bool,
    /// Local time of day (in the business zone) on T+1 after which missing files are final: `HH:MM`.
    pub file_deadline: String,
    /// Contract fee rates; none configured means no fee checks.
    pub fees: Vec<FeeRule>,
}

impl Default for BusinessConfig {
    fn default() -> Self {
        BusinessConfig {
            timezone: BusinessZone::default(),
            grace_minutes: 30,
            cancel_window_minutes: 15,
            open_item_days: 7,
            settlement_lookback_days: 14,
            unsettled_after_days: 7,
            amount_tolerance: BTreeMap::new(),
            fee_tolerance_minor: 1,
            refund_returns_fee: true,
            file_deadline: "18:00".into(),
            fees: Vec::new(),
        }
    }
}

impl BusinessConfig {
    pub fn validate(&self, origin: &str) -> Result<()> {
        if self.deadline().is_none() {
            bail!(
                "{origin}: key `business.file_deadline` is '{}': expected a time of day HH:MM such as 18:00",
                self.file_deadline
            );
        }
        if self.open_item_days == 0 || self.open_item_days > 366 {
            bail!("{origin}: key `business.open_item_days` must be between 1 and 366");
        }
        for f in &self.fees {
            if f.rate_ppm < 0 || f.rate_ppm > 1_000_000 || f.fixed_minor < 0 {
                bail!("{origin}: a [[business.fees]] rule for {} has a negative or >100% rate", f.currency);
            }
        }
        Ok(())
    }

    /// The file deadline as a time of day.
    pub fn deadline(&self) -> Option<chrono::NaiveTime> {
        chrono::NaiveTime::parse_from_str(&self.file_deadline, "%H:%M").ok()
    }

    pub fn tolerance(&self, c: Currency) -> i64 {
        self.amount_tolerance.get(&c).copied().unwrap_or(0)
    }
}
