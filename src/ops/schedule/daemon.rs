//! The long-running daemon: tokio-cron-scheduler fires the jobs of the schedule files in their zones;
//! each attempt is a child process (this binary's own subcommand, or a configured program) whose exit
//! code drives retries ([`super::plan`]); every attempt is recorded in `schedule_runs`.
//!
//! Stopping (SIGTERM from systemd, Ctrl-C): no new attempt starts, SIGTERM is forwarded to the running
//! children's process groups, the daemon waits for them, records them `interrupted`, and exits 0. A
//! second signal sends SIGKILL. Interrupted dates are not complete, so the next start catches them up.
//!
//! tokio-cron-scheduler 0.15 freezes a zone's UTC offset when a job is created; for zones with
//! daylight saving, a watcher re-creates the jobs when the offset changes.

use super::file::{JobKind, JobSpec, ScheduleSet};
use super::{child, history, plan, Clock, SystemClock};
use crate::domain::BusinessZone;
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rusqlite::Connection;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_cron_scheduler::{Job, JobScheduler};

/// Everything the daemon needs, resolved from the config by the CLI.
#[derive(Debug, Clone)]
pub struct DaemonSettings {
    pub schedule: ScheduleSet,
    /// This binary, for jobs without `program`.
    pub exe: PathBuf,
    /// Passed to own-subcommand children as `--config`.
    pub config_path: PathBuf,
    pub database: PathBuf,
    pub business_zone: BusinessZone,
    pub file_deadline: NaiveTime,
}

/// How long a timed-out job gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(30);

struct Shared {
    s: DaemonSettings,
    db: Mutex<Connection>,
    clock: SystemClock,
    stop: watch::Sender<bool>,
    /// Attempts in flight: schedule_runs id → child pid. Spawning and stopping both hold this lock,
    /// so no child can start after the stop request without being signalled.
    children: Mutex<HashMap<i64, u32>>,
    /// One pass per job at a time; a fire that finds its job busy is skipped (and logged).
    busy: Mutex<HashSet<String>>,
}

/// Runs the daemon until SIGTERM/SIGINT. The caller holds the daemon lock.
pub fn run(settings: DaemonSettings) -> Result<()> {
    let conn = crate::store::open(&settings.database)?;
    let orphans = history::close_orphans(&conn)?;
    if orphans > 0 {
        tracing::warn!(orphans, "job runs of a previous daemon that ended abruptly were marked interrupted");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (stop, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        s: settings,
        db: Mutex::new(conn),
        clock: SystemClock,
        stop,
        children: Mutex::new(HashMap::new()),
        busy: Mutex::new(HashSet::new()),
    });
    rt.block_on(main_loop(shared))
}

async fn main_loop(sh: Arc<Shared>) -> Result<()> {
    // Before any child can start: an unhandled SIGTERM would kill the daemon and orphan the child.
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut sched = JobScheduler::new().await.context("cannot create the job scheduler")?;
    let mut registered = register_all(&sh, &sched).await?;
    sched.start().await.context("cannot start the job scheduler")?;
    for j in &sh.s.schedule.jobs {
        let next = j.cron.next_after(sh.clock.now()).map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into());
        tracing::info!(job = %j.name, cron = %j.cron.text, zone = %j.cron.zone, command = ?j.command, next_fire = %next, "job scheduled");
    }
    tracing::info!(jobs = sh.s.schedule.jobs.len(), pid = std::process::id(), "daemon started");
    // Days missed while the daemon was down.
    for j in sh.s.schedule.jobs.iter().filter(|j| j.kind == JobKind::Daily) {
        tokio::spawn(daily_pass(sh.clone(), j.clone(), "catch-up"));
    }

    let mut heartbeat = tokio::time::interval(sh.s.schedule.heartbeat);
    heartbeat.tick().await;
    let mut dst_check = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM received: stopping"); break; }
            _ = int.recv() => { tracing::info!("interrupt received: stopping"); break; }
            _ = heartbeat.tick() => log_heartbeat(&sh),
            _ = dst_check.tick() => {
                let now = sh.clock.now();
                if offsets_changed(&registered, now) {
                    tracing::info!("a zone's UTC offset changed (daylight saving): re-creating the jobs");
                    for (_, id, _) in &registered {
                        let _ = sched.remove(id).await;
                    }
                    registered = register_all(&sh, &sched).await?;
                }
            }
        }
    }

    // Stop: no new attempts, forward SIGTERM to the running children and wait for them.
    let pids: Vec<u32> = {
        let kids = sh.children.lock().expect("children lock");
        // send_replace: `send` would fail (and not store the value) while no task is subscribed.
        sh.stop.send_replace(true);
        kids.values().copied().collect()
    };
    for pid in &pids {
        tracing::info!(pid, "forwarding SIGTERM to the running job and waiting for it");
        crate::sys::os::signal_group(*pid, libc::SIGTERM);
    }
    let _ = sched.shutdown().await;
    loop {
        if sh.children.lock().expect("children lock").is_empty() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = term.recv() => kill_all(&sh),
            _ = int.recv() => kill_all(&sh),
        }
    }
    tracing::info!("daemon stopped");
    Ok(())
}

