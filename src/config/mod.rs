//! Configuration: one TOML file, overridable from the environment, secrets from environment variables
//! or files. Typed and strict (`deny_unknown_fields`): a typo names the file and the key. The embedded
//! defaults of [`Config::demo`] are used only by the `demo` command, never as a silent fallback.
//!
//! Sections of later subsystems (SFTP, email, payment, schedule) live in their own files here.

mod business;
pub mod email;
mod env_override;
mod layouts;
mod payment;
mod resolutions;
mod retention;
mod schedule;
mod secret;
mod sftp;
mod suggest;

pub use business::{BusinessConfig, FeeRule};
pub use email::EmailConfig;
pub use layouts::FormatLayout;
pub use payment::PaymentConfig;
pub use resolutions::{ResolutionsConfig, DEFAULT_REASONS};
pub use retention::RetentionConfig;
pub use schedule::ScheduleConfig;
pub use secret::{Secret, SecretRef};
pub use sftp::SftpConfig;

use crate::domain::FileFormat;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The annotated example written by `alipay-recon init` (also shipped as `alipay-recon.example.toml`).
pub const EXAMPLE: &str = include_str!("../../alipay-recon.example.toml");

/// Environment variables starting with this prefix override keys: `ALIPAY_RECON__STORE__DATABASE=/x.db`
/// sets `store.database`. Sections are separated by a double underscore.
pub const ENV_PREFIX: &str = "ALIPAY_RECON__";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name of the active entry of `environments` (`sandbox` or `production`).
    pub environment: String,
    pub merchant: MerchantConfig,
    #[serde(default)]
    pub business: BusinessConfig,
    pub environments: BTreeMap<String, EnvironmentConfig>,
    pub source: SourceConfig,
    /// Directory templates and name patterns per file format; defaults per format.
    #[serde(default)]
    pub layouts: BTreeMap<FileFormat, FormatLayout>,
    pub store: StoreConfig,
    #[serde(default)]
    pub sales: SalesConfig,
    #[serde(default)]
    pub email: EmailConfig,
    #[serde(default)]
    pub payment: PaymentConfig,
    #[serde(default)]
    pub schedule: ScheduleConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Reasons for closing reported items; left out of the TOML form (and so of the hash) when default.
    #[serde(default, skip_serializing_if = "ResolutionsConfig::is_default")]
    pub resolutions: ResolutionsConfig,
    /// Where relative paths are resolved (the config file's folder). Not read from the file.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The file it came from, for messages.
    #[serde(skip)]
    pub origin: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantConfig {
    /// Shown in email subjects and reports.
    pub name: String,
}

/// One named environment: everything that must change together when switching sandbox ↔ production.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Alipay merchant id (PID, `2188…`/`2088…`): `{merchant_id}` in directory templates.
    pub merchant_id: String,
    /// API Client ID (CID), for the payment module.
    #[serde(default)]
    pub client_id: Option<String>,
    /// API base URL, e.g. `https://open-sea.alipay.com`.
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// The merchant's RSA2 private key (PEM or Base64 DER).
    #[serde(default)]
    pub private_key: SecretRef,
    /// Alipay's public key for this environment (PEM or Base64 DER), a file path.
    #[serde(default)]
    pub alipay_public_key_file: Option<PathBuf>,
    #[serde(default)]
    pub sftp: Option<SftpConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Alipay's SFTP server of the active environment.
    Sftp,
    /// A local folder laid out like the SFTP server.
    Dir,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub kind: SourceKind,
    /// Root folder for `kind = "dir"`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Which file formats this account receives.
    #[serde(default = "default_formats")]
    pub formats: Vec<FileFormat>,
}

