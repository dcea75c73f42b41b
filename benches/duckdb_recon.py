#!/usr/bin/env python3
"""What a user would write instead of alipay-recon for one day (issue 14, item 6): a DuckDB script
(`pip install duckdb`) that reads all the day's Alipay `intl` files and the sales-v1 CSV and does the
same one-day job with the contract's keys (contracts.md §2-3, alipay-files.md "Matching keys"):

  payments  Alipay PAYMENT/CANCEL rows by merchantTransId (REVERSAL is a CANCEL; a CANCEL names its
            payment by merchantTransId, else by originalAcquirementId) against local PAYMENT records;
  refunds   Alipay REFUND rows by merchantTransId (= the merchant refund id) against local REFUND
            records by merchant_refund_id; the refunded payment's id from the day's payment rows
            (originalAcquirementId -> acquirementId), else from the local record;
  items     one category per key, the first that applies: DUPLICATE, MISSING_LOCALLY,
            MISSING_AT_ALIPAY, STATUS_MISMATCH, CURRENCY_MISMATCH, AMOUNT_MISMATCH (also refunds that
            add up to more than their payment, on either side); PENDING instead for unexplained items
            created in the last 30 minutes of the day, and for a local CANCELLED payment paid in the
            last 15 minutes (its cancel may land in the next day's file);
  checks    SETTLEMENT_MISMATCH (a settlement-detail order row matched by Alipay id, then by type and
            key: type, currency or amount differ, no transaction row, or a cancelled payment settled
            and not netted by a refund line) and SUMMARY_MISMATCH (count and net per type and TOTAL
            against the detail, half a minor unit per row of tolerance);
  totals    the day's money per currency and type on both sides, fees and net settlement.

Money is integer minor units (strings to cents in SQL: no floats), for currencies with two decimals
as in the benchmark's data. Local records are the sales file's snapshot: the last row of a key wins,
identical rows collapse, disagreeing rows of one key are a DUPLICATE. Only local records dated day T
(in UTC+8) are read. One day only: nothing is carried across days (open items, UNSETTLED, a payment of
an earlier day), no fee rates, no file integrity, no pairing of Alipay-only with local-only keys by
the Alipay id - the generated benchmark days need none of these.

Usage:
  duckdb_recon.py --date YYYY-MM-DD --sales SALES.csv --transactions T.csv [T2.csv ...]
                  [--settlement-detail D.csv ...] [--settlement-summary S.csv ...] --out OUT.csv
                  [--check reports/YYYY-MM-DD/discrepancies.csv]
Prints one JSON line: read_s, compute_s, write_s (this process), counts per category. With --check it
compares its item rows (category, payment id, refund id, currency, both amounts) with the project's
discrepancies.csv row by row, and its settlement and summary rows by category and ids, and exits 1
on any disagreement (listing the first ones).
"""
import argparse
import json
import sys
import time

import duckdb

ITEM_CATEGORIES = ["DUPLICATE", "MISSING_LOCALLY", "MISSING_AT_ALIPAY", "STATUS_MISMATCH", "CURRENCY_MISMATCH",
                   "AMOUNT_MISMATCH"]

# Text to minor units without floating point: drop the dot, scale by the missing decimals (at most two).
MACROS = """
CREATE MACRO cents(s) AS CASE WHEN s IS NULL OR trim(s) = '' THEN NULL ELSE
    CAST(replace(trim(s), '.', '') AS BIGINT)
    * CASE WHEN strpos(trim(s), '.') = 0 THEN 100
           WHEN length(trim(s)) - strpos(trim(s), '.') = 1 THEN 10 ELSE 1 END END;
CREATE MACRO ttype(s) AS CASE WHEN upper(trim(s)) = 'REVERSAL' THEN 'CANCEL' ELSE upper(trim(s)) END;
"""


def read(con, a):
    csv = "read_csv({}, header = true, all_varchar = true, union_by_name = true)"
    con.execute(f"CREATE TABLE tx AS SELECT * FROM {csv.format(a.transactions)}")
    con.execute(f"CREATE TABLE sales_raw AS SELECT *, row_number() OVER () AS rn FROM {csv.format([a.sales])}")
    if a.settlement_detail:
        con.execute(f"CREATE TABLE sd AS SELECT * FROM {csv.format(a.settlement_detail)}")
    if a.settlement_summary:
        con.execute(f"CREATE TABLE sm AS SELECT * FROM {csv.format(a.settlement_summary)}")