fn kill_all(sh: &Shared) {
    tracing::warn!("second stop request: killing the running jobs (SIGKILL)");
    for pid in sh.children.lock().expect("children lock").values() {
        crate::sys::os::signal_group(*pid, libc::SIGKILL);
    }
}

/// Creates one scheduler job per schedule job, in its zone. Returns (job, id, offset used).
async fn register_all(sh: &Arc<Shared>, sched: &JobScheduler) -> Result<Vec<(JobSpec, uuid::Uuid, i32)>> {
    let mut out = Vec::new();
    let now = sh.clock.now();
    for j in &sh.s.schedule.jobs {
        let (shc, jc) = (sh.clone(), j.clone());
        let run = move |_id, _l| {
            let (shc, jc) = (shc.clone(), jc.clone());
            Box::pin(async move {
                match jc.kind {
                    JobKind::Daily => daily_pass(shc, jc, "cron").await,
                    JobKind::Periodic => periodic(shc, jc).await,
                }
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        };
        let job = match j.cron.zone {
            BusinessZone::Named(tz) => Job::new_async_tz(j.cron.six_field.as_str(), tz, run),
            BusinessZone::Fixed(o) => Job::new_async_tz(j.cron.six_field.as_str(), o, run),
        }
        .map_err(|e| anyhow::anyhow!("{}: cron '{}' was refused by the scheduler: {e}", j.origin, j.cron.text))?;
        let id = sched.add(job).await.map_err(|e| anyhow::anyhow!("{}: cannot add the job: {e}", j.origin))?;
        out.push((j.clone(), id, j.cron.zone.offset_at(now).local_minus_utc()));
    }
    Ok(out)
}

/// Whether a zone's UTC offset at `now` differs from the one a scheduler job was created with
/// (daylight saving began or ended): tokio-cron-scheduler would then fire an hour off.
fn offsets_changed(registered: &[(JobSpec, uuid::Uuid, i32)], now: DateTime<Utc>) -> bool {
    registered.iter().any(|(j, _, off)| j.cron.zone.offset_at(now).local_minus_utc() != *off)
}

fn log_heartbeat(sh: &Shared) {
    let now = sh.clock.now();
    let running = sh.children.lock().map(|k| k.len()).unwrap_or(0);
    let next =
        sh.s.schedule
            .jobs
            .iter()
            .filter_map(|j| j.cron.next_after(now).map(|t| (t, j.name.as_str())))
            .min()
            .map(|(t, n)| format!("{n} at {}", t.to_rfc3339()))
            .unwrap_or_else(|| "none".into());
    tracing::info!(running, next = %next, "heartbeat: daemon alive");
}

/// Marks a job busy; false when a pass of it is still going.
fn claim(sh: &Shared, job: &str) -> bool {
    sh.busy.lock().expect("busy lock").insert(job.to_string())
}

fn release(sh: &Shared, job: &str) {
    sh.busy.lock().expect("busy lock").remove(job);
}

async fn periodic(sh: Arc<Shared>, job: JobSpec) {
    if *sh.stop.borrow() {
        return;
    }
    if !claim(&sh, &job.name) {
        tracing::warn!(job = %job.name, "previous run still going: this fire is skipped");
        return;
    }
    let _ = attempt(&sh, &job, None, "cron").await;
    release(&sh, &job.name);
}

/// Runs every incomplete date of a daily job's look-back, oldest first, each with its retries.
async fn daily_pass(sh: Arc<Shared>, job: JobSpec, trigger: &'static str) {
    if *sh.stop.borrow() {
        return;
    }
    if !claim(&sh, &job.name) {
        tracing::debug!(job = %job.name, "a pass is still going (retrying or running): this fire is skipped");
        return;
    }
    let via_run = runs_subcommand(&job);
    let dates = {
        let db = sh.db.lock().expect("db lock");
        plan::dates_to_run(&job, sh.s.business_zone, sh.clock.now(), &mut |d| {
            history::completed(&db, &job.name, d, via_run)
        })
    };
    match dates {
        Err(e) => tracing::error!(job = %job.name, "cannot read the run history: {e:#}"),
        Ok(dates) => {
            if trigger == "catch-up" && !dates.is_empty() {
                tracing::info!(job = %job.name, dates = ?dates.iter().map(|d| d.to_string()).collect::<Vec<_>>(), "catching up");
            }
            if dates.is_empty() {
                // The schedule tests wait for this line instead of sleeping through fires.
                tracing::debug!(job = %job.name, trigger, "every date of the look-back is complete: nothing to run");
            }
            for d in dates {
                if !drive_date(&sh, &job, d, trigger).await {
                    break;
                }
            }
        }
    }
    release(&sh, &job.name);
}

/// Whether the job is this binary's `run`, so a manual `alipay-recon run` of a date completes it too.
fn runs_subcommand(job: &JobSpec) -> bool {
    job.program.is_none() && job.command.first().is_some_and(|c| c == "run")
}

/// Attempts one date until done, given up or stopped. False when the daemon is stopping.
async fn drive_date(sh: &Arc<Shared>, job: &JobSpec, date: NaiveDate, trigger: &'static str) -> bool {
    let deadline = plan::deadline_of(sh.s.business_zone, date, sh.s.file_deadline);
    let mut trigger = trigger;
    loop {
        let Some(code) = attempt(sh, job, Some(date), trigger).await else { return false };
        match plan::after_attempt(job, code, sh.clock.now(), deadline) {
            plan::Next::Done => return true,
            plan::Next::GiveUp(why) => {
                tracing::warn!(job = %job.name, date = %date, "{why}");
                return true;
            }
            plan::Next::RetryAt(t) => {
                tracing::info!(job = %job.name, date = %date, retry_at = %t.to_rfc3339(), "not ready yet: will retry");
                if !sleep_until(sh, t).await {
                    return false;
                }
                // A manual `run` may have finished the date meanwhile (it held the lock: exit 4).
                let done = {
                    let db = sh.db.lock().expect("db lock");
                    history::completed(&db, &job.name, date, runs_subcommand(job))
                };
                if done.unwrap_or(false) {
                    tracing::info!(job = %job.name, date = %date, "completed by another run meanwhile: no retry");
                    return true;
                }
                trigger = "retry";
            }
        }
    }
}

/// Sleeps until `t`; false when a stop request came first.
async fn sleep_until(sh: &Shared, t: DateTime<Utc>) -> bool {
    let mut rx = sh.stop.subscribe();
    if *rx.borrow() {
        return false;
    }
    let wait = (t - sh.clock.now()).to_std().unwrap_or(Duration::ZERO);
    tokio::select! {
        _ = tokio::time::sleep(wait) => !*sh.stop.borrow(),
        _ = rx.changed() => false,
    }
}

/// One attempt: record, spawn, wait, record. None when stopping (before start or interrupted);
/// Some(exit code or None for a signal) otherwise.
async fn attempt(sh: &Arc<Shared>, job: &JobSpec, date: Option<NaiveDate>, trigger: &str) -> Option<Option<i32>> {
    let (program, args) = match &job.program {
        Some(p) => (p.clone(), job.args_for(date)),
        None => {
            let mut a = vec!["--config".to_string(), sh.s.config_path.display().to_string()];
            a.extend(job.args_for(date));
            (sh.s.exe.clone(), a)
        }
    };
    let mut recorded = vec![program.display().to_string()];
    recorded.extend(args.iter().cloned());
    let mut env = vec![("ALIPAY_RECON_JOB", job.name.clone())];
    if let Some(d) = date {
        env.push(("ALIPAY_RECON_DATE", d.to_string()));
    }
    if *sh.stop.borrow() {
        return None;
    }
    // Record first, outside the children lock: a child's long SQLite write may make this wait.
    let started = history::start(&sh.db.lock().expect("db lock"), &job.name, date, trigger, &recorded);
    let id = match started {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(job = %job.name, "cannot record the job run in the database: {e:#}");
            return Some(Some(crate::sys::exit::code::FAILED as i32));
        }
    };
    // Spawn and register under the children lock, which the stop request also takes: a child is
    // either signalled by the stop or never started.
    let spawned = {
        let mut kids = sh.children.lock().expect("children lock");
        if *sh.stop.borrow() {
            None
        } else {
            Some(child::spawn(&program, &args, &env).inspect(|p| {
                kids.insert(id, p.id());
            }))
        }
    };
    let mut proc = match spawned {
        None => {
            let db = sh.db.lock().expect("db lock");
            let _ = history::finish_as(&db, id, None, "interrupted", Some("not started: the daemon is stopping"));
            return None;
        }
        Some(Err(e)) => {
            tracing::error!(job = %job.name, "{e:#}");
            let db = sh.db.lock().expect("db lock");
            let _ = history::finish(&db, id, Some(crate::sys::exit::code::FAILED as i32), Some(&format!("{e:#}")));
            return Some(Some(crate::sys::exit::code::FAILED as i32));
        }
        Some(Ok(p)) => p,
    };
    let _ = history::set_child(&sh.db.lock().expect("db lock"), id, proc.id());
    tracing::info!(job = %job.name, date = %date.map(|d| d.to_string()).unwrap_or_default(), trigger, pid = proc.id(), "job started");
    let pid = proc.id();
    let mut waiter = tokio::task::spawn_blocking(move || proc.wait());
    // A hung job must not block its schedule for ever: SIGTERM at the timeout, SIGKILL 30 s later.
    let mut timed_out = false;
    let status = tokio::select! {
        r = &mut waiter => r,
        _ = tokio::time::sleep(job.timeout) => {
            timed_out = true;
            tracing::error!(job = %job.name, pid, timeout_s = job.timeout.as_secs(), "job timed out: sending SIGTERM");
            crate::sys::os::signal_group(pid, libc::SIGTERM);
            tokio::select! {
                r = &mut waiter => r,
                _ = tokio::time::sleep(KILL_GRACE) => {
                    crate::sys::os::signal_group(pid, libc::SIGKILL);
                    waiter.await
                }
            }
        }
    };
    let stopping = *sh.stop.borrow();
    let (code, text) = match status {
        Ok(Ok(st)) => (child::code_of(st), child::describe(st)),
        Ok(Err(e)) => (Some(crate::sys::exit::code::FAILED as i32), format!("cannot wait for the job: {e}")),
        Err(e) => (Some(crate::sys::exit::code::FAILED as i32), format!("cannot wait for the job: {e}")),
    };
    let message = if timed_out {
        format!("{text}; timed out after {}s (`timeout` in the schedule file)", job.timeout.as_secs())
    } else if stopping {
        format!("{text}; stopped by daemon shutdown")
    } else {
        text.clone()
    };
    {
        let db = sh.db.lock().expect("db lock");
        // Killed on shutdown counts as interrupted whatever the child answered, unless it finished.
        let recorded_code = if stopping && !matches!(code, Some(0) | Some(1)) { None } else { code };
        let outcome = if timed_out { "timed_out" } else { history::outcome_of(recorded_code) };
        if let Err(e) = history::finish_as(&db, id, recorded_code, outcome, Some(&message)) {
            tracing::error!(job = %job.name, "cannot record the job's end: {e:#}");
        }
    }
    sh.children.lock().expect("children lock").remove(&id);
    tracing::info!(job = %job.name, date = %date.map(|d| d.to_string()).unwrap_or_default(), outcome = history::outcome_of(code), "job ended: {message}");
    if stopping && !matches!(code, Some(0) | Some(1)) {
        return None;
    }
    Some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_change_is_noticed_only_in_dst_zones() {
        let text = "[[job]]\nname = \"b\"\ncron = \"30 10 * * *\"\ntimezone = \"Europe/Berlin\"\ncommand = [\"x\"]\n\
                    [[job]]\nname = \"s\"\ncron = \"30 10 * * *\"\ncommand = [\"x\"]\n";
        let jobs = ScheduleSet::from_toml(text, "t.toml").unwrap().jobs;
        let summer = "2026-10-24T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let winter = "2026-10-25T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let reg: Vec<_> = jobs
            .iter()
            .map(|j| (j.clone(), uuid::Uuid::nil(), j.cron.zone.offset_at(summer).local_minus_utc()))
            .collect();
        assert_eq!(reg[0].2, 7200);
        assert_eq!(reg[1].2, 8 * 3600, "Asia/Shanghai, the default");
        assert!(!offsets_changed(&reg, summer));
        assert!(offsets_changed(&reg, winter), "Berlin left summer time");
        assert!(!offsets_changed(&reg[1..], winter), "Shanghai has no daylight saving");
    }
}
