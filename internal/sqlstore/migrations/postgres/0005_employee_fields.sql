-- Fields of Navixy's current description: an employee's ssn and driver
-- licence issue date, and the radius of an employee's or a department's
-- location in metres (null with no location; read as 0 for a location
-- stored before). The store refills wire_tail and wire_head after this
-- runs, so that every employee answers them.
ALTER TABLE employees ADD COLUMN ssn TEXT NOT NULL DEFAULT '';
ALTER TABLE employees ADD COLUMN driver_license_issue_date TEXT;
ALTER TABLE employees ADD COLUMN location_radius BIGINT;
ALTER TABLE departments ADD COLUMN location_radius BIGINT;
-- A hardware key (an iButton or RFID tag) tells a tracker who is there:
-- no two employees of an account hold the same one. No key (null) and an
-- empty key may repeat.
-- The store refuses to run this on a database that holds such twins,
-- naming them, before anything changes.
CREATE UNIQUE INDEX employees_hardware_key ON employees (account_id, hardware_key)
    WHERE hardware_key IS NOT NULL AND hardware_key <> '';
