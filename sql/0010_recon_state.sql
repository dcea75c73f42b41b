-- Per-day reconciliation state (issue 14): what day T+1's incremental run needs of day T. A row is
-- valid for the rules' hash it was computed with; every write that can change the answer of day D
-- (an Alipay file dated D, a local record dated D, the payment ledger) deletes the state of D and of
-- every later day in its own transaction (store::state::invalidate_from). An existing database has no
-- state: its next run bootstraps it from the whole window, once.
CREATE TABLE recon_state (
    business_date TEXT PRIMARY KEY,
    config_hash   TEXT NOT NULL,
    -- keys both sides agree on at this day's cut, over the whole window (summary.json's "matched")
    matched       INTEGER NOT NULL,
    -- ids of the keys with a verdict (found or pending) on this day, one per line, sorted
    keys          TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

-- Bumped by every invalidation: a run stores the state it computed only if no invalidation happened
-- since it started reading (an import committed meanwhile may have changed its answer).
CREATE TABLE recon_state_generation (n INTEGER NOT NULL);
INSERT INTO recon_state_generation (n) VALUES (0);
