//! `[layouts.<format>]`: where each file format's files live on the server and how they are named.
//! Alipay's own docs disagree on names, so these are configuration, with defaults from alipay-files.md.

use crate::domain::{FileFormat, FileKind};
use anyhow::{Context, Result};
use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FormatLayout {
    /// Directory template of transaction files: `{merchant_id}`, `{yyyymmdd}`, `{yyyy}`, `{mm}`, `{dd}`.
    pub transactions_dir: String,
    /// Directory template of settlement files (dated by settlement day).
    pub settlement_dir: String,
    /// Regex for transaction file names; named groups `date` (YYYYMMDD) and `ccy` are used if present.
    pub transactions: String,
    pub settlement_detail: String,
    /// Empty when the format has no summary file (`classic`).
    #[serde(default)]
    pub settlement_summary: String,
}

impl FormatLayout {
    pub fn default_for(f: FileFormat) -> FormatLayout {
        let s = |x: &str| x.to_string();
        match f {
            FileFormat::Intl => FormatLayout {
                transactions_dir: s("/download/{merchant_id}/{yyyymmdd}"),
                settlement_dir: s("/download/{merchant_id}/{yyyymmdd}"),
                transactions: s(r"^ALIPAY_TRANSACTION_DETAIL_(?P<ccy>[A-Z]{3})_(?P<date>\d{8})\.csv$"),
                settlement_detail: s(r"^ALIPAY_SETTLEMENT_DETAIL_(?P<ccy>[A-Z]{3})_(?P<date>\d{8})\.csv$"),
                settlement_summary: s(r"^ALIPAY_SETTLEMENT_SUMMARY_(?P<ccy>[A-Z]{3})_(?P<date>\d{8})\.csv$"),
            },
            FileFormat::Classic => FormatLayout {
                transactions_dir: s("/download"),
                settlement_dir: s("/download"),
                transactions: s(r"^\d+_transaction_(?P<date>\d{8})\.txt$"),
                settlement_detail: s(r"^\d+_settlement_(?P<date>\d{8})\.txt$"),
                settlement_summary: String::new(),
            },
            FileFormat::Antom => FormatLayout {
                transactions_dir: s("/v1/settlements/{merchant_id}/{yyyymmdd}"),
                settlement_dir: s("/v1/settlements/{merchant_id}/{yyyymmdd}"),
                transactions: s(r"^transactionItems_(?:(?P<ccy>[A-Z]{3})_)?(?P<date>\d{8})_\d+\.csv$"),
                settlement_detail: s(r"^settlementItems_(?P<ccy>[A-Z]{3})_[A-Za-z0-9-]+_\d+\.csv$"),
                settlement_summary: s(r"^settlementSummary_(?P<ccy>[A-Z]{3})_[A-Za-z0-9-]+_\d+\.csv$"),
            },
        }
    }

    /// The non-empty patterns by kind.
    pub fn patterns(&self) -> Vec<(FileKind, &str)> {
        [
            (FileKind::Transactions, self.transactions.as_str()),
            (FileKind::SettlementDetail, self.settlement_detail.as_str()),
            (FileKind::SettlementSummary, self.settlement_summary.as_str()),
        ]
        .into_iter()
        .filter(|(_, p)| !p.is_empty())
        .collect()
    }

    /// The name patterns compiled, by kind; an error names the key (`layouts.<format>.<kind>`) of the
    /// first that is not a regular expression. Validation and the sources' `DayLayout` both use it.
    pub fn compiled_patterns(&self, format: FileFormat) -> Result<Vec<(FileKind, Regex)>> {
        self.patterns()
            .into_iter()
            .map(|(kind, pat)| {
                let re = Regex::new(pat)
                    .with_context(|| format!("layouts.{format}.{kind}: '{pat}' is not a valid regular expression"))?;
                Ok((kind, re))
            })
            .collect()
    }
}
