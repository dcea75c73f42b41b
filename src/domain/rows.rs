//! The engine's typed input (`reconcile::input`): the stored rows of one look-back window, as
//! `store::window` loads them (or as tests build them). Plain data; no polars, no SQL. In the domain so
//! that `store` makes them without importing the engine; [`AlipayRow::build`] is the one place an
//! engine row is made from its columns — the run's hand-over and the window loader both call it.

use crate::domain::{Currency, FileFormat, FileKind, LocalStatus, RecordType, TransType};
use chrono::{DateTime, FixedOffset, NaiveDate};

/// Everything day `date`'s reconciliation may look at: rows dated in `[from, date]` only.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// Day T, the report date.
    pub date: Option<NaiveDate>,
    /// First day of the loaded window.
    pub from: Option<NaiveDate>,
    /// Current files of the window (all kinds).
    pub files: Vec<FileIn>,
    /// Transaction and settlement-detail rows of those files.
    pub rows: Vec<AlipayRow>,
    /// Settlement-summary rows of those files.
    pub summaries: Vec<SummaryIn>,
    /// Rejected lines and warnings of those files.
    pub issues: Vec<IssueIn>,
    /// Every stored version of every local record of the window (status history included).
    pub local: Vec<LocalVersion>,
}

/// A stored Alipay file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIn {
    pub id: i64,
    pub name: String,
    pub format: FileFormat,
    pub kind: FileKind,
    pub date: NaiveDate,
    /// No `<END>`, or fewer rows than the preamble declares.
    pub truncated: bool,
    pub declared_count: Option<i64>,
    pub row_count: i64,
}

/// An id (merchant, refund, Alipay): up to 24 bytes stored inline, without a heap allocation — a
/// window holds millions (Alipay's ids are 16–28 characters, merchants' usually fewer than 24).
pub type Id = compact_str::CompactString;

/// A transaction or settlement-detail row (see `parsed::DetailRow` for the sign conventions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlipayRow {
    pub file_id: i64,
    pub line: i64,
    pub kind: FileKind,
    /// The file's business date.
    pub date: NaiveDate,
    pub trans_type: TransType,
    /// The type as written (few distinct texts, shared between rows: a window holds millions).
    pub type_raw: Text,
    pub merchant_trans_id: Option<Id>,
    pub alipay_id: Option<Id>,
    /// The merchant's refund id and the original payment's Alipay id: only refund and cancel rows have
    /// them (a few percent of rows), so they live apart — read them with
    /// [`AlipayRow::merchant_refund_id`] and [`AlipayRow::original_alipay_id`].
    pub refund_ids: Option<Box<RefundIds>>,
    /// Pricing amount, positive magnitude.
    pub amount: Option<i64>,
    pub currency: Option<Currency>,
    pub settle_amount: Option<i64>,
    pub settle_currency: Option<Currency>,
    pub fee: Option<i64>,
    pub fee_currency: Option<Currency>,
    pub trans_time: Option<DateTime<FixedOffset>>,
    pub product_code: Option<Text>,
    /// Wallet (`userSite`) when the file has one.
    pub wallet: Option<Text>,
}

/// The ids only refund and cancel rows carry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RefundIds {
    pub merchant_refund_id: Option<Id>,
    pub original_alipay_id: Option<Id>,
}

static NO_REFUND_IDS: RefundIds = RefundIds { merchant_refund_id: None, original_alipay_id: None };

impl AlipayRow {
    /// `refund_ids` of a row with these ids (none when both are empty).
    pub fn refund_ids(merchant_refund_id: Option<Id>, original_alipay_id: Option<Id>) -> Option<Box<RefundIds>> {
        (merchant_refund_id.is_some() || original_alipay_id.is_some())
            .then(|| Box::new(RefundIds { merchant_refund_id, original_alipay_id }))
    }

    fn ids(&self) -> &RefundIds {
        self.refund_ids.as_deref().unwrap_or(&NO_REFUND_IDS)
    }

    /// Merchant's refund id, for REFUND rows.
    pub fn merchant_refund_id(&self) -> &Option<Id> {
        &self.ids().merchant_refund_id
    }

