//! What a `run` already holds for its day's window, so the window load does not read it back: the
//! rows of the files the run has just imported (made from the parsed rows on the parser thread, as
//! [`super::window`] would read them from the database) and the window's local records, read on a
//! second connection while the Alipay files import (they do not depend on them).
//!
//! The window is the same either way — [`super::window::load`] and [`super::window::load_with`] give
//! equal inputs (tested for every file format and every column): a run's report does not depend on
//! whether its files were imported by the same process.

// The hand-over's data is the loader's input (`window::Handoff`): this file fills it, the loader
// only reads it, so the two do not import each other.
pub use super::window::Handoff;
use super::window::{local_on_reader, LocalPrefetch};
use crate::domain::parsed::DetailRow;
use crate::domain::rows::{AlipayRow, RowColumns, RowTexts};
use crate::domain::{FileKind, Params};
use chrono::NaiveDate;
use rusqlite::Connection;

/// A lower bound of a detail row's length in a file, in bytes: the capacity reserved for a day's rows
/// is its files' size over this. Reserved but unused capacity is never touched, so it costs address
/// space, not memory; a smaller guess would copy the rows once more as the vector grows.
const MIN_ROW_BYTES: u64 = 48;

impl Handoff {
    /// Starts reading day `day`'s local records on a second connection (a file database only; an
    /// in-memory one — tests — has no second connection, and the load reads them itself, as it does
    /// when no thread can be started).
    pub fn start(conn: &Connection, day: NaiveDate, params: &Params) -> Handoff {
        let from = params.window_start(day);
        // With the day before's state the run loads only its active keys (`window::load_active`):
        // the whole window's local records are not read.
        let state = day
            .pred_opt()
            .and_then(|prev| super::state::get(conn, prev, &super::state::rules_hash(params)).ok().flatten());
        let incremental = state.is_some();
        // An incremental run reads its local seeds meanwhile instead (they do not depend on the files),
        // and looks up the day before's state ids.
        let local_seeds = conn.path().filter(|p| !p.is_empty()).zip(state).and_then(|(path, state)| {
            super::window::LocalSeedPrefetch::start(std::path::PathBuf::from(path), day, params, state.ids)
        });
        let local = conn.path().filter(|p| !p.is_empty() && !incremental).and_then(|path| {
            let path = std::path::PathBuf::from(path);
            let (a, b) = (from.to_string(), day.to_string());
            let handle = std::thread::Builder::new()
                .name("window-local".into())
                .spawn(move || local_on_reader(&path, &a, &b))
                .ok()?;
            Some(LocalPrefetch { from, to: day, handle })
        });
        Handoff { rows: Vec::new(), files: Vec::new(), local, local_seeds }
    }

    /// Makes room for the rows of detail files of `bytes` bytes in all, so they are not copied as
    /// they arrive. Only a hint: where the system refuses that much address space (strict
    /// overcommit), the vector grows as rows come instead.
    pub fn reserve_for(&mut self, bytes: u64) {
        let rows = usize::try_from(bytes / MIN_ROW_BYTES).unwrap_or(usize::MAX);
        let _ = self.rows.try_reserve(rows.saturating_sub(self.rows.capacity() - self.rows.len()));
    }

    /// Where a file's rows are appended, as [`stored_rows`] makes them; then [`Handoff::commit`] or
    /// [`Handoff::discard`] from `mark` on.
    pub fn rows_mut(&mut self) -> &mut Vec<AlipayRow> {
        &mut self.rows
    }

    /// The number of rows held: the mark a file's import starts at.
    pub fn mark(&self) -> usize {
        self.rows.len()
    }

    /// The rows appended since `mark` are the committed file `file_id`'s (a file without detail rows
    /// has nothing the window reads).
    pub fn commit(&mut self, file_id: i64, mark: usize) {
        if self.rows.len() > mark {
            self.files.push((file_id, self.rows.len() - mark));
        }
    }

    /// The rows appended since `mark` were not stored (rolled back, deferred, unchanged).
    pub fn discard(&mut self, mark: usize) {
        self.rows.truncate(mark);
    }

    /// Waits until the prefetch thread (if any) is done, keeping its result for the load: a test then
    /// imports what the prefetch must not have seen.
    #[cfg(test)]
    pub fn wait_for_prefetch(&self) {
        while self.local_seeds.as_ref().is_some_and(|p| !p.is_finished()) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Files whose rows are held (the hand-over tests ask).
    #[cfg(test)]
    pub fn files(&self) -> usize {
        self.files.len()
    }
}

/// Appends a file's parsed detail rows as the window loader reads them back once the import has
/// stored them (`files::insert_rows` writes the columns, `window::alipay_row` reads them): kind and
/// date are the file's, the transaction time round-trips through RFC 3339 unchanged, and the wallet is
/// the `userSite` extra column.
pub fn stored_rows(
    out: &mut Vec<AlipayRow>,
    file_id: i64,
    kind: FileKind,
    date: NaiveDate,
    rows: &[DetailRow],
    t: &mut RowTexts,
) {
    out.extend(rows.iter().map(|r| {
        AlipayRow::build(
            RowColumns {
                file_id,
                line: i64::from(r.line),
                kind,
                date,
                trans_type: r.trans_type.0,
                type_raw: &r.type_raw,
                merchant_trans_id: r.merchant_trans_id.as_deref(),
                merchant_refund_id: r.merchant_refund_id.as_deref(),
                alipay_id: r.alipay_id.as_deref(),
                original_alipay_id: r.original_alipay_id.as_deref(),
                amount: r.amount,
                currency: r.currency,
                settle_amount: r.settle_amount,
                settle_currency: r.settle_currency,
                fee: r.fee,
                fee_currency: r.fee_currency,
                trans_time: r.trans_time,
                product_code: r.product_code.as_deref(),
                wallet: r.extra.get("userSite").map(String::as_str),
            },
            t,
        )
    }));
}
