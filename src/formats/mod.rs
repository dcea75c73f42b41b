//! Parsers for Alipay's reconciliation files (alipay-files.md): pure functions from bytes to typed rows
//! plus rejected lines and warnings. They never touch storage, the network or the clock.
//!
//! One file per layout (`intl`, `classic`, `antom`); `text` holds what they share (encoding
//! detection, header normalisation and aliases, field trimming, amount and time helpers).

use crate::domain::{BusinessZone, Currency, FileFormat, FileKind};

// The parsed file's types are the domain's: `store` writes them without importing the parsers.
pub use crate::domain::parsed::{
    DetailRow, Extra, ParsedFile, Reject, Rows, SummaryRow, TransTypeOrDefault, Warning, WarningCode,
};

pub mod antom;
pub mod classic;
mod common;
#[cfg(test)]
mod fixture_tests;
pub mod intl;
#[cfg(test)]
mod prop_tests;
pub mod text;

/// What the parser needs besides the bytes.
#[derive(Debug, Clone)]
pub struct ParseContext {
    /// File name as listed by the source (used in messages only).
    pub file_name: String,
    pub format: FileFormat,
    pub kind: FileKind,
    /// Zone for timestamps without an offset (default UTC+8).
    pub zone: BusinessZone,
    /// Currency from the file name (`intl`: `<CCY>`), used when a row has no currency column.
    pub name_currency: Option<Currency>,
}

/// A file parsed by [`parse_batched`]: everything but the rows, which went to the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    /// `rows` is empty (of the file's kind); header, counts, rejects and warnings are complete.
    pub file: ParsedFile,
    /// How many rows were emitted.
    pub row_count: usize,
}

impl Streamed {
    pub fn is_truncated(&self) -> bool {
        self.file.truncated_with(self.row_count)
    }
}

/// Why [`parse_batched`] stopped: the file is unreadable, or the callback failed.
#[derive(Debug)]
pub enum BatchError<E> {
    Parse(ParseError),
    Emit(E),
}

/// Where a layout parser sends its rows: batches of `batch` rows; `emit` returns `false` to stop.
pub(crate) struct Sink<'a> {
    pub batch: usize,
    pub emit: &'a mut dyn FnMut(Rows) -> bool,
}

/// A file the parser cannot read at all (no header, wrong layout). Rows are never half-imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ParseError {
    pub file: String,
    pub message: String,
}

/// Dispatches to the parser of `ctx.format` and returns the whole file, rows included.
pub fn parse(bytes: &[u8], ctx: &ParseContext) -> Result<ParsedFile, ParseError> {
    collect_all(bytes, ctx, |b, c, s| match c.format {
        FileFormat::Intl => intl::parse_into(b, c, s),
        FileFormat::Classic => classic::parse_into(b, c, s),
        FileFormat::Antom => antom::parse_into(b, c, s),
    })
}

/// Parses like [`parse`] but hands the rows to `emit` in batches of `batch_rows` while it reads, so
/// the caller can store them as they come (the whole file's rows are never held at once). Rejects,
/// warnings and the file-level results are only known at the end and come back in [`Streamed`]. An
/// error from `emit` stops the parse and is returned as [`BatchError::Emit`].
pub fn parse_batched<E>(
    bytes: &[u8],
    ctx: &ParseContext,
    batch_rows: usize,
    emit: &mut dyn FnMut(Rows) -> Result<(), E>,
) -> Result<Streamed, BatchError<E>> {
    let mut failed = None;
    let mut row_count = 0;
    let mut f = |rows: Rows| {
        row_count += rows.len();
        emit(rows).map_err(|e| failed = Some(e)).is_ok()
    };
    let mut sink = Sink { batch: batch_rows.max(1), emit: &mut f };
    let res = match ctx.format {
        FileFormat::Intl => intl::parse_into(bytes, ctx, &mut sink),
        FileFormat::Classic => classic::parse_into(bytes, ctx, &mut sink),
        FileFormat::Antom => antom::parse_into(bytes, ctx, &mut sink),
    };
    if let Some(e) = failed {
        return Err(BatchError::Emit(e));
    }
    Ok(Streamed { file: res.map_err(BatchError::Parse)?, row_count })
}

/// Runs a layout's streaming parser with one batch for the whole file: the classic `parse` API.
fn collect_all(
    bytes: &[u8],
    ctx: &ParseContext,
    parse_into: impl FnOnce(&[u8], &ParseContext, &mut Sink<'_>) -> Result<ParsedFile, ParseError>,
) -> Result<ParsedFile, ParseError> {
    let mut batches = Vec::new();
    let mut f = |rows: Rows| {
        batches.push(rows);
        true
    };
    let mut file = parse_into(bytes, ctx, &mut Sink { batch: usize::MAX, emit: &mut f })?;
    for b in batches {
        file.rows.extend(b);
    }
    Ok(file)
}
