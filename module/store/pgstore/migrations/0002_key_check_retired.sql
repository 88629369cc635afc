-- The MACs of the at-rest keys a store was re-keyed from, newest first, so
-- that a gateway started with a key the data was re-keyed away from is
-- told so. NULL when the store never was re-keyed.
ALTER TABLE key_check ADD COLUMN retired bytea[];
