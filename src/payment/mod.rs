//! The barcode payment module: takes Alipay payments at the till through the `alipay.intl.*` API,
//! keeps a crash-safe ledger in the same SQLite database, resolves every unknown outcome with the
//! integration process of alipay-api.md, and feeds its outcomes to reconciliation as local records.
//!
//! `core` (protocol-neutral types and the `Gateway` trait) ← `client` (alipay.intl over HTTPS, signed
//! by `sign`) ; `ledger` (tables of sql/0003_payment.sql) ← `flow` (the resumable state machine) and
//! `operate` (query now, cancel, refund, sweep) ; `codes` (result code → cashier message and operator action) ; `local` (ledger → local records) ;
//! `sandbox` (a local server speaking the same protocol, with its own reconciliation files).

pub mod bind;
pub mod client;
pub mod codes;
pub mod core;
pub mod flow;
pub mod ledger;
pub mod local;
mod operate;
pub mod sandbox;
pub mod sign;

pub use self::core::{Amount, CallError, CallStatus, Echo, Gateway, PayOrder, RefundOrder, Reply, TradeState};
pub use client::IntlClient;
pub use flow::{Flow, NewPayment, SweepReport};
pub use ledger::{Attempt, PayState, Refund, RefundState};
pub use local::sync_local_records;

use crate::config::Config;
use std::sync::Arc;

/// A flow over the active environment's client, with the config's timings and business zone.
pub fn flow_for<'a>(cfg: &Config, conn: &'a rusqlite::Connection, gateway: &'a dyn Gateway) -> Flow<'a> {
    Flow {
        conn,
        gateway,
        cfg: cfg.payment.clone(),
        zone: cfg.business.timezone,
        cancel_window_minutes: cfg.business.cancel_window_minutes,
        environment: cfg.environment.clone(),
        merchant_id: cfg.active().merchant_id.clone(),
        now: Arc::new(client::beijing_now),
        progress: Arc::new(|_| {}),
    }
}

/// What the daily run calls before matching: resolve everything not final with the active
/// environment's client, then bring local records up to date. Returns the sweep's report and the
/// number of local records written. Needs `[payment] enabled = true`; otherwise does nothing.
pub fn daily(cfg: &Config, conn: &rusqlite::Connection) -> anyhow::Result<(SweepReport, usize)> {
    if !cfg.payment.enabled {
        return Ok((SweepReport::default(), 0));
    }
    let client = IntlClient::from_config(cfg)?;
    let report = flow_for(cfg, conn, &client).sweep()?;
    let written = sync_local_records(conn, &cfg.business.timezone)?;
    Ok((report, written))
}
