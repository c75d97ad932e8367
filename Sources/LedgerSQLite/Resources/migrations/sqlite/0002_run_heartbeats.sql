-- Runs opened through the SDK send heartbeats; a RUNNING run whose heartbeat stopped is reaped as KILLED.
ALTER TABLE runs ADD COLUMN heartbeat_time INTEGER;
CREATE INDEX runs_by_status_heartbeat ON runs (status, heartbeat_time);
