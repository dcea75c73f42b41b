//! Parser for the `classic` layout (alipay-files.md): pipe-delimited, no quoting, GBK text likely.
//! Transaction files open with a `Partner:…|Payment_time: …|Total_count:N` preamble; settlement files
//! may have up to two preamble lines. All amounts are positive: the type gives the direction. HK
//! accounts add `Secondary_merchant_id` and `Issue` columns (17): read by header like everything else.

use super::common::{check_sign, check_zero, collect, direction, finish, other_warning, read_type, SignRule};
use super::text::{decode_cow, norm, read_table, Aliases, CellError, Col, Delim, Record, TableSpec};
use super::{DetailRow, ParseContext, ParseError, ParsedFile, Rows, Sink, TransTypeOrDefault, Warning, WarningCode};
use crate::domain::{FileKind, TransType};

/// Transaction and settlement columns. `Currency`/`Transaction_amount`/`Amount` are the settlement
/// currency; `Trans_currency`/`Trans_amount` the pricing (order) currency compared with local sales.
const COLUMNS: &Aliases = &[
    (Col::MerchantId, &["Partner_transaction_id"]),
    (Col::AlipayId, &["Transaction_id"]),
    (Col::Type, &["Transaction_type", "Type"]),
    (Col::Status, &["Status"]),
    (Col::SettleAmount, &["Transaction_amount", "Amount"]),
    (Col::SettleCurrency, &["Currency"]),
    (Col::Fee, &["Charge_amount", "Fee"]),
    (Col::NetSettle, &["Settlement"]),
    (Col::Amount, &["Trans_amount"]),
    (Col::Currency, &["Trans_currency"]),
    (Col::TransTime, &["Payment_time"]),
    (Col::SettleTime, &["Settlement_time"]),
    (Col::Remark, &["Remark", "Remarks"]),
];

const SECONDARY: [&str; 7] = [
    "Secondary_merchant_industry",
    "Secondary_merchant_name",
    "Operator_name",
    "Order_scene",
    "Trans_currency",
    "Trans_amount",
    "Trans_forex_rate",
];

/// The documented settlement columns, assumed when a settlement file has rows but no header (the
/// doc sample is such a row).
const SETTLEMENT_HEADER: [&str; 21] = [
    "Partner_transaction_id",
    "Transaction_id",
    "Amount",
    "Rmb_amount",
    "Fee",
    "Settlement",
    "Rmb_settlement",
    "Currency",
    "Rate",
    "Payment_time",
    "Settlement_time",
    "Type",
    "Status",
    "Remarks",
    SECONDARY[0],
    SECONDARY[1],
    SECONDARY[2],
    SECONDARY[3],
    SECONDARY[4],
    SECONDARY[5],
    SECONDARY[6],
];

pub fn parse(bytes: &[u8], ctx: &ParseContext) -> Result<ParsedFile, ParseError> {
    super::collect_all(bytes, ctx, parse_into)
}

/// Streams the rows to `sink`; the returned file has no rows.
pub(super) fn parse_into(bytes: &[u8], ctx: &ParseContext, sink: &mut Sink<'_>) -> Result<ParsedFile, ParseError> {
    if ctx.kind == FileKind::SettlementSummary {
        return Err(ParseError {
            file: ctx.file_name.clone(),
            message: "the classic format has no settlement summary file: clear layouts.classic.settlement_summary"
                .into(),
        });
    }
    let (text, encoding) = decode_cow(bytes);
    let spec = TableSpec {
        delim: Delim::Pipe,
        aliases: COLUMNS,
        required: &[Col::MerchantId, Col::AlipayId, Col::Type],
        max_preamble: 2,
        end_marker: false,
        fallback: if ctx.kind == FileKind::SettlementDetail { &[&SETTLEMENT_HEADER] } else { &[] },
    };
    let t = read_table(&text, encoding, &spec, ctx)?;
    let c = collect(&t, sink, Rows::Detail, |rec, w| row(rec, ctx, w))?;
    let (rejects, mut warnings) = (c.rejects, c.warnings);
    if t.header_assumed {
        warnings.push(Warning {
            line: None,
            code: WarningCode::Other,
            message: "no header line: the columns were read in the documented order".into(),
        });
    }
    let mut declared = None;
    for &(line, text) in &t.preamble {
        match total_count(text) {
            Some(Ok(n)) => declared = Some(n),
            Some(Err(raw)) => warnings.push(other_warning(line, format!("Total_count '{raw}' is not a number"))),
            None => {}
        }
        if let Some(n) = declared {
            let got = c.rows + rejects.len();
            if got as u64 != n {
                warnings.push(Warning {
                    line: Some(line),
                    code: WarningCode::CountMismatch,
                    message: format!(
                        "Total_count says {n} rows but the file has {got}; ask Alipay whether \
                         rows are missing (fewer rows means the file may be truncated)"
                    ),
                });
            }
            break;
        }
    }
    Ok(finish(&t, Rows::Detail(Vec::new()), rejects, warnings, declared))
}

