-- A digest of the input a keypair was last written from (for discovered
-- keypairs: the paths and bytes of its files), so that discovery can tell
-- that its files did not change without parsing them again, even after a
-- restart.

ALTER TABLE keypairs ADD COLUMN origin_digest TEXT NOT NULL DEFAULT '';
