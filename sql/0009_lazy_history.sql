-- The history keeps the versions of keys that have more than one. A key seen once (almost every
-- record) lives in local_records alone; its first version is copied into the history when a second
-- one arrives (store::sales::upsert_records), so a key with several versions still has all of them
-- there, in import order. Writing every record twice was a third of a sales import's time and half
-- of the bytes it stored.
--
-- The time a version was recorded moves with it: local_records.recorded_at (NULL for none known).
ALTER TABLE local_records ADD COLUMN recorded_at TEXT;
UPDATE local_records SET recorded_at = h.recorded_at
FROM local_record_history h
WHERE local_records.versions <= 1 AND h.record_type = local_records.record_type AND h.record_id = local_records.record_id;
-- One-time on an existing database: the single versions' history rows go (the key index finds them).
DELETE FROM local_record_history
WHERE (record_type, record_id) IN (SELECT record_type, record_id FROM local_records WHERE versions <= 1);
