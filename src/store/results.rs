//! Reconciliation results in the store (`sql/0002_results.sql`): each run's findings, pending,
//! resolved and open items and counts for a date. A rerun of a date makes its result current and
//! keeps the earlier ones.

use crate::domain::{Category, Currency, Finding, Outcome, PendingState};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension, Row};

/// A stored result's header.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredResult {
    pub id: i64,
    pub run_id: Option<i64>,
    pub business_date: NaiveDate,
    pub current: bool,
    pub findings: i64,
    pub pending: i64,
    pub resolved: i64,
    pub open_items: i64,
    pub matched: i64,
    pub summary_json: String,
    pub created_at: String,
}

/// Stores `out` as the current result of `date` in one transaction; returns the result id.
pub fn save(conn: &mut Connection, run_id: Option<i64>, date: NaiveDate, out: &Outcome) -> Result<i64> {
    let tx = conn.transaction()?;
    let d = date.to_string();
    tx.execute("UPDATE recon_results SET current = 0 WHERE business_date = ?1", [&d])?;
    tx.execute(
        "INSERT INTO recon_results (run_id, business_date, current, finding_count, pending_count, resolved_count,
            open_count, matched_count, summary_json, created_at) VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            run_id,
            d,
            out.findings.len() as i64,
            out.summary.pending,
            out.summary.resolved,
            out.open_items.len() as i64,
            out.summary.matched,
            serde_json::to_string(&out.summary)?,
            super::now_text()
        ],
    )
    .with_context(|| format!("cannot store the reconciliation result of {date}"))?;
    let id = tx.last_insert_rowid();
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO recon_items (result_id, section, ord, business_date, item_date, category, merchant_trans_id,
                merchant_refund_id, acquirement_id, currency, local_amount, alipay_currency, alipay_amount, local_type,
                alipay_type, detail, first_reported, age_days, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )?;
        let mut put = |section: &str,
                       ord: usize,
                       f: &Finding,
                       first: Option<NaiveDate>,
                       age: Option<i64>,
                       reason: Option<&str>| {
            st.execute(params![
                id,
                section,
                ord as i64,
                f.business_date.to_string(),
                f.item_date.to_string(),
                f.category.as_str(),
                f.merchant_trans_id,
                f.merchant_refund_id,
                f.acquirement_id,
                f.currency.map(|c| c.to_string()),
                f.local_amount,
                f.alipay_currency.map(|c| c.to_string()),
                f.alipay_amount,
                f.local_type,
                f.alipay_type,
                f.detail,
                first.map(|d| d.to_string()),
                age,
                reason
            ])
        };
        for (i, f) in out.findings.iter().enumerate() {
            put("finding", i, f, None, None, None)?;
        }
        for (i, p) in out.pending.iter().enumerate() {
            let section = if p.state == PendingState::Resolved { "resolved" } else { "pending" };
            put(section, i, &p.finding, p.first_reported, None, Some(&p.reason))?;
        }
        for (i, o) in out.open_items.iter().enumerate() {
            put("open", i, &o.finding, Some(o.first_reported), Some(o.age_days), None)?;
        }
        let mut st = tx.prepare_cached("INSERT INTO recon_counts (result_id, category, count) VALUES (?1, ?2, ?3)")?;
        for c in Category::ALL {
            let n = out.findings.iter().filter(|f| f.category == c).count() as i64;
            st.execute(params![id, c.as_str(), n])?;
        }
    }
    tx.commit()?;
    Ok(id)
}

fn header(r: &Row) -> rusqlite::Result<StoredResult> {
    let d: String = r.get(2)?;
    Ok(StoredResult {
        id: r.get(0)?,
        run_id: r.get(1)?,
        business_date: parse_date(&d)?,
        current: r.get(3)?,
        findings: r.get(4)?,
        pending: r.get(5)?,
        resolved: r.get(6)?,
        open_items: r.get(7)?,
        matched: r.get(8)?,
        summary_json: r.get(9)?,
        created_at: r.get(10)?,
    })
}

const HEADER: &str =
    "SELECT id, run_id, business_date, current, finding_count, pending_count, resolved_count, open_count,
    matched_count, summary_json, created_at FROM recon_results";

