//! Per-day reconciliation state (sql/0010, ARCHITECTURE.md "Incremental state"): after day T is
//! reconciled, the ids of its keys with a verdict and its matched count, valid for the hash of the
//! rules it was computed with. Day T+1's run reads T's state and loads only the keys that can have a
//! verdict on T+1 (`window::load_active`).
//!
//! Invalidation: [`invalidate_from`] deletes the state of a date and of every later date. It is
//! called in the transaction of every write that can change a day's answer — an Alipay file stored
//! (`files::begin`: its business date), local records applied (`sales::upsert_records`, which the
//! sales import and the payment ledger both use: the earliest business date among them) — so a state
//! row exists only while the data it was derived from is unchanged.

use crate::domain::{DayKeys, MatchedByDay, Params};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};

/// One day's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayState {
    pub date: NaiveDate,
    /// Ids of the keys with a verdict on this day.
    pub ids: Vec<String>,
    /// The day's matched count (summary.json's "matched") by the keys' item dates (sql/0014); the
    /// `matched` column is its sum, kept for people reading the table.
    pub matched_by_day: MatchedByDay,
}

/// The hash of the rules' settings a state was computed with: a state computed under other rules is
/// not used.
pub fn rules_hash(params: &Params) -> String {
    crate::archive::sha256_hex(format!("{params:?}").as_bytes())
}

/// Deletes the state of `date` and of every later date (their answers may have changed).
pub fn invalidate_from(conn: &Connection, date: NaiveDate) -> Result<()> {
    conn.execute_batch("UPDATE recon_state_generation SET n = n + 1")
        .and_then(|()| conn.execute("DELETE FROM recon_state WHERE business_date >= ?1", [date.to_string()]))
        .with_context(|| format!("cannot invalidate the reconciliation state from {date}"))?;
    Ok(())
}

/// The invalidation counter: read before a run reads its data, passed to [`save`].
pub fn generation(conn: &Connection) -> Result<i64> {
    conn.query_row("SELECT n FROM recon_state_generation", [], |r| r.get(0))
        .context("cannot read the reconciliation state's generation")
}

/// The state of `date` if it is stored for these rules.
pub fn get(conn: &Connection, date: NaiveDate, hash: &str) -> Result<Option<DayState>> {
    let row = conn
        .query_row(
            "SELECT keys, matched_by_day FROM recon_state WHERE business_date = ?1 AND config_hash = ?2",
            params![date.to_string(), hash],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()
        .with_context(|| format!("cannot read the reconciliation state of {date}"))?;
    let Some((keys, by_day)) = row else { return Ok(None) };
    let mut matched_by_day = MatchedByDay::new();
    for line in by_day.lines() {
        let parsed = line.split_once(' ').and_then(|(d, n)| Some((d.parse().ok()?, n.parse().ok()?)));
        let (d, n): (NaiveDate, i64) = parsed.with_context(|| {
            format!("the reconciliation state of {date} has a bad matched_by_day line {line:?}: it is recomputed if you delete it (DELETE FROM recon_state)")
        })?;
        matched_by_day.insert(d, n);
    }
    Ok(Some(DayState {
        date,
        ids: keys.lines().filter(|l| !l.is_empty()).map(str::to_string).collect(),
        matched_by_day,
    }))
}

/// The newest date in `[from, before)` with a state for these rules.
pub fn newest_before(conn: &Connection, from: NaiveDate, before: NaiveDate, hash: &str) -> Result<Option<NaiveDate>> {
    let d: Option<String> = conn
        .query_row(
            "SELECT MAX(business_date) FROM recon_state WHERE business_date >= ?1 AND business_date < ?2 AND config_hash = ?3",
            params![from.to_string(), before.to_string(), hash],
            |r| r.get(0),
        )
        .context("cannot read the reconciliation states")?;
    Ok(d.and_then(|d| d.parse().ok()))
}

/// Stores day `date`'s state (replacing an older one) unless an invalidation happened since
/// `generation` was read (then the data it was computed from may have changed: it is not stored, and
/// the next run recomputes it). Returns whether it was stored.
pub fn save(
    conn: &Connection,
    generation: i64,
    date: NaiveDate,
    hash: &str,
    matched_by_day: &MatchedByDay,
    keys: &DayKeys,
) -> Result<bool> {
    let matched: i64 = matched_by_day.values().sum();
    let by_day: String = matched_by_day.iter().map(|(d, n)| format!("{d} {n}\n")).collect();
    let n = conn
        .execute(
            "INSERT OR REPLACE INTO recon_state (business_date, config_hash, matched, keys, created_at, matched_by_day)
             SELECT ?1, ?2, ?3, ?4, ?5, ?7 FROM recon_state_generation WHERE n = ?6",
            params![date.to_string(), hash, matched, keys.ids.join("\n"), super::now_text(), generation, by_day],
        )
        .with_context(|| format!("cannot store the reconciliation state of {date}"))?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored states are found by this hash of the settings' `Debug` text: a renamed or retyped
    /// field (or a settings type renamed while moving it) would orphan every stored state and make
    /// the next run bootstrap. The value is main's before the settings moved to `domain`.
    #[test]
    fn the_rules_hash_of_the_default_settings_is_unchanged() {
        let p = Params::default();
        assert_eq!(rules_hash(&p), "50e6da622cd9dcb0484b0aa7114cbc5b90cf49118c0f96e96b9583786404c0d7");
        let other = Params { grace_minutes: p.grace_minutes + 1, ..p.clone() };
        assert_ne!(rules_hash(&other), rules_hash(&p), "another setting, another hash");
    }
}
