-- The text employee/list's filter looks in: the searchable fields, case-folded
-- by the store (Unicode case folding in Go) and joined by U+001F. Folding in
-- one place makes the filter match the same on SQLite and PostgreSQL, whatever
-- the server's locale; the store fills it for existing rows after this runs.
ALTER TABLE employees ADD COLUMN search TEXT NOT NULL DEFAULT '';
