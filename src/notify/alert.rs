//! The alert emails: short messages that say what happened and what to do — files missing at the
//! deadline (only when there were local sales), a failed run, payments stuck in manual review, a
//! missing day approaching Alipay's 7-day deletion. Each has a stable key, so the same event
//! composed again by a retried run is queued once.

use super::compose::{header_safe, money, one_line, text_as_html};
use super::{Kind, Message};
use crate::domain::Currency;
use chrono::{DateTime, FixedOffset, NaiveDate};
use std::fmt::Write as _;

/// A payment waiting in Alipay's manual review (risk control) for too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckPayment {
    pub merchant_trans_id: String,
    pub currency: Currency,
    pub amount: i64,
    pub since: DateTime<FixedOffset>,
    /// Why it is stuck, e.g. "cancel returned UNKNOWN 5 times".
    pub reason: String,
}

/// A payment API answer that failed verification: its signature, or it was a signed success about
/// another payment, refund or amount than the request's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedReply {
    pub merchant_trans_id: String,
    pub merchant_refund_id: Option<String>,
    /// pay, query, cancel or refund.
    pub action: String,
    pub req_msg_id: String,
    /// The user-facing error (what failed and what was done).
    pub detail: String,
}

/// Events that deserve their own short email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// The deadline passed and Alipay's files for `date` are still missing; `local_sales` counts the
    /// day's local SUCCESS/UNKNOWN records (no sales, no alert).
    FilesMissing {
        date: NaiveDate,
        deadline: DateTime<FixedOffset>,
        missing: Vec<String>,
        local_sales: i64,
    },
    /// A run failed; `error` is the user-facing message, `next_step` what to do.
    RunFailed {
        date: Option<NaiveDate>,
        command: String,
        error: String,
        next_step: String,
    },
    ManualReview {
        date: NaiveDate,
        payments: Vec<StuckPayment>,
    },
    /// `missing_date`'s files are still not imported and Alipay deletes them after `deleted_after`.
    DeletionRisk {
        missing_date: NaiveDate,
        deleted_after: NaiveDate,
        today: NaiveDate,
    },
    /// Answers of the payment API that failed verification (one alert per batch, keyed by reqMsgIds).
    UnverifiedReplies {
        replies: Vec<UnverifiedReply>,
    },
}

/// Builds an alert email, or `None` when the event does not warrant one (files missing on a day
/// without local sales; a manual-review alert without payments).
pub fn alert(merchant: &str, a: &Alert) -> Option<Message> {
    let m = header_safe(merchant);
    let (kind, date, key, headline, body) = match a {
        Alert::FilesMissing { date, deadline, missing, local_sales } => {
            if *local_sales == 0 {
                return None;
            }
            let list = if missing.is_empty() { "the transaction file".to_string() } else { missing.join(", ") };
            (
                Kind::FilesMissing,
                Some(*date),
                format!("files_missing/{date}"),
                format!("Alipay files for {date} still missing"),
                format!(
                    "The deadline {deadline} has passed and Alipay's files for business day {date} are still missing: {list}.\n\
                     There were {local_sales} local sales that day, so they cannot be reconciled.\n\n\
                     What to do: check on the SFTP server whether the files exist (`alipay-recon import --date {date}`); \
                     if they do not, ask Alipay support to regenerate them. Alipay deletes files after 7 days."
                ),
            )
        }
        Alert::RunFailed { date, command, error, next_step } => {
            let d = date.map(|d| d.to_string()).unwrap_or_else(|| "no-date".into());
            (
                Kind::RunFailed,
                *date,
                // The same failure repeated by every cron retry alerts once.
                format!("run_failed/{d}/{}", short_hash(&[command, error])),
                format!("run failed: {}", one_line(command)),
                format!(
                    "The run `{command}`{} failed:\n\n  {error}\n\nWhat to do: {next_step}",
                    date.map(|d| format!(" for {d}")).unwrap_or_default()
                ),
            )
        }
        Alert::ManualReview { date, payments } => {
            if payments.is_empty() {
                return None;
            }
            let mut ids: Vec<&str> = payments.iter().map(|p| p.merchant_trans_id.as_str()).collect();
            ids.sort_unstable();
            let n = payments.len();
            let noun = if n == 1 { "payment is" } else { "payments are" };
            let mut b = format!("{n} {noun} stuck in manual review:\n\n");
            for p in payments {
                let _ = writeln!(
                    b,
                    "  - {} {} since {}: {}",
                    one_line(&p.merchant_trans_id),
                    money(p.amount, p.currency),
                    p.since,
                    one_line(&p.reason)
                );
            }
            b.push_str(
                "\nTheir outcome at Alipay is unknown after the automatic retries. What to do: check each one with \
                 Alipay support (overseas_support@service.alibaba.com) quoting the payment id, then record it as paid \
                 or refunded; until then do not count it as revenue.",
            );
            (
                Kind::ManualReview,
                Some(*date),
                format!("manual_review/{date}/{}", short_hash(&ids)),
                format!("{n} {} stuck in manual review", if n == 1 { "payment" } else { "payments" }),
                b,
            )
        }
        Alert::DeletionRisk { missing_date, deleted_after, today } => {
            let left = (*deleted_after - *today).num_days().max(0);
            (
                Kind::DeletionRisk,
                Some(*missing_date),
                format!("deletion_risk/{missing_date}"),
                format!("files of {missing_date} will be deleted by Alipay in {left} days"),
                format!(
                    "Alipay's files for business day {missing_date} have still not been imported, and Alipay deletes \
                     them after {deleted_after} ({left} days left).\n\n\
                     What to do: run `alipay-recon import --date {missing_date}` now and check the SFTP account; \
                     if the files are not on the server, ask Alipay support before they are gone."
                ),
            )
        }
        Alert::UnverifiedReplies { replies } => {
            if replies.is_empty() {
                return None;
            }
            let ids: Vec<&str> = replies.iter().map(|r| r.req_msg_id.as_str()).collect();
            let n = replies.len();
            let mut b = format!(
                "{n} answer{} of the Alipay payment API failed verification:\n\n",
                if n == 1 { "" } else { "s" }
            );
            for r in replies {
                let _ = writeln!(
                    b,
                    "  - {} of payment {}{} (reqMsgId {}): {}",
                    one_line(&r.action),
                    one_line(&r.merchant_trans_id),
                    r.merchant_refund_id.as_deref().map(|id| format!(", refund {}", one_line(id))).unwrap_or_default(),
                    one_line(&r.req_msg_id),
                    one_line(&r.detail)
                );
            }
            b.push_str(
                "\nNone of these answers was used: each payment was queried instead and keeps the state the \
                 verified answers gave it (see `alipay-recon payments`). What to do: if it repeats, check \
                 `alipay_public_key_file` and `api_base_url` of the active environment (a proxy or a wrong host \
                 can answer for another merchant), and report the reqMsgIds to Alipay support \
                 (overseas_support@service.alibaba.com).",
            );
            (
                Kind::UnverifiedReply,
                None,
                format!("unverified_reply/{}", short_hash(&ids)),
                format!("{n} unverified payment API answer{}", if n == 1 { "" } else { "s" }),
                b,
            )
        }
    };
    let when = date.map(|d| format!("{d} ")).unwrap_or_default();
    let subject = header_safe(&format!("[alipay-recon] ALERT {when}{m}: {headline}"));
    let text = format!("Alert for {merchant}.\n\n{body}\n");
    let html = Some(text_as_html(&subject, &text));
    Some(Message {
        key,
        kind,
        business_date: date,
        version: 1,
        merchant: merchant.into(),
        subject,
        text,
        html,
        parts: vec![],
    })
}

