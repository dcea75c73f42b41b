//! `alipay-recon payments [--state S]… [--date D | --from D --to D]` — list the payment ledger,
//! oldest first: id, time, amount, state, last result code, Alipay id, refunds.

use crate::payment::ledger::{self, PayState};
use crate::sys::exit::Outcome;
use anyhow::{anyhow, Result};
use chrono::NaiveDate;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these states (PAID, FAILED, UNKNOWN, CANCEL_PENDING, VOIDED, REFUND_PENDING, VOIDED_BY_REFUND, MANUAL_REVIEW, PAYING); repeatable.
    #[arg(long = "state")]
    pub states: Vec<String>,
    /// Only payments created on this day (YYYY-MM-DD).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub date: Option<NaiveDate>,
    #[arg(long)]
    pub from: Option<NaiveDate>,
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Only payments that are not final (what `sweep` would look at).
    #[arg(long)]
    pub open: bool,
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let cfg = g.load_config()?;
    let conn = crate::store::open(&cfg.path(&cfg.store.database))?;
    let mut states = a
        .states
        .iter()
        .map(|s| {
            PayState::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
                let all: Vec<_> = PayState::ALL.iter().map(|s| s.as_str()).collect();
                anyhow!("--state '{s}' is not a payment state: use one of {}", all.join(", "))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if a.open {
        states.extend(PayState::ALL.iter().filter(|s| !s.is_final()));
    }
    let from = a.date.or(a.from).map(|d| d.to_string());
    let to = a.date.or(a.to).map(|d| d.to_string());
    let rows = ledger::list_attempts(&conn, &states, from.as_deref(), to.as_deref())?;
    outln!("merchant_trans_id,created_at,amount,currency,state,result_code,acquirement_id,refunds");
    for p in &rows {
        let refunds: Vec<String> = ledger::refunds_of(&conn, &p.merchant_trans_id)?
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r.merchant_refund_id,
                    crate::domain::format_minor(r.amount.minor, r.amount.currency),
                    r.state
                )
            })
            .collect();
        outln!(
            "{},{},{},{},{},{},{},{}",
            p.merchant_trans_id,
            p.created_at.to_rfc3339(),
            crate::domain::format_minor(p.amount.minor, p.amount.currency),
            p.amount.currency,
            p.state,
            p.result_code.as_deref().unwrap_or(""),
            p.alipay_id.as_deref().unwrap_or(""),
            refunds.join("; ")
        );
    }
    errln!("{} payment(s)", rows.len());
    Ok(Outcome::Clean)
}
