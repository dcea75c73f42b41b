//! Progress bars on a terminal only; elsewhere they are hidden and the structured logs tell the story.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A bar counting files, drawn on stderr when it is a terminal.
pub fn files_bar() -> ProgressBar {
    // In the shared set, so the SFTP source's byte bars draw below it instead of over it.
    let bar = crate::source::sftp::download::bars().add(ProgressBar::new(0));
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// A bar counting bytes with a rate, for downloads.
pub fn bytes_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), draw_target());
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn draw_target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}