fn short_hash(items: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for i in items {
        h.update((i.len() as u64).to_le_bytes());
        h.update(i.as_bytes());
    }
    hex::encode(&h.finalize()[..6])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(s: &str) -> Currency {
        Currency::parse(s).unwrap()
    }

    #[test]
    fn alerts_only_when_warranted_and_keyed_stably() {
        let date: NaiveDate = "2026-11-25".parse().unwrap();
        let deadline = DateTime::parse_from_rfc3339("2026-11-26T18:00:00+08:00").unwrap();
        let none = alert("M", &Alert::FilesMissing { date, deadline, missing: vec![], local_sales: 0 });
        assert!(none.is_none(), "no local sales: no alert");
        let a = alert(
            "M",
            &Alert::FilesMissing { date, deadline, missing: vec!["intl HKD transactions".into()], local_sales: 4 },
        )
        .unwrap();
        assert_eq!(a.key, "files_missing/2026-11-25");
        assert!(a.subject.starts_with("[alipay-recon] ALERT 2026-11-25 M: "), "{}", a.subject);
        assert!(a.text.contains("What to do") && a.text.contains("4 local sales"), "{}", a.text);

        let disk_full = Alert::RunFailed {
            date: Some(date),
            command: "run".into(),
            error: "disk full".into(),
            next_step: "free space".into(),
        };
        let (f1, f2) = (alert("M", &disk_full).unwrap(), alert("M", &disk_full).unwrap());
        let f3 = alert(
            "M",
            &Alert::RunFailed { date: Some(date), command: "run".into(), error: "other".into(), next_step: "x".into() },
        )
        .unwrap();
        assert_eq!(f1.key, f2.key);
        assert_ne!(f1.key, f3.key);
        assert!(f1.text.contains("disk full") && f1.text.contains("What to do: free space"));

        assert!(alert("M", &Alert::ManualReview { date, payments: vec![] }).is_none());
        let since = DateTime::parse_from_rfc3339("2026-11-25T10:00:00+08:00").unwrap();
        let mr = alert(
            "M",
            &Alert::ManualReview {
                date,
                payments: vec![StuckPayment {
                    merchant_trans_id: "P9".into(),
                    currency: cur("HKD"),
                    amount: 150_000,
                    since,
                    reason: "cancel UNKNOWN x5".into(),
                }],
            },
        )
        .unwrap();
        assert!(mr.text.contains("P9 HKD 1,500.00") && mr.text.contains("cancel UNKNOWN x5"), "{}", mr.text);

        let dr = alert(
            "M",
            &Alert::DeletionRisk {
                missing_date: date,
                deleted_after: "2026-12-02".parse().unwrap(),
                today: "2026-11-30".parse().unwrap(),
            },
        )
        .unwrap();
        assert_eq!(dr.key, "deletion_risk/2026-11-25");
        assert!(dr.subject.contains("in 2 days"), "{}", dr.subject);
    }
}