def compute(con, a):
    day_end = f"TIMESTAMPTZ '{a.date} 00:00:00+08:00' + INTERVAL 1 DAY"
    grace = f"({day_end} - INTERVAL 30 MINUTE)"
    con.execute(f"""
    CREATE TEMP TABLE a AS
    SELECT ttype(transType) AS tt, merchantTransId AS mid, acquirementId AS aid,
           nullif(originalAcquirementId, '') AS oaid, cents(orderAmount) AS amount, orderCurrency AS ccy,
           CAST(paymentTime AS TIMESTAMPTZ) AS t, row_number() OVER () AS rn
    FROM tx;

    -- The sales file's snapshot per key, records of day T only.
    CREATE TEMP TABLE l AS
    SELECT record_type AS rt, key, arg_max(merchant_trans_id, rn) AS mid, arg_max(cents(amount), rn) AS amount,
           arg_max(currency, rn) AS ccy, arg_max(status, rn) AS status, arg_max(t, rn) AS t,
           count(DISTINCT hash(merchant_trans_id, merchant_refund_id, amount, currency, status, created_at,
                               store_id, terminal_id, acquirement_id)) > 1 AS conflict
    FROM (SELECT *, CASE WHEN record_type = 'REFUND' THEN merchant_refund_id ELSE merchant_trans_id END AS key,
                 CAST(created_at AS TIMESTAMPTZ) AS t FROM sales_raw)
    WHERE t >= {day_end} - INTERVAL 1 DAY AND t < {day_end}
    GROUP BY ALL;

    -- Payments: PAYMENT and CANCEL rows per payment id.
    CREATE TEMP TABLE ap AS
    SELECT key, count(*) FILTER (tt = 'PAYMENT') AS n, count(*) FILTER (tt = 'CANCEL') AS nc,
           arg_min(amount, rn) FILTER (tt = 'PAYMENT') AS amount, arg_min(ccy, rn) FILTER (tt = 'PAYMENT') AS ccy,
           arg_min(t, rn) FILTER (tt = 'PAYMENT') AS t, arg_min(aid, rn) FILTER (tt = 'PAYMENT') AS aid,
           arg_min(amount, rn) FILTER (tt = 'CANCEL') AS c_amount, arg_min(ccy, rn) FILTER (tt = 'CANCEL') AS c_ccy
    FROM (SELECT x.*, CASE WHEN x.tt = 'CANCEL' THEN coalesce(nullif(x.mid, ''), p.mid) ELSE x.mid END AS key
          FROM a x LEFT JOIN (SELECT DISTINCT ON (aid) aid, mid FROM a WHERE tt = 'PAYMENT') p
               ON x.tt = 'CANCEL' AND p.aid = x.oaid
          WHERE x.tt IN ('PAYMENT', 'CANCEL'))
    GROUP BY key;

    CREATE TEMP TABLE pay_items AS
    WITH j AS (
        SELECT coalesce(ap.key, l.key) AS key, ap.*, l.key AS lkey, l.amount AS l_amount, l.ccy AS l_ccy,
               l.status, l.t AS l_t, coalesce(l.conflict, false) AS conflict,
               coalesce(ap.n, 0) > 0 AND coalesce(ap.nc, 0) = 0 AS captured, coalesce(ap.nc, 0) > 0 AS voided
        FROM ap FULL JOIN (SELECT * FROM l WHERE rt = 'PAYMENT') l ON l.key = ap.key)
    SELECT key AS mid, '' AS rid, coalesce(l_ccy, ccy, c_ccy) AS currency, l_amount AS local_amount,
           coalesce(ccy, c_ccy) AS alipay_currency, coalesce(amount, c_amount) AS alipay_amount,
        CASE
        WHEN coalesce(n, 0) > 1 OR conflict THEN 'DUPLICATE'
        WHEN lkey IS NULL THEN CASE WHEN captured THEN
            CASE WHEN t >= {grace} AND t < {day_end} THEN 'PENDING' ELSE 'MISSING_LOCALLY' END END
        WHEN status = 'UNKNOWN' THEN
            CASE WHEN NOT captured AND NOT voided AND l_t >= {grace} THEN 'PENDING' ELSE 'STATUS_MISMATCH' END
        WHEN status = 'SUCCESS' AND coalesce(n, 0) = 0 AND NOT voided THEN
            CASE WHEN l_t >= {grace} THEN 'PENDING' ELSE 'MISSING_AT_ALIPAY' END
        WHEN status = 'SUCCESS' AND voided THEN 'STATUS_MISMATCH'
        WHEN status IN ('CANCELLED', 'FAILED') AND captured THEN
            CASE WHEN status = 'CANCELLED' AND t >= {day_end} - INTERVAL 15 MINUTE THEN 'PENDING'
                 WHEN (t >= {grace} AND t < {day_end}) OR l_t >= {grace} THEN 'PENDING'
                 ELSE 'STATUS_MISMATCH' END
        WHEN status IN ('CANCELLED', 'FAILED') THEN NULL
        WHEN ccy <> l_ccy THEN 'CURRENCY_MISMATCH'
        WHEN amount <> l_amount THEN 'AMOUNT_MISMATCH'
        END AS category
    FROM j;

    -- Refunds: REFUND rows per refund id; the refunded payment from the day's payment rows.
    CREATE TEMP TABLE ar AS
    SELECT x.mid AS key, count(*) AS n, arg_min(x.amount, x.rn) AS amount, arg_min(x.ccy, x.rn) AS ccy,
           arg_min(x.t, x.rn) AS t, min(x.rn) AS rn, arg_min(p.mid, x.rn) AS pay_mid
    FROM a x LEFT JOIN (SELECT DISTINCT ON (aid) aid, mid FROM a WHERE tt = 'PAYMENT') p ON p.aid = x.oaid
    WHERE x.tt = 'REFUND' GROUP BY x.mid;

    -- Refunds adding up to more than their payment: Alipay's in row order against Alipay's payment,
    -- the local SUCCESS ones by time and id against the local payment.
    CREATE TEMP TABLE exceeding AS
    SELECT key FROM (
        SELECT r.key, sum(r.amount) OVER (PARTITION BY r.pay_mid ORDER BY r.rn) > p.amount AS over
        FROM ar r JOIN ap p ON p.key = r.pay_mid AND p.n > 0) WHERE over
    UNION
    SELECT key FROM (
        SELECT r.key, sum(r.amount) OVER (PARTITION BY r.mid ORDER BY r.t, r.key) > p.amount AS over
        FROM (SELECT * FROM l WHERE rt = 'REFUND' AND status = 'SUCCESS') r
        JOIN (SELECT * FROM l WHERE rt = 'PAYMENT') p ON p.key = r.mid) WHERE over;

    CREATE TEMP TABLE refund_items AS
    WITH j AS (
        SELECT coalesce(ar.key, l.key) AS key, ar.*, l.key AS lkey, l.mid AS l_mid, l.amount AS l_amount,
               l.ccy AS l_ccy, l.status, l.t AS l_t, coalesce(l.conflict, false) AS conflict
        FROM ar FULL JOIN (SELECT * FROM l WHERE rt = 'REFUND') l ON l.key = ar.key)
    SELECT coalesce(pay_mid, l_mid, '') AS mid, key AS rid, coalesce(l_ccy, ccy) AS currency,
           l_amount AS local_amount, ccy AS alipay_currency, amount AS alipay_amount,
        CASE
        WHEN coalesce(n, 0) > 1 OR conflict THEN 'DUPLICATE'
        WHEN lkey IS NULL THEN CASE WHEN t >= {grace} AND t < {day_end} THEN 'PENDING' ELSE 'MISSING_LOCALLY' END
        WHEN status = 'UNKNOWN' AND n IS NOT NULL THEN 'STATUS_MISMATCH'
        WHEN status = 'UNKNOWN' THEN CASE WHEN l_t >= {grace} THEN 'PENDING' ELSE 'STATUS_MISMATCH' END
        WHEN n IS NULL THEN CASE WHEN status = 'SUCCESS' THEN
            CASE WHEN l_t >= {grace} THEN 'PENDING' ELSE 'MISSING_AT_ALIPAY' END END
        WHEN status IN ('CANCELLED', 'FAILED') THEN 'STATUS_MISMATCH'
        WHEN ccy <> l_ccy THEN 'CURRENCY_MISMATCH'
        WHEN amount <> l_amount THEN 'AMOUNT_MISMATCH'
        WHEN key IN (SELECT key FROM exceeding) THEN 'AMOUNT_MISMATCH'
        END AS category
    FROM j;
    """)
    parts = ["SELECT * FROM pay_items WHERE category IS NOT NULL",
             "SELECT * FROM refund_items WHERE category IS NOT NULL"]
    if a.settlement_detail:
        con.execute(SETTLEMENT)
        parts.append("SELECT * FROM settlement_items")
        if a.settlement_summary:
            con.execute(SUMMARY)
            parts.append("SELECT * FROM summary_items")
    con.execute(f"CREATE TEMP TABLE out AS {' UNION ALL '.join(parts)}")
    con.execute(TOTALS + (SETTLEMENT_TOTALS if a.settlement_detail else ""))


