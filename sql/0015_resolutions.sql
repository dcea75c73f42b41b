-- Resolutions of reported items (issue 18) and their append-only audit trail.
--
-- An item is a reported row's category + key (domain::item); its short id is derived from them, so
-- the same item has the same id on every day's report. `resolution_events` holds every resolve and
-- reopen with the business day it takes effect on: day T's report applies the events effective on or
-- before T (the last one per item wins), so a rerun of T gives the same answer whenever it runs.
CREATE TABLE resolution_events (
    id             INTEGER PRIMARY KEY,
    audit_seq      INTEGER NOT NULL UNIQUE,  -- the audit_log entry that recorded it
    item_id        TEXT NOT NULL,
    category       TEXT NOT NULL,
    item_key       TEXT NOT NULL,
    action         TEXT NOT NULL,            -- RESOLVE | REOPEN
    reason         TEXT NOT NULL,            -- a configured reason; empty for REOPEN
    note           TEXT NOT NULL,
    by_user        TEXT NOT NULL,
    effective_date TEXT NOT NULL,            -- business day (zone Z) it takes effect on
    recorded_at    TEXT NOT NULL,            -- RFC 3339 UTC, wall clock
    item_date      TEXT NOT NULL,
    currency       TEXT,                     -- the item's amount at stake (written off when resolved)
    amount_minor   INTEGER
);
CREATE INDEX resolution_events_by_item ON resolution_events(item_id, effective_date, id);
CREATE INDEX resolution_events_by_date ON resolution_events(effective_date);

-- The audit trail: one entry per resolve, reopen and import. `hash` = sha256 hex of
-- `prev_hash || "\n" || content` (the first entry's prev_hash is 64 zeros); `content` is the entry's
-- canonical JSON. `alipay-recon audit verify` recomputes the chain.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    action      TEXT NOT NULL,               -- RESOLVE | REOPEN | IMPORT
    by_user     TEXT NOT NULL,
    content     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);

-- Append-only: the tool never updates or deletes these rows (verify still catches whoever drops the
-- triggers first).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER resolution_events_no_update BEFORE UPDATE ON resolution_events
BEGIN SELECT RAISE(ABORT, 'resolution_events is append-only'); END;
CREATE TRIGGER resolution_events_no_delete BEFORE DELETE ON resolution_events
BEGIN SELECT RAISE(ABORT, 'resolution_events is append-only'); END;
