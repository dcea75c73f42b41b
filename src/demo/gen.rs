//! A generator of synthetic but realistic days: N payments with partial refunds, cancels and injected
//! faults, in any file format, seeded (same seed, same bytes). It writes a tree laid out like the SFTP
//! server plus the matching sales-v1 CSV — for benchmarks, load tests and trying the tool at scale.

use crate::config::FormatLayout;
use crate::domain::{format_minor, BusinessZone, Currency, FileFormat};
use crate::source::layout::expand;
use anyhow::{Context, Result};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use rand::{Rng, SeedableRng};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct GenSpec {
    pub date: NaiveDate,
    pub payments: usize,
    pub format: FileFormat,
    pub currency: Currency,
    pub merchant_id: String,
    pub seed: u64,
    pub zone: BusinessZone,
    /// Inject faults (missing on either side, amount mismatch, local UNKNOWN) at about 1 per 1,000.
    pub faults: bool,
}

/// What was written, with the counts of each injected fault.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GenReport {
    pub files: Vec<PathBuf>,
    pub sales_file: PathBuf,
    pub alipay_rows: usize,
    pub local_rows: usize,
    pub refunds: usize,
    pub cancels: usize,
    pub missing_locally: usize,
    pub missing_at_alipay: usize,
    pub amount_mismatches: usize,
    pub local_unknown: usize,
}

struct Txn {
    id: String,
    alipay_id: String,
    time: DateTime<FixedOffset>,
    amount: i64,
}

