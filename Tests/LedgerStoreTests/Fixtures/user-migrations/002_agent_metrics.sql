-- An agent platform's operational data: health checks, events, tool executions, performance samples, two views.
-- (Semicolons in comments and strings do not end a statement; this file checks that too.)
CREATE TABLE agent_health_checks (
    agent      TEXT        NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    healthy    BOOLEAN     NOT NULL,
    detail     TEXT        NOT NULL DEFAULT 'ok; nothing to report',
    PRIMARY KEY (agent, checked_at)
);

CREATE TABLE agent_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent       TEXT        NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    level       TEXT        NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error')),
    message     TEXT        NOT NULL,
    payload     JSONB
);
CREATE INDEX agent_events_by_agent_time ON agent_events (agent, occurred_at);

CREATE TABLE agent_tool_executions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent       TEXT        NOT NULL,
    tool        TEXT        NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms INTEGER     NOT NULL CHECK (duration_ms >= 0),
    succeeded   BOOLEAN     NOT NULL
);

CREATE TABLE agent_performance (
    agent       TEXT             NOT NULL,
    sampled_at  TIMESTAMPTZ      NOT NULL DEFAULT now(),
    cpu_percent DOUBLE PRECISION NOT NULL,
    memory_mb   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (agent, sampled_at)
);

CREATE VIEW agent_tool_success AS
SELECT agent, tool, count(*) AS executions, avg(duration_ms) AS mean_duration_ms,
       avg(CASE WHEN succeeded THEN 1.0 ELSE 0.0 END) AS success_rate
FROM agent_tool_executions GROUP BY agent, tool;

CREATE VIEW agent_latest_health AS
SELECT DISTINCT ON (agent) agent, checked_at, healthy, detail
FROM agent_health_checks ORDER BY agent, checked_at DESC;
