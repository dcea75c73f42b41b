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

/// Where a finished log line goes (stderr; a test's screen).
type LineSink = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Writes each log line whole, through a bar set's `suspend`, so it is printed above the bars.
#[derive(Clone)]
pub struct AboveBars {
    set: MultiProgress,
    out: LineSink,
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
    use super::*;
    use crate::cli::progress::PhaseBars;
    use crate::pipeline::Phase;
    use indicatif::{ProgressDrawTarget, TermLike};
    use std::sync::Mutex;

    #[test]
    fn terminal_lines_leave_out_debug_structures() {
        assert!(is_plain("2026-11-24"));
        assert!(is_plain("ALIPAY_TRANSACTION_DETAIL_HKD_20261124.csv"));
        assert!(!is_plain("Imported { file_id: 1, rows: 4 }"));
        assert!(!is_plain("Some(3)"));
        assert!(!is_plain(&"x".repeat(65)));
    }

    /// A terminal's screen: rows of text and a cursor, changed as a terminal would by what indicatif
    /// draws and by the log lines written beside it.
    #[derive(Debug, Default)]
    struct Screen {
        rows: Vec<String>,
        row: usize,
        col: usize,
    }

    impl Screen {
        fn put(&mut self, text: &str) {
            for c in text.chars() {
                if self.rows.len() <= self.row {
                    self.rows.resize(self.row + 1, String::new());
                }
                match c {
                    '\n' => (self.row, self.col) = (self.row + 1, 0),
                    '\r' => self.col = 0,
                    c => {
                        let mut line: Vec<char> = self.rows[self.row].chars().collect();
                        line.resize(line.len().max(self.col), ' ');
                        if self.col < line.len() {
                            line[self.col] = c;
                        } else {
                            line.push(c);
                        }
                        self.rows[self.row] = line.into_iter().collect();
                        self.col += 1;
                    }
                }
            }
        }
    }

    #[derive(Debug, Clone, Default)]
    struct Term(Arc<Mutex<Screen>>);

    impl Term {
        fn with<R>(&self, f: impl FnOnce(&mut Screen) -> R) -> std::io::Result<R> {
            Ok(f(&mut self.0.lock().unwrap()))
        }
        /// The screen's rows, trailing blanks trimmed, empty rows at the end dropped.
        fn rows(&self) -> Vec<String> {
            let mut rows: Vec<String> = self.0.lock().unwrap().rows.iter().map(|r| r.trim_end().to_string()).collect();
            while rows.last().is_some_and(String::is_empty) {
                rows.pop();
            }
            rows
        }
    }

    impl TermLike for Term {
        fn width(&self) -> u16 {
            80
        }
        fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
            self.with(|s| s.row = s.row.saturating_sub(n))
        }
        fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
            self.with(|s| s.row += n)
        }
        fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
            self.with(|s| s.col += n)
        }
        fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
            self.with(|s| s.col = s.col.saturating_sub(n))
        }
        fn write_line(&self, line: &str) -> std::io::Result<()> {
            self.with(|s| s.put(&format!("{line}\n")))
        }
        fn write_str(&self, text: &str) -> std::io::Result<()> {
            self.with(|s| s.put(text))
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.with(|s| {
                if let Some(r) = s.rows.get_mut(s.row) {
                    r.clear();
                }
                s.col = 0;
            })
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Phase bars drawn on `term`, and a log writer to the same terminal.
    fn bars_and_log(term: &Term) -> (PhaseBars, AboveBars) {
        let set = MultiProgress::with_draw_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
        let screen = term.clone();
        let log = AboveBars::new(set.clone(), move |line| {
            let _ = screen.write_str(&String::from_utf8_lossy(line));
        });
        (PhaseBars::in_set(set), log)
    }

    fn log_line(log: &AboveBars, text: &str) {
        let mut w = log.make_writer();
        writeln!(w, "{text}").unwrap();
    }

    #[test]
    fn log_lines_are_written_above_the_phase_bars_not_through_them() {
        let term = Term::default();
        let (mut bars, log) = bars_and_log(&term);
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        bars.phase(date, Phase::Fetch);
        bars.phase(date, Phase::Import);
        let file = "ALIPAY_TRANSACTION_DETAIL_HKD_20261124.csv";
        bars.file(Phase::Fetch, 1, 4, file);
        assert_eq!(bars.shown(), [Phase::Fetch, Phase::Import]);
        log_line(&log, " INFO file processed file=a.csv");
        log_line(&log, " WARN file not read file=b.csv");
        // Through a subscriber, as `init` installs it.
        let subscriber = fmt().with_writer(log.clone()).without_time().with_target(false).with_ansi(false).finish();
        tracing::subscriber::with_default(subscriber, || tracing::info!(rows = 4, "reconciled"));
        let rows = term.rows();
        assert_eq!(
            rows[..3],
            [" INFO file processed file=a.csv", " WARN file not read file=b.csv", " INFO reconciled rows=4"],
            "{rows:#?}"
        );
        // Below them, the bars whole: one line per phase, nothing written into them.
        assert_eq!(rows.len(), 5, "{rows:#?}");
        assert!(rows[3].contains("2026-11-24 fetch") && rows[3].contains(&format!("[1/4] {file}")), "{rows:#?}");
        assert!(rows[4].contains("2026-11-24 import") && rows[4].ends_with("[0/4]"), "{rows:#?}");
        // A later phase replaces the file lines; clearing leaves only the log lines.
        bars.phase(date, Phase::Reconcile);
        assert_eq!(bars.shown(), [Phase::Reconcile]);
        assert!(term.rows()[3].contains("2026-11-24 reconcile"), "{:#?}", term.rows());
        bars.clear();
        assert_eq!(term.rows().len(), 3, "{:#?}", term.rows());
    }
}
