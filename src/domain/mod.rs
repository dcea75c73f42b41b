//! Domain vocabulary shared by every module: money in integer minor units, ISO 4217 currencies,
//! the business time zone and business dates, file formats and kinds. Pure types, no I/O.
//! Also the plain data that crosses module boundaries, so that `store` writes and reads it without
//! importing the modules that make or use it: the parsers' output (`parsed`), the engine's input rows
//! (`rows`, with the one builder of an `AlipayRow`), its settings (`rules`) and its result (`outcome`).
//! Leaf modules depend on this one; it depends on nothing in the crate.

pub mod finding;
pub mod item;
mod kinds;
mod local;
mod money;
pub mod outcome;
pub mod parsed;
pub mod rfc3339;
pub mod rows;
pub mod rules;
mod zone;

pub use finding::{
    sort_findings, Category, CurrencyTotals, DaySummary, Finding, FlowPart, OpenItem, PendingItem, PendingState,
    SettlementSource, FLOW_EXAMPLES, FLOW_KEYS,
};
pub use kinds::{FileFormat, FileKind, LocalStatus, RecordType, TransType};
pub use local::LocalRecord;
pub use money::{display_money, format_minor, group_minor, parse_major, Currency, MoneyError};
pub use outcome::{DayKeys, MatchedByDay, Outcome};
pub use rules::{FeeRule, Params};
pub use zone::{parse_timestamp, BusinessZone, ZoneError};
