//! `pay`, `query`, `cancel`, `refund` and `sweep`: the payment module at the till and in the back
//! office. Output is in cashier language on stdout; a failure exits 2 with what to do next.
//!
//!   alipay-recon pay --code 28… --amount 56.00 --currency HKD [--title "Lunch"]
//!   alipay-recon query POSP-…       alipay-recon cancel POSP-…
//!   alipay-recon refund POSP-… --amount 10.00 [--reason "returned item"]
//!   alipay-recon sweep              (resolve everything not final; the daily run does this too)

use crate::config::Config;
use crate::domain::{parse_major, Currency};
use crate::payment::{self, codes, Amount, Attempt, IntlClient, NewPayment, PayState, RefundState};
use crate::sys::exit::Outcome;
use anyhow::{anyhow, bail, Context, Result};
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct PayArgs {
    /// The customer's payment code as scanned (16–24 digits).
    #[arg(long)]
    pub code: String,
    /// Amount in major units, e.g. 56.00.
    #[arg(long, allow_hyphen_values = true)]
    pub amount: String,
    /// ISO 4217 currency of the order, e.g. HKD.
    #[arg(long)]
    pub currency: String,
    /// Order title shown to the customer (default: payment.default_title).
    #[arg(long)]
    pub title: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The payment's merchantTransId (see `alipay-recon payments`).
    pub id: String,
}

#[derive(Debug, clap::Args)]
pub struct RefundArgs {
    /// The payment's merchantTransId.
    pub id: String,
    /// Amount to refund in major units of the payment's currency.
    #[arg(long, allow_hyphen_values = true)]
    pub amount: String,
    #[arg(long)]
    pub reason: Option<String>,
}

/// Parses a positive amount in major units.
pub fn parse_amount(amount: &str, currency: &str) -> Result<Amount> {
    let currency = Currency::parse(currency).map_err(|e| anyhow!("--currency: {e}"))?;
    let t = amount.trim();
    if t.starts_with(['-', '+']) {
        bail!("--amount '{amount}': write the amount without a sign, e.g. 56.00");
    }
    let minor = parse_major(t, currency).map_err(|e| anyhow!("--amount: {e}"))?;
    if minor <= 0 {
        bail!("--amount '{amount}' must be above 0");
    }
    Ok(Amount { minor, currency })
}

struct Ctx {
    cfg: Config,
    conn: rusqlite::Connection,
    client: IntlClient,
}

fn open(g: &super::Globals) -> Result<Ctx> {
    let cfg = g.load_config()?;
    let conn = crate::store::open(&cfg.path(&cfg.store.database))?;
    let client = IntlClient::from_config(&cfg)?;
    Ok(Ctx { cfg, conn, client })
}

impl Ctx {
    fn flow(&self) -> payment::Flow<'_> {
        let mut f = payment::flow_for(&self.cfg, &self.conn, &self.client);
        f.progress = Arc::new(|msg| outln!("… {msg}"));
        f
    }

    /// Keeps local records current after every command, so reconciliation sees the ledger; and
    /// queues the alert for answers that failed verification (sent with the next delivery of the
    /// outbox: the daily run, the daemon or `alipay-recon outbox send`).
    fn sync(&mut self) -> Result<()> {
        payment::sync_local_records(&self.conn, &self.cfg.business.timezone)
            .context("cannot update local records from the ledger")?;
        let opts = crate::notify::EmailOptions { no_email: false, resend: false };
        let merchant = self.cfg.merchant.name.clone();
        let n = crate::pipeline::email::unverified_replies(&mut self.conn, &merchant, opts)
            .context("cannot queue the alert for unverified payment answers")?;
        if n > 0 {
            errln!(
                "warning: {n} answer(s) of the payment API failed verification and were not used; an alert is queued"
            );
        }
        Ok(())
    }
}

/// One line per attempt for the cashier and the operator; `Err` when it needs attention.
fn report(a: &Attempt, support: &str) -> Result<Outcome> {
    let code = a.result_code.as_deref().unwrap_or("UNKNOWN_EXCEPTION");
    let id = &a.merchant_trans_id;
    match a.state {
        PayState::Paid => {
            outln!("PAID {} — payment {id}, Alipay {}", a.amount, a.alipay_id.as_deref().unwrap_or("-"));
            outln!("{}", codes::info("SUCCESS").cashier);
            Ok(Outcome::Clean)
        }
        PayState::Failed => {
            let i = codes::info(code);
            outln!("NOT PAID {} — payment {id}", a.amount);
            outln!("{}", i.cashier);
            bail!("payment {id} failed ({code}): {} Operator: {}", i.cashier, i.operator)
        }
        PayState::Voided => {
            outln!("NOT PAID {} — payment {id} was cancelled; no money was taken", a.amount);
            outln!("Start a new payment or use another payment method.");
            bail!("payment {id} did not go through and was cancelled: start a new payment (a new scan gets a new id)")
        }
        PayState::VoidedByRefund => {
            outln!("REFUNDED {} — payment {id} was taken and then refunded in full", a.amount);
            bail!("payment {id} was voided by a full refund (past the cancel window): no money is kept")
        }
        _ => {
            outln!("UNRESOLVED {} — payment {id} is {}", a.amount, a.state);
            outln!("Do not hand over the goods yet. Ask the customer to show their Alipay payment record.");
            bail!(
                "payment {id} is {} ({}): run `alipay-recon sweep` later; if it stays unresolved, check it in the Alipay portal or ask {support}",
                a.state,
                a.last_error.as_deref().unwrap_or(code)
            )
        }
    }
}