/// The current result of `date`, if it was reconciled.
pub fn current(conn: &Connection, date: NaiveDate) -> Result<Option<StoredResult>> {
    let sql = format!("{HEADER} WHERE business_date = ?1 AND current = 1");
    Ok(conn.query_row(&sql, [date.to_string()], header).optional()?)
}

fn parse_date(s: &str) -> rusqlite::Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("bad stored date '{s}': {e}").into(),
        )
    })
}

fn ccy(s: Option<String>) -> rusqlite::Result<Option<Currency>> {
    s.map(|s| {
        Currency::parse(&s)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into()))
    })
    .transpose()
}

/// A stored row with its section and extra columns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredItem {
    pub result_id: i64,
    pub section: String,
    pub finding: Finding,
    pub first_reported: Option<NaiveDate>,
    pub age_days: Option<i64>,
    pub reason: Option<String>,
}

const ITEM: &str =
    "SELECT result_id, section, business_date, item_date, category, merchant_trans_id, merchant_refund_id,
    acquirement_id, currency, local_amount, alipay_currency, alipay_amount, local_type, alipay_type, detail,
    first_reported, age_days, reason FROM recon_items";

fn item(r: &Row) -> rusqlite::Result<StoredItem> {
    let cat: String = r.get(4)?;
    let first: Option<String> = r.get(15)?;
    Ok(StoredItem {
        result_id: r.get(0)?,
        section: r.get(1)?,
        finding: Finding {
            business_date: parse_date(&r.get::<_, String>(2)?)?,
            item_date: parse_date(&r.get::<_, String>(3)?)?,
            category: Category::parse(&cat).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    4,
                    rusqlite::types::Type::Text,
                    format!("bad category '{cat}'").into(),
                )
            })?,
            merchant_trans_id: r.get(5)?,
            merchant_refund_id: r.get(6)?,
            acquirement_id: r.get(7)?,
            currency: ccy(r.get(8)?)?,
            local_amount: r.get(9)?,
            alipay_currency: ccy(r.get(10)?)?,
            alipay_amount: r.get(11)?,
            local_type: r.get(12)?,
            alipay_type: r.get(13)?,
            detail: r.get(14)?,
        },
        first_reported: first.as_deref().map(parse_date).transpose()?,
        age_days: r.get(16)?,
        reason: r.get(17)?,
    })
}

