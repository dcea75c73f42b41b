//! `[payment]`: the barcode payment module's timings and limits. Filled in by the payment subsystem.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentConfig {
    /// Whether the payment module is in use (its ledger feeds reconciliation; `run` sweeps it).
    #[serde(default)]
    pub enabled: bool,
}
