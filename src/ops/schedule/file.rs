//! Schedule files: every `*.toml` in the schedule folder (default `schedules/`), each with
//! `[[job]]` tables. Strict like the config: an unknown key names the file and the key.
//!
//! A job runs a command line of this binary (`command = ["run", "--date", "{date}"]`) or, with
//! `program`, any other program. `kind = "daily"` jobs are about a business date (`{date}` in the
//! command): they are caught up after downtime and retried while the run answers "not ready" (exit 3)
//! or "locked" (exit 4) until the file deadline. `kind = "periodic"` jobs just run at their times.

use super::cron::CronSpec;
use crate::domain::BusinessZone;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Zone of cron expressions when a file does not name one: Alipay's (contracts.md §0).
pub const DEFAULT_ZONE: &str = "Asia/Shanghai";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// About one business date: catch-up, retries until the deadline, at most one completed run a date.
    Daily,
    /// Housekeeping that runs at its times (sweep, retention, account keep-alive).
    Periodic,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    timezone: Option<String>,
    heartbeat: Option<String>,
    #[serde(default, rename = "job")]
    jobs: Vec<RawJob>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: String,
    kind: Option<JobKind>,
    cron: String,
    timezone: Option<String>,
    command: Option<Vec<String>>,
    program: Option<PathBuf>,
    enabled: Option<bool>,
    date_offset_days: Option<u32>,
    retry_every: Option<String>,
    retry_on: Option<Vec<u8>>,
    catch_up_days: Option<u32>,
    timeout: Option<String>,
}

/// One job, validated and with defaults filled in.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub name: String,
    pub kind: JobKind,
    pub cron: CronSpec,
    /// Arguments; `{date}` is replaced by the business date (daily jobs).
    pub command: Vec<String>,
    /// An external program to run instead of this binary.
    pub program: Option<PathBuf>,
    /// Daily jobs: a fire on calendar day X (business zone) is about day X − this (default 1: yesterday).
    pub date_offset_days: u32,
    /// Daily jobs: pause between attempts while the answer is in `retry_on` (default 30 minutes).
    pub retry_every: Duration,
    /// Daily jobs: exit codes that mean "try again later" (default 3 not ready, 4 locked).
    pub retry_on: Vec<u8>,
    /// Daily jobs: how many past dates are caught up on start (default 7, Alipay's SFTP retention).
    pub catch_up_days: u32,
    /// A run still going after this long is stopped (SIGTERM, then SIGKILL); default 2 hours.
    pub timeout: Duration,
    /// `file:job` for messages.
    pub origin: String,
}

impl JobSpec {
    /// The command line with `{date}` filled in.
    pub fn args_for(&self, date: Option<chrono::NaiveDate>) -> Vec<String> {
        let d = date.map(|d| d.to_string()).unwrap_or_default();
        self.command.iter().map(|a| a.replace("{date}", &d)).collect()
    }
}

/// All jobs of the schedule folder.
#[derive(Debug, Clone)]
pub struct ScheduleSet {
    pub jobs: Vec<JobSpec>,
    /// Interval of the daemon's "alive" log line (default 10 minutes).
    pub heartbeat: Duration,
    /// The files read, for messages.
    pub files: Vec<PathBuf>,
}