    /// Alipay's id of the original payment, for refunds and cancels.
    pub fn original_alipay_id(&self) -> &Option<Id> {
        &self.ids().original_alipay_id
    }
}

/// One detail row's columns, borrowed from where they are — a parsed row on the parser thread
/// (`store::handoff::stored_rows`) or a stored row (`store::window`'s loader) — for
/// [`AlipayRow::build`]. Kind and date are the file's.
#[derive(Debug, Clone, Copy)]
pub struct RowColumns<'a> {
    pub file_id: i64,
    pub line: i64,
    pub kind: FileKind,
    pub date: NaiveDate,
    pub trans_type: TransType,
    pub type_raw: &'a str,
    pub merchant_trans_id: Option<&'a str>,
    pub merchant_refund_id: Option<&'a str>,
    pub alipay_id: Option<&'a str>,
    pub original_alipay_id: Option<&'a str>,
    pub amount: Option<i64>,
    pub currency: Option<Currency>,
    pub settle_amount: Option<i64>,
    pub settle_currency: Option<Currency>,
    pub fee: Option<i64>,
    pub fee_currency: Option<Currency>,
    pub trans_time: Option<DateTime<FixedOffset>>,
    pub product_code: Option<&'a str>,
    /// The wallet (`userSite`), when the file has the column.
    pub wallet: Option<&'a str>,
}

impl AlipayRow {
    /// The engine's row of these columns: ids inline ([`Id`]), the refund-only ids boxed apart (none
    /// when both are empty), the shared texts through `texts`. The one builder of an `AlipayRow`
    /// outside tests: the hand-over's rows equal the loader's because both are made here.
    #[inline]
    pub fn build(c: RowColumns<'_>, texts: &mut RowTexts) -> AlipayRow {
        let RowTexts([types, products, wallets]) = texts;
        AlipayRow {
            file_id: c.file_id,
            line: c.line,
            kind: c.kind,
            date: c.date,
            trans_type: c.trans_type,
            type_raw: types.get(c.type_raw),
            merchant_trans_id: c.merchant_trans_id.map(Id::from),
            alipay_id: c.alipay_id.map(Id::from),
            refund_ids: AlipayRow::refund_ids(c.merchant_refund_id.map(Id::from), c.original_alipay_id.map(Id::from)),
            amount: c.amount,
            currency: c.currency,
            settle_amount: c.settle_amount,
            settle_currency: c.settle_currency,
            fee: c.fee,
            fee_currency: c.fee_currency,
            trans_time: c.trans_time,
            product_code: products.opt(c.product_code),
            wallet: wallets.opt(c.wallet),
        }
    }
}

/// A settlement-summary row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryIn {
    pub file_id: i64,
    pub line: i64,
    pub date: NaiveDate,
    pub summary_type: String,
    pub count: Option<i64>,
    pub settle_amount: Option<i64>,
    pub settle_currency: Option<Currency>,
    pub fee: Option<i64>,
}

/// A rejected line or a warning of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueIn {
    pub file_id: i64,
    pub line: Option<i64>,
    /// `reject` or `warning`.
    pub severity: String,
    /// `REJECTED`, `COUNT_MISMATCH`, `MISSING_END`, `ZERO_AMOUNT`, …
    pub code: String,
    pub field: Option<String>,
    pub message: String,
}

/// One version of a local record, as one sales file (or the ledger) stated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalVersion {
    pub record_type: RecordType,
    pub merchant_trans_id: Id,
    pub merchant_refund_id: Option<Id>,
    pub amount: i64,
    pub currency: Currency,
    pub status: LocalStatus,
    pub created_at: DateTime<FixedOffset>,
    pub business_date: NaiveDate,
    pub acquirement_id: Option<Id>,
    /// The first day whose report may see this version: the record's own date for the key's first
    /// file; for a later restatement, the newest business date in the file that stated it (an export
    /// cannot predate its newest record).
    pub as_of: NaiveDate,
    /// Import order among versions of the same key (later wins).
    pub seq: i64,
    /// Written by the payment module's ledger: wins over POS versions.
    pub ledger: bool,
    /// Its file had other, disagreeing rows for the key.
    pub conflict: bool,
    /// Where it came from, for details (see [`LocalVersion::origin`]): its sales file (shared between
    /// the file's records) and line; no file for the payment ledger.
    pub origin_file: Option<Text>,
    pub origin_line: Option<i64>,
}

