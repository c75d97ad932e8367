-- Windowed reads, run events, retention policies, project state documents.

-- The newest points of a (run, key), and points in a time range, come from this index: a bounded range each.
CREATE INDEX metrics_by_run_key_time ON metrics (run_id, key, timestamp);

-- An append-only log per run of things that are not numbers. level: 0 debug, 1 info, 2 warning, 3 error.
CREATE TABLE run_events (
    event_id  INTEGER PRIMARY KEY,
    run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    timestamp INTEGER NOT NULL,
    level     INTEGER NOT NULL CHECK (level BETWEEN 0 AND 3),
    kind      TEXT    NOT NULL,
    message   TEXT    NOT NULL,
    payload   TEXT
);
CREATE INDEX run_events_by_run_time ON run_events (run_id, timestamp, event_id);
CREATE INDEX run_events_by_time ON run_events (timestamp);

-- experiment_id NULL: every experiment. Limits NULL: unlimited.
CREATE TABLE retention_policies (
    policy_id          INTEGER PRIMARY KEY,
    experiment_id      INTEGER REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    key_glob           TEXT    NOT NULL,
    max_age_ms         INTEGER CHECK (max_age_ms > 0),
    max_points_per_key INTEGER CHECK (max_points_per_key > 0),
    created_at         INTEGER NOT NULL,
    CHECK (max_age_ms IS NOT NULL OR max_points_per_key IS NOT NULL)
);

CREATE TABLE projects (
    project_id     INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL,
    last_active_at INTEGER,
    archived       INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1))
);

-- One JSON document per (project, namespace); version grows by one on every write (optimistic concurrency).
CREATE TABLE state_documents (
    project_id INTEGER NOT NULL REFERENCES projects (project_id) ON DELETE CASCADE,
    namespace  TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    updated_at INTEGER NOT NULL,
    document   TEXT    NOT NULL,
    PRIMARY KEY (project_id, namespace)
) WITHOUT ROWID;