/// For `explain`: every row of every current result that names `id` as payment, refund or Alipay id,
/// oldest report first.
pub fn history_of(conn: &Connection, id: &str) -> Result<Vec<StoredItem>> {
    let sql = format!(
        "{ITEM} WHERE result_id IN (SELECT id FROM recon_results WHERE current = 1)
           AND (merchant_trans_id = ?1 OR merchant_refund_id = ?1 OR acquirement_id = ?1)
         ORDER BY business_date, section, ord"
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([id], item)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DaySummary, OpenItem, PendingItem};

    // Reading a day's result back, item by item: only these tests do (the report is written from the
    // engine's outcome, `explain` reads `history_of`).
    /// Every result of `date`, newest first.
    fn all_for(conn: &Connection, date: NaiveDate) -> Result<Vec<StoredResult>> {
        let sql = format!("{HEADER} WHERE business_date = ?1 ORDER BY id DESC");
        let mut st = conn.prepare(&sql)?;
        let rows = st.query_map([date.to_string()], header)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn items(conn: &Connection, date: NaiveDate, sections: &[&str]) -> Result<Vec<StoredItem>> {
        let Some(res) = current(conn, date)? else { return Ok(Vec::new()) };
        let sql = format!("{ITEM} WHERE result_id = ?1 AND section = ?2 ORDER BY ord");
        let mut st = conn.prepare(&sql)?;
        let mut out = Vec::new();
        for s in sections {
            let rows = st.query_map(params![res.id, s], item)?;
            out.extend(rows.collect::<rusqlite::Result<Vec<_>>>()?);
        }
        Ok(out)
    }

    /// The current findings (`discrepancies.csv`) of `date`, in report order; empty when not reconciled.
    fn findings_for(conn: &Connection, date: NaiveDate) -> Result<Vec<Finding>> {
        Ok(items(conn, date, &["finding"])?.into_iter().map(|i| i.finding).collect())
    }

    /// The current pending and resolved items of `date`.
    fn pending_for(conn: &Connection, date: NaiveDate) -> Result<Vec<PendingItem>> {
        let mut v: Vec<PendingItem> = items(conn, date, &["pending", "resolved"])?
            .into_iter()
            .map(|i| PendingItem {
                state: if i.section == "resolved" { PendingState::Resolved } else { PendingState::Pending },
                finding: i.finding,
                first_reported: i.first_reported,
                reason: i.reason.unwrap_or_default(),
            })
            .collect();
        v.sort_by(|a, b| (a.state, a.finding.sort_key()).cmp(&(b.state, b.finding.sort_key())));
        Ok(v)
    }

    /// The current open items of `date`.
    fn open_items_for(conn: &Connection, date: NaiveDate) -> Result<Vec<OpenItem>> {
        Ok(items(conn, date, &["open"])?
            .into_iter()
            .map(|i| OpenItem {
                first_reported: i.first_reported.unwrap_or(i.finding.business_date),
                age_days: i.age_days.unwrap_or(0),
                finding: i.finding,
            })
            .collect())
    }

    fn finding(cat: Category, id: &str, detail: &str) -> Finding {
        Finding {
            business_date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            item_date: NaiveDate::from_ymd_opt(2026, 11, 19).unwrap(),
            category: cat,
            merchant_trans_id: id.into(),
            merchant_refund_id: String::new(),
            acquirement_id: "A1".into(),
            currency: Some(Currency::parse("HKD").unwrap()),
            local_amount: Some(5600),
            alipay_currency: None,
            alipay_amount: None,
            local_type: "PAYMENT SUCCESS".into(),
            alipay_type: String::new(),
            detail: detail.into(),
        }
    }

    fn outcome(n: usize) -> Outcome {
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let findings: Vec<Finding> = (0..n)
            .map(|i| finding(Category::MissingAtAlipay, &format!("P{i}"), "Local payment is not at Alipay."))
            .collect();
        let summary =
            DaySummary { business_date: Some(day), pending: 1, resolved: 1, matched: 7, ..Default::default() };
        Outcome {
            pending: vec![
                PendingItem {
                    state: PendingState::Pending,
                    finding: finding(Category::MissingLocally, "Q1", "x."),
                    first_reported: None,
                    reason: "grace".into(),
                },
                PendingItem {
                    state: PendingState::Resolved,
                    finding: finding(Category::StatusMismatch, "Q2", "y."),
                    first_reported: Some(day.pred_opt().unwrap()),
                    reason: "explained".into(),
                },
            ],
            open_items: vec![OpenItem {
                finding: finding(Category::Unsettled, "Q3", "z."),
                first_reported: day.pred_opt().unwrap(),
                age_days: 1,
            }],
            findings,
            summary,
        }
    }

    #[test]
    fn save_reads_back_and_rerun_keeps_the_earlier_result() {
        let mut c = crate::store::open_in_memory().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert!(findings_for(&c, day).unwrap().is_empty());
        let first = outcome(2);
        let id1 = save(&mut c, None, day, &first).unwrap();
        assert_eq!(findings_for(&c, day).unwrap(), first.findings);
        assert_eq!(pending_for(&c, day).unwrap(), first.pending);
        assert_eq!(open_items_for(&c, day).unwrap(), first.open_items);
        let second = outcome(1);
        let id2 = save(&mut c, None, day, &second).unwrap();
        assert_eq!(findings_for(&c, day).unwrap(), second.findings);
        let all = all_for(&c, day).unwrap();
        assert_eq!(
            all.iter().map(|r| (r.id, r.current, r.findings)).collect::<Vec<_>>(),
            vec![(id2, true, 1), (id1, false, 2)]
        );
        assert_eq!(current(&c, day).unwrap().unwrap().matched, 7);
        let n: i64 = c
            .query_row(
                "SELECT count FROM recon_counts WHERE result_id = ?1 AND category = 'MISSING_AT_ALIPAY'",
                [id1],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 2);
        // explain: only the current result's rows, any section.
        let h = history_of(&c, "P1").unwrap();
        assert!(h.is_empty(), "P1 is only in the replaced result: {h:?}");
        let h = history_of(&c, "Q3").unwrap();
        assert_eq!((h.len(), h[0].section.as_str(), h[0].age_days), (1, "open", Some(1)));
    }
}
