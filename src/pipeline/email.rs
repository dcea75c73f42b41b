//! The pipeline's email steps: after a day's report, queue its email (once per date); on a failed
//! run, queue the failure alert; alert on missing files (at the deadline, and before Alipay deletes
//! them) and on payments stuck in manual review; at the end of a command, flush the outbox. Converts
//! pipeline results into `notify` inputs; the rules (once per key, `--no-email`, retries) live in
//! `notify`.
//!
//! Email problems never fail a run (exit 2): the report is written and the message waits in the
//! outbox. But a run that leaves a message waiting is never a clean 0 either (contracts.md v3 §5): the
//! command exits 1 and says what waits and how it will be sent ([`Delivery::waiting_sentence`]).

use super::{day::DayResult, Workspace};
use crate::notify::{self, Alert, DailyEmail, DailyReport, EmailOptions, StuckPayment};
use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};

/// Queues the daily email of a day once it is final (a complete transaction file is stored, or its
/// deadline passed); `None` before. `AlreadyQueued { changed: true }`: the report changed since the
/// email already sent (the caller says that `--resend-email` sends the new version).
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
    Ok(Some(notify::queue_daily(&mut ws.conn, &report, opts)?))
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
    crate::store::local::local_sales(&ws.conn, date)
}

fn has_transactions(ws: &Workspace, date: NaiveDate) -> Result<bool> {
    crate::store::local::has_transactions(&ws.conn, date)
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

/// What one delivery pass of a command did, for its output.
#[derive(Debug, Default)]
pub struct Delivery {
    pub sent: Vec<String>,
    /// For stderr: why each waiting message was not sent.
    pub warnings: Vec<String>,
    /// Outbox keys still waiting after the pass.
    pub waiting: Vec<String>,
}

impl Delivery {
    /// One sentence: what waits in the outbox and how it will be sent; `None` when nothing waits.
    pub fn waiting_sentence(&self) -> Option<String> {
        let what: Vec<String> = self.waiting.iter().map(|k| notify::outbox::describe(k)).collect();
        let (verb, it) = if what.len() == 1 { ("is", "it") } else { ("are", "them") };
        let list = match what.as_slice() {
            [] => return None,
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        };
        Some(format!(
            "not delivered: {list} {verb} waiting in the outbox; `alipay-recon outbox send` or the hourly outbox \
             retry (schedules/) will deliver {it}"
        ))
    }

    /// For the `runs` table: what waits and why.
    pub fn run_message(&self) -> Option<String> {
        let s = self.waiting_sentence()?;
        Some(if self.warnings.is_empty() { s } else { format!("{s}. Why: {}", self.warnings.join("; ")) })
    }

    /// `email sent:` lines on stdout, the causes on stderr, and what waits on stdout and in the log.
    pub fn print(&self) {
        for k in &self.sent {
            outln!("email sent: {k}");
        }
        for w in &self.warnings {
            errln!("warning: {w}");
        }
        if let Some(s) = self.waiting_sentence() {
            tracing::warn!("{s}");
            outln!("{s}");
        }
    }
}

/// Sends what is waiting (`try_send = false`: only lists it, e.g. after an earlier pass of the same
/// command found the server down). Nothing with `--no-email`: the run owes no email.
pub fn deliver(ws: &Workspace, opts: EmailOptions, try_send: bool) -> Delivery {
    let pending = |d: &mut Delivery| match notify::list(&ws.conn, false) {
        Ok(rows) => d.waiting = rows.into_iter().map(|r| r.key).collect(),
        Err(e) => d.warnings.push(format!("cannot read the outbox: {e:#}")),
    };
    let mut d = Delivery::default();
    if opts.no_email {
        return d;
    }
    if !try_send {
        pending(&mut d);
        d.warnings.extend(
            d.waiting.iter().map(|k| format!("email {k} not tried again after the earlier failure of this command")),
        );
        return d;
    }
    match notify::flush(&ws.conn, &ws.cfg, opts) {
        Ok(None) => {}
        Ok(Some(rep)) => {
            d.waiting = rep.waiting_keys().into_iter().map(String::from).collect();
            d.warnings = rep.failed.iter().map(|(k, e)| format!("email {k} not sent: {e}")).collect();
            if !rep.deferred.is_empty() {
                d.warnings.push(format!(
                    "{} more emails not tried after that failure: {}",
                    rep.deferred.len(),
                    rep.deferred.join(", ")
                ));
            }
            d.sent = rep.sent;
        }
        Err(e) => {
            d.warnings.push(format!("emails not sent: {e:#}; fix [email] and run `alipay-recon outbox send`"));
            pending(&mut d);
        }
    }
    d
}

/// Sends what is waiting and prints the result; returns the sentence saying what still waits.
pub fn finish(ws: &Workspace, opts: EmailOptions) -> Option<String> {
    let d = deliver(ws, opts, true);
    d.print();
    d.waiting_sentence()
}
