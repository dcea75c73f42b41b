//! Money is an `i64` count of minor units plus a [`Currency`]; the exponent comes from ISO 4217.
//! Decimal strings are parsed and formatted digit by digit: no floating point on the money path.

use std::fmt;
use std::str::FromStr;

/// An ISO 4217 alphabetic code: exactly three ASCII uppercase letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Accepts three ASCII letters (any case, surrounding blanks trimmed) and upper-cases them.
    pub fn parse(s: &str) -> Result<Currency, MoneyError> {
        let t = s.trim();
        let b = t.as_bytes();
        if b.len() != 3 || !b.iter().all(|c| c.is_ascii_alphabetic()) {
            return Err(MoneyError::BadCurrency(t.to_string()));
        }
        Ok(Currency([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase(), b[2].to_ascii_uppercase()]))
    }

    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII letters.
        std::str::from_utf8(&self.0).expect("currency is ASCII")
    }

    /// Number of decimals of the currency's minor unit (ISO 4217). Unlisted codes use 2.
    pub fn exponent(&self) -> u32 {
        match self.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
            | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            "CLF" | "UYW" => 4,
            _ => 2,
        }
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("'{0}' is not an ISO 4217 currency code (three letters such as HKD)")]
    BadCurrency(String),
    #[error("'{0}' is not a decimal amount (expected digits with an optional sign and decimal point)")]
    NotDecimal(String),
    #[error("'{value}' has more decimals than {currency} allows ({exponent})")]
    TooManyDecimals { value: String, currency: Currency, exponent: u32 },
    #[error("'{0}' is too large to be an amount")]
    Overflow(String),
}

/// Parses a decimal string in major units (`"56.00"`, `"+0.00"`, `"-9000"`, `" 852.40 "`) into signed
/// minor units of `currency`. Extra decimals are accepted only when they are zeros (`"100.000"` HKD).
/// An empty string is not an amount: callers map empty to NULL before calling.
pub fn parse_major(raw: &str, currency: Currency) -> Result<i64, MoneyError> {
    let s = raw.trim();
    let err = || MoneyError::NotDecimal(s.to_string());
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(err());
    }
    if !int_part.bytes().all(|c| c.is_ascii_digit()) || !frac_part.bytes().all(|c| c.is_ascii_digit()) {
        return Err(err());
    }
    if body.ends_with('.') && frac_part.is_empty() && int_part.is_empty() {
        return Err(err());
    }
    let exp = currency.exponent() as usize;
    let (kept, extra) = if frac_part.len() > exp { frac_part.split_at(exp) } else { (frac_part, "") };
    if extra.bytes().any(|c| c != b'0') {
        return Err(MoneyError::TooManyDecimals { value: s.to_string(), currency, exponent: exp as u32 });
    }
    let overflow = || MoneyError::Overflow(s.to_string());
    let mut v: i64 = 0;
    for c in int_part.bytes().chain(kept.bytes()) {
        v = v.checked_mul(10).and_then(|v| v.checked_add((c - b'0') as i64)).ok_or_else(overflow)?;
    }
    for _ in kept.len()..exp {
        v = v.checked_mul(10).ok_or_else(overflow)?;
    }
    Ok(if neg { -v } else { v })
}

/// Formats signed minor units with exactly the currency's decimals: `5600` HKD → `"56.00"`,
/// JPY `5600` → `"5600"`, KWD `1234` → `"1.234"`, `-5` HKD → `"-0.05"`.
pub fn format_minor(minor: i64, currency: Currency) -> String {
    let exp = currency.exponent() as usize;
    let neg = minor < 0;
    let digits = minor.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + 3);
    if neg {
        out.push('-');
    }
    if exp == 0 {
        out.push_str(&digits);
        return out;
    }
    let padded = if digits.len() <= exp { format!("{}{}", "0".repeat(exp + 1 - digits.len()), digits) } else { digits };
    let (i, f) = padded.split_at(padded.len() - exp);
    out.push_str(i);
    out.push('.');
    out.push_str(f);
    out
}

/// Money for people (console, email, report pages, detail sentences): the currency code, then the
/// amount with the currency's decimals and thousands grouped — `HKD 1,234.00`, `JPY 56,000`,
/// `HKD -8.00`. The one display format of the tool; files meant for programs (CSV amount columns,
/// JSON) keep [`format_minor`].
pub fn display_money(minor: i64, currency: Currency) -> String {
    format!("{currency} {}", group_minor(minor, currency))
}

