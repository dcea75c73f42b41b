-- The payment module's ledger (src/payment/ledger.rs). A payment attempt's merchantTransId and a
-- refund's merchantRefundId are written here BEFORE the first API call, and every state change is
-- written before the next call, so a crash resumes where it stopped and retries reuse the same ids.

CREATE TABLE payment_attempts (
    merchant_trans_id TEXT PRIMARY KEY,        -- idempotency key with merchant_id
    protocol          TEXT NOT NULL,           -- alipay.intl (antom later)
    environment       TEXT NOT NULL,           -- sandbox | production (config profile name)
    merchant_id       TEXT NOT NULL,
    code_hint         TEXT NOT NULL,           -- last 4 digits of the scanned code (never the full code)
    amount            INTEGER NOT NULL,        -- minor units
    currency          TEXT NOT NULL,
    title             TEXT NOT NULL,
    state             TEXT NOT NULL,           -- PAYING | UNKNOWN | PAID | FAILED | CANCEL_PENDING | VOIDED |
                                               -- REFUND_PENDING | VOIDED_BY_REFUND | MANUAL_REVIEW
    result_status     TEXT,                    -- S | F | U of the last answer
    result_code       TEXT,
    result_msg        TEXT,
    alipay_id         TEXT,                    -- acquirementId
    paid_at           TEXT,                    -- RFC 3339 with offset, from Alipay
    queries           INTEGER NOT NULL DEFAULT 0,
    cancel_tries      INTEGER NOT NULL DEFAULT 0,
    void_refund_id    TEXT,                    -- merchantRefundId of the void after the cancel window
    last_error        TEXT,
    created_at        TEXT NOT NULL,           -- RFC 3339 with offset
    updated_at        TEXT NOT NULL,
    synced            INTEGER NOT NULL DEFAULT 0  -- 0 when local_records has not seen the latest state
);
CREATE INDEX payment_attempts_by_state ON payment_attempts(state);
CREATE INDEX payment_attempts_by_created ON payment_attempts(created_at);

CREATE TABLE payment_refunds (
    merchant_refund_id TEXT PRIMARY KEY,
    merchant_trans_id  TEXT NOT NULL REFERENCES payment_attempts(merchant_trans_id),
    amount             INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    reason             TEXT,
    is_void            INTEGER NOT NULL,       -- 1: the void of a paid payment after the cancel window
    state              TEXT NOT NULL,          -- PENDING | SUCCESS | FAILED | MANUAL_REVIEW
    result_status      TEXT,
    result_code        TEXT,
    result_msg         TEXT,
    refund_alipay_id   TEXT,
    tries              INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    refunded_at        TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    synced             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX payment_refunds_by_payment ON payment_refunds(merchant_trans_id);

-- Every call and state change, for support tickets (reqMsgId) and audits.
CREATE TABLE payment_events (
    id                 INTEGER PRIMARY KEY,
    merchant_trans_id  TEXT NOT NULL,
    merchant_refund_id TEXT,
    at                 TEXT NOT NULL,
    action             TEXT NOT NULL,          -- pay | query | cancel | refund | state
    req_msg_id         TEXT,
    result_status      TEXT,
    result_code        TEXT,
    detail             TEXT
);
CREATE INDEX payment_events_by_trans ON payment_events(merchant_trans_id);
