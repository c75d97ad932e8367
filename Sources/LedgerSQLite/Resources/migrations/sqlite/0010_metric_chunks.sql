-- Metric history as compressed chunks (docs/chunk-format.md): one row per stretch of up to 1000 points of a (run, key),
-- with a summary beside the bytes, so that ranges and aggregates are answered without decoding. NULL stands for NaN
-- in the sum and the last value (SQLite cannot store NaN); min and max are NULL when every value is NaN. A series' chunks do
-- not overlap; read in (last_step, last_timestamp, chunk_id) order they concatenate to its history.
--
-- The one-row-per-point `metrics` table and its `metric_spans` are converted by RunLedger itself right after this file
-- (the codec is not SQL), in bounded transactions, and dropped when empty.
CREATE TABLE metric_chunks (
    chunk_id        INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL,
    key             TEXT    NOT NULL,
    first_step      INTEGER NOT NULL,
    first_timestamp INTEGER NOT NULL,
    last_step       INTEGER NOT NULL,
    last_timestamp  INTEGER NOT NULL,
    min_timestamp   INTEGER NOT NULL,
    max_timestamp   INTEGER NOT NULL,
    point_count     INTEGER NOT NULL,
    nan_count       INTEGER NOT NULL,
    value_min       REAL,
    value_max       REAL,
    value_sum       REAL,
    last_value      REAL,
    data            BLOB    NOT NULL
);
CREATE INDEX metric_chunks_by_series ON metric_chunks (run_id, key, last_step, last_timestamp);
