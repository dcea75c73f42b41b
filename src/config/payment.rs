//! `[payment]`: the barcode payment module's timings and limits. Every interval and count of the
//! integration process (alipay-api.md) is here, in milliseconds, so tests can shrink them; the
//! defaults follow Alipay's documented bounds. The merchant id, Client ID, keys and base URL live in
//! the active `[environments.*]` profile, because they change together between sandbox and production.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentConfig {
    /// Whether the payment module is in use (its ledger feeds reconciliation; `run` sweeps it).
    pub enabled: bool,
    /// TCP connect timeout of one API call.
    pub connect_timeout_ms: u64,
    /// Time allowed for the answer of one API call; after it the outcome is unknown (U).
    pub read_timeout_ms: u64,
    /// Pause between payQuery polls while the outcome is unknown (Alipay: 3–5 s).
    pub query_interval_ms: u64,
    /// How long to poll before giving up and cancelling (Alipay: 10–20 polls at 3 s).
    pub query_deadline_ms: u64,
    /// After ORDER_NOT_EXIST, how many more queries before cancelling (the query may overtake the pay).
    pub not_exist_requeries: u32,
    /// Pause before each of those re-queries (Alipay: 5–7 s).
    pub not_exist_interval_ms: u64,
    /// payCancel attempts while the answer is U or times out, before manual review (3–5).
    pub cancel_attempts: u32,
    pub cancel_interval_ms: u64,
    /// Refund attempts (same merchantRefundId) while the answer is U or times out.
    pub refund_attempts: u32,
    pub refund_interval_ms: u64,
    /// Prefix of generated merchantTransId / merchantRefundId (`[A-Za-z0-9_-]`, keep it short).
    pub id_prefix: String,
    /// Product code sent with pay.
    pub product_code: String,
    /// Default order title when `pay --title` is not given.
    pub default_title: String,
    /// Where Alipay's support is reached, printed with manual-review actions.
    pub support_contact: String,
}

impl Default for PaymentConfig {
    fn default() -> Self {
        PaymentConfig {
            enabled: false,
            connect_timeout_ms: 5_000,
            read_timeout_ms: 15_000,
            query_interval_ms: 3_000,
            query_deadline_ms: 45_000,
            not_exist_requeries: 2,
            not_exist_interval_ms: 6_000,
            cancel_attempts: 4,
            cancel_interval_ms: 3_000,
            refund_attempts: 4,
            refund_interval_ms: 3_000,
            id_prefix: "POS".into(),
            product_code: "OFFLINE_PAY".into(),
            default_title: "In-store purchase".into(),
            support_contact: "overseas_support@service.alibaba.com".into(),
        }
    }
}

impl PaymentConfig {
    /// Checks the values a typo could make useless; `origin` names the config file.
    pub fn validate(&self, origin: &str) -> anyhow::Result<()> {
        let ok_prefix = !self.id_prefix.is_empty()
            && self.id_prefix.len() <= 16
            && self.id_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        anyhow::ensure!(
            ok_prefix,
            "{origin}: key `payment.id_prefix` '{}' must be 1–16 characters of A-Z, a-z, 0-9, _ or -",
            self.id_prefix
        );
        anyhow::ensure!(
            self.cancel_attempts >= 1 && self.refund_attempts >= 1,
            "{origin}: keys `payment.cancel_attempts` and `payment.refund_attempts` must be at least 1"
        );
        anyhow::ensure!(
            self.read_timeout_ms > 0 && self.connect_timeout_ms > 0,
            "{origin}: keys `payment.connect_timeout_ms` and `payment.read_timeout_ms` must be above 0"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_key() {
        assert!(PaymentConfig::default().validate("f.toml").is_ok());
        let bad = PaymentConfig { id_prefix: "PO S".into(), ..Default::default() };
        let e = bad.validate("f.toml").unwrap_err().to_string();
        assert!(e.starts_with("f.toml: key `payment.id_prefix`"), "{e}");
        let bad = PaymentConfig { cancel_attempts: 0, ..Default::default() };
        assert!(bad.validate("f.toml").unwrap_err().to_string().contains("payment.cancel_attempts"));
        let bad = PaymentConfig { read_timeout_ms: 0, ..Default::default() };
        assert!(bad.validate("f.toml").is_err());
        let parsed: PaymentConfig = toml::from_str("enabled = true\nquery_interval_ms = 5").unwrap();
        assert_eq!((parsed.enabled, parsed.query_interval_ms, parsed.cancel_attempts), (true, 5, 4));
        assert!(toml::from_str::<PaymentConfig>("query_intervall_ms = 5").is_err(), "typos are refused");
    }
}
