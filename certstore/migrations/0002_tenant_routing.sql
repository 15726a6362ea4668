-- Where a tenant's requests go, and whether Portico obtains its certificate
-- through ACME.

ALTER TABLE tenants ADD COLUMN upstream      TEXT    NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN upstream_host INTEGER NOT NULL DEFAULT 0 CHECK (upstream_host IN (0, 1));
ALTER TABLE tenants ADD COLUMN hsts_max_age  INTEGER NOT NULL DEFAULT 0 CHECK (hsts_max_age >= 0);
ALTER TABLE tenants ADD COLUMN acme          INTEGER NOT NULL DEFAULT 0 CHECK (acme IN (0, 1));
