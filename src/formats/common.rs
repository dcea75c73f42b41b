//! Row semantics the three layouts share: the type column → direction, sign checks against the
//! direction, and the normalisation of amounts to the `DetailRow` conventions (pricing amount as a
//! magnitude, settlement signed by direction, fee as a cost to the merchant).

use super::text::{decode_cow, read_table, Aliases, CellError, Col, Delim, Record, Table, TableSpec};
use super::{
    DetailRow, ParseContext, ParseError, ParsedFile, Reject, Rows, Sink, SummaryRow, TransTypeOrDefault, Warning,
    WarningCode,
};
use crate::domain::{FileKind, TransType};

/// Expected rows that are not orders: antom's non-order settlement lines (alipay-files.md) and
/// AUTHORIZATION (no money moves until its CAPTURE). Never matched, so not worth a warning.
const NON_ORDER_PREFIXES: [&str; 5] = ["ADJUSTMENT_FEE", "SETTLEMENT_FEE", "RESERVE", "COLLATERAL_", "AUTHORIZATION"];

/// Direction of a type column value, and a warning message for values no layout documents.
/// `REVERSAL`, `PAYMENT_REVERSAL` and `VOID` void a payment (CANCEL); `CAPTURE` takes the money
/// of an authorisation (PAYMENT); classic settlement writes `P`/`R`.
pub fn trans_type(raw: &str) -> (TransType, Option<String>) {
    let u = raw.trim().to_ascii_uppercase();
    let t = match u.as_str() {
        "PAYMENT" | "CAPTURE" | "P" => TransType::Payment,
        "REFUND" | "R" => TransType::Refund,
        "CANCEL" | "REVERSAL" | "PAYMENT_REVERSAL" | "VOID" => TransType::Cancel,
        _ if NON_ORDER_PREFIXES.iter().any(|p| u.starts_with(p)) => return (TransType::Other, None),
        _ => {
            let msg = format!(
                "type '{raw}' is not a payment, refund or cancel: stored as OTHER and left out of matching; \
                 check this row by hand"
            );
            return (TransType::Other, Some(msg));
        }
    };
    (t, None)
}

/// +1 for money in (payment), −1 for money out (refund, cancel), `None` for OTHER rows whose
/// file sign is kept as is.
pub fn direction(t: TransType) -> Option<i64> {
    match t {
        TransType::Payment => Some(1),
        TransType::Refund | TransType::Cancel => Some(-1),
        TransType::Other => None,
    }
}

/// How a layout writes the sign of an amount column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignRule {
    /// Always positive; the type gives the direction (classic).
    Unsigned,
    /// Payments positive; refunds and cancels either sign (intl order amounts: the docs do not say).
    PaymentsPositive,
    /// Payments positive, refunds negative, cancels either (antom amounts, intl settlement amounts).
    Signed,
}

/// Warns when a raw value's sign contradicts the row's type under `rule`. Zero contradicts nothing.
pub fn check_sign(
    value: i64,
    raw: &str,
    t: TransType,
    rule: SignRule,
    field: impl FnOnce() -> String,
    line: u32,
    warnings: &mut Vec<Warning>,
) {
    let bad = match (rule, direction(t)) {
        (_, None) => false,
        (SignRule::Unsigned, _) => value < 0,
        (SignRule::PaymentsPositive, Some(d)) => d > 0 && value < 0,
        (SignRule::Signed, Some(d)) => t != TransType::Cancel && value != 0 && value.signum() != d,
    };
    if bad {
        let field = field();
        warnings.push(Warning {
            line: Some(line),
            code: WarningCode::SignContradictsType,
            message: format!(
                "{field} '{raw}' has a sign that contradicts the type {}: the direction was taken \
                 from the type; ask Alipay which is right if the amounts do not reconcile",
                t.as_str()
            ),
        });
    }
}

/// Signed settlement amount by direction (refunds negative), whatever the file's sign.
pub fn settle_signed(value: i64, t: TransType) -> i64 {
    match direction(t) {
        Some(d) => d * value.abs(),
        None => value,
    }
}

/// Warns on a zero pricing amount of a payment, refund or cancel (a row that moves no money).
pub fn check_zero(
    amount: Option<i64>,
    t: TransType,
    field: impl FnOnce() -> String,
    line: u32,
    warnings: &mut Vec<Warning>,
) {
    if amount == Some(0) && t != TransType::Other {
        let field = field();
        warnings.push(Warning {
            line: Some(line),
            code: WarningCode::ZeroAmount,
            message: format!("{field} is zero on a {} row: check it with Alipay", t.as_str()),
        });
    }
}

