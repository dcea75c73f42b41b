-- `explain ID` finds local records by their Alipay id too (acquirement_id): an index of the records
-- that carry one, so the question is a search instead of a scan of every stored record.
CREATE INDEX local_records_by_acquirement_id ON local_records(acquirement_id) WHERE acquirement_id IS NOT NULL;
