//! The report's side of resolutions (issue 18), one call per file: the `item_id` column every CSV
//! ends with, the `state` (OPEN / EXPIRED) of open_items.csv, summary.json's `resolutions` object,
//! and the workbook's item columns (with the reasons' drop-down) and Resolutions sheet.
//!
//! Contract additions (contracts.md allows optional columns at the end): `item_id` is the last column
//! of discrepancies.csv and pending.csv; open_items.csv ends with `item_id` then `state`.

use super::text::neutralise;
use super::Prepared;
use crate::domain::item::{finding_item_id, AmountCount};
use crate::domain::{format_minor, Currency, Finding, OpenItem};
use anyhow::Result;
use rust_xlsxwriter::{DataValidation, Format, Worksheet};
use serde::ser::{SerializeMap, SerializeSeq};

/// The column every CSV ends with.
pub const ITEM_ID: &str = "item_id";
/// open_items.csv's state column (after item_id).
pub const STATE: &str = "state";

/// The short stable id of a finding's item (domain::item).
pub fn item_id(f: &Finding) -> String {
    finding_item_id(f)
}

/// `OPEN`, or `EXPIRED` on the item's last day in the open-item look-back (it is not listed again).
pub fn open_state(p: &Prepared, item: &OpenItem) -> &'static str {
    if p.input.resolutions.expired.contains(&item_id(&item.finding)) {
        "EXPIRED"
    } else {
        "OPEN"
    }
}

/// A JSON value whose object keys keep the order they were pushed in (summary.json's `resolutions`).
pub(crate) enum J {
    Str(String),
    Int(i64),
    Obj(Vec<(String, J)>),
    Arr(Vec<J>),
}

impl serde::Serialize for J {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Str(v) => s.serialize_str(v),
            J::Int(v) => s.serialize_i64(*v),
            J::Obj(kv) => {
                let mut m = s.serialize_map(Some(kv.len()))?;
                for (k, v) in kv {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            J::Arr(items) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    q.serialize_element(v)?;
                }
                q.end()
            }
        }
    }
}

fn s(v: impl Into<String>) -> J {
    J::Str(v.into())
}

