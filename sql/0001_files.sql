-- Alipay files, their rows and rejected lines, local sales records, and the run history.
-- Timestamps are RFC 3339 text with offset; *_utc columns are Unix seconds for ordering and windows.
-- Money is INTEGER minor units; currencies are ISO 4217 codes.

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    command       TEXT NOT NULL,
    args          TEXT NOT NULL,            -- JSON array of the arguments
    user_name     TEXT NOT NULL,
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    business_date TEXT,                     -- the date the run was about, when one
    started_at    TEXT NOT NULL,
    ended_at      TEXT,
    outcome       TEXT NOT NULL DEFAULT 'running',  -- running | ok | attention | failed | not_ready | locked | interrupted
    exit_code     INTEGER,
    message       TEXT,
    report_path   TEXT
);

CREATE TABLE files (
    id             INTEGER PRIMARY KEY,
    source         TEXT NOT NULL,           -- dir:/…, sftp://user@host:22, or a local path for sales files
    source_path    TEXT NOT NULL,           -- remote path as listed
    name           TEXT NOT NULL,
    format         TEXT NOT NULL,           -- intl | classic | antom
    kind           TEXT NOT NULL,           -- transactions | settlement_detail | settlement_summary
    business_date  TEXT NOT NULL,           -- YYYY-MM-DD the file is for
    currency       TEXT,                    -- from the name, when it has one
    size           INTEGER NOT NULL,
    sha256         TEXT NOT NULL,
    encoding       TEXT NOT NULL,
    header         TEXT NOT NULL,           -- JSON array of the header as written
    declared_count INTEGER,                 -- preamble Total_count
    has_end_marker INTEGER,                 -- 1/0 for layouts with <END>, NULL otherwise
    truncated      INTEGER NOT NULL DEFAULT 0,
    row_count      INTEGER NOT NULL,
    reject_count   INTEGER NOT NULL,
    warning_count  INTEGER NOT NULL,
    version        INTEGER NOT NULL,        -- 1, 2, … for restatements of the same name and date
    current        INTEGER NOT NULL DEFAULT 1, -- 0 once a later version replaced it
    archive_path   TEXT NOT NULL,           -- relative to the archive folder
    remote_mtime   INTEGER,
    imported_at    TEXT NOT NULL,
    run_id         INTEGER REFERENCES runs(id),
    UNIQUE (name, business_date, sha256)
);
CREATE INDEX files_by_date ON files(business_date, kind, current);

CREATE TABLE alipay_rows (
    id                 INTEGER PRIMARY KEY,
    file_id            INTEGER NOT NULL REFERENCES files(id),
    line               INTEGER NOT NULL,
    kind               TEXT NOT NULL,       -- transactions | settlement_detail
    business_date      TEXT NOT NULL,       -- the file's date
    trans_type         TEXT NOT NULL,       -- PAYMENT | REFUND | CANCEL | OTHER
    type_raw           TEXT NOT NULL,
    merchant_trans_id  TEXT,
    merchant_refund_id TEXT,
    alipay_id          TEXT,
    original_alipay_id TEXT,
    amount             INTEGER,             -- pricing amount, positive magnitude, minor units
    currency           TEXT,
    amount_raw         TEXT NOT NULL,
    settle_amount      INTEGER,             -- signed effect for the merchant
    settle_currency    TEXT,
    fee                INTEGER,             -- signed cost to the merchant
    fee_currency       TEXT,
    trans_time         TEXT,
    trans_time_utc     INTEGER,
    settle_time        TEXT,
    batch_ref          TEXT,
    status_raw         TEXT,
    remark             TEXT,
    store_id           TEXT,
    product_code       TEXT,
    extra              TEXT                 -- JSON object of unknown columns, NULL when none
);
CREATE INDEX alipay_rows_by_file ON alipay_rows(file_id);
CREATE INDEX alipay_rows_by_trans_id ON alipay_rows(merchant_trans_id);
CREATE INDEX alipay_rows_by_alipay_id ON alipay_rows(alipay_id);

