//! Domain vocabulary shared by every module: money in integer minor units, ISO 4217 currencies,
//! the business time zone and business dates, file formats and kinds. Pure types, no I/O.
//! Leaf modules depend on this one; it depends on nothing in the crate.

pub mod finding;
pub mod item;
mod kinds;
mod local;
mod money;
pub mod rfc3339;
mod zone;

pub use finding::{
    sort_findings, Category, CurrencyTotals, DaySummary, Finding, FlowPart, OpenItem, PendingItem, PendingState,
    SettlementSource, FLOW_EXAMPLES, FLOW_KEYS,
};
pub use kinds::{FileFormat, FileKind, LocalStatus, RecordType, TransType};
pub use local::LocalRecord;
pub use money::{display_money, format_minor, group_minor, parse_major, Currency, MoneyError};
pub use zone::{parse_timestamp, BusinessZone, ZoneError};
