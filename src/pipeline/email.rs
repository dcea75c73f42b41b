//! The pipeline's email steps: after a day's report, queue its email (once per date); on a failed
//! run, queue the failure alert; alert on missing files (at the deadline, and before Alipay deletes
//! them) and on payments stuck in manual review; at the end of a command, flush the outbox. Converts
//! pipeline results into `notify` inputs; the rules (once per key, `--no-email`, retries) live in
//! `notify`.
//!
//! Email problems never change a run's outcome: the report is written and the message waits in the
//! outbox; the run prints a warning naming `alipay-recon outbox send`.

use super::{day::DayResult, Workspace};
use crate::notify::{self, Alert, DailyEmail, DailyReport, EmailOptions, StuckPayment};
use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};

/// Queues the daily email of a day once it is final (a complete transaction file is stored, or its
/// deadline passed); `None` before. Prints a hint when the report changed since the email already sent.
pub fn after_day(
    ws: &mut Workspace,
    date: NaiveDate,
    res: &DayResult,
    now: DateTime<Utc>,
    opts: EmailOptions,
) -> Result<Option<DailyEmail>> {
    if now < super::deadline(&ws.cfg, date) && !has_transactions(ws, date)? {
        return Ok(None);
    }
    let merchant = ws.cfg.merchant.name.clone();
    let report = DailyReport {
        date,
        merchant: &merchant,
        version: 0,
        summary: &res.outcome.summary,
        folder: &res.report.dir,
        findings: &res.outcome.findings,
    };
    let r = notify::queue_daily(&mut ws.conn, &report, opts)?;
    if let DailyEmail::AlreadyQueued { version, changed: true, .. } = &r {
        outln!(
            "{date}: the report changed since email version {version}; pass --resend-email to send version {}",
            version + 1
        );
    }
    Ok(Some(r))
}

/// Queues the alert for a failed run. Errors while queueing are logged, never hide the run's error.
pub fn run_failed(ws: &mut Workspace, date: Option<NaiveDate>, command: &str, err: &anyhow::Error, opts: EmailOptions) {
    let a = Alert::RunFailed {
        date,
        command: command.to_string(),
        error: format!("{err:#}"),
        next_step: "read the error above; fix its cause and rerun the same command (it is safe to repeat)".into(),
    };
    let merchant = ws.cfg.merchant.name.clone();
    if let Err(e) = notify::queue_alert(&mut ws.conn, &merchant, &a, opts) {
        tracing::warn!(error = %format!("{e:#}"), "cannot queue the run-failed alert");
    }
}

/// Local SUCCESS/UNKNOWN records of `date`: what makes a missing Alipay file worth an alert.
pub fn local_sales(ws: &Workspace, date: NaiveDate) -> Result<i64> {
    Ok(ws.conn.query_row(
        "SELECT COUNT(*) FROM local_records WHERE business_date = ?1 AND status IN ('SUCCESS', 'UNKNOWN')",
        [date.to_string()],
        |r| r.get(0),
    )?)
}

fn has_transactions(ws: &Workspace, date: NaiveDate) -> Result<bool> {
    Ok(crate::store::files::list(&ws.conn, date, date, true)?.iter().any(|f| f.kind == "transactions" && !f.truncated))
}

/// The alerts a run of `date` checks for: files missing at the deadline, days approaching Alipay's
/// deletion, payments stuck in manual review. Each is queued once per key.
pub fn alerts(ws: &mut Workspace, date: NaiveDate, now: DateTime<Utc>, opts: EmailOptions) -> Result<()> {
    missing_files(ws, date, now, opts)?;
    manual_review(ws, date, opts)?;
    let merchant = ws.cfg.merchant.name.clone();
    unverified_replies(&mut ws.conn, &merchant, opts)?;
    Ok(())
}

