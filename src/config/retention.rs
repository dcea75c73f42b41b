//! `[retention]`: how long `alipay-recon retention` keeps what can be rebuilt or is no longer needed.
//! Only email attachments of sent messages and stale download leftovers are ever deleted; the
//! archive, the reports and the database rows are kept for the audit trail.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Attachments of emails sent (or suppressed) more than this many days ago are dropped from the
    /// outbox table; the message rows stay, so a report is still never emailed twice.
    pub outbox_attachments_days: u32,
    /// Interrupted downloads (`<archive_dir>/incoming/*.part`) older than this many days are deleted.
    pub staging_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig { outbox_attachments_days: 90, staging_days: 7 }
    }
}

impl RetentionConfig {
    /// Zero would delete what the current run still needs; `origin` names the config file.
    pub fn validate(&self, origin: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.outbox_attachments_days >= 1,
            "{origin}: key `retention.outbox_attachments_days` must be at least 1 (default 90)"
        );
        anyhow::ensure!(
            self.staging_days >= 1,
            "{origin}: key `retention.staging_days` must be at least 1 (default 7)"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_typos_and_zero() {
        let c: RetentionConfig = toml::from_str("").unwrap();
        assert_eq!((c.outbox_attachments_days, c.staging_days), (90, 7));
        let c: RetentionConfig = toml::from_str("staging_days = 3").unwrap();
        assert_eq!((c.outbox_attachments_days, c.staging_days), (90, 3));
        assert!(toml::from_str::<RetentionConfig>("staging_day = 3").is_err(), "typos are refused");
        let e = RetentionConfig { staging_days: 0, ..Default::default() }.validate("f.toml").unwrap_err();
        assert!(e.to_string().contains("retention.staging_days"), "{e}");
    }
}
