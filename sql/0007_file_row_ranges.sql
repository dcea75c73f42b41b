-- Each file's rows are inserted by one transaction, so their ids are one contiguous range: the files
-- table records it (first_row, last_row; NULL for a file without detail rows) and the window reads a
-- file's rows as a range of the table's own key. The by-file index, one of the three index entries
-- written for every Alipay row, goes.
ALTER TABLE files ADD COLUMN first_row INTEGER;
ALTER TABLE files ADD COLUMN last_row INTEGER;
UPDATE files SET first_row = r.lo, last_row = r.hi
FROM (SELECT file_id, MIN(id) AS lo, MAX(id) AS hi FROM alipay_rows GROUP BY file_id) AS r
WHERE files.id = r.file_id;
DROP INDEX alipay_rows_by_file;

-- `explain ID` looks an id up in all four id columns; two had no index, so every question scanned
-- every stored row (about a second per 2M rows, growing with the history). Refund ids and original
-- Alipay ids are set on refund and cancel rows only (a few percent): partial indexes hold just those.
CREATE INDEX alipay_rows_by_refund_id ON alipay_rows(merchant_refund_id) WHERE merchant_refund_id IS NOT NULL;
CREATE INDEX alipay_rows_by_original_id ON alipay_rows(original_alipay_id) WHERE original_alipay_id IS NOT NULL;