impl LocalVersion {
    /// Where it came from: `sales.csv line 4`, or `payment ledger`.
    pub fn origin(&self) -> String {
        match (&self.origin_file, self.origin_line) {
            (Some(n), Some(l)) => format!("{n} line {l}"),
            (Some(n), None) => n.to_string(),
            _ => "payment ledger".into(),
        }
    }

    /// The record's key id: payment id for payments, refund id for refunds.
    pub fn key(&self) -> &str {
        match self.record_type {
            RecordType::Payment => &self.merchant_trans_id,
            RecordType::Refund => self.merchant_refund_id.as_deref().unwrap_or(""),
        }
    }
}

impl Input {
    pub fn file(&self, id: i64) -> Option<&FileIn> {
        self.files.iter().find(|f| f.id == id)
    }
}

/// A short text that many rows share — a type as written, a product code, a wallet, a sales file's
/// name: 4 bytes in the row instead of a 16-byte shared pointer (a 10M-payment window holds 20M rows).
/// Each distinct text is stored once for the life of the process, in an append-only table; equal
/// texts get the same number, so comparing two is comparing numbers.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Text(std::num::NonZeroU32);

/// The text table: segment `k` holds `64 << k` slots, allocated when first used; an index
/// (map from text to number) only for interning. Reading a text takes no lock.
struct TextTable {
    segments: [std::sync::OnceLock<Segment>; 26],
    index: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<&'static str, u32>>>,
}

/// One segment's slots, each filled once.
type Segment = Box<[std::sync::OnceLock<Box<str>>]>;

static TEXTS: TextTable = TextTable {
    segments: [const { std::sync::OnceLock::new() }; 26],
    index: std::sync::LazyLock::new(Default::default),
};

/// Segment and offset of table position `i`.
fn text_slot(i: u32) -> (usize, usize) {
    let j = i as u64 + 64;
    let b = 63 - j.leading_zeros() as usize;
    (b - 6, (j - (1 << b)) as usize)
}

impl Text {
    /// The number of `s`, storing it on first sight.
    pub fn new(s: &str) -> Text {
        let mut index = TEXTS.index.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&i) = index.get(s) {
            return Text(std::num::NonZeroU32::MIN.saturating_add(i));
        }
        let i = u32::try_from(index.len()).expect("fewer than 4 billion distinct texts");
        let (seg, off) = text_slot(i);
        let slots =
            TEXTS.segments[seg].get_or_init(|| (0..64usize << seg).map(|_| std::sync::OnceLock::new()).collect());
        let stored: &'static str = slots[off].get_or_init(|| s.into());
        index.insert(stored, i);
        Text(std::num::NonZeroU32::MIN.saturating_add(i))
    }

    pub fn as_str(&self) -> &'static str {
        let (seg, off) = text_slot(self.0.get() - 1);
        // A `Text` exists only once its slot is filled (`new` fills it before returning).
        TEXTS.segments[seg].get().and_then(|s| s[off].get()).map(|b| &**b).unwrap_or_default()
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::new(s)
    }
}

/// The few distinct texts of a column (types, product codes, wallets, file names) as [`Text`]s: the
/// last 64 seen are looked up here, without the process-wide table's lock.
#[derive(Default)]
pub struct Texts(Vec<Text>);

impl Texts {
    pub fn get(&mut self, s: &str) -> Text {
        if let Some(t) = self.0.iter().find(|t| t.as_str() == s) {
            return *t;
        }
        let t = Text::new(s);
        if self.0.len() < 64 {
            self.0.push(t);
        }
        t
    }

    pub fn opt(&mut self, s: Option<&str>) -> Option<Text> {
        s.map(|s| self.get(s))
    }
}

