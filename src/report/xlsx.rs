//! `report.xlsx`: Summary, Cash bridge, Discrepancies, Pending and Open items sheets for people who
//! filter and sort.
//! Amounts are numeric cells with the currency's decimals as number format, dates are date cells,
//! every header row is frozen and filterable. All text goes through `write_string` (never a formula),
//! and free text is neutralised like the CSV so both show the same thing. The workbook's creation time
//! is the business date, so the bytes depend only on the input.

use super::csv_out::{state_text, COLUMNS, OPEN_EXTRA, PENDING_EXTRA};
use super::resolutions::{self as res, XLSX_COLUMNS, XLSX_WIDTHS};
use super::summary::{category_counts, pending_counts};
use super::text::{cur_text, difference, neutralise};
use super::Prepared;
use crate::domain::{format_minor, Currency, CurrencyTotals, Finding};
use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, Workbook, Worksheet};

struct Formats {
    header: Format,
    date: Format,
    /// Free text (detail, reason, bridge labels): wrapped in its column, top-aligned.
    wrap: Format,
    /// Indexed by the currency exponent (0..=4).
    money: Vec<Format>,
}

impl Formats {
    fn new() -> Formats {
        let money = (0..=4)
            .map(|e| {
                let f = if e == 0 { "#,##0".to_string() } else { format!("#,##0.{}", "0".repeat(e)) };
                Format::new().set_num_format(f)
            })
            .collect();
        Formats {
            header: Format::new().set_bold().set_background_color("#EEEEEE").set_align(FormatAlign::Left),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            money,
        }
    }
}

fn excel_date(d: NaiveDate) -> Result<ExcelDateTime> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
        .with_context(|| format!("date {d} cannot be written to Excel (years 1900-9999)"))
}

/// A money cell: the number Excel shows is the decimal text we would write in a CSV. The f64 exists
/// only at this boundary (xlsx stores IEEE doubles); parsing the exact decimal string gives the
/// nearest double, which Excel displays back as the same decimal with the format's places.
fn money(ws: &mut Worksheet, fm: &Formats, row: u32, col: u16, v: Option<i64>, cur: Option<Currency>) -> Result<()> {
    if let (Some(v), Some(cur)) = (v, cur) {
        let text = format_minor(v, cur);
        let n: f64 = text.parse().with_context(|| format!("amount {text} is not a number"))?;
        ws.write_number_with_format(row, col, n, &fm.money[(cur.exponent() as usize).min(4)])?;
    }
    Ok(())
}

