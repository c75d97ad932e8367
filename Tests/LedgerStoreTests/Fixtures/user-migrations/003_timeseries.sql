/* Plant telemetry with a retention helper. /* Nested comments; are fine. */ */
CREATE TABLE plant_telemetry (
    sensor     TEXT             NOT NULL,
    sampled_at TIMESTAMPTZ      NOT NULL,
    value      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (sensor, sampled_at)
);
CREATE INDEX plant_telemetry_by_time ON plant_telemetry USING brin (sampled_at);

-- Deletes samples older than `keep` and returns how many went; the body's semicolons live inside $$ quotes.
CREATE FUNCTION prune_plant_telemetry(keep INTERVAL) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    removed BIGINT;
BEGIN
    DELETE FROM plant_telemetry WHERE sampled_at < now() - keep;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END;
$$;
