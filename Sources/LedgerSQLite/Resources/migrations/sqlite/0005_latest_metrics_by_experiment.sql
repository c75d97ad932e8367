-- The latest-metrics table carries its run's experiment, and its value index leads with it.
--
-- Every run search names its experiments, but the old (key, is_nan, value) index ran across all of them: "the 5
-- cheapest runs of this study" walked the cheapest runs of every study, with a seek into runs for each, so a search
-- over 200 runs slowed down as the rest of the archive grew (0.47 ms of SQL on a 4,800-run file). Led by the
-- experiment, the walk stays inside the study (0.09 ms on the same file). A run never changes experiment, so the
-- copied id cannot go stale.
--
-- SQLite cannot add a NOT NULL column without a default, and a default would silently file rows under experiment 0:
-- the table is rebuilt and its rows copied, once, in this migration's transaction.
CREATE TABLE latest_metrics_rebuilt (
    run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    experiment_id INTEGER NOT NULL,
    key           TEXT    NOT NULL,
    step          INTEGER NOT NULL,
    timestamp     INTEGER NOT NULL,
    value         REAL    NOT NULL,
    is_nan        INTEGER NOT NULL CHECK (is_nan IN (0, 1)),
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
INSERT INTO latest_metrics_rebuilt (run_id, experiment_id, key, step, timestamp, value, is_nan)
SELECT l.run_id, r.experiment_id, l.key, l.step, l.timestamp, l.value, l.is_nan FROM latest_metrics l JOIN runs r ON r.id = l.run_id;
DROP TABLE latest_metrics;
ALTER TABLE latest_metrics_rebuilt RENAME TO latest_metrics;
CREATE INDEX latest_metrics_by_experiment_key_value ON latest_metrics (experiment_id, key, is_nan, value, run_id);
