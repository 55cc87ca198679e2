-- Tags: an account's labels, which its employees carry (employees.tags
-- holds their ids), each with an icon or an uploaded avatar of its own, as
-- an employee has. The tag ids employees carried before this migration are
-- made tags by its Go step (placeholderTags).
CREATE TABLE tags (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    color            TEXT    NOT NULL,
    icon_id          INTEGER,
    avatar_file_name TEXT    UNIQUE
);
CREATE INDEX tags_account ON tags (account_id, id);
