-- Files of a day's layout that a run saw but could not read (contracts.md §2): still being written,
-- a refused name, a symlink or folder where a file belongs, unreadable, or incomplete before the
-- deadline. Each makes its day incomplete until the same name is imported (the row is then deleted),
-- so later runs and offline reruns of the day see it too.
CREATE TABLE IF NOT EXISTS skipped_files (
    business_date TEXT NOT NULL,
    name TEXT NOT NULL,
    remote_path TEXT NOT NULL,
    reason TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    run_id INTEGER,
    PRIMARY KEY (business_date, name)
);