/// Writes the day under `out/sftp/…` and `out/sales/sales-<date>.csv`.
pub fn generate(spec: &GenSpec, out: &Path) -> Result<GenReport> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed);
    let layout = FormatLayout::default_for(spec.format);
    let dir =
        out.join("sftp").join(expand(&layout.transactions_dir, &spec.merchant_id, spec.date).trim_start_matches('/'));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::create_dir_all(out.join("sales"))?;
    let ymd = spec.date.format("%Y%m%d").to_string();
    let c = spec.currency;
    let (start, _) = spec.zone.day_bounds(spec.date);
    let mut rep = GenReport::default();

    // Payments spread over the day, ending 40 minutes before midnight so the grace stays quiet.
    let span = 86_400 - 2_400;
    let mut pays: Vec<Txn> = (0..spec.payments)
        .map(|i| Txn {
            id: format!("G{ymd}{i:09}"),
            alipay_id: format!("{ymd}2200{i:012}"),
            time: start + Duration::seconds((i as i64 * span) / spec.payments.max(1) as i64),
            amount: rng.random_range(100..200_000) * 10i64.pow(c.exponent()) / 100,
        })
        .collect();
    pays.iter_mut().for_each(|p| p.amount = p.amount.max(1));

    let (tname, sname, sumname) = match spec.format {
        FileFormat::Intl => (
            format!("ALIPAY_TRANSACTION_DETAIL_{c}_{ymd}.csv"),
            format!("ALIPAY_SETTLEMENT_DETAIL_{c}_{ymd}.csv"),
            Some(format!("ALIPAY_SETTLEMENT_SUMMARY_{c}_{ymd}.csv")),
        ),
        FileFormat::Classic => (
            format!("{}_transaction_{ymd}.txt", spec.merchant_id),
            format!("{}_settlement_{ymd}.txt", spec.merchant_id),
            None,
        ),
        FileFormat::Antom => (
            format!("transactionItems_{ymd}_001.csv"),
            format!("settlementItems_{c}_B{ymd}_001.csv"),
            Some(format!("settlementSummary_{c}_B{ymd}_001.csv")),
        ),
    };
    let mut t = BufWriter::new(std::fs::File::create(dir.join(&tname))?);
    let mut s = BufWriter::new(std::fs::File::create(dir.join(&sname))?);
    let mut l = BufWriter::new(std::fs::File::create(out.join("sales").join(format!("sales-{}.csv", spec.date)))?);
    writeln!(l, "record_type,merchant_trans_id,merchant_refund_id,amount,currency,status,created_at,store_id,terminal_id,acquirement_id")?;
    let w = Writer { format: spec.format, c, mid: &spec.merchant_id };
    w.headers(&mut t, &mut s, spec.payments)?;

    let (mut settled_count, mut settled_net, mut fees) = (0i64, 0i64, 0i64);
    for (i, p) in pays.iter().enumerate() {
        let roll: u32 = rng.random_range(0..10_000);
        let fault = if spec.faults { roll % 1000 } else { 999 };
        let time = p.time.to_rfc3339();
        // Alipay side
        let at_alipay = fault != 1;
        let cancelled = (100..200).contains(&roll);
        if at_alipay {
            w.txn(&mut t, "PAYMENT", &p.id, &p.alipay_id, "", p.amount, &p.time)?;
            rep.alipay_rows += 1;
            if cancelled {
                w.txn(
                    &mut t,
                    "CANCEL",
                    &p.id,
                    &format!("{}C", p.alipay_id),
                    &p.alipay_id,
                    p.amount,
                    &(p.time + Duration::seconds(30)),
                )?;
                rep.alipay_rows += 1;
                rep.cancels += 1;
            } else {
                let fee = (p.amount * 18 + 500) / 1000;
                w.settle(&mut t, &mut s, "PAYMENT", &p.id, &p.alipay_id, "", p.amount, fee, &p.time)?;
                settled_count += 1;
                settled_net += p.amount - fee;
                fees += fee;
            }
        }
        // Local side
        if fault != 0 {
            let (amount, status) = match fault {
                2 => (p.amount + 100, "SUCCESS"),
                3 => (p.amount, "UNKNOWN"),
                _ if cancelled => (p.amount, "CANCELLED"),
                _ => (p.amount, "SUCCESS"),
            };
            writeln!(l, "PAYMENT,{},,{},{c},{status},{time},S01,T{:02},", p.id, format_minor(amount, c), i % 20)?;
            rep.local_rows += 1;
            rep.amount_mismatches += (fault == 2) as usize;
            rep.local_unknown += (fault == 3) as usize;
        }
        rep.missing_locally += (fault == 0) as usize;
        rep.missing_at_alipay += (fault == 1) as usize;
        // A partial refund of 3% of payments, ten minutes later (same day).
        if at_alipay && !cancelled && roll >= 9700 && p.time + Duration::minutes(10) < start + Duration::seconds(span) {
            let rid = format!("{}R1", p.id);
            let ramount = (p.amount / 3).max(1);
            let rtime = p.time + Duration::minutes(10);
            w.txn(&mut t, "REFUND", &rid, &format!("{}R", p.alipay_id), &p.alipay_id, ramount, &rtime)?;
            let rfee = (ramount * 18 + 500) / 1000;
            w.settle(
                &mut t,
                &mut s,
                "REFUND",
                &rid,
                &format!("{}R", p.alipay_id),
                &p.alipay_id,
                ramount,
                rfee,
                &rtime,
            )?;
            settled_net -= ramount - rfee;
            fees -= rfee;
            settled_count += 1;
            writeln!(
                l,
                "REFUND,{},{rid},{},{c},SUCCESS,{},S01,T01,{}",
                p.id,
                format_minor(ramount, c),
                rtime.to_rfc3339(),
                p.alipay_id
            )?;
            rep.alipay_rows += 1;
            rep.local_rows += 1;
            rep.refunds += 1;
        }
    }
    w.footer(&mut t)?;
    w.footer(&mut s)?;
    t.flush()?;
    s.flush()?;
    l.flush()?;
    rep.files.push(dir.join(&tname));
    rep.files.push(dir.join(&sname));
    if let Some(sum) = sumname {
        let mut f = BufWriter::new(std::fs::File::create(dir.join(&sum))?);
        w.summary(&mut f, settled_count, settled_net, fees, &start)?;
        f.flush()?;
        rep.files.push(dir.join(sum));
    }
    if spec.format == FileFormat::Classic {
        fix_classic_count(&dir.join(&tname), rep.alipay_rows)?;
    }
    rep.sales_file = out.join("sales").join(format!("sales-{}.csv", spec.date));
    Ok(rep)
}

