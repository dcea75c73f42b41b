//! Job processes: each job runs as a child process in its own process group, so a run is isolated
//! (a crash or leak ends with it), its exit code is the contract of §5, and a stop request reaches the
//! whole group (a shell script's `sleep` as well as the shell).

use anyhow::{Context, Result};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

/// Starts `program args…` with stdout/stderr passed through to the daemon's (so the journal keeps
/// them) and `extra_env` added. The child leads a new process group.
pub fn spawn(program: &Path, args: &[String], extra_env: &[(&str, String)]) -> Result<Child> {
    let mut c = Command::new(program);
    c.args(args).stdin(Stdio::null()).stdout(Stdio::inherit()).stderr(Stdio::inherit()).process_group(0);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c.spawn().with_context(|| {
        format!("cannot start {}: check `program` in the schedule file and that it is executable", program.display())
    })
}

/// The exit code, or None when a signal ended it.
pub fn code_of(status: ExitStatus) -> Option<i32> {
    status.code()
}

/// "exit 3" / "signal 15" for logs.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown status".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn exit_codes_pass_through() {
        for code in [0, 1, 3, 4] {
            let mut c = spawn(Path::new("/bin/sh"), &["-c".into(), format!("exit {code}")], &[]).unwrap();
            let st = c.wait().unwrap();
            assert_eq!(code_of(st), Some(code));
            assert_eq!(describe(st), format!("exit {code}"));
        }
    }

    #[test]
    fn group_signal_reaches_grandchildren() {
        // The shell starts `sleep`; signalling only the shell would leave the sleep running.
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("sleep.pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let mut c = spawn(Path::new("/bin/sh"), &["-c".into(), script], &[("X", "1".into())]).unwrap();
        let t0 = Instant::now();
        while std::fs::read_to_string(&pidfile).map(|s| s.trim().is_empty()).unwrap_or(true) {
            assert!(t0.elapsed() < Duration::from_secs(5), "the script did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let sleep_pid: i64 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        crate::sys::os::signal_group(c.id(), libc::SIGTERM);
        let st = c.wait().unwrap();
        assert_eq!(code_of(st), None, "{}", describe(st));
        assert!(describe(st).starts_with("signal"));
        let t0 = Instant::now();
        while running(sleep_pid) {
            assert!(t0.elapsed() < Duration::from_secs(5), "the grandchild survived");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Alive and not a zombie (an orphan killed in a container may never be reaped by pid 1).
    fn running(pid: i64) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()) != Some('Z'),
            Err(_) => false,
        }
    }

    #[test]
    fn missing_program_names_it() {
        let e = spawn(Path::new("/nonexistent/prog"), &[], &[]).unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent/prog"));
    }
}
