//! Command output that survives a closed pipe. `alipay-recon doctor | head` closes stdout early, and
//! std's `println!` then panics (exit 101, the run left `running`). Here a closed stream (EPIPE) ends
//! the output, not the command: the rest is dropped quietly, the command finishes its work, records
//! its run and exits with its own code (contracts.md §5). Any other write error (disk full under
//! `> file`) is said once on stderr, and the output is dropped the same way.
//! Use the crate's `out!`/`outln!`/`errln!` macros (lib.rs) instead of `print!`/`println!`/`eprintln!`.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// Writes to stdout (with a line end when `line`); never panics.
pub fn stdout(args: fmt::Arguments<'_>, line: bool) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    // Above the progress bars (on a terminal), not through them.
    let written = crate::sys::logging::above_bars(|| write(&mut std::io::stdout().lock(), args, line));
    if let Err(e) = written {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != ErrorKind::BrokenPipe {
            stderr(format_args!("warning: cannot write to stdout ({e}): the rest of the output is dropped"), true);
        }
    }
}

/// Writes to stderr (with a line end when `line`); never panics.
pub fn stderr(args: fmt::Arguments<'_>, line: bool) {
    if STDERR_GONE.load(Ordering::Relaxed) {
        return;
    }
    if crate::sys::logging::above_bars(|| write(&mut std::io::stderr().lock(), args, line)).is_err() {
        STDERR_GONE.store(true, Ordering::Relaxed);
    }
}

fn write(w: &mut impl Write, args: fmt::Arguments<'_>, line: bool) -> std::io::Result<()> {
    w.write_fmt(args)?;
    if line {
        w.write_all(b"\n")?;
    }
    Ok(())
}
