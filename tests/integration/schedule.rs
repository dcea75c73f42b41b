//! The daemon, the schedule files and the run locks, through the real binary: a short schedule
//! (every 2 seconds) running a harmless shell command, stopped with SIGTERM mid-run and restarted;
//! retries on "not ready"; two holders of one date's lock.

use crate::harness::{poll, wait_until, Workspace};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
environment = "sandbox"
[merchant]
name = "Schedule Test"
[environments.sandbox]
merchant_id = "2188000000000001"
[source]
kind = "dir"
dir = "sftp"
[store]
database = "data/alipay-recon.db"
archive_dir = "archive"
reports_dir = "reports"
[business]
timezone = "UTC"
file_deadline = "23:59"
"#;

fn workspace(schedule: &str) -> Workspace {
    let w = Workspace::new();
    w.write("alipay-recon.toml", CONFIG);
    w.write("schedules/test.toml", schedule);
    w
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A running daemon, killed if the test fails before stopping it.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl std::ops::Deref for Daemon {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// Starts `alipay-recon daemon` with stderr in `log`; the scheduler logs at debug level, so that a test
/// can wait for [`NOTHING_TO_RUN`] instead of sleeping through fires.
fn start_daemon(w: &Workspace, log: &str) -> Daemon {
    let err = std::fs::File::create(w.file(log)).unwrap();
    let mut c = w.cmd(&["daemon"]);
    c.env("RUST_LOG", "alipay_recon=info,alipay_recon::ops::schedule=debug,warn");
    Daemon(c.stdout(Stdio::null()).stderr(err).spawn().expect("start the daemon"))
}

/// What the daemon logs (at debug level) when a pass of a daily job finds every date complete.
const NOTHING_TO_RUN: &str = "nothing to run";

/// How many passes logged in `log` found nothing to run.
fn idle_passes(w: &Workspace, log: &str) -> usize {
    read(&w.file(log)).matches(NOTHING_TO_RUN).count()
}

/// Whether a process of group `pgid` that has not ended (is not a zombie) remains.
fn group_alive(pgid: i64) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        let stat = read(&e.path().join("stat"));
        // pid (comm) state ppid pgrp …; comm may hold spaces, so read after the last ')'.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        f.len() > 2 && f[0] != "Z" && f[2].parse::<i64>().ok() == Some(pgid)
    })
}

