//! `[email]`: how reports and alerts are delivered. Filled in by the email subsystem.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Send through an SMTP server.
    Smtp,
    /// Write `.eml` files to `email.dir` (the demo's default).
    #[default]
    File,
    /// Do not send email.
    None,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    #[serde(default)]
    pub transport: Transport,
    /// Folder for the `file` transport (default `outbox-eml` beside the config).
    #[serde(default)]
    pub dir: Option<PathBuf>,
}
