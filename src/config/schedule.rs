//! `[schedule]`: the daemon's timings. Filled in by the scheduler subsystem.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Folder of schedule files (default `schedules`).
    #[serde(default)]
    pub dir: Option<std::path::PathBuf>,
}
