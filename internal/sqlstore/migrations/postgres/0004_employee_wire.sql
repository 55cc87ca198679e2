-- Reading employees fast. wire_head and wire_tail hold the JSON of the fields
-- only employee/create and employee/update write ("tracker_id" through
-- "hardware_key", and "location" through "tags"), as the API answers them; a
-- read assembles the object from them and the id, icon_id, avatar_file_name
-- and department_id columns, instead of fetching and encoding every column.
ALTER TABLE employees ADD COLUMN wire_head TEXT NOT NULL DEFAULT '';
ALTER TABLE employees ADD COLUMN wire_tail TEXT NOT NULL DEFAULT '';
-- An account's number of employees, kept in the transaction that creates or
-- deletes one: employee/list's count without counting the rows.
-- The store fills the wire columns and the counts for existing rows after
-- this runs.
ALTER TABLE users ADD COLUMN employee_count BIGINT NOT NULL DEFAULT 0;
-- employee/list's filter reads the account's search texts from this index
-- alone (count and ids), not from the rows, which the wire columns widen.
CREATE INDEX employees_search ON employees (account_id, search);
