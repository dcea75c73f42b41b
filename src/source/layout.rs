//! Remote directory templates and file-name patterns per file format, compiled for one merchant.
//! Templates take `{merchant_id}`, `{yyyymmdd}`, `{yyyy}`, `{mm}`, `{dd}`; patterns are regexes whose
//! optional named groups `date` (YYYYMMDD) and `ccy` give the file's date and currency.

use crate::config::FormatLayout;
use crate::domain::{FileFormat, FileKind};
use anyhow::Result;
use chrono::NaiveDate;
use regex::Regex;

/// A directory to list for a day, and the patterns that pick its files.
#[derive(Debug, Clone)]
pub struct ExpectedDir {
    pub format: FileFormat,
    pub path: String,
    pub patterns: Vec<(FileKind, Regex)>,
}

/// Compiled name patterns by kind.
type Patterns = Vec<(FileKind, Regex)>;

/// The compiled layouts of the configured formats.
#[derive(Debug, Clone)]
pub struct DayLayout {
    merchant_id: String,
    formats: Vec<(FileFormat, FormatLayout, Patterns)>,
}

impl DayLayout {
    pub fn new(merchant_id: &str, layouts: &[(FileFormat, FormatLayout)]) -> Result<DayLayout> {
        let mut formats = Vec::new();
        for (format, l) in layouts {
            formats.push((*format, l.clone(), l.compiled_patterns(*format)?));
        }
        Ok(DayLayout { merchant_id: merchant_id.to_string(), formats })
    }

    /// The directories to list for `date`, each with the patterns of the kinds stored there.
    pub fn dirs_for(&self, date: NaiveDate) -> Vec<ExpectedDir> {
        let mut out: Vec<ExpectedDir> = Vec::new();
        for (format, l, pats) in &self.formats {
            for (kind, re) in pats {
                let dir_t = match kind {
                    FileKind::Transactions => &l.transactions_dir,
                    _ => &l.settlement_dir,
                };
                let path = expand(dir_t, &self.merchant_id, date);
                match out.iter_mut().find(|d| d.path == path && d.format == *format) {
                    Some(d) => d.patterns.push((*kind, re.clone())),
                    None => out.push(ExpectedDir { format: *format, path, patterns: vec![(*kind, re.clone())] }),
                }
            }
        }
        out
    }

    /// Classifies a name found in `dir` listed for `date`: its kind, date and currency, or `None` when
    /// no pattern matches or the name's own date is another day.
    pub fn classify(dir: &ExpectedDir, name: &str, date: NaiveDate) -> Option<(FileKind, NaiveDate, Option<String>)> {
        for (kind, re) in &dir.patterns {
            if let Some(c) = re.captures(name) {
                let file_date = match c.name("date") {
                    Some(d) => NaiveDate::parse_from_str(d.as_str(), "%Y%m%d").ok()?,
                    None => date,
                };
                if file_date != date {
                    return None;
                }
                return Some((*kind, file_date, c.name("ccy").map(|m| m.as_str().to_string())));
            }
        }
        None
    }
}

/// Expands a directory template.
pub fn expand(template: &str, merchant_id: &str, date: NaiveDate) -> String {
    template
        .replace("{merchant_id}", merchant_id)
        .replace("{yyyymmdd}", &date.format("%Y%m%d").to_string())
        .replace("{yyyy}", &date.format("%Y").to_string())
        .replace("{mm}", &date.format("%m").to_string())
        .replace("{dd}", &date.format("%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layouts_classify_names() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let layouts: Vec<_> = FileFormat::ALL.iter().map(|f| (*f, FormatLayout::default_for(*f))).collect();
        let l = DayLayout::new("2188000000000001", &layouts).unwrap();
        let dirs = l.dirs_for(d);
        let intl = dirs.iter().find(|x| x.format == FileFormat::Intl).unwrap();
        assert_eq!(intl.path, "/download/2188000000000001/20261125");
        let got = DayLayout::classify(intl, "ALIPAY_TRANSACTION_DETAIL_HKD_20261125.csv", d).unwrap();
        assert_eq!(got, (FileKind::Transactions, d, Some("HKD".into())));
        assert!(DayLayout::classify(intl, "ALIPAY_TRANSACTION_DETAIL_HKD_20261124.csv", d).is_none());
        assert!(DayLayout::classify(intl, "notes.txt", d).is_none());
        let classic = dirs.iter().find(|x| x.format == FileFormat::Classic).unwrap();
        assert_eq!(classic.path, "/download");
        let got = DayLayout::classify(classic, "2088000000000001_settlement_20261125.txt", d).unwrap();
        assert_eq!(got.0, FileKind::SettlementDetail);
        let antom = dirs
            .iter()
            .find(|x| x.format == FileFormat::Antom && x.patterns.iter().any(|p| p.0 == FileKind::Transactions))
            .unwrap();
        assert_eq!(antom.path, "/v1/settlements/2188000000000001/20261125");
        assert_eq!(
            DayLayout::classify(antom, "transactionItems_20261125_001.csv", d).unwrap().0,
            FileKind::Transactions
        );
        assert_eq!(
            DayLayout::classify(antom, "settlementSummary_HKD_B1_001.csv", d).unwrap().0,
            FileKind::SettlementSummary
        );
    }

    #[test]
    fn bad_regex_names_the_key() {
        let mut l = FormatLayout::default_for(FileFormat::Intl);
        l.transactions = "([".into();
        let e = DayLayout::new("m", &[(FileFormat::Intl, l)]).unwrap_err();
        assert!(format!("{e:#}").contains("layouts.intl.transactions"), "{e:#}");
    }
}
