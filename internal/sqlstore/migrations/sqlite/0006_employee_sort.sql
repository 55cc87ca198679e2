-- employee/list sorts by every documented property and filters on all of
-- them, in big accounts too, without reading the account's rows.
--
-- The department's label, kept on the employee's row (null without a
-- department) by the transactions that set an employee's department and
-- rename or delete a department, so that it can be sorted by an index.
ALTER TABLE employees ADD COLUMN department_label TEXT;
UPDATE employees SET department_label =
    (SELECT label FROM departments WHERE departments.id = employees.department_id);

-- One index per sort key serves both directions: a descending sort is the
-- exact reverse of the ascending one (nulls first ascending, ties by id in
-- the key's direction), and SQLite puts the rowid, the id, after the
-- columns of every index. Text compares byte by byte (BINARY).
CREATE INDEX employees_by_first_name ON employees (account_id, first_name);
CREATE INDEX employees_by_middle_name ON employees (account_id, middle_name);
CREATE INDEX employees_by_last_name ON employees (account_id, last_name);
CREATE INDEX employees_by_department_label ON employees (account_id, department_label);
CREATE INDEX employees_by_personnel_number ON employees (account_id, personnel_number);
CREATE INDEX employees_by_hardware_key ON employees (account_id, hardware_key);
CREATE INDEX employees_by_phone ON employees (account_id, phone);
CREATE INDEX employees_by_email ON employees (account_id, email);
CREATE INDEX employees_by_address ON employees (account_id, location_address);
CREATE INDEX employees_by_driver_license_number ON employees (account_id, driver_license_number);
CREATE INDEX employees_by_driver_license_cats ON employees (account_id, driver_license_cats);
CREATE INDEX employees_by_driver_license_valid_till ON employees (account_id, driver_license_valid_till);
CREATE INDEX employees_by_ssn ON employees (account_id, ssn);
CREATE INDEX employees_by_department_id ON employees (account_id, department_id);
-- tracker_id is served by the UNIQUE (account_id, tracker_id) of 0001.

-- The filter's trigram index. An employee's haystack is its id and its
-- search text (which the store rewrites after this runs, to hold every
-- property the filter looks in); the index holds every three characters of
-- it, exactly as stored (the store folds case), so a filter of three
-- characters or more finds its candidates without a scan. The view is the
-- index's content: FTS5 reads it back only to rebuild or check the index.
CREATE VIEW employee_haystacks (id, haystack) AS
    SELECT id, CAST(id AS TEXT) || char(31) || search FROM employees;
CREATE VIRTUAL TABLE employees_fts USING fts5 (haystack, content = 'employee_haystacks',
    content_rowid = 'id', columnsize = 0, tokenize = 'trigram case_sensitive 1');
CREATE TRIGGER employees_fts_insert AFTER INSERT ON employees BEGIN
    INSERT INTO employees_fts (rowid, haystack) VALUES (new.id, CAST(new.id AS TEXT) || char(31) || new.search);
END;
CREATE TRIGGER employees_fts_delete AFTER DELETE ON employees BEGIN
    INSERT INTO employees_fts (employees_fts, rowid, haystack)
        VALUES ('delete', old.id, CAST(old.id AS TEXT) || char(31) || old.search);
END;
CREATE TRIGGER employees_fts_update AFTER UPDATE OF search ON employees
    WHEN old.search IS NOT new.search BEGIN
    INSERT INTO employees_fts (employees_fts, rowid, haystack)
        VALUES ('delete', old.id, CAST(old.id AS TEXT) || char(31) || old.search);
    INSERT INTO employees_fts (rowid, haystack) VALUES (new.id, CAST(new.id AS TEXT) || char(31) || new.search);
END;
-- Merge steps (DB.TidyFilterIndex) go on until no level of the index holds
-- two segments.
INSERT INTO employees_fts (employees_fts, rank) VALUES ('usermerge', 2);
-- The rows already there, with their search texts of before; the store's
-- rewrite of the texts then goes through the update trigger.
INSERT INTO employees_fts (employees_fts) VALUES ('rebuild');
