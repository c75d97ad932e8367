-- When a run was deleted, as MLflow records it, so that `runledger gc --older-than` removes the artifacts of runs
-- deleted longer ago. Runs deleted before this migration count as deleted now: none is collected sooner than asked.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS deleted_time BIGINT;
UPDATE runs SET deleted_time = (extract(epoch FROM now()) * 1000)::bigint WHERE lifecycle_stage = 'deleted' AND deleted_time IS NULL;
