-- Windowed reads, run events, retention policies, project state documents (the same tables as on SQLite).

-- The newest points of a (run, key), and points in a time range, come from this index: a bounded range each.
CREATE INDEX metrics_by_run_key_time ON metrics (run_id, key, timestamp);

-- An append-only log per run of things that are not numbers. level: 0 debug, 1 info, 2 warning, 3 error.
CREATE TABLE run_events (
    event_id  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id    BIGINT   NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    timestamp BIGINT   NOT NULL,
    level     SMALLINT NOT NULL CHECK (level BETWEEN 0 AND 3),
    kind      TEXT     NOT NULL,
    message   TEXT     NOT NULL,
    payload   TEXT
);
CREATE INDEX run_events_by_run_time ON run_events (run_id, timestamp, event_id);
CREATE INDEX run_events_by_time ON run_events (timestamp);

-- experiment_id NULL: every experiment. Limits NULL: unlimited.
CREATE TABLE retention_policies (
    policy_id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    experiment_id      BIGINT REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    key_glob           TEXT   NOT NULL,
    max_age_ms         BIGINT CHECK (max_age_ms > 0),
    max_points_per_key BIGINT CHECK (max_points_per_key > 0),
    created_at         BIGINT NOT NULL,
    CHECK (max_age_ms IS NOT NULL OR max_points_per_key IS NOT NULL)
);

CREATE TABLE projects (
    project_id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    created_at     BIGINT  NOT NULL,
    last_active_at BIGINT,
    archived       BOOLEAN NOT NULL DEFAULT FALSE
);

-- One JSON document per (project, namespace); version grows by one on every write (optimistic concurrency).
CREATE TABLE state_documents (
    project_id BIGINT NOT NULL REFERENCES projects (project_id) ON DELETE CASCADE,
    namespace  TEXT   NOT NULL,
    version    BIGINT NOT NULL CHECK (version >= 1),
    updated_at BIGINT NOT NULL,
    document   TEXT   NOT NULL,
    PRIMARY KEY (project_id, namespace)
);
