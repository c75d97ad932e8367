-- Metric history as compressed chunks (docs/chunk-format.md): one row per stretch of up to 1000 points of a (run, key),
-- with a summary beside the bytes, so that ranges and aggregates are answered without decoding. NULL stands for NaN
-- in the sum and the last value (SQLite cannot store NaN); min and max are NULL when every value is NaN. A series' chunks do
-- not overlap; read in (last_step, last_timestamp, chunk_id) order they concatenate to its history.
--
-- The one-row-per-point `metrics` table and its `metric_spans` are converted by RunLedger itself right after this file
-- (the codec is not SQL), in bounded transactions, and dropped when empty.
CREATE TABLE metric_chunks (
    chunk_id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          BIGINT           NOT NULL,
    key             TEXT             NOT NULL,
    first_step      BIGINT           NOT NULL,
    first_timestamp BIGINT           NOT NULL,
    last_step       BIGINT           NOT NULL,
    last_timestamp  BIGINT           NOT NULL,
    min_timestamp   BIGINT           NOT NULL,
    max_timestamp   BIGINT           NOT NULL,
    point_count     INTEGER          NOT NULL,
    nan_count       INTEGER          NOT NULL,
    value_min       DOUBLE PRECISION,
    value_max       DOUBLE PRECISION,
    value_sum       DOUBLE PRECISION,
    last_value      DOUBLE PRECISION,
    data            BYTEA            NOT NULL
);
CREATE INDEX metric_chunks_by_series ON metric_chunks (run_id, key, last_step, last_timestamp, chunk_id);
-- Chunks are compressed already: kept out of line without pglz spending CPU on them.
ALTER TABLE metric_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