/// [`display_money`] without the code, for a table column that names the currency in its header or
/// beside the cell: `1,234.00`, `-1,000,000.00`, JPY `56,000`.
pub fn group_minor(minor: i64, currency: Currency) -> String {
    let plain = format_minor(minor, currency);
    let (sign, rest) = plain.strip_prefix('-').map(|r| ("-", r)).unwrap_or(("", plain.as_str()));
    let (int, frac) = rest.split_once('.').map(|(i, f)| (i, Some(f))).unwrap_or((rest, None));
    let mut out = String::with_capacity(plain.len() + int.len() / 3);
    out.push_str(sign);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(s: &str) -> Currency {
        Currency::parse(s).unwrap()
    }

    #[test]
    fn parses_table() {
        let cases: &[(&str, &str, Result<i64, ()>)] = &[
            ("56.00", "HKD", Ok(5600)),
            ("555.0", "HKD", Ok(55500)),
            ("467.9", "CNY", Ok(46790)),
            ("+0.00", "CNY", Ok(0)),
            ("-9000", "JPY", Ok(-9000)),
            ("5600", "JPY", Ok(5600)),
            ("5600.00", "JPY", Ok(5600)),
            ("5600.5", "JPY", Err(())),
            ("1.234", "KWD", Ok(1234)),
            ("1.2345", "KWD", Err(())),
            (" 852.40 ", "HKD", Ok(85240)),
            ("-7.23", "CNY", Ok(-723)),
            (".5", "HKD", Ok(50)),
            ("5.", "HKD", Ok(500)),
            ("", "HKD", Err(())),
            ("-", "HKD", Err(())),
            (".", "HKD", Err(())),
            ("1e3", "HKD", Err(())),
            ("1,000.00", "HKD", Err(())),
            ("NaN", "HKD", Err(())),
            ("99999999999999999999", "HKD", Err(())),
        ];
        for (raw, cur, want) in cases {
            let got = parse_major(raw, c(cur)).map_err(|_| ());
            assert_eq!(&got, want, "parse_major({raw:?}, {cur})");
        }
    }

    #[test]
    fn formats_table() {
        assert_eq!(format_minor(5600, c("HKD")), "56.00");
        assert_eq!(format_minor(5600, c("JPY")), "5600");
        assert_eq!(format_minor(1234, c("KWD")), "1.234");
        assert_eq!(format_minor(-5, c("HKD")), "-0.05");
        assert_eq!(format_minor(0, c("USD")), "0.00");
        assert_eq!(format_minor(i64::MIN, c("USD")), "-92233720368547758.08");
    }

    #[test]
    fn display_groups_thousands_with_code_and_decimals() {
        let cases = [
            (123_400, "HKD", "HKD 1,234.00"),
            (5, "HKD", "HKD 0.05"),
            (-123_456_789, "USD", "USD -1,234,567.89"),
            (1_000_000, "JPY", "JPY 1,000,000"),
            (999, "JPY", "JPY 999"),
            (1_234_567_890, "KWD", "KWD 1,234,567.890"),
            (-100_000_000, "HKD", "HKD -1,000,000.00"),
            (0, "USD", "USD 0.00"),
            (i64::MIN, "USD", "USD -92,233,720,368,547,758.08"),
        ];
        for (v, cur, want) in cases {
            assert_eq!(display_money(v, c(cur)), want, "display_money({v}, {cur})");
        }
        assert_eq!(group_minor(56_000, c("JPY")), "56,000");
    }

    #[test]
    fn currency_rules() {
        assert_eq!(c(" hkd ").as_str(), "HKD");
        assert!(Currency::parse("HK").is_err());
        assert!(Currency::parse("HK1").is_err());
        assert!(Currency::parse("港币币").is_err());
    }

    proptest! {
        #[test]
        fn round_trip(v in -1_000_000_000_000i64..1_000_000_000_000i64, cur in prop::sample::select(vec!["JPY", "HKD", "KWD", "CLF"])) {
            let cur = c(cur);
            let s = format_minor(v, cur);
            prop_assert_eq!(parse_major(&s, cur).unwrap(), v);
        }

        #[test]
        fn plus_sign_and_zero_padding_do_not_change_value(v in 0i64..1_000_000_000, pad in 0usize..3) {
            let cur = c("HKD");
            let s = format!("+{}{}", format_minor(v, cur), "0".repeat(pad));
            prop_assert_eq!(parse_major(&s, cur).unwrap(), v);
        }

        #[test]
        fn never_float_rounding(int in 0u64..10_000_000, cents in 0u32..100) {
            // Values such as 0.29 or 1.15 that binary floating point cannot represent parse exactly.
            let s = format!("{int}.{cents:02}");
            prop_assert_eq!(parse_major(&s, c("USD")).unwrap(), int as i64 * 100 + cents as i64);
        }

        #[test]
        fn display_is_the_file_format_with_separators(v in any::<i64>(), cur in prop::sample::select(vec!["JPY", "HKD", "KWD", "CLF"])) {
            let cur = c(cur);
            let shown = display_money(v, cur);
            let body = shown.strip_prefix(&format!("{cur} ")).unwrap();
            prop_assert_eq!(body.replace(',', ""), format_minor(v, cur));
        }

        #[test]
        fn garbage_is_an_error_not_a_panic(s in "\\PC{0,12}") {
            let _ = parse_major(&s, c("HKD"));
        }
    }
}