pub fn pay(g: &super::Globals, a: PayArgs) -> Result<Outcome> {
    let amount = parse_amount(&a.amount, &a.currency)?;
    let code = a.code.trim();
    if code.is_empty() || code.len() > 64 || code.contains(char::is_whitespace) {
        bail!("--code '{code}' is not a scanned payment code: scan the customer's code again");
    }
    let mut ctx = open(g)?;
    let title = a.title.unwrap_or_else(|| ctx.cfg.payment.default_title.clone());
    let attempt = ctx.flow().pay(&NewPayment { identity_code: code.to_string(), amount, title });
    ctx.sync()?;
    report(&attempt?, &ctx.cfg.payment.support_contact)
}

pub fn query(g: &super::Globals, a: IdArgs) -> Result<Outcome> {
    let mut ctx = open(g)?;
    let (attempt, reply) = ctx.flow().query_once(&a.id)?;
    ctx.sync()?;
    match &reply {
        Ok(r) => outln!("Alipay says: {} {} {}", r.status.letter(), r.code, r.message),
        Err(e) => outln!("Alipay did not answer: {e}"),
    }
    for r in payment::ledger::refunds_of(&ctx.conn, &a.id)? {
        outln!("refund {} {} {}", r.merchant_refund_id, r.amount, r.state);
    }
    match attempt.state {
        PayState::Paid => report(&attempt, &ctx.cfg.payment.support_contact),
        s if s.is_final() => {
            outln!("payment {} is {} ({})", attempt.merchant_trans_id, s, attempt.amount);
            Ok(Outcome::Clean)
        }
        _ => report(&attempt, &ctx.cfg.payment.support_contact),
    }
}

pub fn cancel(g: &super::Globals, a: IdArgs) -> Result<Outcome> {
    let mut ctx = open(g)?;
    let attempt = ctx.flow().cancel(&a.id);
    ctx.sync()?;
    let attempt = attempt?;
    match attempt.state {
        PayState::Voided => {
            outln!("CANCELLED — payment {} is void; no money is kept", attempt.merchant_trans_id);
            Ok(Outcome::Clean)
        }
        PayState::VoidedByRefund => {
            outln!("REFUNDED — past the cancel window, payment {} was refunded in full", attempt.merchant_trans_id);
            Ok(Outcome::Clean)
        }
        PayState::Failed => {
            outln!("Nothing to cancel: payment {} was never taken", attempt.merchant_trans_id);
            Ok(Outcome::Clean)
        }
        _ => report(&attempt, &ctx.cfg.payment.support_contact),
    }
}

pub fn refund(g: &super::Globals, a: RefundArgs) -> Result<Outcome> {
    let mut ctx = open(g)?;
    let p = payment::ledger::must_attempt(&ctx.conn, &a.id)?;
    let amount = parse_amount(&a.amount, p.amount.currency.as_str())?;
    let r = ctx.flow().refund(&a.id, amount, a.reason);
    ctx.sync()?;
    let r = r?;
    let code = r.result_code.as_deref().unwrap_or("UNKNOWN_EXCEPTION");
    match r.state {
        RefundState::Success => {
            outln!("REFUNDED {} — refund {} of payment {}", r.amount, r.merchant_refund_id, r.merchant_trans_id);
            Ok(Outcome::Clean)
        }
        RefundState::Failed => {
            let i = codes::info(code);
            outln!("REFUND REFUSED {} — {}", r.amount, i.cashier);
            bail!("refund {} failed ({code}): {}", r.merchant_refund_id, i.operator)
        }
        _ => {
            outln!("REFUND UNRESOLVED {} — refund {}", r.amount, r.merchant_refund_id);
            bail!(
                "refund {} has no answer yet: `alipay-recon sweep` retries it with the same id; if it stays open ask {}",
                r.merchant_refund_id,
                ctx.cfg.payment.support_contact
            )
        }
    }
}

pub fn sweep(g: &super::Globals) -> Result<Outcome> {
    let mut ctx = open(g)?;
    let rep = ctx.flow().sweep();
    ctx.sync()?;
    let rep = rep?;
    outln!("sweep: looked at {}, resolved {}, still open {}", rep.looked_at, rep.resolved, rep.still_open.len());
    if rep.still_open.is_empty() {
        return Ok(Outcome::Clean);
    }
    for id in &rep.still_open {
        outln!("open: {id}");
    }
    bail!(
        "{} payment(s) or refund(s) still unresolved ({}): check them in the Alipay portal or ask {}",
        rep.still_open.len(),
        rep.still_open.join(", "),
        ctx.cfg.payment.support_contact
    )
}
