//! `alipay-recon gen --date D --payments N [--format intl] [--seed S] --out DIR` — write a synthetic
//! day (Alipay files laid out like the SFTP server + the matching sales-v1 CSV) for benchmarks and trials.

use crate::demo::gen::{generate, GenSpec};
use crate::domain::{BusinessZone, Currency, FileFormat};
use crate::sys::exit::Outcome;
use anyhow::Result;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub date: chrono::NaiveDate,
    #[arg(long, default_value_t = 1000)]
    pub payments: usize,
    /// intl, classic or antom.
    #[arg(long, default_value = "intl", value_parser = parse_format)]
    pub format: FileFormat,
    #[arg(long, default_value = "HKD")]
    pub currency: Currency,
    #[arg(long, default_value = "2188000000000001")]
    pub merchant_id: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Business zone of the generated times.
    #[arg(long, default_value = "UTC+8")]
    pub zone: BusinessZone,
    /// Do not inject faults.
    #[arg(long)]
    pub clean: bool,
    /// Output folder: OUT/sftp/… and OUT/sales/sales-<date>.csv.
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_format(s: &str) -> Result<FileFormat, String> {
    FileFormat::parse(s).ok_or_else(|| format!("'{s}' is not a file format: use intl, classic or antom"))
}

pub fn run(_g: &super::Globals, a: Args) -> Result<Outcome> {
    let spec = GenSpec {
        date: a.date,
        payments: a.payments,
        format: a.format,
        currency: a.currency,
        merchant_id: a.merchant_id,
        seed: a.seed,
        zone: a.zone,
        faults: !a.clean,
    };
    let r = generate(&spec, &a.out)?;
    for f in &r.files {
        outln!("{}", f.display());
    }
    outln!("{}", r.sales_file.display());
    outln!(
        "{} Alipay rows, {} local rows: {} refunds, {} cancels; faults: {} missing locally, {} missing at Alipay, {} amount mismatches, {} local UNKNOWN",
        r.alipay_rows, r.local_rows, r.refunds, r.cancels, r.missing_locally, r.missing_at_alipay, r.amount_mismatches, r.local_unknown
    );
    Ok(Outcome::Clean)
}
