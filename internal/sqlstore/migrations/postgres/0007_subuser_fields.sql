-- The legal and address fields of Navixy's sub-user object, on every user
-- (a master's stay at their defaults: nothing sets them yet), and a
-- security group's store period ('' for no limit). Existing rows take the
-- defaults; no backfill is needed.
ALTER TABLE users ADD COLUMN legal_type TEXT NOT NULL DEFAULT 'individual';
ALTER TABLE users ADD COLUMN post_country TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN post_index TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN post_region TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN post_city TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN post_street_address TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN registered_country TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN registered_index TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN registered_region TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN registered_city TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN registered_street_address TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN state_reg_num TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN tin TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN legal_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN iec TEXT NOT NULL DEFAULT '';
ALTER TABLE security_groups ADD COLUMN store_period TEXT NOT NULL DEFAULT '';
