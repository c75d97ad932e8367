-- The latest-metrics table carries its run's experiment, and its value index leads with it (as on SQLite).
--
-- Every run search names its experiments, but the old (key, is_nan, value) index ran across all of them: "the 5
-- cheapest runs of this study" walked the cheapest runs of every study, so a search over 200 runs slowed down as the
-- rest of the archive grew. Led by the experiment, the walk stays inside the study. A run never changes experiment,
-- so the copied id cannot go stale.
ALTER TABLE latest_metrics ADD COLUMN experiment_id BIGINT;
UPDATE latest_metrics l SET experiment_id = r.experiment_id FROM runs r WHERE r.id = l.run_id;
ALTER TABLE latest_metrics ALTER COLUMN experiment_id SET NOT NULL;
DROP INDEX latest_metrics_by_key_value;
CREATE INDEX latest_metrics_by_experiment_key_value ON latest_metrics (experiment_id, key, is_nan, value, run_id);
