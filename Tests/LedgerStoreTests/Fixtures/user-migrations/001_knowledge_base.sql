-- A knowledge base: source documents, their chunks, and the history of syncs that brought them in.
CREATE TABLE kb_documents (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_uri  TEXT        NOT NULL UNIQUE,
    title       TEXT        NOT NULL,
    content_sha TEXT        NOT NULL,
    metadata    JSONB       NOT NULL DEFAULT '{}'::jsonb,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE kb_chunks (
    document_id BIGINT  NOT NULL REFERENCES kb_documents (id) ON DELETE CASCADE,
    ordinal     INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    token_count INTEGER NOT NULL CHECK (token_count >= 0),
    PRIMARY KEY (document_id, ordinal)
);

CREATE TABLE kb_sync_history (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    documents   INTEGER NOT NULL DEFAULT 0,
    status      TEXT    NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    error       TEXT
);
CREATE INDEX kb_sync_history_recent ON kb_sync_history (started_at DESC);
