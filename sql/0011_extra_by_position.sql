-- A row's extra columns (those the parser does not know) were a JSON object per row that repeated
-- every column name (`{"merchantId":"…","userSite":"…",…}`: about 70 of a stored row's 300 bytes).
-- Now the names are stored once per file, in position order (files.extra_columns, a JSON array), and
-- each row's `extra` is a JSON array of its values by those positions (null where the row has no
-- value; a row written by the import leaves out trailing nulls). NULL stays "no extra values".
-- store::files::ExtraColumns writes and reads this form; the views below give the old object back.
ALTER TABLE files ADD COLUMN extra_columns TEXT;

-- Existing files: the names are the sorted distinct keys of their rows' objects (detail rows by the
-- file's id range, sql/0007; summary rows by their file index).
UPDATE files SET extra_columns = (
    SELECT json_group_array(k ORDER BY k) FROM (
        SELECT DISTINCT j.key AS k FROM alipay_rows r, json_each(r.extra) j
        WHERE r.id BETWEEN COALESCE(files.first_row, 0) AND COALESCE(files.last_row, 9223372036854775807)
          AND r.file_id = files.id AND r.extra IS NOT NULL
        UNION
        SELECT j.key FROM summary_rows s, json_each(s.extra) j WHERE s.file_id = files.id AND s.extra IS NOT NULL))
WHERE kind = 'settlement_summary' OR first_row IS NOT NULL OR row_count > 0;
UPDATE files SET extra_columns = NULL WHERE extra_columns = '[]';

-- Existing rows: each object becomes the array of its values by the file's positions, in place.
UPDATE alipay_rows SET extra = (
    SELECT json_group_array(e.value ORDER BY c.key)
    FROM files f, json_each(f.extra_columns) c LEFT JOIN json_each(alipay_rows.extra) e ON e.key = c.value
    WHERE f.id = alipay_rows.file_id)
WHERE extra IS NOT NULL AND json_type(extra) = 'object';
UPDATE summary_rows SET extra = (
    SELECT json_group_array(e.value ORDER BY c.key)
    FROM files f, json_each(f.extra_columns) c LEFT JOIN json_each(summary_rows.extra) e ON e.key = c.value
    WHERE f.id = summary_rows.file_id)
WHERE extra IS NOT NULL AND json_type(extra) = 'object';

-- The old form for people and scripts that read it with SQL: a row's extra columns as the object the
-- import wrote before (keys sorted; columns without a value left out).
CREATE VIEW alipay_rows_extra AS
SELECT r.id, r.file_id, r.line,
       (SELECT json_group_object(c.value, e.value ORDER BY c.value)
        FROM files f, json_each(f.extra_columns) c JOIN json_each(r.extra) e ON e.key = c.key
        WHERE f.id = r.file_id AND e.type <> 'null') AS extra
FROM alipay_rows r WHERE r.extra IS NOT NULL;
CREATE VIEW summary_rows_extra AS
SELECT s.id, s.file_id, s.line,
       (SELECT json_group_object(c.value, e.value ORDER BY c.value)
        FROM files f, json_each(f.extra_columns) c JOIN json_each(s.extra) e ON e.key = c.key
        WHERE f.id = s.file_id AND e.type <> 'null') AS extra
FROM summary_rows s WHERE s.extra IS NOT NULL;