fn obj(kv: Vec<(&str, J)>) -> J {
    J::Obj(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn money(code: &str, t: &AmountCount) -> J {
    let amount = Currency::parse(code).map(|c| format_minor(t.amount, c)).unwrap_or_else(|_| t.amount.to_string());
    obj(vec![("amount", s(amount)), ("count", J::Int(t.count))])
}

/// summary.json's `resolutions`: the day's resolves and reopens, the amount written off per currency
/// and reason, and the expired open items per currency.
pub fn summary_obj(p: &Prepared) -> J {
    let r = &p.input.resolutions;
    let recorded = r
        .recorded
        .iter()
        .map(|e| {
            obj(vec![
                ("item_id", s(e.item_id.clone())),
                ("action", s(e.action.as_str())),
                ("category", s(e.category.as_str())),
                ("key", s(e.key.clone())),
                ("item_date", s(e.item_date.to_string())),
                ("reason", s(e.reason.clone())),
                ("note", s(e.note.clone())),
                ("by", s(e.by.clone())),
                ("recorded_at", s(e.recorded_at.clone())),
                ("currency", s(e.currency.map(|c| c.to_string()).unwrap_or_default())),
                (
                    "amount",
                    s(match (e.currency, e.amount) {
                        (Some(c), Some(a)) => format_minor(a, c),
                        _ => String::new(),
                    }),
                ),
            ])
        })
        .collect();
    let written_off = r
        .written_off
        .iter()
        .map(|(code, by_reason)| {
            (code.clone(), J::Obj(by_reason.iter().map(|(reason, t)| (reason.clone(), money(code, t))).collect()))
        })
        .collect();
    let expired = r.expired_amount.iter().map(|(code, t)| (code.clone(), money(code, t))).collect();
    obj(vec![("recorded", J::Arr(recorded)), ("written_off", J::Obj(written_off)), ("expired", J::Obj(expired))])
}

/// The workbook columns after an item's own: `item_id`, then `resolution` (a drop-down of the
/// configured reasons) and `note` for the accountant to fill in and import with `resolve --from`.
pub const XLSX_COLUMNS: [&str; 3] = ["item_id", "resolution", "note"];
pub const XLSX_WIDTHS: [f64; 3] = [13.0, 22.0, 40.0];

/// Writes the item id of `f` at (`row`, `col`); the resolution and note cells stay empty.
pub fn xlsx_item(ws: &mut Worksheet, row: u32, col: u16, f: &Finding) -> Result<()> {
    ws.write_string(row, col, item_id(f))?;
    Ok(())
}

/// The drop-down of the configured reasons on the resolution column (`col` + 1) of rows 1..=1000 past
/// the last item (so an accountant may also paste ids below), and the header widths of the three.
pub fn xlsx_finish(ws: &mut Worksheet, p: &Prepared, rows: usize, col: u16) -> Result<()> {
    let reasons = &p.input.resolutions.reasons;
    if reasons.is_empty() {
        return Ok(());
    }
    let dv = DataValidation::new()
        .allow_list_strings(reasons)?
        .set_error_title("Unknown reason")?
        .set_error_message("Pick one of the configured reasons from the list (config resolutions.reasons).")?;
    ws.add_data_validation(1, col + 1, rows as u32 + 1000, col + 1, &dv)?;
    Ok(())
}

/// The Resolutions sheet: the day's resolves and reopens (reason, note, who), then the amount written
/// off per currency and reason, then the expired open items per currency.
pub fn xlsx_sheet(ws: &mut Worksheet, header: &Format, p: &Prepared) -> Result<()> {
    ws.set_name("Resolutions")?;
    let cols = [
        "item_id",
        "action",
        "category",
        "key",
        "item_date",
        "reason",
        "note",
        "by",
        "recorded_at",
        "currency",
        "amount",
    ];
    let widths = [13.0, 9.0, 20.0, 26.0, 11.0, 22.0, 40.0, 14.0, 22.0, 9.0, 13.0];
    for (i, c) in cols.iter().enumerate() {
        ws.write_string_with_format(0, i as u16, *c, header)?;
        ws.set_column_width(i as u16, widths[i])?;
    }
    let r = &p.input.resolutions;
    let mut row = 1u32;
    for e in &r.recorded {
        let amount = match (e.currency, e.amount) {
            (Some(c), Some(a)) => format_minor(a, c),
            _ => String::new(),
        };
        let cells = [
            e.item_id.clone(),
            e.action.as_str().to_string(),
            e.category.as_str().to_string(),
            e.key.clone(),
            e.item_date.to_string(),
            e.reason.clone(),
            neutralise(&e.note),
            neutralise(&e.by),
            e.recorded_at.clone(),
            e.currency.map(|c| c.to_string()).unwrap_or_default(),
            amount,
        ];
        for (i, v) in cells.iter().enumerate() {
            ws.write_string(row, i as u16, v)?;
        }
        row += 1;
    }
    row += 1;
    ws.write_string_with_format(row, 0, "Written off", header)?;
    for (code, by_reason) in &r.written_off {
        for (reason, t) in by_reason {
            row += 1;
            ws.write_string(row, 0, code)?;
            ws.write_string(row, 1, reason)?;
            ws.write_string(row, 2, amount_text(code, t))?;
            ws.write_number(row, 3, t.count as f64)?;
        }
    }
    row += 2;
    ws.write_string_with_format(row, 0, "Expired", header)?;
    for (code, t) in &r.expired_amount {
        row += 1;
        ws.write_string(row, 0, code)?;
        ws.write_string(row, 2, amount_text(code, t))?;
        ws.write_number(row, 3, t.count as f64)?;
    }
    Ok(())
}

fn amount_text(code: &str, t: &AmountCount) -> String {
    Currency::parse(code).map(|c| format_minor(t.amount, c)).unwrap_or_else(|_| t.amount.to_string())
}

/// Lines for the daily email, read back from the folder's summary.json `resolutions`: the day's
/// resolves and reopens, the amount written off per currency and reason, the expired items. Empty when
/// there are none (or no readable summary.json: the email goes out without them).
pub fn email_lines(folder: &std::path::Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(folder.join(super::folder::SUMMARY)) else { return Vec::new() };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return Vec::new() };
    let r = &v["resolutions"];
    // One line per entry whatever the note holds.
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().replace(['\n', '\r', '\t'], " ");
    let mut out = Vec::new();
    for e in r["recorded"].as_array().into_iter().flatten() {
        let what = if text(&e["action"]) == "REOPEN" { "reopened".to_string() } else { text(&e["reason"]) };
        out.push(format!(
            "  - {} {} {}: {what} by {}{}",
            text(&e["item_id"]),
            text(&e["category"]),
            text(&e["key"]),
            text(&e["by"]),
            Some(text(&e["note"])).filter(|n| !n.is_empty()).map(|n| format!(" ({n})")).unwrap_or_default()
        ));
    }
    if !out.is_empty() {
        out.insert(0, format!("Resolutions recorded today ({}):", out.len()));
    }
    for (code, by_reason) in r["written_off"].as_object().into_iter().flatten() {
        for (reason, t) in by_reason.as_object().into_iter().flatten() {
            out.push(format!("Written off today, {reason}: {} {code} ({} item(s))", text(&t["amount"]), t["count"]));
        }
    }
    for (code, t) in r["expired"].as_object().into_iter().flatten() {
        out.push(format!(
            "Expired unresolved today (last day of the open-item look-back): {} {code} ({} item(s))",
            text(&t["amount"]),
            t["count"]
        ));
    }
    out
}

/// report.html's "Resolutions" section: the day's resolves and reopens (reason, note, who), the amount
/// written off and the expired items. Nothing when the day has none.
pub fn html_section(out: &mut String, p: &Prepared) {
    use super::text::html_escape as esc;
    use std::fmt::Write as _;
    let r = &p.input.resolutions;
    if r.recorded.is_empty() && r.written_off.is_empty() && r.expired_amount.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h2 style=\"font-size:17px;\">Resolutions ({})</h2>", r.recorded.len());
    if !r.recorded.is_empty() {
        out.push_str("<table style=\"border-collapse:collapse;font-size:13px;\" cellpadding=\"4\" border=\"1\">\n<tr><th>item_id</th><th>category</th><th>key</th><th>action</th><th>reason</th><th>note</th><th>by</th></tr>\n");
        for e in &r.recorded {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.item_id),
                e.category.as_str(),
                esc(&e.key),
                e.action.as_str(),
                esc(&e.reason),
                esc(&e.note),
                esc(&e.by)
            );
        }
        out.push_str("</table>\n");
    }
    for (code, by_reason) in &r.written_off {
        for (reason, t) in by_reason {
            let _ = writeln!(
                out,
                "<p>Written off, {}: {} {code} ({} item(s))</p>",
                esc(reason),
                amount_text(code, t),
                t.count
            );
        }
    }
    for (code, t) in &r.expired_amount {
        let _ = writeln!(
            out,
            "<p>Expired unresolved (last day of the open-item look-back): {} {code} ({} item(s))</p>",
            amount_text(code, t),
            t.count
        );
    }
}