/// Queues one alert for the payment API answers that failed verification since the last one (bad
/// signature, or a signed success not about its request) and marks them alerted. Returns how many
/// it covered; with `--no-email` they stay for the next run that sends email.
pub fn unverified_replies(conn: &mut rusqlite::Connection, merchant: &str, opts: EmailOptions) -> Result<usize> {
    use crate::payment::ledger;
    let alarms = ledger::unalerted_alarms(conn)?;
    if alarms.is_empty() || opts.no_email {
        return Ok(0);
    }
    let replies = alarms
        .iter()
        .map(|a| notify::UnverifiedReply {
            merchant_trans_id: a.merchant_trans_id.clone(),
            merchant_refund_id: a.merchant_refund_id.clone(),
            action: a.action.clone(),
            req_msg_id: a.req_msg_id.clone(),
            detail: a.detail.clone(),
        })
        .collect();
    notify::queue_alert(conn, merchant, &Alert::UnverifiedReplies { replies }, opts)?;
    ledger::mark_alerted(conn, &alarms.iter().map(|a| a.id).collect::<Vec<_>>())?;
    Ok(alarms.len())
}

/// Queues "files missing at the deadline" for `date` when the deadline has passed, no complete
/// transaction file is stored and there were local sales; and the deletion warning for earlier
/// dates still missing their files.
pub fn missing_files(ws: &mut Workspace, date: NaiveDate, now: DateTime<Utc>, opts: EmailOptions) -> Result<()> {
    let merchant = ws.cfg.merchant.name.clone();
    let deadline = super::deadline(&ws.cfg, date);
    if now >= deadline && !has_transactions(ws, date)? {
        let local_sales = local_sales(ws, date)?;
        let deadline = deadline.with_timezone(&ws.cfg.business.timezone.offset_at(deadline));
        let searched = crate::source::searched(&ws.cfg, date, &[]).join("; ");
        let missing = vec![format!("transaction file (searched {searched})")];
        let a = Alert::FilesMissing { date, deadline, missing, local_sales };
        notify::queue_alert(&mut ws.conn, &merchant, &a, opts)?;
    }
    let zone = ws.cfg.business.timezone;
    let today = zone.date_of(&now.with_timezone(&zone.offset_at(now)));
    for back in 1..=notify::flow::RETENTION_DAYS {
        let d = today - chrono::Days::new(back as u64);
        if let Some(a) = notify::deletion_risk(d, today) {
            if !has_transactions(ws, d)? && local_sales(ws, d)? > 0 {
                notify::queue_alert(&mut ws.conn, &merchant, &a, opts)?;
            }
        }
    }
    Ok(())
}

/// Queues the manual-review alert listing every payment of the ledger in MANUAL_REVIEW (once per
/// run date and set of payments: a daily reminder while any stays stuck).
pub fn manual_review(ws: &mut Workspace, date: NaiveDate, opts: EmailOptions) -> Result<()> {
    use crate::payment::{ledger, PayState};
    let stuck = ledger::list_attempts(&ws.conn, &[PayState::ManualReview], None, None)?;
    let payments = stuck
        .into_iter()
        .map(|a| StuckPayment {
            reason: a
                .last_error
                .clone()
                .or_else(|| a.result_code.clone())
                .unwrap_or_else(|| "outcome unknown after the automatic retries".into()),
            merchant_trans_id: a.merchant_trans_id,
            currency: a.amount.currency,
            amount: a.amount.minor,
            since: a.created_at,
        })
        .collect();
    let merchant = ws.cfg.merchant.name.clone();
    notify::queue_alert(&mut ws.conn, &merchant, &Alert::ManualReview { date, payments }, opts)?;
    Ok(())
}

/// Sends what is waiting. Prints one line per message sent and a warning for what stays queued.
pub fn finish(ws: &Workspace, opts: EmailOptions) {
    match notify::flush(&ws.conn, &ws.cfg, opts) {
        Ok(None) => {}
        Ok(Some(rep)) => {
            for k in &rep.sent {
                outln!("email sent: {k}");
            }
            for (k, e) in &rep.failed {
                errln!("warning: email {k} not sent: {e}");
            }
            if rep.deferred > 0 {
                errln!(
                    "warning: {} more emails wait in the outbox: run `alipay-recon outbox send` later",
                    rep.deferred
                );
            }
        }
        Err(e) => errln!(
            "warning: emails not sent: {e:#}; they wait in the outbox: fix [email] and run `alipay-recon outbox send`"
        ),
    }
}
