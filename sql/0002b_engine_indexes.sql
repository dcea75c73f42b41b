-- The engine's window load no longer reads local record versions by the JSON business date (single-
-- version records come from local_records' columns): drop that expression index, which cost a JSON
-- parse on every history insert. The index by sales file stays (a restating file's "as of" date).
DROP INDEX IF EXISTS local_record_history_by_date;
