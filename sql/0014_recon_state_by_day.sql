-- The matched count of a day's state by item date (issue 14): a key leaves the count when its item date
-- leaves the open-item look-back, so the next day subtracts the day that leaves without loading its
-- rows. One "YYYY-MM-DD count" per line. States stored before have none: they are dropped, and the
-- next run bootstraps its state from the whole window once.
ALTER TABLE recon_state ADD COLUMN matched_by_day TEXT NOT NULL DEFAULT '';
DELETE FROM recon_state;
