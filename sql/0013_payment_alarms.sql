-- Answers of the payment API that failed verification (a bad signature, or a signed success that does
-- not match its request: src/payment/bind.rs). Each is an alarm: the payment module writes it, the
-- run or payment command that made the call queues an alert email for it and sets alerted_at.
CREATE TABLE payment_alarms (
    id                 INTEGER PRIMARY KEY,
    at                 TEXT NOT NULL,          -- RFC 3339 UTC
    merchant_trans_id  TEXT NOT NULL,
    merchant_refund_id TEXT,
    action             TEXT NOT NULL,          -- pay | query | cancel | refund
    req_msg_id         TEXT NOT NULL,
    detail             TEXT NOT NULL,          -- the user-facing error
    alerted_at         TEXT                    -- NULL until an alert is queued
);
CREATE INDEX payment_alarms_unalerted ON payment_alarms(id) WHERE alerted_at IS NULL;