/// The process (group) ids of the job runs the daemon started.
fn child_pids(w: &Workspace) -> Vec<i64> {
    let c = rusqlite::Connection::open(w.file("data/alipay-recon.db")).unwrap();
    let mut st = c.prepare("SELECT child_pid FROM schedule_runs WHERE child_pid IS NOT NULL ORDER BY id").unwrap();
    let rows = st.query_map([], |r| r.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

fn sigterm(c: &Child) {
    signal(c, libc::SIGTERM)
}

fn signal(c: &Child, sig: libc::c_int) {
    // SAFETY: signals our own child by pid.
    unsafe { libc::kill(c.id() as libc::pid_t, sig) };
}

fn wait_exit(c: &mut Child, timeout: Duration) -> i32 {
    let st = poll(timeout, || c.try_wait().unwrap());
    st.map(|st| st.code().unwrap_or(-1)).unwrap_or_else(|| {
        let _ = c.kill();
        panic!("the daemon did not exit within {timeout:?} after SIGTERM");
    })
}

/// (job, business_date, attempt, trigger, outcome) of every recorded job run, oldest first.
fn job_runs(w: &Workspace) -> Vec<(String, Option<String>, i64, String, String)> {
    let path = w.file("data/alipay-recon.db");
    if !path.exists() {
        return Vec::new();
    }
    let c = rusqlite::Connection::open(path).unwrap();
    let mut st =
        c.prepare("SELECT job, business_date, attempt, trigger, outcome FROM schedule_runs ORDER BY id").unwrap();
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

fn yesterday_utc() -> String {
    (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string()
}

#[test]
fn daemon_stopped_mid_run_and_restarted_neither_loses_nor_duplicates() {
    let w = workspace(
        r#"
timezone = "UTC"
heartbeat = "1s"
[[job]]
name = "daily"
kind = "daily"
cron = "*/2 * * * * *"
program = "/bin/sh"
command = ["-c", "echo start {date} >> jobs.log; sleep 2; echo done {date} >> jobs.log"]
catch_up_days = 2
[[job]]
name = "payment-sweep"
cron = "*/15 * * * *"
command = ["sweep-that-does-not-exist"]
"#,
    );
    let today = chrono::Utc::now().date_naive();
    let (d1, d2) = ((today - chrono::Days::new(2)).to_string(), (today - chrono::Days::new(1)).to_string());
    let log = w.file("jobs.log");

    let mut first = start_daemon(&w, "daemon1.err");
    wait_until("the first attempt to start", Duration::from_secs(20), || read(&log).contains("start"));
    // A second daemon on the same database is refused with exit 4, naming the first one's pid.
    let second = w.run(&["daemon"]);
    assert_eq!(second.code, 4, "{}", second.stderr);
    assert!(second.stderr.contains(&format!("pid {}", first.id())), "{}", second.stderr);
    sigterm(&first);
    assert_eq!(wait_exit(&mut first, Duration::from_secs(15)), 0, "{}", read(&w.file("daemon1.err")));
    // The daemon is gone, so nothing starts a job any more; once the stopped job's processes are gone
    // too (its shell would write "done" after its `sleep`), the log is final.
    let pids = child_pids(&w);
    assert_eq!(pids.len(), 1, "{pids:?}");
    wait_until("the stopped job's processes to end", Duration::from_secs(20), || !group_alive(pids[0]));
    assert_eq!(read(&log), format!("start {d1}\n"), "the running job was stopped, and no other one started");
    let err1 = read(&w.file("daemon1.err"));
    assert!(err1.contains("sweep-that-does-not-exist") && err1.contains("skipped"), "{err1}");
    assert!(err1.contains("forwarding SIGTERM"), "{err1}");
    let runs = job_runs(&w);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!((runs[0].1.as_deref(), runs[0].4.as_str()), (Some(d1.as_str()), "interrupted"));

    // Restart: the interrupted date and the one never started are caught up once, oldest first;
    // later fires for the same dates do nothing.
    let mut again = start_daemon(&w, "daemon2.err");
    wait_until("the caught-up runs to finish", Duration::from_secs(20), || read(&log).contains(&format!("done {d2}")));
    wait_until("two more fires that find nothing to run", Duration::from_secs(20), || {
        idle_passes(&w, "daemon2.err") >= 2
    });
    sigterm(&again);
    assert_eq!(wait_exit(&mut again, Duration::from_secs(15)), 0);
    assert_eq!(read(&log), format!("start {d1}\nstart {d1}\ndone {d1}\nstart {d2}\ndone {d2}\n"));
    let runs = job_runs(&w);
    assert_eq!(
        runs.iter().map(|r| (r.1.clone().unwrap_or_default(), r.2, r.3.as_str(), r.4.as_str())).collect::<Vec<_>>(),
        [
            (d1.clone(), 1, "catch-up", "interrupted"),
            (d1.clone(), 2, "catch-up", "ok"),
            (d2.clone(), 1, "catch-up", "ok")
        ],
        "{runs:?}"
    );
    let err2 = read(&w.file("daemon2.err"));
    assert!(err2.contains("heartbeat: daemon alive"), "{err2}");
    assert!(!w.file("data/locks/daemon.lock").exists(), "the daemon lock is released on exit");
}

/// A schedule of one daily job at 00:00 UTC, caught up for yesterday at start-up, running
/// `/bin/sh -c script` and retried every `retry_every` while it exits 3 (not ready).
fn retried_daily(script: &str, retry_every: &str) -> String {
    format!(
        "timezone = \"UTC\"\n[[job]]\nname = \"daily\"\nkind = \"daily\"\ncron = \"0 0 * * *\"\nprogram = \"/bin/sh\"\n\
         command = [\"-c\", {script:?}]\nretry_every = \"{retry_every}\"\ncatch_up_days = 1\n"
    )
}

#[test]
fn stop_during_a_retry_wait_is_prompt() {
    let w = workspace(&retried_daily("echo try {date} >> t.log; exit 3", "1h"));
    let mut daemon = start_daemon(&w, "daemon.err");
    wait_until("the first attempt", Duration::from_secs(20), || read(&w.file("daemon.err")).contains("will retry"));
    let t0 = Instant::now();
    sigterm(&daemon);
    assert_eq!(wait_exit(&mut daemon, Duration::from_secs(10)), 0);
    assert!(t0.elapsed() < Duration::from_secs(5), "stopped in {:?}", t0.elapsed());
    let runs = job_runs(&w);
    assert_eq!(runs.iter().map(|r| r.4.as_str()).collect::<Vec<_>>(), ["not_ready"], "{runs:?}");
}

#[test]
fn not_ready_is_retried_until_the_run_completes() {
    let w = workspace(&retried_daily(
        "if [ -e ready ]; then echo ok $ALIPAY_RECON_DATE {date} >> r.log; else touch ready; exit 3; fi",
        "1s",
    ));
    // Everything here comes from the start-up catch-up (yesterday is due since 00:00) and its retries.
    let d = yesterday_utc();
    let mut daemon = start_daemon(&w, "daemon.err");
    wait_until("the retry to succeed", Duration::from_secs(20), || read(&w.file("r.log")).contains("ok"));
    signal(&daemon, libc::SIGINT); // Ctrl-C stops it like SIGTERM

    assert_eq!(wait_exit(&mut daemon, Duration::from_secs(15)), 0);
    assert_eq!(read(&w.file("r.log")), format!("ok {d} {d}\n"));
    let runs = job_runs(&w);
    assert_eq!(
        runs.iter().map(|r| (r.2, r.3.as_str(), r.4.as_str())).collect::<Vec<_>>(),
        [(1, "catch-up", "not_ready"), (2, "retry", "ok")],
        "{runs:?}"
    );
    assert!(read(&w.file("daemon.err")).contains("will retry"));
}

#[test]
fn second_holder_of_a_dates_lock_exits_4_naming_the_holder() {
    let w = workspace("[[job]]\nname = \"x\"\ncron = \"0 0 * * *\"\ncommand = [\"init\"]\n");
    let mut holder = w
        .cmd(&["daemon", "with-lock", "--date", "2026-11-25", "--", "sleep", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let lockfile = w.file("data/locks/2026-11-25.lock");
    wait_until("the lock file", Duration::from_secs(10), || read(&lockfile).contains("started_at="));
    let r = w.run(&["daemon", "with-lock", "--date", "2026-11-25", "--", "true"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("pid {}", holder.id())), "{}", r.stderr);
    assert!(r.stderr.contains("since 20"), "names the start time: {}", r.stderr);
    // Another date is free; words are evaluated in the business zone.
    w.run(&["daemon", "with-lock", "--date", "2026-11-24", "--", "true"]).expect_code(0);
    w.run(&["daemon", "with-lock", "--date", "2000-01-01", "--", "sh", "-c", "exit 3"]).expect_code(3);
    let today = chrono::Utc::now().date_naive().to_string();
    w.run(&["daemon", "with-lock", "--date", "today", "--", "sh", "-c", &format!("test $ALIPAY_RECON_DATE = {today}")])
        .expect_code(0);
    // Killed holder (no cleanup code runs): the kernel releases the lock; the stale file is reused.
    // SAFETY: signals the process group of our own child (it and its `sleep`).
    unsafe { libc::kill(-(holder.id() as libc::pid_t), libc::SIGKILL) };
    holder.wait().unwrap();
    w.run(&["daemon", "with-lock", "--date", "2026-11-25", "--", "true"]).expect_code(0);
}

#[test]
fn check_lists_next_fire_times_and_bad_files_name_the_key() {
    let w = workspace(
        "[[job]]\nname = \"daily\"\nkind = \"daily\"\ncron = \"30 10 * * *\"\ntimezone = \"Asia/Shanghai\"\n\
         program = \"/bin/echo\"\ncommand = [\"{date}\"]\n",
    );
    let r = w.run(&["daemon", "check", "--count", "2"]).expect_code(0);
    assert!(r.stdout.contains("daily (Daily): cron '30 10 * * *' in Asia/Shanghai: {date}"), "{}", r.stdout);
    assert_eq!(r.stdout.matches("T10:30:00+08:00  for business date").count(), 2, "{}", r.stdout);
    w.write("schedules/test.toml", "[[job]]\nname = \"daily\"\nkind = \"daily\"\ncron = \"30 10 * *\"\n");
    let r = w.run(&["daemon", "check"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("schedules/test.toml") && r.stderr.contains("key `cron`"), "{}", r.stderr);
}

#[test]
fn shipped_unit_files_call_run_for_yesterday() {
    let root = crate::harness::repo().join("schedules");
    let service = read(&root.join("alipay-recon.service"));
    let timer = read(&root.join("alipay-recon.timer"));
    let cron = read(&root.join("crontab"));
    assert!(service.contains("run --date yesterday"), "{service}");
    assert!(timer.contains("OnCalendar=*-*-* 10:30:00 Asia/Shanghai"), "{timer}");
    let line = cron.lines().find(|l| !l.starts_with('#') && l.contains("alipay-recon")).expect("a crontab line");
    assert!(line.contains("run --date yesterday"), "{line}");
    assert!(cron.contains("CRON_TZ=Asia/Shanghai"), "{cron}");
    let daemon = read(&root.join("alipay-recon-daemon.service"));
    assert!(daemon.contains("ExecStart=") && daemon.contains(" daemon"), "{daemon}");
}

#[test]
fn a_hung_job_is_stopped_at_its_timeout() {
    let w = workspace(
        r#"
timezone = "UTC"
[[job]]
name = "hangs"
cron = "* * * * * *"
program = "/bin/sh"
command = ["-c", "echo $$ >> hang.pids; exec sleep 60"]
timeout = "1s"
"#,
    );
    let mut daemon = start_daemon(&w, "daemon.err");
    wait_until("the daemon to start", Duration::from_secs(20), || {
        read(&w.file("daemon.err")).contains("daemon started")
    });
    wait_until("a timed-out run", Duration::from_secs(20), || job_runs(&w).iter().any(|r| r.4 == "timed_out"));
    sigterm(&daemon);
    assert_eq!(wait_exit(&mut daemon, Duration::from_secs(15)), 0);
    assert!(read(&w.file("daemon.err")).contains("job timed out"));
    // Its process is gone (not left running in the background).
    let pid: i32 = read(&w.file("hang.pids")).lines().next().unwrap().trim().parse().unwrap();
    let stat = read(Path::new(&format!("/proc/{pid}/stat")));
    assert!(stat.is_empty() || stat.contains(") Z"), "pid {pid} still running: {stat}");
}

#[test]
fn daemon_runs_the_real_run_command_and_respects_manual_runs() {
    // Deadline 00:00 on T+1: a past day without files is final (clean), never "not ready".
    let w = Workspace::new();
    w.write("alipay-recon.toml", CONFIG.replace("file_deadline = \"23:59\"", "file_deadline = \"00:00\""));
    std::fs::create_dir_all(w.file("sftp")).unwrap();
    w.write(
        "schedules/daily.toml",
        // Fires at 00:00 UTC: today's firing is always past, whatever time of day the test runs
        // (at 10:30 it failed before 10:30 UTC, when the last firing was yesterday's).
        "timezone = \"UTC\"\n[[job]]\nname = \"daily\"\nkind = \"daily\"\ncron = \"0 0 * * *\"\ncatch_up_days = 2\n",
    );
    let today = chrono::Utc::now().date_naive();
    let (d1, d2) = ((today - chrono::Days::new(2)).to_string(), (today - chrono::Days::new(1)).to_string());
    // The operator already ran the older day by hand: the daemon must not repeat it.
    w.run(&["run", "--date", &d1]).expect_code(0);

    let mut daemon = start_daemon(&w, "daemon.err");
    wait_until("the daemon's run to finish", Duration::from_secs(60), || job_runs(&w).iter().any(|r| r.4 != "running"));
    sigterm(&daemon);
    assert_eq!(wait_exit(&mut daemon, Duration::from_secs(30)), 0, "{}", read(&w.file("daemon.err")));
    let runs = job_runs(&w);
    assert_eq!(
        runs.iter().map(|r| (r.1.clone().unwrap_or_default(), r.3.as_str(), r.4.as_str())).collect::<Vec<_>>(),
        [(d2.clone(), "catch-up", "ok")],
        "{runs:?}\n{}",
        read(&w.file("daemon.err"))
    );
    assert!(w.file(&format!("reports/{d2}/discrepancies.csv")).exists());
    // The child recorded itself in `runs` like a manual run (same binary, same config).
    let c = rusqlite::Connection::open(w.file("data/alipay-recon.db")).unwrap();
    let recorded: Vec<(String, String)> = c
        .prepare("SELECT business_date, outcome FROM runs WHERE command = 'run' ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(recorded, [(d1.clone(), "ok".to_string()), (d2.clone(), "ok".to_string())]);

    // A restart finds both dates complete: nothing runs again.
    let mut again = start_daemon(&w, "daemon2.err");
    wait_until("the restart's catch-up to find nothing to run", Duration::from_secs(20), || {
        idle_passes(&w, "daemon2.err") >= 1
    });
    sigterm(&again);
    assert_eq!(wait_exit(&mut again, Duration::from_secs(30)), 0);
    assert_eq!(job_runs(&w).len(), 1, "{:?}", job_runs(&w));
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(files_under(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// The whole job on its own schedule against the real servers: the daemon fetches two days from a real
/// OpenSSH sshd and emails through a real SMTP server; SIGTERM lands while a run is importing; after a
/// restart every day is imported exactly once and mailed exactly once.
#[test]
fn daemon_over_real_sftp_and_smtp_survives_sigterm_mid_run_without_loss_or_duplicates() {
    use crate::harness::smtp::{Mode, SmtpServer};
    use crate::harness::sshd::{Sshd, PASSWORD, USER};
    let sshd = Sshd::start();
    let smtp = SmtpServer::start(Mode::Plain);
    let w = Workspace::new();
    w.write("secrets/sftp.pass", PASSWORD);
    w.write(
        "alipay-recon.toml",
        format!(
            r#"environment = "production"
[merchant]
name = "Daemon E2E"
[business]
timezone = "UTC"
file_deadline = "23:59"
[environments.production]
merchant_id = "2188000000000001"
[environments.production.sftp]
host = "127.0.0.1"
port = {sport}
user = "{USER}"
password = {{ file = "secrets/sftp.pass" }}
host_key_sha256 = ["{fp}"]
stable_minutes = 0
[source]
kind = "sftp"
[store]
database = "data/alipay-recon.db"
archive_dir = "archive"
reports_dir = "reports"
[email]
transport = "smtp"
from = "Recon <recon@shop.example>"
to = ["fin@shop.example"]
attempts = 2
backoff_ms = 50
[email.smtp]
host = "127.0.0.1"
port = {mport}
security = "plain"
timeout_secs = 5
"#,
            sport = sshd.port,
            fp = sshd.fingerprint,
            mport = smtp.port
        ),
    );
    w.write(
        "schedules/test.toml",
        "timezone = \"UTC\"\nheartbeat = \"1s\"\n[[job]]\nname = \"daily\"\nkind = \"daily\"\ncron = \"*/2 * * * * *\"\n\
         command = [\"run\", \"--date\", \"{date}\"]\ndate_offset_days = 1\ncatch_up_days = 2\n",
    );
    // Two days generated by the real `gen`, served by sshd; their sales loaded locally.
    let today = chrono::Utc::now().date_naive();
    let days = [(today - chrono::Days::new(2)).to_string(), (today - chrono::Days::new(1)).to_string()];
    let mut alipay_rows = 0;
    for d in &days {
        let out = w.file(&format!("gen-{d}"));
        w.run(&["gen", "--date", d, "--payments", "20000", "--zone", "UTC", "--out", out.to_str().unwrap()])
            .expect_code(0);
        for f in files_under(&out.join("sftp")) {
            let remote = format!("/{}", f.strip_prefix(out.join("sftp")).unwrap().display());
            let bytes = std::fs::read(&f).unwrap();
            if !remote.contains("SUMMARY") {
                alipay_rows += String::from_utf8_lossy(&bytes).lines().count() as i64 - 1;
            }
            sshd.put(&remote, &bytes);
        }
        let sales = out.join(format!("sales/sales-{d}.csv"));
        w.run(&["import-sales", sales.to_str().unwrap()]).expect_code(0);
    }
    let db = || rusqlite::Connection::open(w.file("data/alipay-recon.db")).unwrap();
    let count = |sql: &str| -> i64 { db().query_row(sql, [], |r| r.get(0)).unwrap() };

    // First daemon: stopped with SIGTERM while a `run` is in progress.
    let mut first = start_daemon(&w, "daemon1.err");
    wait_until("a run to be in progress", Duration::from_secs(60), || {
        w.file("data/alipay-recon.db").exists()
            && count("SELECT COUNT(*) FROM runs WHERE command = 'run' AND outcome = 'running'") > 0
    });
    sigterm(&first);
    assert_eq!(wait_exit(&mut first, Duration::from_secs(30)), 0, "{}", read(&w.file("daemon1.err")));
    assert_eq!(job_runs(&w).first().map(|r| r.4.clone()), Some("interrupted".to_string()), "{:?}", job_runs(&w));

    // Restart: both days complete; later fires change nothing.
    let mut again = start_daemon(&w, "daemon2.err");
    wait_until("both daily emails", Duration::from_secs(120), || {
        smtp.mails().iter().filter(|m| m.subject.contains("Daemon E2E")).count() >= 2
    });
    // Later fires find both days complete.
    wait_until("two fires that find nothing to run", Duration::from_secs(60), || idle_passes(&w, "daemon2.err") >= 2);
    sigterm(&again);
    assert_eq!(wait_exit(&mut again, Duration::from_secs(30)), 0, "{}", read(&w.file("daemon2.err")));

    let mails = smtp.mails();
    for d in &days {
        let n = mails.iter().filter(|m| m.subject.contains(d.as_str())).count();
        assert_eq!(n, 1, "exactly one daily email for {d}: {:?}", mails.iter().map(|m| &m.subject).collect::<Vec<_>>());
    }
    assert_eq!(count("SELECT COUNT(*) FROM files"), 6, "three files per day, each imported once");
    assert_eq!(count("SELECT COUNT(*) FROM alipay_rows"), alipay_rows, "no row lost or duplicated");
    assert_eq!(count("SELECT COUNT(*) FROM runs WHERE command = 'run' AND outcome IN ('ok', 'attention')"), 2);
    assert_eq!(count("SELECT COUNT(*) FROM runs WHERE outcome = 'running'"), 0);
}
