-- When a run was deleted, as MLflow records it, so that `runledger gc --older-than` removes the artifacts of runs
-- deleted longer ago. Runs deleted before this migration count as deleted now: none is collected sooner than asked.
ALTER TABLE runs ADD COLUMN deleted_time INTEGER;
UPDATE runs SET deleted_time = CAST(strftime('%s', 'now') AS INTEGER) * 1000 WHERE lifecycle_stage = 'deleted';
