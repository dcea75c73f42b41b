//! The operating-system helpers the side services share: who and where this process is (user, host),
//! whether another process is alive, signalling a process group, and lowering a thread's priority.
//! One small module of `libc` calls, so that `lock`, `schedule` and `store::runs` ask the OS the same
//! way and none of them imports another for it; and writing a file whole (a `.part` beside it, renamed
//! over it, the folder synced), which the sources and the archive share. (File locks are std's
//! `File::try_lock`, in `lock`.)

use anyhow::{Context, Result};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The login name (`$USER`, `$LOGNAME`, else `uid<N>`).
pub fn user_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        // SAFETY: getuid has no failure mode and touches no memory.
        .unwrap_or_else(|_| format!("uid{}", unsafe { libc::getuid() }))
}

/// This machine's host name (`unknown-host` when the OS does not say).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return "unknown-host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Whether a process with this pid exists on this host.
pub fn process_alive(pid: i64) -> bool {
    if pid <= 0 || pid > i32::MAX as i64 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Sends `signal` to the process group led by `pid` (a child started with `process_group(0)`).
pub fn signal_group(pid: u32, signal: libc::c_int) {
    if pid == 0 || pid > i32::MAX as u32 {
        return;
    }
    // SAFETY: kill with a negative pid signals the process group; no memory is touched.
    unsafe { libc::kill(-(pid as libc::pid_t), signal) };
}

/// Gives the calling thread alone the lowest CPU priority (nice 19): Linux schedules threads
/// separately, so background work on it yields to the rest of the process. A no-op elsewhere.
pub fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread's id; no memory is passed.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19);
    }
}

/// Writes `dest.part`, fsyncs it, renames it over `dest` and fsyncs the directory.
pub fn write_atomically(dest: &Path, bytes: &[u8]) -> Result<()> {
    let part = part_path(dest);
    {
        let mut f = fs::File::create(&part).with_context(|| format!("cannot create {}", part.display()))?;
        f.write_all(bytes).with_context(|| format!("cannot write {}", part.display()))?;
        f.sync_all()?;
    }
    rename_synced(&part, dest)
}

/// Renames `part` over `dest` and fsyncs the directory.
pub fn rename_synced(part: &Path, dest: &Path) -> Result<()> {
    fs::rename(part, dest).with_context(|| format!("cannot rename {} to {}", part.display(), dest.display()))?;
    if let Some(parent) = dest.parent() {
        if let Ok(d) = fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// `name.part` beside `dest`.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_free_pid_is_not() {
        assert!(process_alive(std::process::id() as i64));
        assert!(!process_alive(0));
        assert!(!process_alive(-5));
        assert!(!process_alive(i64::MAX));
        assert!(!hostname().is_empty());
        assert!(!user_name().is_empty());
    }
}