/// Warning messages never repeat the file name or line: `Warning::line` and the report carry them.
pub fn other_warning(line: u32, message: String) -> Warning {
    Warning { line: Some(line), code: WarningCode::Other, message }
}

/// The row's type column, raw and normalised; an empty type rejects the row, an unknown one warns.
pub fn read_type(rec: &Record<'_>, w: &mut Vec<Warning>) -> Result<(String, TransType), CellError> {
    let type_raw = rec.get(Col::Type).unwrap_or_default().to_string();
    if type_raw.is_empty() {
        return Err(CellError { field: rec.name(Col::Type), reason: "the type is empty".into() });
    }
    let (t, tw) = trans_type(&type_raw);
    if let Some(m) = tw {
        w.push(other_warning(rec.line, m));
    }
    Ok((type_raw, t))
}

/// Reads the columns intl and antom share into a `DetailRow` (everything but the merchant ids, which
/// each layout maps its own way). Charged fees are negative in these files: `fee` flips the sign.
pub fn signed_detail(
    rec: &Record<'_>,
    ctx: &ParseContext,
    amount_rule: SignRule,
    w: &mut Vec<Warning>,
) -> Result<DetailRow, CellError> {
    let (type_raw, t) = read_type(rec, w)?;
    let currency = rec.currency(Col::Currency)?.or(ctx.name_currency);
    let amount = rec.amount(Col::Amount, currency)?;
    if amount.is_none() && t != TransType::Other && ctx.kind == FileKind::Transactions {
        return Err(CellError {
            field: rec.name(Col::Amount),
            reason: format!("a {} row without an amount", t.as_str()),
        });
    }
    let settle_currency = rec.currency(Col::SettleCurrency)?.or(ctx.name_currency).or(currency);
    let settle = rec.amount(Col::SettleAmount, settle_currency)?;
    let fee_currency = rec.currency(Col::FeeCurrency)?.or(settle_currency);
    let fee = rec.amount(Col::Fee, fee_currency)?;
    let trans_time = rec.time(Col::TransTime, &ctx.zone)?;
    let settle_time = rec.time(Col::SettleTime, &ctx.zone)?;
    if let Some(v) = amount {
        check_sign(v, rec.get(Col::Amount).unwrap_or(""), t, amount_rule, || rec.name(Col::Amount), rec.line, w);
    }
    if let Some(v) = settle {
        let raw = rec.get(Col::SettleAmount).unwrap_or("");
        check_sign(v, raw, t, SignRule::Signed, || rec.name(Col::SettleAmount), rec.line, w);
    }
    check_zero(amount, t, || rec.name(Col::Amount), rec.line, w);
    Ok(DetailRow {
        line: rec.line,
        trans_type: TransTypeOrDefault(t),
        type_raw,
        alipay_id: rec.get(Col::AlipayId).map(str::to_string),
        original_alipay_id: rec.get(Col::OrigAlipayId).map(str::to_string),
        amount: amount.map(i64::abs),
        currency,
        amount_raw: rec.get(Col::Amount).unwrap_or_default().to_string(),
        settle_amount: settle.map(|v| settle_signed(v, t)),
        settle_currency: settle.and(settle_currency),
        fee: fee.map(|v| -v),
        fee_currency: fee.and(fee_currency),
        trans_time,
        settle_time,
        batch_ref: rec.get(Col::BatchRef).map(str::to_string),
        status_raw: rec.get(Col::Status).map(str::to_string),
        remark: rec.get(Col::Remark).map(str::to_string),
        store_id: rec.get(Col::StoreId).map(str::to_string),
        product_code: rec.get(Col::ProductCode).map(str::to_string),
        extra: rec.extra(),
        ..Default::default()
    })
}

/// A summary row of intl or antom: amounts signed as in the file, commission flipped to a cost.
pub fn summary_row(rec: &Record<'_>, ctx: &ParseContext) -> Result<SummaryRow, CellError> {
    let summary_type = rec.get(Col::Type).unwrap_or_default().to_string();
    if summary_type.is_empty() {
        return Err(CellError { field: rec.name(Col::Type), reason: "the summary type is empty".into() });
    }
    let cur = rec.currency(Col::SettleCurrency)?.or(ctx.name_currency);
    let fee_cur = rec.currency(Col::FeeCurrency)?.or(cur);
    Ok(SummaryRow {
        line: rec.line,
        summary_type,
        count: rec.count(Col::Count)?,
        settle_amount: rec.amount(Col::SettleAmount, cur)?,
        settle_currency: cur,
        fee: rec.amount(Col::Fee, fee_cur)?.map(|v| -v),
        settle_time: rec.time(Col::SettleTime, &ctx.zone)?,
        batch_ref: rec.get(Col::BatchRef).map(str::to_string),
        extra: rec.extra(),
    })
}

