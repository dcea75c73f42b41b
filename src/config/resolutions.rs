//! `[resolutions]`: the reasons an accountant may give when closing a reported item (issue 18;
//! `alipay-recon resolve`, the report.xlsx drop-down).

use serde::{Deserialize, Serialize};

/// The default reasons, in the order the drop-down lists them.
pub const DEFAULT_REASONS: [&str; 6] =
    ["REFUNDED_AT_COUNTER", "ALIPAY_CONFIRMED", "CUSTOMER_REFUNDED", "WRITTEN_OFF", "POS_CORRECTED", "OTHER"];

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResolutionsConfig {
    /// Reasons, upper-case words joined by `_`; a resolution names exactly one of them.
    pub reasons: Vec<String>,
}

impl Default for ResolutionsConfig {
    fn default() -> Self {
        ResolutionsConfig { reasons: DEFAULT_REASONS.iter().map(|s| s.to_string()).collect() }
    }
}

impl ResolutionsConfig {
    /// Whether this is the default (then it is left out of the configuration's hash and TOML form).
    pub fn is_default(&self) -> bool {
        *self == ResolutionsConfig::default()
    }

    /// Reasons must be distinct upper-case words (A–Z, 0–9, `_`), at most 40 characters (an Excel
    /// drop-down holds 255 characters in all); `origin` names the config file.
    pub fn validate(&self, origin: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.reasons.is_empty(),
            "{origin}: key `resolutions.reasons` is empty: list at least one reason, e.g. [\"OTHER\"]"
        );
        for (i, r) in self.reasons.iter().enumerate() {
            anyhow::ensure!(
                !r.is_empty()
                    && r.len() <= 40
                    && r.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{origin}: key `resolutions.reasons` has {r:?}: use upper-case letters, digits and _ (at most 40), e.g. \"WRITTEN_OFF\""
            );
            anyhow::ensure!(!self.reasons[..i].contains(r), "{origin}: key `resolutions.reasons` lists {r:?} twice");
        }
        let total: usize = self.reasons.iter().map(|r| r.len() + 1).sum();
        anyhow::ensure!(
            total <= 255,
            "{origin}: key `resolutions.reasons` is {total} characters with separators: the spreadsheet drop-down holds 255; use fewer or shorter reasons"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_reasons_are_named() {
        ResolutionsConfig::default().validate("x.toml").unwrap();
        let bad = ResolutionsConfig { reasons: vec!["ok".into()] };
        let e = bad.validate("x.toml").unwrap_err().to_string();
        assert!(e.contains("x.toml") && e.contains("\"ok\""), "{e}");
        let twice = ResolutionsConfig { reasons: vec!["A".into(), "A".into()] };
        assert!(twice.validate("x").unwrap_err().to_string().contains("twice"));
    }
}
