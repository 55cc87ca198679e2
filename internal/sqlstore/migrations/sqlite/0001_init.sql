-- Accounts (master users) and their sub-users share one table: a sub-user
-- has master_id set. Times are Unix seconds (UTC).
CREATE TABLE security_groups (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    label      TEXT    NOT NULL,
    rights     TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX security_groups_account ON security_groups (account_id);

CREATE TABLE users (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    master_id         INTEGER REFERENCES users (id) ON DELETE CASCADE,
    login             TEXT    NOT NULL UNIQUE,
    password_hash     TEXT    NOT NULL,
    first_name        TEXT    NOT NULL DEFAULT '',
    middle_name       TEXT    NOT NULL DEFAULT '',
    last_name         TEXT    NOT NULL DEFAULT '',
    phone             TEXT    NOT NULL DEFAULT '',
    activated         INTEGER NOT NULL DEFAULT 1,
    security_group_id INTEGER REFERENCES security_groups (id) ON DELETE SET NULL,
    created_at        INTEGER NOT NULL
);
CREATE INDEX users_master ON users (master_id);

CREATE TABLE sessions (
    digest     BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE departments (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label            TEXT    NOT NULL,
    location_lat     REAL,
    location_lng     REAL,
    location_address TEXT
);
CREATE INDEX departments_account ON departments (account_id);

CREATE TABLE employees (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id                INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tracker_id                INTEGER,
    first_name                TEXT    NOT NULL,
    middle_name               TEXT    NOT NULL DEFAULT '',
    last_name                 TEXT    NOT NULL DEFAULT '',
    email                     TEXT    NOT NULL DEFAULT '',
    phone                     TEXT    NOT NULL DEFAULT '',
    driver_license_number     TEXT    NOT NULL DEFAULT '',
    driver_license_cats       TEXT    NOT NULL DEFAULT '',
    driver_license_valid_till TEXT,
    hardware_key              TEXT,
    icon_id                   INTEGER,
    avatar_file_name          TEXT    UNIQUE,
    department_id             INTEGER REFERENCES departments (id) ON DELETE SET NULL,
    location_lat              REAL,
    location_lng              REAL,
    location_address          TEXT,
    personnel_number          TEXT    NOT NULL DEFAULT '',
    tags                      TEXT    NOT NULL DEFAULT '[]',
    UNIQUE (account_id, tracker_id)
);
CREATE INDEX employees_account ON employees (account_id, id);
CREATE INDEX employees_department ON employees (department_id);