impl ScheduleSet {
    /// Reads every `*.toml` in `dir`, in name order.
    pub fn load_dir(dir: &Path) -> Result<ScheduleSet> {
        let entries = std::fs::read_dir(dir).with_context(|| {
            format!(
                "cannot read the schedule folder {}: copy `schedules/` from the release next to the config \
                 file, or set `schedule.dir`",
                dir.display()
            )
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut set = ScheduleSet { jobs: Vec::new(), heartbeat: Duration::from_secs(600), files: Vec::new() };
        for f in &files {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("cannot read schedule file {}", f.display()))?;
            set.merge(ScheduleSet::from_toml(&text, &f.display().to_string())?, &f.display().to_string())?;
            set.files.push(f.clone());
        }
        if set.jobs.is_empty() {
            bail!(
                "no enabled jobs in {} (files: {}): add a [[job]] to a *.toml file there",
                dir.display(),
                files.len()
            );
        }
        Ok(set)
    }

    fn merge(&mut self, other: ScheduleSet, origin: &str) -> Result<()> {
        for j in other.jobs {
            if let Some(prev) = self.jobs.iter().find(|p| p.name == j.name) {
                bail!("{origin}: job '{}' is also defined in {}: give each job its own name", j.name, prev.origin);
            }
            self.jobs.push(j);
        }
        self.heartbeat = self.heartbeat.min(other.heartbeat);
        Ok(())
    }

    /// Parses one schedule file's text; `origin` names it in errors. Disabled jobs are left out.
    pub fn from_toml(text: &str, origin: &str) -> Result<ScheduleSet> {
        let raw: RawFile =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: {}", e.to_string().trim_end()))?;
        let file_zone = zone(raw.timezone.as_deref().unwrap_or(DEFAULT_ZONE), origin, "timezone")?;
        let heartbeat = match &raw.heartbeat {
            Some(h) => parse_duration(h).with_context(|| format!("{origin}: key `heartbeat`"))?,
            None => Duration::from_secs(600),
        };
        let mut jobs = Vec::new();
        for j in raw.jobs {
            let at = format!("{origin}: job '{}'", j.name);
            if j.name.trim().is_empty() || !j.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                bail!("{at}: `name` must be letters, digits, '-' or '_'");
            }
            if jobs.iter().any(|p: &JobSpec| p.name == j.name) {
                bail!("{at} is defined twice: give each job its own name");
            }
            if !j.enabled.unwrap_or(true) {
                continue;
            }
            let kind = j.kind.unwrap_or(JobKind::Periodic);
            let z = match &j.timezone {
                Some(t) => zone(t, &at, "timezone")?,
                None => file_zone,
            };
            let cron = CronSpec::parse(&j.cron, z).with_context(|| format!("{at}: key `cron`"))?;
            let command = match (j.command, kind) {
                (Some(c), _) => c,
                (None, JobKind::Daily) => vec!["run".into(), "--date".into(), "{date}".into()],
                (None, JobKind::Periodic) => bail!("{at}: key `command` is required, e.g. command = [\"sweep\"]"),
            };
            if command.is_empty() && j.program.is_none() {
                bail!("{at}: `command` is empty: name a subcommand such as [\"run\", \"--date\", \"{{date}}\"]");
            }
            let uses_date = command.iter().any(|a| a.contains("{date}"));
            match kind {
                JobKind::Daily if !uses_date => bail!(
                    "{at}: a daily job's `command` must contain {{date}} so catch-up and retries target the right day"
                ),
                JobKind::Periodic if uses_date => {
                    bail!("{at}: {{date}} is only filled in for kind = \"daily\" jobs: set kind = \"daily\"")
                }
                _ => {}
            }
            let retry_every = match &j.retry_every {
                Some(r) => parse_duration(r).with_context(|| format!("{at}: key `retry_every`"))?,
                None => Duration::from_secs(30 * 60),
            };
            if kind == JobKind::Periodic
                && (j.retry_every.is_some()
                    || j.retry_on.is_some()
                    || j.catch_up_days.is_some()
                    || j.date_offset_days.is_some())
            {
                bail!("{at}: retry_every, retry_on, catch_up_days and date_offset_days only apply to kind = \"daily\"");
            }
            let catch_up_days = j.catch_up_days.unwrap_or(7);
            if catch_up_days > 60 {
                bail!("{at}: `catch_up_days` is {catch_up_days}: at most 60 (Alipay keeps files for 7 days)");
            }
            let timeout = match &j.timeout {
                Some(t) => parse_duration(t).with_context(|| format!("{at}: key `timeout`"))?,
                None => Duration::from_secs(2 * 3600),
            };
            jobs.push(JobSpec {
                name: j.name,
                kind,
                cron,
                command,
                program: j.program,
                date_offset_days: j.date_offset_days.unwrap_or(1),
                retry_every,
                retry_on: j
                    .retry_on
                    .unwrap_or_else(|| vec![crate::sys::exit::code::NOT_READY, crate::sys::exit::code::LOCKED]),
                catch_up_days,
                timeout,
                origin: at,
            });
        }
        Ok(ScheduleSet { jobs, heartbeat, files: Vec::new() })
    }
}

fn zone(text: &str, origin: &str, key: &str) -> Result<BusinessZone> {
    text.parse::<BusinessZone>().map_err(|e| anyhow::anyhow!("{origin}: key `{key}`: {e}"))
}

