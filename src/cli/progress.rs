//! Progress bars on a terminal only; elsewhere nothing is drawn and the logs and output lines tell the
//! story. Every bar is in the process's one set (`source::sftp::download::bars`): bars stack instead of
//! overwriting each other, and log lines and command output are written above them
//! (`logging::above_bars`).

use crate::pipeline::Phase;
use chrono::NaiveDate;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// A bar counting files, drawn on stderr when it is a terminal.
pub fn files_bar() -> ProgressBar {
    // In the shared set, so the SFTP source's byte bars draw below it instead of over it.
    let bar = crate::source::sftp::download::bars().add(ProgressBar::new(0));
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// One line per phase of the day under way: `fetch` and `import` count files (they overlap, a file at
/// a time), `reconcile`, `report` and `email` show a spinner and their time. A phase's line goes when
/// the next non-file phase starts; [`PhaseBars::clear`] removes them all (before the day's result).
pub struct PhaseBars {
    set: MultiProgress,
    bars: Vec<(Phase, ProgressBar)>,
    /// Redraw spinners on their own (off in tests, which draw by hand).
    tick: bool,
}

impl PhaseBars {
    /// Bars in the process's set when stderr is a terminal; `None` otherwise (cron, CI, pipes).
    pub fn on_terminal() -> Option<PhaseBars> {
        std::io::stderr().is_terminal().then(|| PhaseBars {
            set: crate::source::sftp::download::bars().clone(),
            bars: Vec::new(),
            tick: true,
        })
    }

    /// Bars in `set`, not ticking on their own.
    pub fn in_set(set: MultiProgress) -> PhaseBars {
        PhaseBars { set, bars: Vec::new(), tick: false }
    }

    /// `phase` of `date` starts: its line appears (and, past the files, the earlier phases' go).
    pub fn phase(&mut self, date: NaiveDate, phase: Phase) {
        if !matches!(phase, Phase::Fetch | Phase::Import) {
            self.clear();
        }
        let template = match phase {
            Phase::Fetch | Phase::Import => "{spinner} {prefix:<22} [{pos}/{len}] {wide_msg}",
            _ => "{spinner} {prefix:<22} {elapsed}",
        };
        let bar = self.set.add(ProgressBar::new(0));
        bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()));
        bar.set_prefix(format!("{date} {}", phase.as_str()));
        if self.tick {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        bar.tick();
        self.bars.push((phase, bar));
    }

    /// File `done` of `total` starts its fetch or import.
    pub fn file(&mut self, phase: Phase, done: usize, total: usize, name: &str) {
        for (p, bar) in self.bars.iter().filter(|(p, _)| matches!(p, Phase::Fetch | Phase::Import)) {
            // Both file lines count the same files.
            bar.set_length(total as u64);
            if *p == phase {
                bar.set_position(done as u64);
                bar.set_message(name.to_string());
            }
        }
    }

    /// Every file is fetched and imported: the file lines show all of them.
    pub fn files_done(&mut self) {
        for (_, bar) in self.bars.iter().filter(|(p, _)| matches!(p, Phase::Fetch | Phase::Import)) {
            bar.set_position(bar.length().unwrap_or(0));
            bar.set_message("");
        }
    }

    /// Removes every line.
    pub fn clear(&mut self) {
        for (_, bar) in self.bars.drain(..) {
            bar.finish_and_clear();
            self.set.remove(&bar);
        }
    }

    /// The phases drawn now, oldest first.
    pub fn shown(&self) -> Vec<Phase> {
        self.bars.iter().map(|(p, _)| *p).collect()
    }
}

impl Drop for PhaseBars {
    fn drop(&mut self) {
        self.clear();
    }
}
