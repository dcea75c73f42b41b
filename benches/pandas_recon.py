#!/usr/bin/env python3
"""The baseline a competent analyst would write with pandas (vectorised, no Python loops): one day's
Alipay intl transaction file against the sales-v1 CSV, and the day's settlement detail and summary
against the transactions, with the contract's categories (contracts.md §3) as far as one day allows:
DUPLICATE, MISSING_LOCALLY, MISSING_AT_ALIPAY, STATUS_MISMATCH, CURRENCY_MISMATCH, AMOUNT_MISMATCH,
SETTLEMENT_MISMATCH, SUMMARY_MISMATCH; items inside the 30-minute grace at the end of the day become
PENDING instead; the day's totals per currency (gross payments, refunds, cancels, local totals, fees, net
settlement). Not done (our engine does them): carried and open items across days, cancels after
midnight, UNSETTLED, fees against a contract rate, file integrity, local UNKNOWN details.

Usage: pandas_recon.py TRANSACTION_CSV SALES_CSV OUT_CSV [SETTLEMENT_DETAIL_CSV SETTLEMENT_SUMMARY_CSV]
Prints JSON timings: read seconds, compute seconds (everything above, from in-memory tables; one pass,
as a user's script runs — not a median of warm repeats), write seconds, and the category counts (to check both tools agree on the generated faults).
Amounts are read as strings and converted to integer cents (no floats on the money path), as an analyst
who knows about float rounding would.
"""
import json
import sys
import re
import time

import pandas as pd


def cents(s: pd.Series) -> pd.Series:
    """ "1234.5" -> 123450, "-0.73" -> -73, without floating point: drop the dot, scale by the missing
    decimals (at most two, as the currencies here have)."""
    s = s.str.strip()
    dot = s.str.find(".")
    decimals = (s.str.len() - dot - 1).where(dot >= 0, 0)
    digits = pd.to_numeric(s.str.replace(".", "", regex=False)).astype("int64")
    return digits * (10 ** (2 - decimals)).astype("int64")


def match(tx, sales):
    """Payments and refunds: the matching and its categories."""
    tx["amount"] = cents(tx["orderAmount"])
    sales["amount_c"] = cents(sales["amount"])
    pay = tx[tx["transType"] == "PAYMENT"]
    cancel = tx[tx["transType"] == "CANCEL"]
    refund = tx[tx["transType"] == "REFUND"]
    cancelled_ids = set(cancel["originalAcquirementId"])
    pay = pay.assign(captured=~pay["acquirementId"].isin(cancelled_ids))

    lp = sales[sales["record_type"] == "PAYMENT"]
    lr = sales[sales["record_type"] == "REFUND"]

    # Payments
    m = pay.merge(lp, left_on="merchantTransId", right_on="merchant_trans_id", how="outer", indicator=True, suffixes=("_a", "_l"))
    cat = pd.Series("", index=m.index)
    dup_a = m["merchantTransId"].duplicated(keep=False) & m["merchantTransId"].notna()
    cat[dup_a] = "DUPLICATE"
    only_a = (m["_merge"] == "left_only") & m["captured"].fillna(False).astype(bool)
    cat[(cat == "") & only_a] = "MISSING_LOCALLY"
    only_l = (m["_merge"] == "right_only") & (m["status"] == "SUCCESS")
    cat[(cat == "") & only_l] = "MISSING_AT_ALIPAY"
    both = m["_merge"] == "both"
    unknown = m["status"] == "UNKNOWN"
    cat[(cat == "") & unknown] = "STATUS_MISMATCH"
    status_bad = both & (
        (m["status"].isin(["CANCELLED", "FAILED"]) & m["captured"].fillna(False).astype(bool))
        | ((m["status"] == "SUCCESS") & ~m["captured"].fillna(True).astype(bool))
    )
    cat[(cat == "") & status_bad] = "STATUS_MISMATCH"
    cat[(cat == "") & both & (m["orderCurrency"] != m["currency"])] = "CURRENCY_MISMATCH"
    cat[(cat == "") & both & m["captured"].fillna(False).astype(bool) & (m["amount_a"] != m["amount_c"])] = "AMOUNT_MISMATCH"
    pays_out = m[cat != ""].assign(category=cat[cat != ""])

    # Refunds
    r = refund.merge(lr, left_on="merchantTransId", right_on="merchant_refund_id", how="outer", indicator=True, suffixes=("_a", "_l"))
    rcat = pd.Series("", index=r.index)
    rcat[r["merchantTransId"].duplicated(keep=False) & r["merchantTransId"].notna()] = "DUPLICATE"
    rcat[(rcat == "") & (r["_merge"] == "left_only")] = "MISSING_LOCALLY"
    rcat[(rcat == "") & (r["_merge"] == "right_only") & (r["status"] == "SUCCESS")] = "MISSING_AT_ALIPAY"
    rcat[(rcat == "") & (r["_merge"] == "both") & (r["amount_a"] != r["amount_c"])] = "AMOUNT_MISMATCH"
    refs_out = r[rcat != ""].assign(category=rcat[rcat != ""])

    cols = ["category", "merchantTransId", "merchant_trans_id", "merchant_refund_id", "amount_a", "amount_c", "created"]
    out = pd.concat([
        pays_out.assign(created=pays_out["paymentTime"].fillna(pays_out["created_at"]))[cols],
        refs_out.assign(created=refs_out["paymentTime"].fillna(refs_out["created_at"]))[cols],
    ])
    return out


