-- Id zones (issue 14): the smallest and largest id each Alipay file and each day's local records
-- hold, by id kind, so an incremental run skips the index probes of ids no earlier file or day can
-- hold. A day's ids are new (a payment's first row) far more often than not, and Alipay's and most
-- merchants' ids grow with time: at a million payments a day the probes were about 1.5 s of a day's
-- load. Text compares as SQLite's BINARY collation (bytes), as the probes' equality does.
--
-- files.id_zone: a JSON array [merchant_lo, merchant_hi, alipay_lo, alipay_hi] over the file's rows:
-- merchant ids are merchant_trans_id and merchant_refund_id, Alipay's are alipay_id and
-- original_alipay_id (nulls when the file has none). NULL: not known, every id is probed (a file
-- stored by an older version, or a settlement summary).
--
-- Backfilled here for the files dated within 60 days of the newest (any window of the default rules,
-- and most configured ones): one read of their rows (~0.85 s per 1M rows here). Older files keep NULL:
-- a rerun of their days looks every id up, as before.
ALTER TABLE files ADD COLUMN id_zone TEXT;

UPDATE files SET id_zone = (
    SELECT json_array(
        COALESCE(MIN(MIN(r.merchant_trans_id), MIN(r.merchant_refund_id)), MIN(r.merchant_trans_id), MIN(r.merchant_refund_id)),
        COALESCE(MAX(MAX(r.merchant_trans_id), MAX(r.merchant_refund_id)), MAX(r.merchant_trans_id), MAX(r.merchant_refund_id)),
        COALESCE(MIN(MIN(r.alipay_id), MIN(r.original_alipay_id)), MIN(r.alipay_id), MIN(r.original_alipay_id)),
        COALESCE(MAX(MAX(r.alipay_id), MAX(r.original_alipay_id)), MAX(r.alipay_id), MAX(r.original_alipay_id)))
    FROM alipay_rows r WHERE r.id BETWEEN files.first_row AND files.last_row)
WHERE kind <> 'settlement_summary' AND first_row IS NOT NULL
  AND business_date >= date((SELECT MAX(business_date) FROM files), '-60 days');

-- A detail file without rows holds no id.
UPDATE files SET id_zone = json_array(NULL, NULL, NULL, NULL)
WHERE kind <> 'settlement_summary' AND first_row IS NULL AND row_count = 0;

-- The ids of every local record version stored with a business date, by that date: merchant ids are
-- record_id and merchant_trans_id, Alipay's the acquirement_id. Only widened (a record that moves to
-- another date leaves its ids in the old date's zone: probed for nothing, never missed). Written by
-- store::sales::upsert_records, the one writer of local records. A date without a row has no record.
CREATE TABLE local_id_zones (
    business_date TEXT PRIMARY KEY,
    merchant_lo   TEXT,
    merchant_hi   TEXT,
    alipay_lo     TEXT,
    alipay_hi     TEXT
) WITHOUT ROWID;

-- What the zones cover: the largest local record rowid and history id when they were last written.
-- Until they match the tables the load looks every id up, as before the zones: a writer that does
-- not keep the zones (an older build, after a downgrade) leaves larger ids behind, and the next write
-- of local records rebuilds every zone from the tables (store::zones). Here: complete for a database
-- without local records (a new one: its first import only widens); otherwise not built yet (-1: the
-- first sales import builds them, in one pass over the local records).
CREATE TABLE local_id_zones_written (records_rowid INTEGER NOT NULL, history_id INTEGER NOT NULL);
INSERT INTO local_id_zones_written (records_rowid, history_id)
SELECT CASE WHEN e THEN 0 ELSE -1 END, CASE WHEN e THEN 0 ELSE -1 END
FROM (SELECT NOT EXISTS (SELECT 1 FROM local_records) AND NOT EXISTS (SELECT 1 FROM local_record_history) AS e);
