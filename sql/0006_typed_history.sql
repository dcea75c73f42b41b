-- Local record history with typed columns instead of a JSON text per version (the JSON was most of
-- the bytes a sales import wrote, and the window load decoded it per version), a version count on
-- local_records (the window load told single-version keys from the others with a COUNT(*) per record
-- over the whole history), and each sales file's "as of" date (the newest business date among its
-- records, which a restatement becomes visible from) stored once instead of computed from the history.

CREATE TABLE local_record_history_typed (
    id                 INTEGER PRIMARY KEY,
    record_type        TEXT NOT NULL,       -- PAYMENT | REFUND
    record_id          TEXT NOT NULL,       -- the key, as in local_records
    sales_file_id      INTEGER REFERENCES sales_files(id),  -- NULL for the payment ledger
    line               INTEGER,
    merchant_trans_id  TEXT NOT NULL,
    merchant_refund_id TEXT,
    amount             INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    status             TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    business_date      TEXT NOT NULL,
    store_id           TEXT,
    terminal_id        TEXT,
    acquirement_id     TEXT,
    conflict           INTEGER NOT NULL DEFAULT 0,
    recorded_at        TEXT NOT NULL
);

INSERT INTO local_record_history_typed (id, record_type, record_id, sales_file_id, line, merchant_trans_id,
        merchant_refund_id, amount, currency, status, created_at, business_date, store_id, terminal_id,
        acquirement_id, conflict, recorded_at)
SELECT id, record_type, record_id, sales_file_id, line, json_extract(row_json, '$.merchant_trans_id'),
       json_extract(row_json, '$.merchant_refund_id'), json_extract(row_json, '$.amount'),
       json_extract(row_json, '$.currency'), json_extract(row_json, '$.status'),
       json_extract(row_json, '$.created_at'), json_extract(row_json, '$.business_date'),
       json_extract(row_json, '$.store_id'), json_extract(row_json, '$.terminal_id'),
       json_extract(row_json, '$.acquirement_id'), conflict, recorded_at
FROM local_record_history ORDER BY id;

-- Each sales file's "as of" date (before the by-file index goes: it makes this a range read per file).
ALTER TABLE sales_files ADD COLUMN as_of TEXT;
UPDATE sales_files SET as_of = (SELECT MAX(h.business_date) FROM local_record_history_typed h WHERE h.sales_file_id = sales_files.id);

DROP TABLE local_record_history;  -- with its indexes (by key, by sales file)
ALTER TABLE local_record_history_typed RENAME TO local_record_history;
-- Every version of one key (the window's multi-version keys, explain).
CREATE INDEX local_record_history_by_key ON local_record_history(record_type, record_id);

-- How many history rows the key has (1 for most). Maintained by store::sales::upsert_records, also
-- when the ledger keeps its record and the POS version only goes to the history.
ALTER TABLE local_records ADD COLUMN versions INTEGER NOT NULL DEFAULT 1;
UPDATE local_records SET versions = h.n
FROM (SELECT record_type, record_id, COUNT(*) AS n FROM local_record_history GROUP BY record_type, record_id HAVING COUNT(*) <> 1) AS h
WHERE local_records.record_type = h.record_type AND local_records.record_id = h.record_id;

-- Payments are found by their key (record_id is the merchant_trans_id); only refunds need a lookup
-- by the payment they refund (explain). A partial index holds those only.
DROP INDEX local_records_by_trans_id;
CREATE INDEX local_records_refunds_by_trans_id ON local_records(merchant_trans_id) WHERE record_type = 'REFUND';
