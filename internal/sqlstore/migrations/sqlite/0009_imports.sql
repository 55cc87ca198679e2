-- Spreadsheet imports. import_files are the parsed uploads (TSV in the
-- file store, named here, per account); imports are the background
-- processes reading them, each claimed by one node at a time through its
-- lease; import_failures the rows that failed, kept whole for the file
-- download_failed answers.
CREATE TABLE import_files (
    name       TEXT    PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rows       INTEGER NOT NULL,
    first_line INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX import_files_created ON import_files (created_at);

CREATE TABLE imports (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subuser_id        INTEGER,
    type              TEXT    NOT NULL,
    filename          TEXT    NOT NULL,
    params            TEXT    NOT NULL,
    params_digest     TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    status_changed_at INTEGER NOT NULL,
    total_lines       INTEGER NOT NULL,
    first_line        INTEGER NOT NULL,
    processed_lines   INTEGER NOT NULL DEFAULT 0,
    imported          INTEGER NOT NULL DEFAULT 0,
    failed            INTEGER NOT NULL DEFAULT 0,
    warnings          TEXT    NOT NULL DEFAULT '[]',
    errors            TEXT    NOT NULL DEFAULT '[]',
    failed_file       TEXT,
    lease_owner       TEXT,
    lease_until       INTEGER
);
CREATE UNIQUE INDEX imports_identical ON imports (account_id, type, filename, params_digest);
CREATE INDEX imports_runnable ON imports (status, lease_until);

CREATE TABLE import_failures (
    import_id INTEGER NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line      INTEGER NOT NULL,
    row       TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    PRIMARY KEY (import_id, line)
);