/// Rows in the first batch [`collect`] hands over (then twice as many each time, up to the sink's).
const FIRST_BATCH: usize = 1_000;

/// What [`collect`] kept besides the rows it emitted.
pub struct Collected {
    pub rows: usize,
    pub rejects: Vec<Reject>,
    pub warnings: Vec<Warning>,
}

/// Runs `row` over every record: a row either becomes a value (its warnings kept) or a reject
/// (its warnings dropped with it). Values go to the sink in batches (`wrap` makes them `Rows`);
/// `Err` when the sink stopped the parse.
pub fn collect<T>(
    t: &Table<'_>,
    sink: &mut Sink<'_>,
    wrap: fn(Vec<T>) -> Rows,
    mut row: impl FnMut(&Record<'_>, &mut Vec<Warning>) -> Result<T, CellError>,
) -> Result<Collected, ParseError> {
    let mut c = Collected { rows: 0, rejects: t.rejects.clone(), warnings: Vec::new() };
    // The first batches are small and double up to `sink.batch`: the consumer (an import's inserting
    // thread, the bottleneck) starts after a thousand rows instead of waiting a whole batch.
    let mut limit = sink.batch.min(FIRST_BATCH);
    let mut out = Vec::with_capacity(limit);
    let mut w = Vec::new();
    let mut open = t.scan(|rec| {
        let rec = match rec {
            Ok(rec) => rec,
            Err(r) => {
                c.rejects.push(r);
                return true;
            }
        };
        w.clear();
        match row(rec, &mut w) {
            Ok(v) => {
                out.push(v);
                c.warnings.append(&mut w);
            }
            Err(e) => c.rejects.push(rec.reject(e)),
        }
        if out.len() < limit {
            return true;
        }
        c.rows += out.len();
        limit = (limit * 2).min(sink.batch);
        (sink.emit)(wrap(std::mem::replace(&mut out, Vec::with_capacity(limit.min(1 << 16)))))
    });
    if open && !out.is_empty() {
        c.rows += out.len();
        open = (sink.emit)(wrap(out));
    }
    if !open {
        return Err(ParseError { file: String::new(), message: "stopped: the rows could not be stored".into() });
    }
    c.rejects.sort_by_key(|r| r.line);
    Ok(c)
}

/// Assembles the result; warnings sorted file-level first, then by line.
pub fn finish(
    t: &Table<'_>,
    rows: Rows,
    rejects: Vec<Reject>,
    mut warnings: Vec<Warning>,
    declared_count: Option<u64>,
) -> ParsedFile {
    if let Some((line, fields)) = t.cut_line {
        warnings.push(Warning {
            line: Some(line),
            code: super::WarningCode::CutLastLine,
            message: format!(
                "the file ends inside line {line} (no line ending, {fields} of {} fields): it was cut or is still \
                 being written; download it again",
                t.header.names.len()
            ),
        });
    }
    warnings.sort_by_key(|w| w.line);
    ParsedFile {
        encoding: t.encoding,
        header: t.header.names.clone(),
        declared_count,
        has_end_marker: t.has_end_marker,
        rows,
        rejects,
        warnings,
    }
}

/// How a comma-separated layout (intl, antom) frames its table: its alias tables by kind, the
/// non-blank lines allowed before the header, and whether it ends with an `<END>` line.
pub struct CommaLayout {
    pub detail: &'static Aliases,
    pub summary: &'static Aliases,
    pub max_preamble: usize,
    pub end_marker: bool,
}

/// Parses a file of a comma-separated layout: a settlement summary's rows with [`summary_row`], any
/// other kind's with `detail`. The rows go to `sink`; the file comes back without them. A layout
/// with an end marker warns when the `<END>` line is missing.
pub fn parse_comma(
    bytes: &[u8],
    ctx: &ParseContext,
    sink: &mut Sink<'_>,
    layout: &CommaLayout,
    detail: impl FnMut(&Record<'_>, &mut Vec<Warning>) -> Result<DetailRow, CellError>,
) -> Result<ParsedFile, ParseError> {
    let (text, encoding) = decode_cow(bytes);
    let summary = ctx.kind == FileKind::SettlementSummary;
    let spec = TableSpec {
        delim: Delim::Comma,
        aliases: if summary { layout.summary } else { layout.detail },
        required: if summary { &[Col::Type, Col::SettleAmount] } else { &[Col::Type, Col::Amount] },
        max_preamble: layout.max_preamble,
        end_marker: layout.end_marker,
        fallback: &[],
    };
    let t = read_table(&text, encoding, &spec, ctx)?;
    let (rows, mut c) = if summary {
        (Rows::Summary(Vec::new()), collect(&t, sink, Rows::Summary, |rec, _| summary_row(rec, ctx))?)
    } else {
        (Rows::Detail(Vec::new()), collect(&t, sink, Rows::Detail, detail)?)
    };
    if t.has_end_marker == Some(false) {
        c.warnings.push(Warning {
            line: None,
            code: WarningCode::MissingEnd,
            message: "no <END> line: the file is truncated or was still uploading; download it again".into(),
        });
    }
    Ok(finish(&t, rows, c.rejects, c.warnings, None))
}

/// A parse context for tests: zone UTC+8, file name `test`.
#[cfg(test)]
pub fn test_ctx(format: crate::domain::FileFormat, kind: FileKind, name_ccy: Option<&str>) -> ParseContext {
    ParseContext {
        file_name: "test".into(),
        format,
        kind,
        zone: Default::default(),
        name_currency: name_ccy.map(|c| crate::domain::Currency::parse(c).unwrap()),
    }
}

/// The detail rows of a parsed file (tests).
#[cfg(test)]
pub fn detail_rows(p: &ParsedFile) -> &[DetailRow] {
    match &p.rows {
        Rows::Detail(r) => r,
        _ => panic!("expected detail rows"),
    }
}

/// The summary rows of a parsed file (tests).
#[cfg(test)]
pub fn summary_rows(p: &ParsedFile) -> &[SummaryRow] {
    match &p.rows {
        Rows::Summary(r) => r,
        _ => panic!("expected summary rows"),
    }
}

/// A currency the test knows is valid.
#[cfg(test)]
pub fn test_cur(s: &str) -> Option<crate::domain::Currency> {
    Some(crate::domain::Currency::parse(s).unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_table() {
        let cases = [
            ("PAYMENT", TransType::Payment, false),
            ("capture", TransType::Payment, false),
            ("P", TransType::Payment, false),
            ("R", TransType::Refund, false),
            ("REFUND", TransType::Refund, false),
            ("REVERSAL", TransType::Cancel, false),
            ("PAYMENT_REVERSAL", TransType::Cancel, false),
            ("VOID", TransType::Cancel, false),
            ("CANCEL", TransType::Cancel, false),
            ("SETTLEMENT_FEE", TransType::Other, false),
            ("RESERVE_RELEASE", TransType::Other, false),
            ("AUTHORIZATION", TransType::Other, false),
            ("DISPUTE", TransType::Other, true),
            ("REFUND_REVERSAL", TransType::Other, true),
        ];
        for (raw, want, warns) in cases {
            let (t, w) = trans_type(raw);
            assert_eq!((t, w.is_some()), (want, warns), "{raw}");
        }
    }

    #[test]
    fn sign_rules() {
        let run = |v: i64, t, rule| {
            let mut w = Vec::new();
            check_sign(v, "x", t, rule, || "f".into(), 1, &mut w);
            w.len()
        };
        assert_eq!(run(-1, TransType::Refund, SignRule::Unsigned), 1);
        assert_eq!(run(5, TransType::Refund, SignRule::Unsigned), 0);
        assert_eq!(run(5, TransType::Refund, SignRule::PaymentsPositive), 0);
        assert_eq!(run(-5, TransType::Payment, SignRule::PaymentsPositive), 1);
        assert_eq!(run(5, TransType::Refund, SignRule::Signed), 1);
        assert_eq!(run(0, TransType::Refund, SignRule::Signed), 0);
        assert_eq!(run(5, TransType::Cancel, SignRule::Signed), 0);
        assert_eq!(run(-5, TransType::Payment, SignRule::Signed), 1);
        assert_eq!(run(-5, TransType::Other, SignRule::Signed), 0);
        assert_eq!(settle_signed(500, TransType::Refund), -500);
        assert_eq!(settle_signed(-500, TransType::Payment), 500);
        assert_eq!(settle_signed(-500, TransType::Other), -500);
    }
}
