-- employee/list sorts by every documented property and filters on all of
-- them, in big accounts too, without reading the account's rows.
--
-- The department's label, kept on the employee's row (null without a
-- department) by the transactions that set an employee's department and
-- rename or delete a department, so that it can be sorted by an index.
ALTER TABLE employees ADD COLUMN department_label TEXT;
UPDATE employees SET department_label =
    (SELECT label FROM departments WHERE departments.id = employees.department_id)
    WHERE department_id IS NOT NULL;

-- One index per sort key serves both directions: a descending sort is the
-- exact reverse of the ascending one (nulls first ascending, ties by id in
-- the key's direction), which a backward scan of these gives. Text
-- compares byte by byte (COLLATE "C"), as on SQLite.
CREATE INDEX employees_by_first_name ON employees (account_id, first_name COLLATE "C" NULLS FIRST, id);
CREATE INDEX employees_by_middle_name ON employees (account_id, middle_name COLLATE "C" NULLS FIRST, id);
CREATE INDEX employees_by_last_name ON employees (account_id, last_name COLLATE "C" NULLS FIRST, id);
CREATE INDEX employees_by_department_label ON employees (account_id, department_label COLLATE "C" NULLS FIRST, id);
CREATE INDEX employees_by_personnel_number ON employees (account_id, personnel_number COLLATE "C" NULLS FIRST, id);
CREATE INDEX employees_by_hardware_key ON employees (account_id, hardware_key COLLATE "C" NULLS FIRST, id);
CREATE INDEX employees_by_phone ON employees (account_id, phone COLLATE "C" NULLS FIRST, id);
CREATE INDEX employees_by_email ON employees (account_id, email COLLATE "C" NULLS FIRST, id);
CREATE INDEX employees_by_address ON employees (account_id, location_address COLLATE "C" NULLS FIRST, id);
CREATE INDEX employees_by_driver_license_number ON employees (account_id, driver_license_number COLLATE "C" NULLS FIRST, id);
CREATE INDEX employees_by_driver_license_cats ON employees (account_id, driver_license_cats COLLATE "C" NULLS FIRST, id);
CREATE INDEX employees_by_driver_license_valid_till ON employees (account_id, driver_license_valid_till COLLATE "C" NULLS FIRST, id);
CREATE INDEX employees_by_ssn ON employees (account_id, ssn COLLATE "C" NULLS FIRST, id);
CREATE INDEX employees_by_department_id ON employees (account_id, department_id NULLS FIRST, id);
CREATE INDEX employees_by_tracker_id ON employees (account_id, tracker_id NULLS FIRST, id);

-- The search text now holds every property the filter looks in, which can
-- pass the size a B-tree entry may have; the filter reads it from the rows,
-- or through the trigram index the store creates where pg_trgm is
-- available (see trigramIndex).
DROP INDEX IF EXISTS employees_search;
