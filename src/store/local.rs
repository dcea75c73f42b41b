//! Local sales records as the rest of the program asks for them, besides the sales import
//! (`store::sales`): what a business date holds — the local sales that make a missing Alipay file worth
//! an alert, whether a complete transaction file is stored, which dates have data at all — and the
//! payment ledger's write of its records. The one place these questions are written in SQL (`status`,
//! `demo`, the run's alerts and `retention` call it), so that they cannot drift apart.

use crate::domain::LocalRecord;
use anyhow::Result;
use chrono::NaiveDate;
use rusqlite::{params, Connection};

/// The local records of one business date, as `status` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDay {
    pub date: String,
    pub records: i64,
    pub unknown: i64,
    pub conflicts: i64,
}

/// Writes the payment ledger's records (the ledger wins over POS files for the ids it issued); returns
/// how many were applied.
pub fn write_ledger_records(conn: &Connection, records: &[LocalRecord]) -> Result<usize> {
    let (applied, _) = super::sales::upsert_records(conn, records, super::sales::Origin::Ledger, None)?;
    Ok(applied)
}

/// Local SUCCESS/UNKNOWN records of `date`: what makes a missing Alipay file worth an alert.
pub fn local_sales(conn: &Connection, date: NaiveDate) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM local_records WHERE business_date = ?1 AND status IN ('SUCCESS', 'UNKNOWN')",
        [date.to_string()],
        |r| r.get(0),
    )?)
}

/// Whether a complete (not truncated) current transaction file of `date` is stored.
pub fn has_transactions(conn: &Connection, date: NaiveDate) -> Result<bool> {
    Ok(super::files::list(conn, date, date, true)?.iter().any(|f| f.kind == "transactions" && !f.truncated))
}

/// The local records per business date from `from` to `to`, in date order (dates without any left out).
pub fn local_days(conn: &Connection, from: NaiveDate, to: NaiveDate) -> Result<Vec<LocalDay>> {
    let mut st = conn.prepare(
        "SELECT business_date, COUNT(*), SUM(status = 'UNKNOWN'), SUM(conflict) FROM local_records
         WHERE business_date BETWEEN ?1 AND ?2 GROUP BY business_date ORDER BY business_date",
    )?;
    let rows = st.query_map(params![from.to_string(), to.to_string()], |r| {
        Ok(LocalDay { date: r.get(0)?, records: r.get(1)?, unknown: r.get(2)?, conflicts: r.get(3)? })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The business dates that have local sales records, in order.
pub fn local_dates(conn: &Connection) -> Result<Vec<NaiveDate>> {
    let mut st = conn.prepare("SELECT DISTINCT business_date FROM local_records ORDER BY business_date")?;
    let v: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(v.iter().filter_map(|d| d.parse().ok()).collect())
}

/// Every business date with an imported Alipay file or local sales records, in order.
pub fn loaded_dates(conn: &Connection) -> Result<Vec<String>> {
    let mut st =
        conn.prepare("SELECT business_date FROM local_records UNION SELECT business_date FROM files ORDER BY 1")?;
    let v = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(conn: &Connection, date: &str, id: &str, status: &str, conflict: i64) {
        conn.execute(
            "INSERT INTO local_records (record_type, record_id, merchant_trans_id, amount, currency, status, \
             created_at, created_utc, business_date, origin, conflict) VALUES ('PAYMENT', ?2, ?2, 100, 'HKD', ?3, \
             '2026-01-01T00:00:00+08:00', 0, ?1, 'pos', ?4)",
            params![date, id, status, conflict],
        )
        .unwrap();
    }

    #[test]
    fn per_day_questions_answer_from_local_records() {
        let conn = super::super::open_in_memory().unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        sale(&conn, "2026-11-24", "P1", "SUCCESS", 0);
        sale(&conn, "2026-11-24", "P2", "UNKNOWN", 1);
        sale(&conn, "2026-11-24", "P3", "FAILED", 0);
        sale(&conn, "2026-11-26", "P4", "CANCELLED", 0);
        assert_eq!(local_sales(&conn, d("2026-11-24")).unwrap(), 2, "SUCCESS and UNKNOWN count");
        assert_eq!(local_sales(&conn, d("2026-11-26")).unwrap(), 0);
        assert_eq!(local_dates(&conn).unwrap(), vec![d("2026-11-24"), d("2026-11-26")]);
        assert_eq!(loaded_dates(&conn).unwrap(), vec!["2026-11-24".to_string(), "2026-11-26".to_string()]);
        assert!(!has_transactions(&conn, d("2026-11-24")).unwrap());
        let days = local_days(&conn, d("2026-11-20"), d("2026-11-25")).unwrap();
        assert_eq!(days, vec![LocalDay { date: "2026-11-24".into(), records: 3, unknown: 1, conflicts: 1 }]);
    }
}
