//! Email delivery of the daily report and of alerts (issue 5).
//!
//! The flow is compose → enqueue → deliver, and each step is its own file:
//! - [`compose`]: builds the daily [`Message`] from a report folder plus the day's summary
//!   ([`daily_message`]); pure apart from reading the report folder. [`alert`]: the short alert
//!   messages ([`Alert`]).
//! - [`outbox`]: the `outbox` table (sql/0004_outbox.sql). Every message is stored before any attempt
//!   ([`enqueue`], idempotent by the message's stable key); [`plan_daily`] decides whether a day's
//!   report email is due (once per date; a rerun only when asked).
//! - [`deliver`]: sends what is pending with lettre over SMTP (STARTTLS / TLS / plain, optional
//!   auth), or writes `.eml` files; retries with backoff; marks a row sent right after the server
//!   accepted it ([`deliver_pending`]).
//!
//! - [`flow`]: what the pipeline calls, with `--no-email` / `--resend-email` applied:
//!   [`queue_daily`], [`queue_alert`], [`flush`], and [`deletion_risk`] to decide that alert.

pub mod alert;
pub mod compose;
pub mod deliver;
pub mod flow;
pub mod outbox;

pub use alert::{alert, Alert, StuckPayment, UnverifiedReply};
pub use compose::{daily_message, DailyReport};
pub use deliver::{deliver_pending, DeliveryReport};
pub use flow::{deletion_risk, flush, queue_alert, queue_daily, DailyEmail, EmailOptions};
pub use outbox::{enqueue, list, plan_daily, DailyPlan, Enqueued, OutboxEntry};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What a message is about; decides the recipients (`[email.routes.<kind>]`) and the dedup key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The day's report (discrepancies or all-clear).
    Daily,
    /// Alipay's files still missing at the deadline while there were local sales.
    FilesMissing,
    /// A run failed: the error and the next step.
    RunFailed,
    /// Payments stuck in manual review.
    ManualReview,
    /// A day's files are still missing and Alipay deletes them soon (7-day retention).
    DeletionRisk,
    /// A payment API answer failed verification (bad signature, or a signed S not about its request).
    UnverifiedReply,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Daily,
        Kind::FilesMissing,
        Kind::RunFailed,
        Kind::ManualReview,
        Kind::DeletionRisk,
        Kind::UnverifiedReply,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Daily => "daily",
            Kind::FilesMissing => "files_missing",
            Kind::RunFailed => "run_failed",
            Kind::ManualReview => "manual_review",
            Kind::DeletionRisk => "deletion_risk",
            Kind::UnverifiedReply => "unverified_reply",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    pub fn is_alert(&self) -> bool {
        *self != Kind::Daily
    }
}

/// An attachment (`inline = false`) or an inline image referenced from the HTML as `cid:<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub inline: bool,
}

/// A composed email, independent of transport and recipients (those come from the config at
/// delivery time, so fixing a wrong address also fixes messages still waiting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Stable identity: `daily/2026-11-25/v1`, `files_missing/2026-11-25`, … One outbox row per key;
    /// the Message-ID is derived from it, so a resent copy carries the same Message-ID.
    pub key: String,
    pub kind: Kind,
    pub business_date: Option<NaiveDate>,
    /// Report version for daily messages; 1 for alerts.
    pub version: u32,
    pub merchant: String,
    /// One line, no control characters (see [`compose::header_safe`]).
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub parts: Vec<Part>,
}

impl Message {
    /// sha256 over everything a reader sees: tells whether a report changed between versions.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for field in [self.subject.as_bytes(), self.text.as_bytes(), self.html.as_deref().unwrap_or("").as_bytes()] {
            h.update((field.len() as u64).to_le_bytes());
            h.update(field);
        }
        for p in &self.parts {
            h.update(p.name.as_bytes());
            h.update([p.inline as u8]);
            h.update((p.bytes.len() as u64).to_le_bytes());
            h.update(&p.bytes);
        }
        hex::encode(h.finalize())
    }
}