/// `Total_count` of a preamble line: `None` when the line has none, `Err(raw)` when it is not a number.
fn total_count(line: &str) -> Option<Result<u64, String>> {
    line.split('|').find_map(|part| {
        let (k, v) = part.split_once(':')?;
        (norm(k) == "totalcount").then(|| v.trim().parse::<u64>().map_err(|_| v.trim().to_string()))
    })
}

fn row(rec: &Record<'_>, ctx: &ParseContext, w: &mut Vec<Warning>) -> Result<DetailRow, CellError> {
    let (type_raw, t) = read_type(rec, w)?;
    let settle_cur = rec.currency(Col::SettleCurrency)?.or(ctx.name_currency);
    let gross = rec.amount(Col::SettleAmount, settle_cur)?;
    let fee = rec.amount(Col::Fee, settle_cur)?;
    let net = rec.amount(Col::NetSettle, settle_cur)?;
    // The pricing amount is Trans_amount; files without it only have the settlement-currency amount.
    let (pricing_col, currency, amount) = match rec.get(Col::Amount) {
        Some(_) => {
            let cur = rec.currency(Col::Currency)?;
            (Col::Amount, cur, rec.amount(Col::Amount, cur)?)
        }
        None => (Col::SettleAmount, settle_cur, gross),
    };
    if amount.is_none() && t != TransType::Other {
        return Err(CellError {
            field: rec.name(pricing_col),
            reason: format!("a {} row without an amount", t.as_str()),
        });
    }
    for (c, v) in [(pricing_col, amount), (Col::SettleAmount, gross), (Col::Fee, fee), (Col::NetSettle, net)] {
        if let Some(v) = v {
            check_sign(v, rec.get(c).unwrap_or(""), t, SignRule::Unsigned, || rec.name(c), rec.line, w);
        }
    }
    check_zero(amount, t, || rec.name(pricing_col), rec.line, w);
    // Settlement = Amount − Fee (alipay-files.md); one minor unit of rounding is tolerated.
    if let (Some(g), Some(f), Some(n)) = (gross, fee, net) {
        if (g.abs() - f.abs() - n.abs()).abs() > 1 {
            let (gn, fname, nn) = (rec.name(Col::SettleAmount), rec.name(Col::Fee), rec.name(Col::NetSettle));
            let m = format!("{nn} is not {gn} − {fname}: the stored net is the file's {nn}; ask Alipay which is right");
            w.push(other_warning(rec.line, m));
        }
    }
    // Net effect: the Settlement column when there is one (= Amount − Fee), else gross − fee.
    let net = net.or(match (gross, fee) {
        (Some(g), Some(f)) => Some(g.abs() - f.abs()),
        (g, _) => g,
    });
    let signed = |v: i64| match direction(t) {
        Some(d) => d * v.abs(),
        None => v,
    };
    let id = rec.get(Col::MerchantId).map(str::to_string);
    let is_refund = t == TransType::Refund;
    Ok(DetailRow {
        line: rec.line,
        trans_type: TransTypeOrDefault(t),
        type_raw,
        merchant_trans_id: if is_refund { None } else { id.clone() },
        merchant_refund_id: if is_refund { id } else { None },
        alipay_id: rec.get(Col::AlipayId).map(str::to_string),
        original_alipay_id: None,
        amount: amount.map(i64::abs),
        currency,
        amount_raw: rec.get(pricing_col).unwrap_or_default().to_string(),
        settle_amount: net.map(signed),
        settle_currency: net.and(settle_cur),
        // A fee on a payment is charged (positive); on a refund or cancel it is returned (negative).
        fee: fee.map(signed),
        fee_currency: fee.and(settle_cur),
        trans_time: rec.time(Col::TransTime, &ctx.zone)?,
        settle_time: rec.time(Col::SettleTime, &ctx.zone)?,
        batch_ref: None,
        status_raw: rec.get(Col::Status).map(str::to_string),
        remark: rec.get(Col::Remark).map(str::to_string),
        store_id: None,
        product_code: None,
        extra: rec.extra(),
    })
}

#[cfg(test)]
#[path = "classic_tests.rs"]
mod tests;
