-- Job runs started by the daemon (alipay-recon daemon): one row per attempt, with the child's exit
-- code (contracts.md §5). A date is complete for a job when one of its rows has outcome ok/attention.
CREATE TABLE schedule_runs (
    id            INTEGER PRIMARY KEY,
    job           TEXT NOT NULL,            -- the [[job]] name in the schedule file
    business_date TEXT,                     -- YYYY-MM-DD for daily jobs, NULL for periodic ones
    attempt       INTEGER NOT NULL,         -- 1, 2, … per (job, business_date)
    trigger       TEXT NOT NULL,            -- cron | catch-up | retry
    args          TEXT NOT NULL,            -- JSON array: the program and its arguments
    host          TEXT NOT NULL,
    daemon_pid    INTEGER NOT NULL,
    child_pid     INTEGER,
    started_at    TEXT NOT NULL,
    ended_at      TEXT,
    exit_code     INTEGER,                  -- NULL when killed by a signal
    outcome       TEXT NOT NULL DEFAULT 'running', -- running | ok | attention | failed | not_ready | locked | interrupted | timed_out
    message       TEXT
);
CREATE INDEX schedule_runs_by_job_date ON schedule_runs(job, business_date);