struct Writer<'a> {
    format: FileFormat,
    c: Currency,
    mid: &'a str,
}

impl Writer<'_> {
    fn headers(&self, t: &mut impl Write, s: &mut impl Write, n: usize) -> Result<()> {
        match self.format {
            FileFormat::Intl => {
                writeln!(t, "merchantId,sellerID,storeId,productCode,paymentTime,orderTitle,transType,transStatus,merchantTransId,acquirementId,originalAcquirementId,orderAmount,orderCurrency,remark,userSite,siteUserId")?;
                writeln!(s, "merchantId,sellerID,storeId,transType,productCode,remark,acquirementId,originalAcquirementId,paymentTime,userSite,referenceId,settlementTime,merchantTransId,orderAmount,orderCurrency,settlementAmount,settlementCurrency,fee")?;
            }
            FileFormat::Classic => {
                // The count is patched once known (Total_count is fixed-width padded).
                writeln!(t, "Partner:{}|Payment_time: 0000-00-00|Total_count:{:012}", self.mid, n)?;
                writeln!(t, "Partner_transaction_id|Transaction_id|Transaction_amount|Charge_amount|Currency|Payment_time|Transaction_type|Remark|Secondary_merchant_industry|Secondary_merchant_name|Operator_name|Order_scene|Trans_currency|Trans_amount|Trans_forex_rate")?;
                writeln!(s, "Partner_transaction_id|Transaction_id|Amount|Rmb_amount|Fee|Settlement|Rmb_settlement|Currency|Rate|Payment_time|Settlement_time|Type|Status|Remarks|Secondary_merchant_industry|Secondary_merchant_name|Operator_name|Order_scene|Trans_currency|Trans_amount|Trans_forex_rate")?;
            }
            FileFormat::Antom => {
                writeln!(t, "customerId,referenceMerchantId,referenceStoreId,transactionId,originalTransactionId,transactionRequestId,referenceTransactionId,orderDescription,paymentMethodType,pspName,transactionType,paymentTime,productCode,transactionAmountValue,transactionCurrency,originalTransactionRequestId")?;
                writeln!(s, "settlementBatchId,customerId,transactionId,originalTransactionId,transactionRequestId,transactionType,paymentTime,settlementTime,transactionAmountValue,transactionCurrency,settlementAmountValue,settlementCurrency,feeAmountValue,feeCurrency")?;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn txn(
        &self,
        t: &mut impl Write,
        ty: &str,
        id: &str,
        aid: &str,
        orig: &str,
        amount: i64,
        time: &DateTime<FixedOffset>,
    ) -> Result<()> {
        let (c, a) = (self.c, format_minor(amount, self.c));
        match self.format {
            FileFormat::Intl => writeln!(
                t,
                "{},S1,ST01,OFFLINE_PAY,{},Order {id},{ty},Success,{id},{aid},{orig},{a},{c},,ALIPAY_HK,u{}",
                self.mid,
                time.to_rfc3339(),
                &aid[aid.len() - 4..]
            )?,
            FileFormat::Classic => {
                let ty = if ty == "CANCEL" { "REVERSAL" } else { ty };
                writeln!(
                    t,
                    "{id}|{aid}|{a}|0|{c}|{}|{ty}||5812|Store|op|shopQrCode|{c}|{a}|1",
                    time.format("%Y-%m-%d %H:%M:%S")
                )?
            }
            FileFormat::Antom => {
                let signed = if ty == "REFUND" { format!("-{a}") } else { a };
                let orig_req = if ty == "REFUND" { id.trim_end_matches("R1") } else { "" };
                writeln!(t, "{},M1,ST01,{aid},{orig},{id},,Order,ALIPAY_HK,ALIPAY_HK,{ty},{},IN_STORE_PAYMENT,{signed},{c},{orig_req}", self.mid, time.to_rfc3339())?
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn settle(
        &self,
        _t: &mut impl Write,
        s: &mut impl Write,
        ty: &str,
        id: &str,
        aid: &str,
        orig: &str,
        amount: i64,
        fee: i64,
        time: &DateTime<FixedOffset>,
    ) -> Result<()> {
        let c = self.c;
        let sign = if ty == "REFUND" { -1 } else { 1 };
        let net = format_minor(sign * (amount - fee), c);
        let a = format_minor(amount, c);
        let st = (*time + Duration::hours(20)).to_rfc3339();
        match self.format {
            FileFormat::Intl => writeln!(
                s,
                "{},S1,ST01,{ty},OFFLINE_PAY,,{aid},{orig},{},ALIPAY_HK,REF1,{st},{id},{a},{c},{net},{c},{}",
                self.mid,
                time.to_rfc3339(),
                format_minor(-sign * fee, c)
            )?,
            FileFormat::Classic => {
                let p = if ty == "REFUND" { "R" } else { "P" };
                let f = format_minor(fee, c);
                let n = format_minor(amount - fee, c);
                writeln!(
                    s,
                    "{id}|{aid}|{a}|{a}|{f}|{n}|{n}|{c}|1.00000000|{}|{}|{p}|L||5812|Store|op|shopQrCode|{c}|{a}|1",
                    time.format("%Y-%m-%d %H:%M:%S"),
                    (*time + Duration::hours(20)).format("%Y-%m-%d %H:%M:%S")
                )?
            }
            FileFormat::Antom => {
                let signed = format_minor(sign * amount, c);
                writeln!(
                    s,
                    "B1,{},{aid},{orig},{id},{ty},{},{st},{signed},{c},{net},{c},{},{c}",
                    self.mid,
                    time.to_rfc3339(),
                    format_minor(-sign * fee, c)
                )?
            }
        }
        Ok(())
    }

    fn footer(&self, f: &mut impl Write) -> Result<()> {
        if self.format == FileFormat::Antom {
            writeln!(f, "<END>")?;
        }
        Ok(())
    }

    fn summary(
        &self,
        f: &mut impl Write,
        count: i64,
        net: i64,
        fees: i64,
        start: &DateTime<FixedOffset>,
    ) -> Result<()> {
        let c = self.c;
        let st = (*start + Duration::hours(44)).to_rfc3339();
        match self.format {
            FileFormat::Intl => {
                writeln!(
                    f,
                    "type,settlementTime,count,settlementAmount,settlementCurrency,commission,referenceId,merchantId"
                )?;
                writeln!(
                    f,
                    "TOTAL,{st},{count},{},{c},{},REF1,{}",
                    format_minor(net, c),
                    format_minor(-fees, c),
                    self.mid
                )?;
            }
            _ => {
                writeln!(f, "settlementBatchId,customerId,summaryType,count,settlementAmountValue,settlementCurrency,feeAmountValue,feeCurrency")?;
                writeln!(
                    f,
                    "B1,{},TOTAL,{count},{},{c},{},{c}",
                    self.mid,
                    format_minor(net, c),
                    format_minor(-fees, c)
                )?;
                writeln!(f, "<END>")?;
            }
        }
        Ok(())
    }
}

/// Rewrites the classic preamble's padded count and date in place (same length).
fn fix_classic_count(path: &Path, rows: usize) -> Result<()> {
    let mut bytes = std::fs::read(path)?;
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap_or(0);
    let first = String::from_utf8_lossy(&bytes[..nl]).to_string();
    let date = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.rsplit('_').next())
        .map(|d| &d[..8])
        .unwrap_or("00000000");
    let d = NaiveDate::parse_from_str(date, "%Y%m%d").map(|d| d.to_string()).unwrap_or_default();
    let fixed = first.replace("0000-00-00", &d);
    let fixed = format!("{}Total_count:{rows}", &fixed[..fixed.find("Total_count:").unwrap_or(0)]);
    let mut out = fixed.into_bytes();
    out.extend_from_slice(&bytes[nl..]);
    bytes = out;
    std::fs::write(path, bytes)?;
    Ok(())
}