SETTLEMENT = """
CREATE TEMP TABLE d AS
SELECT ttype(transType) AS tt, upper(trim(transType)) AS label, merchantTransId AS mid, acquirementId AS aid,
       nullif(originalAcquirementId, '') AS oaid, cents(orderAmount) AS amount, orderCurrency AS ccy,
       cents(settlementAmount) AS settle, settlementCurrency AS s_ccy, cents(fee) AS fee
FROM sd;
CREATE TEMP TABLE orders AS
SELECT * FROM d WHERE NOT (label IN ('ADJUSTMENT_FEE', 'SETTLEMENT_FEE') OR label LIKE 'RESERVE%'
                           OR label LIKE 'COLLATERAL\\_%' ESCAPE '\\');
CREATE TEMP TABLE voided AS SELECT DISTINCT oaid AS aid FROM a WHERE tt = 'CANCEL';
-- A cancelled payment settled and netted to zero by its refund lines is fine.
CREATE TEMP TABLE netted AS
SELECT coalesce(CASE WHEN tt = 'REFUND' THEN oaid END, aid) AS aid
FROM orders WHERE tt IN ('PAYMENT', 'REFUND')
  AND coalesce(CASE WHEN tt = 'REFUND' THEN oaid END, aid) IN (SELECT aid FROM voided)
GROUP BY 1 HAVING sum(CASE WHEN tt = 'PAYMENT' THEN amount ELSE -amount END) = 0;
CREATE TEMP TABLE txo AS SELECT * FROM a WHERE tt IN ('PAYMENT', 'REFUND');
CREATE TEMP TABLE settlement_items AS
WITH m AS (
    SELECT o.*, coalesce(byid.tt, bykey.tt) AS t_tt, coalesce(byid.amount, bykey.amount) AS t_amount,
           coalesce(byid.ccy, bykey.ccy) AS t_ccy, (byid.aid IS NOT NULL OR bykey.mid IS NOT NULL) AS matched
    FROM orders o
    LEFT JOIN (SELECT DISTINCT ON (aid) * FROM txo) byid ON byid.aid = o.aid
    LEFT JOIN (SELECT DISTINCT ON (tt, mid) * FROM txo) bykey
           ON byid.aid IS NULL AND bykey.tt = o.tt AND bykey.mid = o.mid)
SELECT CASE WHEN m.tt = 'REFUND' THEN coalesce(p.mid, lr.mid, '') ELSE m.mid END AS mid,
       CASE WHEN m.tt = 'REFUND' THEN m.mid ELSE '' END AS rid, ccy AS currency, NULL::BIGINT AS local_amount,
       ccy AS alipay_currency, m.amount AS alipay_amount, 'SETTLEMENT_MISMATCH' AS category
FROM m LEFT JOIN (SELECT DISTINCT ON (aid) aid, mid FROM a WHERE tt = 'PAYMENT') p ON m.tt = 'REFUND' AND p.aid = m.oaid
       LEFT JOIN (SELECT key, mid FROM l WHERE rt = 'REFUND') lr ON m.tt = 'REFUND' AND lr.key = m.mid
WHERE m.tt NOT IN ('PAYMENT', 'REFUND')
   OR ((NOT m.matched OR m.t_tt <> m.tt OR m.t_ccy <> m.ccy OR m.t_amount <> m.amount
        OR (m.tt = 'PAYMENT' AND m.aid IN (SELECT aid FROM voided) AND m.aid NOT IN (SELECT aid FROM netted)))
       AND NOT (m.tt = 'REFUND' AND m.oaid IN (SELECT aid FROM netted)));
"""