fn default_formats() -> Vec<FileFormat> {
    vec![FileFormat::Intl]
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub database: PathBuf,
    /// Content-addressed archive of every imported file: the long-term copy.
    pub archive_dir: PathBuf,
    /// `reports/<YYYY-MM-DD>/…`
    pub reports_dir: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SalesConfig {
    /// Column mapping for POS exports that are not `sales-v1`: canonical column → the export's header.
    #[serde(default)]
    pub mapping: BTreeMap<String, String>,
    /// Values of the export's status column → sales-v1 statuses (e.g. `PAID = "SUCCESS"`).
    #[serde(default)]
    pub status_map: BTreeMap<String, String>,
    /// Values of the export's type column → `PAYMENT`/`REFUND`.
    #[serde(default)]
    pub type_map: BTreeMap<String, String>,
    /// CSV delimiter of the export (one character), default `,`.
    #[serde(default)]
    pub delimiter: Option<String>,
}

impl Config {
    /// Reads `path`, applies `ALIPAY_RECON__…` overrides from `env`, and validates.
    pub fn load(path: &Path, env: &[(String, String)]) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read config file {}: create one with `alipay-recon init {}`",
                path.display(),
                path.display()
            )
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
        Config::from_toml(&text, &path.display().to_string(), base, env)
    }

    pub fn from_toml(text: &str, origin: &str, base_dir: PathBuf, env: &[(String, String)]) -> Result<Config> {
        let mut value: toml::Value =
            toml::from_str(text).map_err(|e| anyhow!("{origin}: {}", e.to_string().trim_end()))?;
        let applied = env_override::apply(&mut value, env).map_err(|e| anyhow!("{origin}: {e}"))?;
        let mut cfg: Config = Config::deserialize(value).map_err(|e| {
            let message = e.to_string().trim_end().to_string();
            if applied.is_empty() {
                // Where in the file, and the nearest valid key for a typo.
                anyhow!("{}", suggest::explain::<Config>(text, origin, &message))
            } else {
                anyhow!("{origin} (after overrides from {}): {message}", applied.join(", "))
            }
        })?;
        cfg.base_dir = base_dir;
        cfg.origin = origin.to_string();
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        let o = &self.origin;
        if !self.environments.contains_key(&self.environment) {
            let known: Vec<_> = self.environments.keys().cloned().collect();
            bail!(
                "{o}: key `environment` is '{}' but there is no [environments.{}] (have: {})",
                self.environment,
                self.environment,
                known.join(", ")
            );
        }
        if self.source.kind == SourceKind::Dir && self.source.dir.is_none() {
            bail!(
                "{o}: key `source.dir` is required when source.kind = \"dir\" (a folder laid out like the SFTP server)"
            );
        }
        if self.source.kind == SourceKind::Sftp && self.active().sftp.is_none() {
            bail!(
                "{o}: source.kind = \"sftp\" needs an [environments.{}.sftp] section with host and user",
                self.environment
            );
        }
        if self.source.formats.is_empty() {
            bail!("{o}: key `source.formats` is empty: list at least one of intl, classic, antom");
        }
        self.business.validate(o)?;
        self.email.validate(o)?;
        self.payment.validate(o)?;
        self.retention.validate(o)?;
        self.resolutions.validate(o)?;
        for (format, layout) in self.layouts_in_use() {
            layout.compiled_patterns(format).with_context(|| o.clone())?;
        }
        Ok(())
    }

    /// The active environment (validated to exist).
    pub fn active(&self) -> &EnvironmentConfig {
        &self.environments[&self.environment]
    }

    /// The layouts of the formats in use, defaults filled in.
    pub fn layouts_in_use(&self) -> Vec<(FileFormat, FormatLayout)> {
        self.source
            .formats
            .iter()
            .map(|f| (*f, self.layouts.get(f).cloned().unwrap_or_else(|| FormatLayout::default_for(*f))))
            .collect()
    }

    /// Resolves a configured path against the config file's folder.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// A stable hash of the effective configuration (secrets are references, never values).
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let text = toml::to_string(self).unwrap_or_default();
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    }

    /// The embedded defaults of `alipay-recon demo`: bundled fixtures as the file source, everything
    /// written under `work_dir`, emails to a folder. Never used by any other command.
    pub fn demo(work_dir: &Path, fixtures_dir: &Path) -> Config {
        let text = Config::demo_toml(fixtures_dir);
        Config::from_toml(&text, "embedded demo defaults", work_dir.to_path_buf(), &[]).expect("demo config is valid")
    }

    /// The TOML text of the demo defaults (written beside the demo's data so it can be explored with
    /// `alipay-recon -c <dir>/alipay-recon.toml status|explain|runs`).
    pub fn demo_toml(fixtures_dir: &Path) -> String {
        format!(
            r#"
environment = "sandbox"
[merchant]
name = "Demo HK Store"
[environments.sandbox]
merchant_id = "2188000000000001"
[source]
kind = "dir"
dir = {fixtures:?}
formats = ["intl", "classic", "antom"]
[store]
database = "alipay-recon.db"
archive_dir = "archive"
reports_dir = "reports"
[email]
transport = "file"
"#,
            fixtures = fixtures_dir.display().to_string()
        )
    }
}

#[cfg(test)]
mod tests;