def compute(tx, sales, sd, sm, day_end):
    """Everything the script does, from in-memory tables."""
    out = pending(match(tx, sales), day_end)
    if sd is not None:
        s_out, m_out = settlement(tx, sd, sm)
        out = pd.concat([out, s_out.rename(columns={"amount": "amount_a", "amount_t": "amount_c"})[["category", "merchantTransId", "amount_a", "amount_c"]],
                         m_out[["category"]]])
    sums = totals(tx, sales, sd)
    return out.sort_values(["category", "merchant_trans_id"], kind="stable"), sums


NON_ORDER_EXACT = ["ADJUSTMENT_FEE", "SETTLEMENT_FEE"]


def settlement(tx, sd, sm):
    """SETTLEMENT_MISMATCH and SUMMARY_MISMATCH (contracts.md §3) for one settlement file, against the
    day's transaction file: rows matched by Alipay id first, then by (type, merchant id)."""
    sd["amount"] = cents(sd["orderAmount"])
    sd["settle"] = cents(sd["settlementAmount"])
    sd["fee_c"] = cents(sd["fee"])
    ty = sd["transType"].str.strip().str.upper()
    non_order = ty.isin(NON_ORDER_EXACT) | ty.str.startswith("RESERVE") | ty.str.startswith("COLLATERAL_")
    orders = sd[~non_order]
    odd = orders[~orders["transType"].isin(["PAYMENT", "REFUND"])]
    orders = orders[orders["transType"].isin(["PAYMENT", "REFUND"])]

    txo = tx[tx["transType"].isin(["PAYMENT", "REFUND"])][["acquirementId", "transType", "merchantTransId", "amount", "orderCurrency"]]
    cancels = tx[tx["transType"] == "CANCEL"]
    voided_ids = set(cancels["originalAcquirementId"])
    by_id = txo.drop_duplicates("acquirementId")
    j = orders.merge(by_id, on="acquirementId", how="left", suffixes=("", "_t"), indicator=True)
    # The fallback by (type, merchant id) for the rows whose Alipay id the transactions lack.
    miss = j["_merge"] == "left_only"
    if miss.any():
        by_key = txo.drop_duplicates(["transType", "merchantTransId"]).rename(
            columns=lambda c: c if c in ("transType", "merchantTransId") else c + "_k")
        k = j.loc[miss, ["transType", "merchantTransId"]].merge(by_key, on=["transType", "merchantTransId"], how="left")
        k.index = j.index[miss]
        j.loc[miss, "transType_t"] = k["transType"].where(k["amount_k"].notna())
        j.loc[miss, "amount_t"] = k["amount_k"]
        j.loc[miss, "orderCurrency_t"] = k["orderCurrency_k"]
        j.loc[miss, "acquirementId_t"] = k["acquirementId_k"]
    unmatched = j["amount_t"].isna()
    type_bad = ~unmatched & (j["transType_t"] != j["transType"])
    money_bad = ~unmatched & ~type_bad & ((j["orderCurrency_t"] != j["orderCurrency"]) | (j["amount_t"] != j["amount"]))
    # A payment that was cancelled and still settled, unless a refund line nets it to zero.
    signed = orders["amount"].where(orders["transType"] == "PAYMENT", -orders["amount"])
    orig = orders["originalAcquirementId"].where(orders["transType"] == "REFUND", orders["acquirementId"])
    net = signed[orig.isin(voided_ids)].groupby(orig[orig.isin(voided_ids)]).sum()
    is_voided_pay = (j["transType"] == "PAYMENT") & j["acquirementId"].isin(voided_ids)
    voided_bad = ~unmatched & ~type_bad & ~money_bad & is_voided_pay & (j["acquirementId"].map(net).fillna(1) != 0)
    netted_refund = (j["transType"] == "REFUND") & j["originalAcquirementId"].isin(voided_ids) & (j["originalAcquirementId"].map(net) == 0)
    bad = (unmatched | type_bad | money_bad | voided_bad) & ~netted_refund
    s_out = j[bad].assign(category="SETTLEMENT_MISMATCH")
    s_out = pd.concat([s_out, odd.assign(category="SETTLEMENT_MISMATCH")])

    # Summary rows vs the detail: count and net per (type, currency) and TOTAL; ½ minor unit per row.
    label = ty.where(non_order, sd["transType"])
    g = sd.groupby([label, sd["settlementCurrency"]])["settle"].agg(["count", "sum"])
    total = sd.groupby("settlementCurrency")["settle"].agg(["count", "sum"])
    total.index = pd.MultiIndex.from_product([["TOTAL"], total.index])
    g = pd.concat([g, total])
    g.index.names = ["type", "settlementCurrency"]
    sm = sm.assign(type=sm["type"].str.strip().str.upper(), n=sm["count"].astype("int64"),
                   s=cents(sm["settlementAmount"]))
    g = g.rename(columns={"count": "d_n", "sum": "d_sum"}).reset_index()
    c = sm.merge(g, on=["type", "settlementCurrency"], how="left").fillna({"d_n": 0, "d_sum": 0})
    sum_bad = (c["s"] - c["d_sum"]).abs() * 2 > c["d_n"].clip(lower=1)
    m_out = c[(c["n"] != c["d_n"]) | sum_bad].assign(category="SUMMARY_MISMATCH")
    return s_out, m_out


