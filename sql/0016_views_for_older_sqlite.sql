-- The views of sql/0011 used `json_group_object(… ORDER BY …)`: an ORDER BY inside an aggregate's
-- arguments needs SQLite 3.44, and SQLite parses every view in the schema when it opens a database,
-- so Debian 12's sqlite3 CLI and Python's sqlite3 module (3.40.1) could read no table at all
-- ("malformed database schema (alipay_rows_extra) - near "ORDER""). The same views, in SQL that
-- SQLite 3.31 (Ubuntu 20.04) parses: the keys are sorted by an ORDER BY in a subquery that the
-- aggregate reads. SQLite keeps that order: it never flattens a subquery with an ORDER BY into an
-- aggregate query (rule 16 of its query flattener), and reads the subquery's rows in order. Output is
-- the same text as before (tested against 0011's form by the bundled SQLite; values are the strings
-- store::files::ExtraColumns writes). tests/integration/old_sqlite.rs reads the whole schema with
-- the OS sqlite3. Keep every statement stored in the schema within SQLite 3.31's syntax.
DROP VIEW IF EXISTS alipay_rows_extra;
DROP VIEW IF EXISTS summary_rows_extra;

-- The two views are the same query over alipay_rows and summary_rows (plain SQL has no way to write
-- it once without a third view), as in 0011.
CREATE VIEW alipay_rows_extra AS SELECT r.id, r.file_id, r.line, (SELECT json_group_object(k, v) FROM (
    SELECT c.value AS k, e.value AS v FROM files f, json_each(f.extra_columns) c JOIN json_each(r.extra) e ON e.key = c.key
    WHERE f.id = r.file_id AND e.type <> 'null' ORDER BY c.value)) AS extra
FROM alipay_rows r WHERE r.extra IS NOT NULL;
CREATE VIEW summary_rows_extra AS SELECT s.id, s.file_id, s.line, (SELECT json_group_object(k, v) FROM (
    SELECT c.value AS k, e.value AS v FROM files f, json_each(f.extra_columns) c JOIN json_each(s.extra) e ON e.key = c.key
    WHERE f.id = s.file_id AND e.type <> 'null' ORDER BY c.value)) AS extra
FROM summary_rows s WHERE s.extra IS NOT NULL;
