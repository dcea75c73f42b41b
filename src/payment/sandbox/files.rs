//! The sandbox's reconciliation files, in the `intl` layout of alipay-files.md, for its own
//! transactions, in a folder laid out like the SFTP server:
//! `<root>/download/<merchantId>/<yyyymmdd>/ALIPAY_{TRANSACTION_DETAIL,SETTLEMENT_DETAIL,SETTLEMENT_SUMMARY}_<CCY>_<yyyymmdd>.csv`.
//! Days are Beijing days. Transaction files hold PAYMENT, CANCEL (of a paid payment) and REFUND rows;
//! settlement files hold what settles: payments not cancelled, and refunds (negative). Files are
//! rewritten whole after each change, so they always match the sandbox's state.

use super::bank::major;
use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset, NaiveDate};
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const TRANSACTION_HEADER: &str = "merchantId,sellerID,storeId,productCode,paymentTime,orderTitle,transType,transStatus,merchantTransId,acquirementId,originalAcquirementId,orderAmount,orderCurrency,remark,userSite,siteUserId";
pub const SETTLEMENT_HEADER: &str = "merchantId,sellerID,storeId,transType,productCode,remark,acquirementId,originalAcquirementId,paymentTime,userSite,referenceId,settlementTime,merchantTransId,orderAmount,orderCurrency,settlementAmount,settlementCurrency,fee";
pub const SUMMARY_HEADER: &str =
    "type,settlementTime,count,settlementAmount,settlementCurrency,commission,referenceId,merchantId";

/// One money movement in the files.
#[derive(Debug, Clone)]
struct Movement {
    merchant_id: String,
    kind: &'static str,
    time: DateTime<FixedOffset>,
    title: String,
    /// merchantTransId for payments and cancels; merchantRefundId for refunds.
    id: String,
    acq: String,
    original_acq: String,
    amount: i64,
    currency: String,
    /// Counts in settlement (payments not cancelled, refunds).
    settles: bool,
}

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("sandbox writes RFC 3339")
}

fn bj(d: &DateTime<FixedOffset>) -> NaiveDate {
    d.with_timezone(&FixedOffset::east_opt(8 * 3600).expect("offset")).date_naive()
}

fn movements(conn: &Connection) -> Result<Vec<Movement>> {
    let mut out = Vec::new();
    let mut st = conn.prepare(
        "SELECT merchant_id, merchant_trans_id, acquirement_id, amount, currency, title, status, paid_at, cancelled_at
         FROM txns WHERE was_paid = 1 AND paid_at IS NOT NULL",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, String>(7)?,
            r.get::<_, Option<String>>(8)?,
        ))
    })?;
    for row in rows {
        let (mid, id, acq, amount, cur, title, status, paid_at, cancelled_at) = row?;
        let cancelled = status == "CANCELLED";
        let base = Movement {
            merchant_id: mid,
            kind: "PAYMENT",
            time: t(&paid_at),
            title,
            id,
            acq: acq.clone(),
            original_acq: String::new(),
            amount,
            currency: cur,
            settles: !cancelled,
        };
        if let (true, Some(c)) = (cancelled, cancelled_at) {
            out.push(Movement { kind: "CANCEL", time: t(&c), original_acq: acq, settles: false, ..base.clone() });
        }
        out.push(base);
    }
    let mut st = conn.prepare(
        "SELECT r.merchant_id, r.merchant_refund_id, r.refund_acquirement_id, r.acquirement_id, r.amount, r.currency, r.refunded_at, x.title
         FROM refunds r JOIN txns x ON x.merchant_id = r.merchant_id AND x.acquirement_id = r.acquirement_id
         WHERE r.status = 'SUCCESS'",
    )?;
    let rows = st.query_map([], |r| {
        Ok(Movement {
            merchant_id: r.get(0)?,
            kind: "REFUND",
            id: r.get(1)?,
            acq: r.get(2)?,
            original_acq: r.get(3)?,
            amount: r.get(4)?,
            currency: r.get(5)?,
            time: t(&r.get::<_, String>(6)?),
            title: r.get(7)?,
            settles: true,
        })
    })?;
    for m in rows {
        out.push(m?);
    }
    out.sort_by(|a, b| (a.time, &a.id, a.kind).cmp(&(b.time, &b.id, b.kind)));
    Ok(out)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Rewrites every day's files under `root`. Returns the paths written.
pub fn write_all(conn: &Connection, root: &Path) -> Result<Vec<PathBuf>> {
    // (merchant, day, currency) → movements
    let mut groups: BTreeMap<(String, NaiveDate, String), Vec<Movement>> = BTreeMap::new();
    for m in movements(conn)? {
        groups.entry((m.merchant_id.clone(), bj(&m.time), m.currency.clone())).or_default().push(m);
    }
    let mut written = Vec::new();
    for ((mid, day, cur), ms) in groups {
        let ymd = day.format("%Y%m%d").to_string();
        let dir = root.join("download").join(&mid).join(&ymd);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the sandbox file folder {}", dir.display()))?;
        let settle_time = format!("{}T23:59:59+08:00", day.format("%Y-%m-%d"));
        let reference = format!("SBX{ymd}");
        let mut tx = format!("{TRANSACTION_HEADER}\n");
        let mut sd = format!("{SETTLEMENT_HEADER}\n");
        let mut totals: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        for m in &ms {
            let amount = major(m.amount, &m.currency);
            tx.push_str(&format!(
                "{mid},{mid},,OFFLINE_PAY,{},{},{},Success,{},{},{},{amount},{cur},,ALIPAY_CN,\n",
                m.time.to_rfc3339(),
                csv_field(&m.title),
                m.kind,
                m.id,
                m.acq,
                m.original_acq
            ));
            if m.settles {
                let signed = if m.kind == "REFUND" { -m.amount } else { m.amount };
                sd.push_str(&format!(
                    "{mid},{mid},,{},OFFLINE_PAY,,{},{},{},ALIPAY_CN,{reference},{settle_time},{},{amount},{cur},{},{cur},0.00\n",
                    m.kind,
                    m.acq,
                    m.original_acq,
                    m.time.to_rfc3339(),
                    m.id,
                    major(signed, &m.currency)
                ));
                let e = totals.entry(m.kind).or_default();
                e.0 += 1;
                e.1 += signed;
            }
        }
        let mut sum = format!("{SUMMARY_HEADER}\n");
        let (mut n, mut total) = (0, 0);
        for (kind, (count, amount)) in &totals {
            sum.push_str(&format!(
                "{kind},{settle_time},{count},{},{cur},0.00,{reference},{mid}\n",
                major(*amount, &cur)
            ));
            n += count;
            total += amount;
        }
        sum.push_str(&format!("TOTAL,{settle_time},{n},{},{cur},0.00,{reference},{mid}\n", major(total, &cur)));
        for (kind, text) in [("TRANSACTION_DETAIL", tx), ("SETTLEMENT_DETAIL", sd), ("SETTLEMENT_SUMMARY", sum)] {
            let p = dir.join(format!("ALIPAY_{kind}_{cur}_{ymd}.csv"));
            // Write then rename, so a reader never sees half a file.
            let tmp = p.with_extension("csv.tmp");
            std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, &p).with_context(|| format!("cannot write {}", p.display()))?;
            written.push(p);
        }
    }
    Ok(written)
}
