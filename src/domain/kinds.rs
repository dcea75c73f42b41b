//! Small closed vocabularies with their stable text forms (as stored in SQLite and shown in reports).

use std::fmt;

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

text_enum!(
    /// One of Alipay's file layouts (alipay-files.md).
    FileFormat { Intl => "intl", Classic => "classic", Antom => "antom" }
);

text_enum!(
    /// What a file holds.
    FileKind {
        Transactions => "transactions",
        SettlementDetail => "settlement_detail",
        SettlementSummary => "settlement_summary",
    }
);

text_enum!(
    /// Direction of an Alipay row, normalised from the file's type column (REVERSAL is a CANCEL).
    TransType { Payment => "PAYMENT", Refund => "REFUND", Cancel => "CANCEL", Other => "OTHER" }
);

text_enum!(
    /// A local sales record's type (sales-v1 `record_type`).
    RecordType { Payment => "PAYMENT", Refund => "REFUND" }
);

text_enum!(
    /// A local sales record's status (sales-v1 `status`).
    LocalStatus { Success => "SUCCESS", Cancelled => "CANCELLED", Failed => "FAILED", Unknown => "UNKNOWN" }
);