SUMMARY = """
CREATE TEMP TABLE detail_sums AS
SELECT CASE WHEN label IN ('ADJUSTMENT_FEE', 'SETTLEMENT_FEE') OR label LIKE 'RESERVE%'
                 OR label LIKE 'COLLATERAL\\_%' ESCAPE '\\' THEN label ELSE tt END AS type,
       s_ccy, count(*) AS n, sum(settle) AS s
FROM d GROUP BY ALL
UNION ALL SELECT 'TOTAL', s_ccy, count(*), sum(settle) FROM d GROUP BY ALL;
CREATE TEMP TABLE summary_items AS
SELECT '' AS mid, '' AS rid, settlementCurrency AS currency, NULL::BIGINT AS local_amount,
       settlementCurrency AS alipay_currency, cents(settlementAmount) AS alipay_amount, 'SUMMARY_MISMATCH' AS category
FROM sm LEFT JOIN detail_sums ds ON ds.type = upper(trim(sm.type)) AND ds.s_ccy = sm.settlementCurrency
WHERE CAST(sm.count AS BIGINT) <> coalesce(ds.n, 0)
   OR abs(cents(sm.settlementAmount) - coalesce(ds.s, 0)) * 2 > greatest(coalesce(ds.n, 0), 1);
"""

TOTALS = """
CREATE TEMP TABLE totals AS
SELECT 'alipay' AS side, ccy AS currency, tt AS type, count(*) AS n, sum(amount) AS amount FROM a GROUP BY ALL
UNION ALL
SELECT 'local', ccy, rt, count(*), sum(amount) FROM l WHERE status = 'SUCCESS' GROUP BY ALL;
"""
SETTLEMENT_TOTALS = """
INSERT INTO totals SELECT 'settlement fees', s_ccy, '', count(*), sum(fee) FROM d GROUP BY ALL;
INSERT INTO totals SELECT 'settlement net', s_ccy, '', count(*), sum(settle) FROM d GROUP BY ALL;
"""


