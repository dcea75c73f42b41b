//! Test harness: a temp workspace per test and the real binary run with a clean environment.

#![allow(dead_code)]

pub mod smtp;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub mod sandbox;
pub mod sshd;

/// Path of the binary under test (built by cargo for this test target). nextest's runtime path wins,
/// so a run from a `cargo nextest archive` uses the archived binary, not whatever another build of a
/// shared target dir left at the compile-time path.
pub fn bin() -> PathBuf {
    std::env::var_os("NEXTEST_BIN_EXE_alipay-recon")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_alipay-recon").into())
}

/// The repository root (fixtures live there).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    repo().join("fixtures")
}

/// Asks `probe` every 20 ms until it answers `Some`, or `timeout` has passed (`None`). The one way a
/// test waits: on a condition with a deadline, never a fixed sleep that is too short on a loaded
/// machine and too long on an idle one.
pub fn poll<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`poll`] that fails the test, naming `what` it waited for, when the deadline passes.
pub fn wait_for<T>(what: &str, timeout: Duration, probe: impl FnMut() -> Option<T>) -> T {
    poll(timeout, probe).unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
}

/// [`wait_for`] a condition.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    wait_for(what, timeout, || cond().then_some(()))
}

/// A temp folder with helpers to run the binary inside it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

/// The result of a run, with the output decoded for assertions.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Panics with both streams when the exit code differs.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace { dir: tempfile::tempdir().expect("temp dir"), env: Vec::new() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.file(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn set_env(&mut self, k: &str, v: &str) {
        self.env.push((k.into(), v.into()));
    }

    /// A command for the binary with a clean environment, run inside the workspace.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("USER", "tester")
            .env("RUST_BACKTRACE", "0")
            .env("NO_COLOR", "1")
            .current_dir(self.path())
            .args(args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().expect("run alipay-recon"))
    }
}

/// The tests' standard configuration: merchant `2188000000000001`, the folder `sftp/` of the workspace as
/// the file source with `formats`, the database and archive under `data/`, emails as files in `mail/`.
pub fn dir_config(merchant: &str, formats: &[&str]) -> String {
    config_with(merchant, "", "sftp", formats)
}

/// [`dir_config`] with `business` (the `[business]` table and its sub-tables, or nothing) and the files
/// read from `source_dir`.
pub fn config_with(merchant: &str, business: &str, source_dir: &str, formats: &[&str]) -> String {
    let formats = formats.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", ");
    format!(
        r#"environment = "production"
[merchant]
name = "{merchant}"
{business}[environments.production]
merchant_id = "2188000000000001"
[source]
kind = "dir"
dir = "{source_dir}"
formats = [{formats}]
[store]
database = "data/recon.db"
archive_dir = "data/archive"
reports_dir = "reports"
[email]
transport = "file"
dir = "mail"
"#
    )
}

/// Copies a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}
