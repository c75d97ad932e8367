-- Events across runs by kind and time ("every failed health check in the last hour"): the index yields one kind's
-- events newest first (event_id is the rowid, so it breaks ties), and the search stops after its limit.
CREATE INDEX run_events_by_kind_time ON run_events (kind, timestamp);