def pending(out, day_end):
    """Missing items created in the last 30 minutes of the day are PENDING (the other side may book
    them after midnight); only the unmatched rows' times are parsed."""
    miss = out["category"].isin(["MISSING_LOCALLY", "MISSING_AT_ALIPAY"])
    t = pd.to_datetime(out.loc[miss, "created"], format="ISO8601", utc=True)
    late = pd.Series(False, index=out.index)
    late[miss] = t >= day_end - pd.Timedelta(minutes=30)
    return out.assign(category=out["category"].where(~late, "PENDING"))


def totals(tx, sales, sd):
    """The summary's money per currency: count and sum per type on each side, fees and net settled."""
    local = sales[sales["status"] == "SUCCESS"]
    sums = {
        "alipay": tx.groupby(["orderCurrency", "transType"])["amount"].agg(["count", "sum"]),
        "local": local.groupby(["currency", "record_type"])["amount_c"].agg(["count", "sum"]),
    }
    if sd is not None:
        sums["settlement"] = sd.groupby("settlementCurrency").agg(fees=("fee_c", "sum"), net=("settle", "sum"))
    return sums


def timed(f):
    """f() once: its time and result (one pass, as a user's script runs: no warm repeats)."""
    c0 = time.perf_counter()
    res = f()
    return time.perf_counter() - c0, res


def main(tx_path, sales_path, out_path, sd_path=None, sm_path=None):
    t0 = time.perf_counter()
    tx = pd.read_csv(tx_path, dtype=str, keep_default_na=False)
    sales = pd.read_csv(sales_path, dtype=str, keep_default_na=False)
    sd = pd.read_csv(sd_path, dtype=str, keep_default_na=False) if sd_path else None
    sm = pd.read_csv(sm_path, dtype=str, keep_default_na=False) if sm_path else None
    t1 = time.perf_counter()
    # Day T from the file name (…_YYYYMMDD.csv); its end in Alipay's zone (UTC+8).
    day = re.search(r"(\d{8})\.csv$", tx_path).group(1)
    day_end = pd.Timestamp(day, tz="Asia/Shanghai") + pd.Timedelta(days=1)

    # One pass of the whole job, timed (issue 14: not a median of warm repeats inside one process;
    # nothing else runs in the process, so its wall time is the job's).
    compute_s, (out, _) = timed(lambda: compute(tx, sales, sd, sm, day_end))
    t2 = time.perf_counter()
    out.to_csv(out_path, index=False)
    t3 = time.perf_counter()
    print(json.dumps({
        "read_s": round(t1 - t0, 3),
        "compute_s": round(compute_s, 3),
        "write_s": round(t3 - t2, 3),
        "counts": out["category"].value_counts().sort_index().to_dict(),
    }))


if __name__ == "__main__":
    main(*sys.argv[1:6])
