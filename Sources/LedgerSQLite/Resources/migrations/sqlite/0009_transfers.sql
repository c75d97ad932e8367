-- Progress of `runledger copy` and `restore` into this database: one row per source table, advanced in the
-- transaction that writes each page, so that an interrupted transfer resumes where it stopped.
CREATE TABLE runledger_transfers (
    source      TEXT    NOT NULL,
    table_name  TEXT    NOT NULL,
    rows_moved  INTEGER NOT NULL,
    after_lead  TEXT,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    PRIMARY KEY (source, table_name)
) WITHOUT ROWID;