/// `90s`, `30m`, `2h`, `1d`: a number and one unit.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| anyhow::anyhow!("'{s}' is not a duration: write e.g. 90s, 30m, 2h or 1d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => bail!("'{s}' is not a duration: write a number and one of s, m, h, d (e.g. 30m)"),
    };
    if secs == 0 {
        bail!("'{s}' is zero: use at least 1s");
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../schedules/alipay-recon.toml");

    #[test]
    fn shipped_file_parses_with_the_documented_defaults() {
        let s = ScheduleSet::from_toml(SHIPPED, "schedules/alipay-recon.toml").unwrap();
        let daily = s.jobs.iter().find(|j| j.kind == JobKind::Daily).expect("a daily job");
        assert_eq!(daily.cron.six_field, "0 30 10 * * *");
        assert_eq!(daily.cron.zone.to_string(), "Asia/Shanghai");
        assert_eq!(daily.args_for(Some("2026-11-25".parse().unwrap())), ["run", "--date", "2026-11-25"]);
        assert_eq!(daily.retry_every, Duration::from_secs(1800));
        assert_eq!(daily.retry_on, [3, 4]);
        assert_eq!(daily.catch_up_days, 7);
        assert_eq!(daily.date_offset_days, 1);
        // The SFTP account is disabled after 90 idle days: something must log in at least daily.
        assert!(s.jobs.iter().any(|j| j.name == "sftp-keepalive"));
    }

    #[test]
    fn defaults_and_overrides() {
        let s = ScheduleSet::from_toml(
            r#"
timezone = "UTC"
heartbeat = "5s"
[[job]]
name = "daily"
kind = "daily"
cron = "*/2 * * * * *"
retry_every = "3s"
catch_up_days = 2
[[job]]
name = "sweep"
cron = "*/15 * * * *"
timezone = "Asia/Tokyo"
program = "/bin/sh"
command = ["-c", "true"]
timeout = "1m"
[[job]]
name = "off"
cron = "0 0 * * *"
command = ["x"]
enabled = false
"#,
            "t.toml",
        )
        .unwrap();
        assert_eq!(s.heartbeat, Duration::from_secs(5));
        assert_eq!(s.jobs.len(), 2, "disabled jobs are left out");
        assert_eq!(s.jobs[0].command, ["run", "--date", "{date}"]);
        assert_eq!(s.jobs[0].retry_every, Duration::from_secs(3));
        assert_eq!(s.jobs[0].timeout, Duration::from_secs(7200));
        assert_eq!(s.jobs[1].timeout, Duration::from_secs(60));
        assert_eq!(s.jobs[1].kind, JobKind::Periodic);
        assert_eq!(s.jobs[1].cron.zone.to_string(), "Asia/Tokyo");
        assert_eq!(s.jobs[1].program.as_deref(), Some(Path::new("/bin/sh")));
    }

    #[test]
    fn mistakes_name_file_job_and_key() {
        let cases = [
            ("[[job]]\nname = \"a\"\ncron = \"0 0 * *\"\ncommand = [\"x\"]", "job 'a': key `cron`"),
            ("[[job]]\nname = \"a\"\ncron = \"0 0 * * *\"", "key `command` is required"),
            (
                "[[job]]\nname = \"a\"\nkind = \"daily\"\ncron = \"0 0 * * *\"\ncommand = [\"run\"]",
                "must contain {date}",
            ),
            ("[[job]]\nname = \"a\"\ncron = \"0 0 * * *\"\ncommand = [\"run\", \"{date}\"]", "only filled in"),
            ("[[job]]\nname = \"a\"\ncron = \"0 0 * * *\"\ncommand = [\"x\"]\nretry_every = \"5m\"", "only apply"),
            (
                "[[job]]\nname = \"a\"\nkind = \"daily\"\ncron = \"0 0 * * *\"\nretry_every = \"5 minutes\"",
                "retry_every",
            ),
            ("timezone = \"Mars/Olympus\"", "Mars/Olympus"),
            ("[[job]]\nname = \"a\"\ncron = \"0 0 * * *\"\ncommand = [\"x\"]\ncmd = 1", "unknown field `cmd`"),
            ("[[job]]\nname = \"a b\"\ncron = \"0 0 * * *\"\ncommand = [\"x\"]", "`name`"),
        ];
        for (text, want) in cases {
            let e = format!("{:#}", ScheduleSet::from_toml(text, "f.toml").unwrap_err());
            assert!(e.contains("f.toml") && e.contains(want), "{text}\n=> {e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        for bad in ["", "m", "5", "5x", "0s", "-5m", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn load_dir_merges_files_and_rejects_duplicate_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), "[[job]]\nname = \"x\"\ncron = \"0 0 * * *\"\ncommand = [\"a\"]\n")
            .unwrap();
        std::fs::write(dir.path().join("b.toml"), "[[job]]\nname = \"y\"\ncron = \"0 1 * * *\"\ncommand = [\"b\"]\n")
            .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let s = ScheduleSet::load_dir(dir.path()).unwrap();
        assert_eq!(s.jobs.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(), ["x", "y"]);
        std::fs::write(dir.path().join("c.toml"), "[[job]]\nname = \"x\"\ncron = \"0 2 * * *\"\ncommand = [\"c\"]\n")
            .unwrap();
        let e = format!("{:#}", ScheduleSet::load_dir(dir.path()).unwrap_err());
        assert!(e.contains("c.toml") && e.contains("also defined in") && e.contains("a.toml"), "{e}");
        let e = format!("{:#}", ScheduleSet::load_dir(&dir.path().join("missing")).unwrap_err());
        assert!(e.contains("schedule.dir"), "{e}");
    }
}
