//! `alipay-recon retention [--today YYYY-MM-DD] [--no-email]` — daily housekeeping (the shipped
//! schedule runs it at 03:15): warns about recent days with local sales whose Alipay transaction file
//! is still not stored (Alipay deletes files after 7 days) and queues the deletion-risk alert once
//! per date; drops attachments of long-sent emails (`retention.outbox_attachments_days`) and stale
//! interrupted downloads (`retention.staging_days`). Never deletes the archive, reports or rows.
//! Exit 0 when nothing needs attention, 1 when a date is at risk of deletion.

use crate::notify::EmailOptions;
use crate::ops::retention::{self, AlertState};
use crate::pipeline::{self, Workspace};
use crate::sys::exit::Outcome;
use anyhow::Result;
use chrono::NaiveDate;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The business date to count back from (default: today in the business zone).
    #[arg(long)]
    pub today: Option<NaiveDate>,
    /// Queue and send no email in this run (the warnings are still printed).
    #[arg(long)]
    pub no_email: bool,
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let cfg = g.load_config()?;
    let today = a.today.unwrap_or_else(|| {
        let now = chrono::Utc::now().fixed_offset();
        cfg.business.timezone.date_of(&now)
    });
    let opts = EmailOptions { no_email: a.no_email, resend: false };
    let mut ws = Workspace::open(cfg)?;
    let report = retention::run(&ws.cfg, &mut ws.conn, today, std::time::SystemTime::now(), opts)?;
    for m in &report.missing {
        if !m.at_risk {
            outln!(
                "{}: {} local sales, no Alipay transaction file stored yet (Alipay deletes it after {})",
                m.date,
                m.local_sales,
                m.deleted_after
            );
            continue;
        }
        let alert = match m.alert {
            AlertState::Queued => "alert queued",
            AlertState::AlreadyQueued => "alert already sent or queued earlier",
            AlertState::Disabled => "no alert (--no-email)",
            AlertState::NotDue => "",
        };
        outln!(
            "warning: {}: {} local sales but no Alipay transaction file, and Alipay deletes it after {}: run \
             `alipay-recon import --date {}` now ({alert})",
            m.date,
            m.local_sales,
            m.deleted_after,
            m.date
        );
    }
    outln!(
        "pruned attachments of {} email(s) sent more than {} days ago",
        report.attachments_pruned,
        ws.cfg.retention.outbox_attachments_days
    );
    outln!(
        "deleted {} interrupted download(s) older than {} days",
        report.staging_removed.len(),
        ws.cfg.retention.staging_days
    );
    for p in &report.staging_removed {
        outln!("  {}", p.display());
    }
    // An alert left in the outbox is owed work: exit 1 (contracts.md v3 §5).
    let mail_waiting = pipeline::email::finish(&ws, opts).is_some();
    if report.needs_attention() || mail_waiting {
        Ok(Outcome::Attention)
    } else {
        outln!("nothing needs attention");
        Ok(Outcome::Clean)
    }
}
