-- The email outbox: every report and alert is stored here before any delivery attempt, so nothing is
-- lost when the SMTP server is down. Delivery marks a row sent right after the server accepts it
-- (at least once); the stable message_id lets mail clients collapse a rare duplicate.

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    msg_key         TEXT NOT NULL UNIQUE,    -- stable key: daily/2026-11-25/v1, files_missing/2026-11-25, …
    kind            TEXT NOT NULL,           -- daily | files_missing | run_failed | manual_review | deletion_risk
    business_date   TEXT,                    -- YYYY-MM-DD the message is about, when one
    version         INTEGER NOT NULL DEFAULT 1, -- report version for daily messages (1, 2, … on resend)
    merchant        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT,
    fingerprint     TEXT NOT NULL,           -- sha256 of the content, to tell whether a report changed
    status          TEXT NOT NULL DEFAULT 'pending', -- pending | sent | suppressed (transport "none")
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_attempt_at TEXT,
    claimed_until   INTEGER,                 -- Unix seconds: another process is sending it until then
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    sent_via        TEXT,                    -- smtp://host:port or the .eml path
    message_id      TEXT
);
CREATE INDEX outbox_by_status ON outbox(status, id);
CREATE INDEX outbox_by_kind_date ON outbox(kind, business_date);

-- Attachments and inline images (Content-ID = name) in message order.
CREATE TABLE outbox_parts (
    outbox_id    INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    inline       INTEGER NOT NULL,           -- 1: inline image referenced as cid:<name>
    bytes        BLOB NOT NULL,
    PRIMARY KEY (outbox_id, position)
);
