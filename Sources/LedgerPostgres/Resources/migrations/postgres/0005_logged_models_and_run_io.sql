-- MLflow 3's logged models (what `mlflow.<flavor>.log_model` creates) with their tags and params, the models each run
-- produced (`runs/outputs`), and what each run read (`runs/log-inputs`: datasets and models).
-- Written to run again safely (IF NOT EXISTS), as a file restored to an older schema history re-applies it.
CREATE TABLE IF NOT EXISTS logged_models (
    model_id         TEXT    PRIMARY KEY CHECK (length(model_id) = 34),
    experiment_id    BIGINT  NOT NULL REFERENCES experiments (experiment_id),
    name             TEXT    NOT NULL,
    model_type       TEXT    NOT NULL DEFAULT '',
    source_run_id    TEXT,
    status           TEXT    NOT NULL,
    status_message   TEXT    NOT NULL DEFAULT '',
    artifact_uri     TEXT    NOT NULL,
    lifecycle_stage  TEXT    NOT NULL DEFAULT 'active' CHECK (lifecycle_stage IN ('active', 'deleted')),
    creation_time    BIGINT  NOT NULL,
    last_update_time BIGINT  NOT NULL
);
CREATE INDEX IF NOT EXISTS logged_models_by_experiment ON logged_models (experiment_id, creation_time);

CREATE TABLE IF NOT EXISTS logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE IF NOT EXISTS logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE IF NOT EXISTS run_outputs (
    run_id   BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    model_id TEXT   NOT NULL,
    step     BIGINT NOT NULL,
    PRIMARY KEY (run_id, model_id, step)
);

-- A dataset input is identified by (name, digest) within its run, as in MLflow; a model input by its model id.
CREATE TABLE IF NOT EXISTS run_inputs (
    run_id      BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    model_id    TEXT,
    name        TEXT   NOT NULL DEFAULT '',
    digest      TEXT   NOT NULL DEFAULT '',
    source_type TEXT   NOT NULL DEFAULT '',
    source      TEXT   NOT NULL DEFAULT '',
    schema      TEXT,
    profile     TEXT,
    tags        TEXT   NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, position)
);