/// The shared texts of a detail row — type as written, product code, wallet — each column's own cache
/// (the loader's, and the import's for the rows it hands over: the same [`Text`]s either way).
#[derive(Default)]
pub struct RowTexts([Texts; 3]);

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn texts_are_stored_once_and_read_back() {
        let a = Text::new("PAYMENT");
        assert_eq!(Text::new("PAYMENT"), a);
        assert_eq!(&*a, "PAYMENT");
        assert_eq!(format!("{a} {a:?}"), "PAYMENT \"PAYMENT\"");
        let many: Vec<Text> = (0..5000).map(|i| Text::new(&format!("t{i}"))).collect();
        assert!(many.iter().enumerate().all(|(i, t)| t.as_str() == format!("t{i}")));
        assert_ne!(many[1], many[2]);
        assert_eq!([0, 63, 64, 191, 192].map(text_slot), [(0, 0), (0, 63), (1, 0), (1, 127), (2, 0)]);
        // Threads intern the same texts to the same numbers.
        let t: Vec<Vec<Text>> = std::thread::scope(|s| {
            let h: Vec<_> =
                (0..4).map(|_| s.spawn(|| (0..500).map(|i| Text::new(&format!("x{i}"))).collect())).collect();
            h.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(t.windows(2).all(|w| w[0] == w[1]));
    }
}

#[cfg(test)]
mod row_tests {
    use super::*;

    /// A refund row's columns, every column set.
    fn refund_columns() -> RowColumns<'static> {
        let usd = Currency::parse("USD").unwrap();
        RowColumns {
            file_id: 7,
            line: 3,
            kind: FileKind::SettlementDetail,
            date: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            trans_type: TransType::Refund,
            type_raw: "REFUND",
            merchant_trans_id: Some("P1"),
            merchant_refund_id: Some("R1"),
            alipay_id: Some("A2"),
            original_alipay_id: Some("A1"),
            amount: Some(500),
            currency: Some(usd),
            settle_amount: Some(-490),
            settle_currency: Some(usd),
            fee: Some(-10),
            fee_currency: Some(usd),
            trans_time: DateTime::parse_from_rfc3339("2026-11-24T10:00:00+08:00").ok(),
            product_code: Some("IN_STORE"),
            wallet: Some("ALIPAY_CN"),
        }
    }

    #[test]
    fn the_builder_keeps_every_column_and_boxes_only_refund_ids() {
        let c = refund_columns();
        let mut texts = RowTexts::default();
        let r = AlipayRow::build(c, &mut texts);
        let want = AlipayRow {
            file_id: 7,
            line: 3,
            kind: FileKind::SettlementDetail,
            date: c.date,
            trans_type: TransType::Refund,
            type_raw: Text::new("REFUND"),
            merchant_trans_id: Some("P1".into()),
            alipay_id: Some("A2".into()),
            refund_ids: Some(Box::new(RefundIds {
                merchant_refund_id: Some("R1".into()),
                original_alipay_id: Some("A1".into()),
            })),
            amount: Some(500),
            currency: c.currency,
            settle_amount: Some(-490),
            settle_currency: c.currency,
            fee: Some(-10),
            fee_currency: c.currency,
            trans_time: c.trans_time,
            product_code: Some(Text::new("IN_STORE")),
            wallet: Some(Text::new("ALIPAY_CN")),
        };
        assert_eq!(r, want);
        // `==` on times ignores the offset: the row keeps it.
        assert_eq!(format!("{:?}", r.trans_time), format!("{:?}", c.trans_time));
        // Each column has its own texts: a product code equal to a wallet stays a product code.
        let same = RowColumns { product_code: Some("ALIPAY_CN"), wallet: None, ..c };
        let s = AlipayRow::build(same, &mut texts);
        assert_eq!((s.product_code.as_deref(), s.wallet), (Some("ALIPAY_CN"), None));
        // Only refund ids are boxed: a payment row without them has none, one id is enough for a box.
        let payment =
            RowColumns { trans_type: TransType::Payment, merchant_refund_id: None, original_alipay_id: None, ..c };
        assert!(AlipayRow::build(payment, &mut texts).refund_ids.is_none());
        let cancel = RowColumns { merchant_refund_id: None, ..c };
        let k = AlipayRow::build(cancel, &mut texts);
        assert_eq!((k.merchant_refund_id(), k.original_alipay_id().as_deref()), (&None, Some("A1")));
    }
}
