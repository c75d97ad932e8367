CREATE TABLE dup_agent_metrics (id INTEGER PRIMARY KEY);
