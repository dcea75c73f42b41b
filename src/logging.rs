//! Logging: short human lines on a terminal, JSON lines otherwise (or as chosen). Logs go to stderr;
//! stdout is for the command's own output. Secrets are never passed to the logger: config types print
//! secrets as `[redacted]`.
//!
//! Text lines are `LEVEL message key=value…` with only short, plain values: a field whose value is a Rust
//! debug structure (`Imported { file_id: 1, … }`) is left out on the terminal — JSON keeps every field
//! for machines. Log lines (text or JSON) and the command's output lines are written through the
//! progress bars' `suspend` ([`above_bars`]), so they appear above the bars instead of through them.

use indicatif::MultiProgress;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{fmt, EnvFilter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Text on a terminal, JSON otherwise.
    Auto,
    Text,
    Json,
}

/// Installs the global subscriber. `verbosity`: -1 quiet, 0 info, 1 debug, 2+ trace.
/// `RUST_LOG` overrides the level.
pub fn init(format: LogFormat, verbosity: i8) {
    let level = match verbosity {
        i8::MIN..=-1 => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("alipay_recon={level},warn")));
    let json = match format {
        LogFormat::Auto => !std::io::stderr().is_terminal(),
        LogFormat::Text => false,
        LogFormat::Json => true,
    };
    let _ = if json {
        fmt()
            .with_env_filter(filter)
            .with_writer(AboveBars::stderr())
            .with_target(false)
            .json()
            .flatten_event(true)
            .try_init()
    } else {
        fmt()
            .with_env_filter(filter)
            .with_writer(AboveBars::stderr())
            .with_target(false)
            .without_time()
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .fmt_fields(debug_fn(|w: &mut Writer<'_>, field, value| {
                let text = format!("{value:?}");
                if field.name() == "message" {
                    write!(w, "{text}")
                } else if is_plain(&text) {
                    write!(w, " {}={text}", field.name())
                } else {
                    Ok(())
                }
            }))
            .try_init()
    };
}

/// A value short and simple enough for a human line: no debug structures, lists or long dumps.
pub fn is_plain(text: &str) -> bool {
    text.len() <= 64 && !text.contains(['{', '}', '[', ']', '(', ')', '\n'])
}

/// Runs `write` with the process's progress bars cleared and draws them again after it: what it
/// writes to the terminal appears above the bars, never through them (the command's output lines use
/// it, `cli::out`). Without bars (not a terminal) it only runs `write`.
pub fn above_bars<R>(write: impl FnOnce() -> R) -> R {
    crate::source::sftp::download::bars().suspend(write)
}

/// Writes each log line whole, through a bar set's `suspend`, so it is printed above the bars.
#[derive(Clone)]
pub struct AboveBars {
    set: MultiProgress,
    out: Arc<dyn Fn(&[u8]) + Send + Sync>,
}

impl AboveBars {
    /// Lines to stderr, above the process's progress bars.
    pub fn stderr() -> AboveBars {
        AboveBars::new(crate::source::sftp::download::bars().clone(), |line| {
            let _ = std::io::stderr().lock().write_all(line);
        })
    }

    /// Lines to `out`, above the bars of `set`.
    pub fn new(set: MultiProgress, out: impl Fn(&[u8]) + Send + Sync + 'static) -> AboveBars {
        AboveBars { set, out: Arc::new(out) }
    }
}

/// One event's text, collected and written at once when the event is done (on drop).
pub struct LineWriter<'a> {
    buf: Vec<u8>,
    to: &'a AboveBars,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        self.to.set.suspend(|| (self.to.out)(&buf));
    }
}

impl<'a> MakeWriter<'a> for AboveBars {
    type Writer = LineWriter<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { buf: Vec::new(), to: self }
    }
}

#[cfg(test)]
mod tests {
    use super::is_plain;

    #[test]
    fn terminal_lines_leave_out_debug_structures() {
        assert!(is_plain("2026-11-24"));
        assert!(is_plain("ALIPAY_TRANSACTION_DETAIL_HKD_20261124.csv"));
        assert!(!is_plain("Imported { file_id: 1, rows: 4 }"));
        assert!(!is_plain("Some(3)"));
        assert!(!is_plain(&"x".repeat(65)));
    }
}