fn header(ws: &mut Worksheet, fm: &Formats, cols: &[&str], widths: &[f64]) -> Result<()> {
    for (i, c) in cols.iter().enumerate() {
        ws.write_string_with_format(0, i as u16, *c, &fm.header)?;
        ws.set_column_width(i as u16, widths.get(i).copied().unwrap_or(14.0))?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

const ITEM_WIDTHS: [f64; 14] = [12.0, 12.0, 20.0, 24.0, 24.0, 30.0, 9.0, 13.0, 9.0, 13.0, 12.0, 18.0, 16.0, 60.0];

/// The 14 contract columns of one finding at `row`; returns the next free column.
fn finding_row(ws: &mut Worksheet, fm: &Formats, row: u32, date: NaiveDate, f: &Finding) -> Result<u16> {
    ws.write_date_with_format(row, 0, excel_date(date)?, &fm.date)?;
    ws.write_date_with_format(row, 1, excel_date(f.item_date)?, &fm.date)?;
    ws.write_string(row, 2, f.category.as_str())?;
    ws.write_string(row, 3, &f.merchant_trans_id)?;
    ws.write_string(row, 4, &f.merchant_refund_id)?;
    ws.write_string(row, 5, &f.acquirement_id)?;
    ws.write_string(row, 6, cur_text(f.currency))?;
    money(ws, fm, row, 7, f.local_amount.map(i64::abs), f.currency)?;
    ws.write_string(row, 8, cur_text(f.alipay_currency))?;
    money(ws, fm, row, 9, f.alipay_amount.map(i64::abs), f.alipay_currency)?;
    money(ws, fm, row, 10, difference(f), f.currency)?;
    ws.write_string(row, 11, &f.local_type)?;
    ws.write_string(row, 12, &f.alipay_type)?;
    ws.write_string_with_format(row, 13, neutralise(&f.detail), &fm.wrap)?;
    Ok(14)
}

fn finish_table(ws: &mut Worksheet, rows: usize, cols: usize) -> Result<()> {
    ws.autofilter(0, 0, rows as u32, cols as u16 - 1)?;
    Ok(())
}

fn summary_sheet(ws: &mut Worksheet, fm: &Formats, p: &Prepared) -> Result<()> {
    ws.set_name("Summary")?;
    header(ws, fm, &["Item", "Value"], &[28.0, 24.0])?;
    let mut row = 1u32;
    ws.write_string(row, 0, "Business date")?;
    ws.write_date_with_format(row, 1, excel_date(p.input.business_date)?, &fm.date)?;
    row += 1;
    ws.write_string(row, 0, "Merchant")?;
    ws.write_string(row, 1, neutralise(&p.input.merchant))?;
    row += 1;
    ws.write_string(row, 0, "Status")?;
    ws.write_string(row, 1, if p.input.is_clean() { "clean" } else { "attention" })?;
    row += 1;
    let (pending, resolved) = pending_counts(p);
    let counts = category_counts(p).into_iter().map(|(c, n)| (c.as_str(), n));
    let others = [
        ("PENDING", pending),
        ("RESOLVED", resolved),
        ("OPEN_ITEMS", p.open.len() as i64),
        ("MATCHED", p.input.summary.matched),
    ];
    for (name, n) in counts.chain(others) {
        ws.write_string(row, 0, name)?;
        ws.write_number(row, 1, n as f64)?;
        row += 1;
    }
    row += 1;
    let cols = [
        "Currency",
        "Gross payments",
        "Payment count",
        "Refunds",
        "Refund count",
        "Cancels",
        "Cancel count",
        "Fees",
        "Expected net",
        "Net settlement",
        "Settled - expected",
        "At stake",
    ];
    for (i, c) in cols.iter().enumerate() {
        ws.write_string_with_format(row, i as u16, *c, &fm.header)?;
    }
    let zero = CurrencyTotals::default();
    for code in p.currencies.keys() {
        row += 1;
        let cur = Some(p.currency(code));
        let t = p.input.summary.currencies.get(code).unwrap_or(&zero);
        let at_stake = p.input.summary.at_stake.get(code).copied().unwrap_or(0);
        ws.write_string(row, 0, code)?;
        money(ws, fm, row, 1, Some(t.alipay_payments), cur)?;
        ws.write_number(row, 2, t.alipay_payment_count as f64)?;
        money(ws, fm, row, 3, Some(t.alipay_refunds), cur)?;
        ws.write_number(row, 4, t.alipay_refund_count as f64)?;
        money(ws, fm, row, 5, Some(t.alipay_cancels), cur)?;
        ws.write_number(row, 6, t.alipay_cancel_count as f64)?;
        // Settlement cells only for a currency that has settlement data: a pricing currency whose money
        // settles in another gets blanks, not 0.00 (the Cash bridge sheet says where it settles).
        let settles = p.bridge.iter().any(|b| Some(b.currency) == cur && b.settlement.is_some());
        let s = |v: i64| settles.then_some(v);
        money(ws, fm, row, 7, s(t.fees), cur)?;
        money(ws, fm, row, 8, s(t.expected_net), cur)?;
        money(ws, fm, row, 9, s(t.settled_net), cur)?;
        money(ws, fm, row, 10, s(t.settled_net - t.expected_net), cur)?;
        money(ws, fm, row, 11, Some(at_stake), cur)?;
    }
    // One filter per sheet: the currency table, the one with more than a few rows on a busy account.
    ws.autofilter(row - p.currencies.len() as u32, 0, row, cols.len() as u16 - 1)?;
    Ok(())
}

/// The Cash bridge sheet: one line per row, to filter by currency or section.
fn bridge_sheet(ws: &mut Worksheet, fm: &Formats, p: &Prepared) -> Result<()> {
    ws.set_name("Cash bridge")?;
    header(ws, fm, &["Currency", "Section", "Line", "Count", "Amount"], &[10.0, 34.0, 60.0, 9.0, 16.0])?;
    let mut row = 0u32;
    for b in &p.bridge {
        for block in b.blocks() {
            for line in block.lines {
                row += 1;
                ws.write_string(row, 0, b.currency.as_str())?;
                ws.write_string(row, 1, &block.title)?;
                // Our own labels (`- Refunds`), not outside text: a string cell is never a formula anyway.
                ws.write_string_with_format(row, 2, line.label.trim_start(), &fm.wrap)?;
                if let Some(n) = line.count {
                    ws.write_number(row, 3, n as f64)?;
                }
                money(ws, fm, row, 4, line.amount, Some(b.currency))?;
            }
        }
    }
    finish_table(ws, row as usize, 5)
}

pub fn workbook(p: &Prepared) -> Result<Vec<u8>> {
    let fm = Formats::new();
    let date = p.input.business_date;
    let mut wb = Workbook::new();
    let props = DocProperties::new()
        .set_title(format!("Alipay reconciliation {date}"))
        .set_creation_datetime(&excel_date(date)?);
    wb.set_properties(&props);

    summary_sheet(wb.add_worksheet(), &fm, p)?;

    let ws = wb.add_worksheet();
    ws.set_name("Discrepancies")?;
    let cols: Vec<&str> = COLUMNS.iter().chain(XLSX_COLUMNS.iter()).copied().collect();
    header(ws, &fm, &cols, &[&ITEM_WIDTHS[..], &XLSX_WIDTHS[..]].concat())?;
    for (i, f) in p.findings.iter().enumerate() {
        let c = finding_row(ws, &fm, i as u32 + 1, date, f)?;
        res::xlsx_item(ws, i as u32 + 1, c, f)?;
    }
    res::xlsx_finish(ws, p, p.findings.len(), COLUMNS.len() as u16)?;
    finish_table(ws, p.findings.len(), cols.len())?;

    let ws = wb.add_worksheet();
    ws.set_name("Pending")?;
    let cols: Vec<&str> = COLUMNS.iter().chain(PENDING_EXTRA.iter()).chain(&XLSX_COLUMNS[..1]).copied().collect();
    let mut widths = ITEM_WIDTHS.to_vec();
    widths.extend([10.0, 14.0, 50.0, XLSX_WIDTHS[0]]);
    header(ws, &fm, &cols, &widths)?;
    for (i, item) in p.pending.iter().enumerate() {
        let row = i as u32 + 1;
        let c = finding_row(ws, &fm, row, date, &item.finding)?;
        ws.write_string(row, c, state_text(item.state))?;
        if let Some(d) = item.first_reported {
            ws.write_date_with_format(row, c + 1, excel_date(d)?, &fm.date)?;
        }
        ws.write_string_with_format(row, c + 2, neutralise(&item.reason), &fm.wrap)?;
        res::xlsx_item(ws, row, c + 3, &item.finding)?;
    }
    finish_table(ws, p.pending.len(), cols.len())?;

    let ws = wb.add_worksheet();
    ws.set_name("Open items")?;
    let cols: Vec<&str> =
        COLUMNS.iter().chain(OPEN_EXTRA.iter()).chain(&[res::STATE]).chain(XLSX_COLUMNS.iter()).copied().collect();
    let mut widths = ITEM_WIDTHS.to_vec();
    widths.extend([14.0, 10.0, 10.0]);
    widths.extend(XLSX_WIDTHS);
    header(ws, &fm, &cols, &widths)?;
    for (i, item) in p.open.iter().enumerate() {
        let row = i as u32 + 1;
        let c = finding_row(ws, &fm, row, date, &item.finding)?;
        ws.write_date_with_format(row, c, excel_date(item.first_reported)?, &fm.date)?;
        ws.write_number(row, c + 1, item.age_days as f64)?;
        ws.write_string(row, c + 2, res::open_state(p, item))?;
        res::xlsx_item(ws, row, c + 3, &item.finding)?;
    }
    res::xlsx_finish(ws, p, p.open.len(), cols.len() as u16 - 3)?;
    finish_table(ws, p.open.len(), cols.len())?;
    // Sheets added later come after the earlier ones, so their places do not change.
    bridge_sheet(wb.add_worksheet(), &fm, p)?;
    res::xlsx_sheet(wb.add_worksheet(), &fm.header, p)?;

    wb.save_to_buffer().context("cannot assemble the workbook")
}
