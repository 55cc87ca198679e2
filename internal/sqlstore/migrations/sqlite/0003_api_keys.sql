-- API keys: session keys that never expire, for integrations. Only the
-- SHA-256 digest of a key is stored; the key itself is shown once.
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    digest     BLOB    NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX api_keys_user ON api_keys (user_id, id);
