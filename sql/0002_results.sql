-- Reconciliation results. Every reconciliation of a date is kept; the latest is `current` (a rerun
-- makes its result current and keeps the earlier ones for the audit trail and `explain`).

CREATE TABLE recon_results (
    id             INTEGER PRIMARY KEY,
    run_id         INTEGER REFERENCES runs(id),
    business_date  TEXT NOT NULL,           -- the report date T
    current        INTEGER NOT NULL DEFAULT 1,
    finding_count  INTEGER NOT NULL,
    pending_count  INTEGER NOT NULL,
    resolved_count INTEGER NOT NULL,
    open_count     INTEGER NOT NULL,
    matched_count  INTEGER NOT NULL,
    summary_json   TEXT NOT NULL,           -- DaySummary as JSON
    created_at     TEXT NOT NULL
);
CREATE INDEX recon_results_by_date ON recon_results(business_date, current);

-- Rows of a result: findings (discrepancies.csv), pending and resolved items (pending.csv), open items.
CREATE TABLE recon_items (
    id                 INTEGER PRIMARY KEY,
    result_id          INTEGER NOT NULL REFERENCES recon_results(id),
    section            TEXT NOT NULL,       -- finding | pending | resolved | open
    ord                INTEGER NOT NULL,    -- position in its file
    business_date      TEXT NOT NULL,
    item_date          TEXT NOT NULL,
    category           TEXT NOT NULL,
    merchant_trans_id  TEXT NOT NULL,
    merchant_refund_id TEXT NOT NULL,
    acquirement_id     TEXT NOT NULL,
    currency           TEXT,
    local_amount       INTEGER,             -- minor units, positive magnitude
    alipay_currency    TEXT,
    alipay_amount      INTEGER,
    local_type         TEXT NOT NULL,
    alipay_type        TEXT NOT NULL,
    detail             TEXT NOT NULL,
    first_reported     TEXT,                -- resolved and open items
    age_days           INTEGER,             -- open items
    reason             TEXT                 -- pending and resolved items
);
CREATE INDEX recon_items_by_result ON recon_items(result_id, section, ord);
CREATE INDEX recon_items_by_trans_id ON recon_items(merchant_trans_id);
CREATE INDEX recon_items_by_refund_id ON recon_items(merchant_refund_id);

CREATE TABLE recon_counts (
    result_id INTEGER NOT NULL REFERENCES recon_results(id),
    category  TEXT NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (result_id, category)
);

-- The engine's window load reads local record versions by their business date and sales file.
CREATE INDEX local_record_history_by_date ON local_record_history(json_extract(row_json, '$.business_date'));
CREATE INDEX local_record_history_by_file ON local_record_history(sales_file_id);
