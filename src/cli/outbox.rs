//! `alipay-recon outbox list|send` — the email outbox: what is waiting to be delivered, and delivering
//! it now (after the SMTP server was down, or a wrong address was fixed in the config).
//!
//! `prune` drops old attachments. `list` prints one line per message (`--all` includes sent ones, `--json` for scripts) and exits 0.
//! `send` delivers every pending message with the configured transport; it exits 0 when nothing is
//! left waiting and 2 (with the reason and what to do) when a message could not be sent.

use crate::notify;
use crate::sys::exit::Outcome;
use anyhow::{bail, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Show the messages waiting to be sent.
    List {
        /// Also show sent and suppressed messages.
        #[arg(long)]
        all: bool,
        /// One JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Send every pending message now.
    Send,
    /// Drop the attachments of messages sent more than DAYS ago (the rows stay, so a report is
    /// still never emailed twice; the report folder keeps the files).
    Prune {
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let cfg = g.load_config()?;
    let conn = crate::store::open(&cfg.path(&cfg.store.database))?;
    match a.action {
        Action::List { all, json } => {
            let rows = notify::list(&conn, all)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(Outcome::Clean);
            }
            if rows.is_empty() {
                outln!("{}", if all { "the outbox is empty" } else { "nothing waiting to be sent" });
            }
            for r in &rows {
                let err = r.last_error.as_deref().map(|e| format!("\n    last error: {e}")).unwrap_or_default();
                outln!(
                    "{:>4}  {:<9} {:<30} attempts {:<2} {:>9} bytes  {}{err}",
                    r.id,
                    r.status,
                    r.key,
                    r.attempts,
                    r.bytes,
                    r.subject
                );
            }
            Ok(Outcome::Clean)
        }
        Action::Prune { days } => {
            let n = notify::outbox::prune_parts(&conn, days)?;
            outln!("dropped the attachments of {n} messages sent more than {days} days ago");
            Ok(Outcome::Clean)
        }
        Action::Send => {
            let rep = notify::deliver_pending(&conn, &cfg)?;
            for k in &rep.sent {
                outln!("sent {k}");
            }
            if rep.suppressed > 0 {
                outln!("{} messages not sent: email.transport = \"none\" (marked suppressed)", rep.suppressed);
            }
            if rep.waiting() == 0 {
                if rep.sent.is_empty() && rep.suppressed == 0 {
                    outln!("nothing to send");
                }
                return Ok(Outcome::Clean);
            }
            let mut msg = format!("{} of the outbox's messages could not be sent", rep.waiting());
            for (k, e) in &rep.failed {
                msg.push_str(&format!("\n  {k}: {e}"));
            }
            if !rep.deferred.is_empty() {
                msg.push_str(&format!("\n  not tried after that failure: {}", rep.deferred.join(", ")));
            }
            msg.push_str("\nThey stay in the outbox: fix the cause and run `alipay-recon outbox send` again.");
            bail!(msg)
        }
    }
}