CREATE TABLE summary_rows (
    id              INTEGER PRIMARY KEY,
    file_id         INTEGER NOT NULL REFERENCES files(id),
    line            INTEGER NOT NULL,
    business_date   TEXT NOT NULL,
    summary_type    TEXT NOT NULL,
    count           INTEGER,
    settle_amount   INTEGER,
    settle_currency TEXT,
    fee             INTEGER,
    settle_time     TEXT,
    batch_ref       TEXT,
    extra           TEXT
);
CREATE INDEX summary_rows_by_file ON summary_rows(file_id);

-- Lines that did not become rows, and file-level warnings: kept and reported, never dropped.
CREATE TABLE file_issues (
    id       INTEGER PRIMARY KEY,
    file_id  INTEGER NOT NULL REFERENCES files(id),
    line     INTEGER,
    severity TEXT NOT NULL,                 -- reject | warning
    code     TEXT NOT NULL,                 -- REJECTED, COUNT_MISMATCH, MISSING_END, …
    field    TEXT,
    message  TEXT NOT NULL,
    raw      TEXT
);
CREATE INDEX file_issues_by_file ON file_issues(file_id);

-- Local sales files (sales-v1 CSV or a mapped POS export).
CREATE TABLE sales_files (
    id             INTEGER PRIMARY KEY,
    path           TEXT NOT NULL,
    name           TEXT NOT NULL,
    sha256         TEXT NOT NULL UNIQUE,
    size           INTEGER NOT NULL,
    mapping        TEXT NOT NULL,           -- sales-v1 or mapped
    row_count      INTEGER NOT NULL,
    reject_count   INTEGER NOT NULL,
    conflict_count INTEGER NOT NULL,
    archive_path   TEXT NOT NULL,
    imported_at    TEXT NOT NULL,
    run_id         INTEGER REFERENCES runs(id)
);

-- The current snapshot of each local record, by key (record_type, record_id).
CREATE TABLE local_records (
    record_type        TEXT NOT NULL,       -- PAYMENT | REFUND
    record_id          TEXT NOT NULL,       -- merchant_trans_id for payments, merchant_refund_id for refunds
    merchant_trans_id  TEXT NOT NULL,
    merchant_refund_id TEXT,
    amount             INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    status             TEXT NOT NULL,       -- SUCCESS | CANCELLED | FAILED | UNKNOWN
    created_at         TEXT NOT NULL,
    created_utc        INTEGER NOT NULL,
    business_date      TEXT NOT NULL,
    store_id           TEXT,
    terminal_id        TEXT,
    acquirement_id     TEXT,
    origin             TEXT NOT NULL,       -- pos | ledger
    sales_file_id      INTEGER REFERENCES sales_files(id),
    line               INTEGER,
    conflict           INTEGER NOT NULL DEFAULT 0,  -- 1 when its file had disagreeing rows for the key
    PRIMARY KEY (record_type, record_id)
);
CREATE INDEX local_records_by_date ON local_records(business_date);
CREATE INDEX local_records_by_trans_id ON local_records(merchant_trans_id);

-- Every version a key had, per file (status history; conflicting rows of one file).
CREATE TABLE local_record_history (
    id            INTEGER PRIMARY KEY,
    record_type   TEXT NOT NULL,
    record_id     TEXT NOT NULL,
    sales_file_id INTEGER REFERENCES sales_files(id),
    line          INTEGER,
    row_json      TEXT NOT NULL,
    conflict      INTEGER NOT NULL DEFAULT 0,
    recorded_at   TEXT NOT NULL
);
CREATE INDEX local_record_history_by_key ON local_record_history(record_type, record_id);

CREATE TABLE sales_rejects (
    id            INTEGER PRIMARY KEY,
    sales_file_id INTEGER NOT NULL REFERENCES sales_files(id),
    line          INTEGER NOT NULL,
    field         TEXT,
    reason        TEXT NOT NULL,
    raw           TEXT
);