def check(con, path):
    """Compares the item rows with the project's discrepancies.csv row by row (the settlement and
    summary rows by count and payment id). Returns a list of disagreements."""
    con.execute(f"""
    CREATE TEMP TABLE theirs AS
    SELECT category, coalesce(merchant_trans_id, '') AS mid, coalesce(merchant_refund_id, '') AS rid, currency,
           cents(local_amount) AS local_amount, cents(alipay_amount) AS alipay_amount
    FROM read_csv('{path}', header = true, all_varchar = true)""")
    items = "', '".join(ITEM_CATEGORIES)
    cols = "category, mid, rid, currency, local_amount, alipay_amount"
    problems = []
    for name, a, b in [("only in the project's", "theirs", "out"), ("only in this script's", "out", "theirs")]:
        rows = con.execute(f"""
            SELECT {cols} FROM {a} WHERE category IN ('{items}')
            EXCEPT ALL SELECT {cols} FROM {b} WHERE category IN ('{items}') ORDER BY ALL""").fetchall()
        problems += [f"item row {name} report: {r}" for r in rows]
        rows = con.execute(f"""
            SELECT category, mid, rid FROM {a} WHERE category IN ('SETTLEMENT_MISMATCH', 'SUMMARY_MISMATCH')
            EXCEPT ALL SELECT category, mid, rid FROM {b} WHERE category IN ('SETTLEMENT_MISMATCH', 'SUMMARY_MISMATCH')
            ORDER BY ALL""").fetchall()
        problems += [f"check row {name} report: {r}" for r in rows]
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--date", required=True, help="day T, YYYY-MM-DD (Alipay's day, UTC+8)")
    ap.add_argument("--sales", required=True)
    ap.add_argument("--transactions", nargs="+", required=True)
    ap.add_argument("--settlement-detail", nargs="*", default=[])
    ap.add_argument("--settlement-summary", nargs="*", default=[])
    ap.add_argument("--out", required=True)
    ap.add_argument("--check", metavar="DISCREPANCIES_CSV")
    a = ap.parse_args()

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(MACROS)
    read(con, a)
    t1 = time.perf_counter()
    compute(con, a)
    t2 = time.perf_counter()
    con.execute(f"""COPY (SELECT category, mid AS merchant_trans_id, rid AS merchant_refund_id, currency,
                        local_amount, alipay_currency, alipay_amount FROM out ORDER BY ALL)
                   TO '{a.out}' (HEADER)""")
    t3 = time.perf_counter()
    counts = dict(con.execute("SELECT category, count(*) FROM out GROUP BY 1 ORDER BY 1").fetchall())
    print(json.dumps({"read_s": round(t1 - t0, 3), "compute_s": round(t2 - t1, 3), "write_s": round(t3 - t2, 3),
                      "counts": counts}))
    if a.check:
        problems = check(con, a.check)
        for p in problems[:20]:
            print(p, file=sys.stderr)
        if problems:
            print(f"{len(problems)} disagreements with {a.check}", file=sys.stderr)
            sys.exit(1)
        print(f"agrees with {a.check} on every item row", file=sys.stderr)


if __name__ == "__main__":
    main()
