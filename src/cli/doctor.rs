//! `alipay-recon doctor [--date YYYY-MM-DD]` — check that a daily run can work: DNS, TCP (is the IP
//! whitelisted?), the server's host key (prints its fingerprint and the line to pin it),
//! authentication, yesterday's remote folders, writable archive, database and report folders, the
//! email transport (SMTP connect + EHLO + login) and, with `[payment] enabled`, the RSA keys and one
//! signed payQuery of a made-up id to the payment API (docs/payment.md).
//! Exit 0 when every check passes (warnings allowed), 2 when any fails.

use crate::sys::exit::Outcome;
use anyhow::{bail, Result};
use chrono::NaiveDate;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Business date whose remote folders to look for (default: yesterday in the business zone).
    #[arg(long)]
    pub date: Option<NaiveDate>,
}

pub fn run(g: &super::Globals, a: Args) -> Result<Outcome> {
    let cfg = g.load_config()?;
    let day = a.date.unwrap_or_else(|| {
        let now = chrono::Utc::now().fixed_offset();
        cfg.business.timezone.date_of(&now).pred_opt().expect("date in range")
    });
    let report = crate::ops::doctor::run(&cfg, day);
    out!("{report}");
    let failed = report.failed();
    if failed > 0 {
        bail!(
            "{failed} of {} checks failed: fix them as described above, then run `alipay-recon doctor` again",
            report.checks.len()
        );
    }
    outln!("all checks passed");
    Ok(Outcome::Clean)
}
