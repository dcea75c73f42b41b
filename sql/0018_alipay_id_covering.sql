-- The Alipay-id index also holds each row's type and file (issue 14). An incremental run asks, for
-- every payment and refund of the day reaching `unsettled_after_days`, whether a settlement-detail row
-- of the same type and Alipay id exists in the window (the UNSETTLED seeds, `store::window::active`):
-- with the type and the file in the index that is one index seek, without reading the settlement row
-- from the table. Measured on a 22-day database of 100k payments a day: 141–149 ms against 61–68 ms
-- per day; at 1M payments a day this probe ran ~4 s beside the import and made the load wait for it.
-- Every other look-up by Alipay id uses the index's first column, as before.
--
-- Building it reads every stored row once (~4 s for 6.8M rows on the benchmark VM; about a minute at
-- 1M payments a day for a 22-day history), in the first run after the upgrade.
CREATE INDEX alipay_rows_by_alipay_id_type ON alipay_rows(alipay_id, trans_type, file_id);
DROP INDEX alipay_rows_by_alipay_id;
