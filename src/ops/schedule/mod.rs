//! Scheduling: when the daily reconciliation and the housekeeping jobs run, and the daemon that runs
//! them for years on a server.
//!
//! - [`dates`]: the CLI's `--date` words (`today`, `yesterday`, ISO) in the business zone.
//! - [`cron`]: 5-field cron expressions in a named zone → next fire times (and the 6-field form
//!   tokio-cron-scheduler wants).
//! - [`file`]: the schedule files of `schedules/` (TOML, one `[[job]]` per job).
//! - [`plan`]: pure decisions with a controllable [`Clock`]: which date a fire is for, catch-up after
//!   downtime, retries until the file deadline.
//! - [`history`]: the `schedule_runs` table: every job run the daemon started, with its exit code.
//! - [`child`] and [`daemon`]: the tokio runtime that fires jobs, runs each as a child process of this
//!   binary and stops cleanly on SIGTERM.
//!
//! Nothing here reconciles: the daemon only starts `alipay-recon run --date D` (and friends) and reads
//! their exit codes (contracts.md §5).

pub mod child;
pub mod cron;
pub mod daemon;
pub mod dates;
pub mod file;
pub mod history;
pub mod plan;

pub use cron::CronSpec;
pub use dates::parse_date_arg;
pub use file::{JobKind, JobSpec, ScheduleSet};

use chrono::{DateTime, Utc};

/// The source of "now", so schedule logic can be tested with a fake clock.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct FakeClock(std::sync::Mutex<DateTime<Utc>>);

impl FakeClock {
    pub fn at(rfc3339: &str) -> FakeClock {
        let t = DateTime::parse_from_rfc3339(rfc3339).expect("RFC 3339 time").with_timezone(&Utc);
        FakeClock(std::sync::Mutex::new(t))
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = t;
    }

    pub fn advance(&self, d: chrono::Duration) {
        let mut g = self.0.lock().expect("clock lock");
        *g += d;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}
