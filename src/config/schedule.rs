//! `[schedule]`: where the daemon finds its schedule files and where run locks live. The jobs
//! themselves (cron, commands, retries) are in the schedule files, see `schedules/alipay-recon.toml`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Folder of schedule files (default `schedules`, beside the config file); every `*.toml` in it.
    #[serde(default)]
    pub dir: Option<std::path::PathBuf>,
    /// Folder of the per-date and daemon lock files (default `locks/` beside the database).
    #[serde(default)]
    pub lock_dir: Option<std::path::PathBuf>,
}
