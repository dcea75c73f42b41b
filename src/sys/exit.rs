//! The exit-code contract (contracts.md §5) and the errors that map to its non-zero codes.

/// What a finished command reports to cron.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: done; nothing needs attention.
    Clean,
    /// 1: done; discrepancies, pending or open items need attention.
    Attention,
}

/// Exit codes of the CLI.
pub mod code {
    pub const CLEAN: u8 = 0;
    pub const ATTENTION: u8 = 1;
    pub const FAILED: u8 = 2;
    pub const NOT_READY: u8 = 3;
    pub const LOCKED: u8 = 4;
}

/// The day's files are not there yet and the deadline has not passed: retry later (exit 3).
#[derive(Debug, thiserror::Error)]
#[error("not ready: {0}")]
pub struct NotReady(pub String);

/// Another run holds the lock for that date (exit 4).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Locked(pub String);

/// Maps a command's result to its exit code.
pub fn code_of(result: &anyhow::Result<Outcome>, attention_is_ok: bool) -> u8 {
    match result {
        Ok(Outcome::Clean) => code::CLEAN,
        Ok(Outcome::Attention) if attention_is_ok => code::CLEAN,
        Ok(Outcome::Attention) => code::ATTENTION,
        Err(e) => code_of_error(e),
    }
}

/// The exit code of a failed command: 3 not ready, 4 locked, else 2.
pub fn code_of_error(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<NotReady>().is_some() {
        code::NOT_READY
    } else if e.downcast_ref::<Locked>().is_some() {
        code::LOCKED
    } else {
        code::FAILED
    }
}
