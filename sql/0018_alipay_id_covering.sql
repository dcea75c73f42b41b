-- The Alipay-id index also holds each row's type and file (issue 14). An incremental run asks, for
-- every payment and refund of the day reaching `unsettled_after_days`, whether a settlement-detail row
-- of the same type and Alipay id exists in the window (the UNSETTLED seeds, `store::window::active`):
-- with the type and the file in the index that is one index seek, without reading the settlement row
-- from the table. Measured on a 22-day database of 100k payments a day: 141–149 ms against 61–68 ms
-- per day. At 1M payments a day (a 9-day database, pages partly cold) the probe alone took 1.0–1.6 s
-- against 1.0–1.2 s: there reading the day's own rows and the disk weigh more.
-- Every other look-up by Alipay id uses the index's first column, as before.
--
-- Building it reads every stored row once, in the first command after the upgrade: on the benchmark
-- VM 4.1 s for 6.8M rows and 15.3 s for ~19M (9 days of 1M payments); expect ~40 s for a 22-day
-- history at 1M payments a day.
CREATE INDEX alipay_rows_by_alipay_id_type ON alipay_rows(alipay_id, trans_type, file_id);
DROP INDEX alipay_rows_by_alipay_id;
