-- Events across runs by kind and time ("every failed health check in the last hour"): the index yields one kind's
-- events newest first, ties broken by event_id, and the search stops after its limit.
CREATE INDEX run_events_by_kind_time ON run_events (kind, timestamp, event_id);
