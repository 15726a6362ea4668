-- Keypairs, tenants and the generation counter that signals every change.

CREATE TABLE keypairs (
	id          INTEGER PRIMARY KEY,
	name        TEXT    NOT NULL UNIQUE,
	source      TEXT    NOT NULL,
	origin      TEXT    NOT NULL DEFAULT '',
	status      TEXT    NOT NULL DEFAULT '',
	chain_pem   BLOB    NOT NULL,
	key_pem     BLOB,
	fingerprint TEXT    NOT NULL,
	subject     TEXT    NOT NULL,
	issuer      TEXT    NOT NULL,
	dns_names   TEXT    NOT NULL, -- JSON array
	not_before  INTEGER NOT NULL, -- Unix seconds
	not_after   INTEGER NOT NULL,
	key_type    TEXT    NOT NULL,
	revision    TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);

CREATE TABLE tenants (
	id          INTEGER PRIMARY KEY,
	domain      TEXT    NOT NULL UNIQUE,
	is_default  INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
	certificate TEXT    REFERENCES keypairs (name) ON UPDATE CASCADE ON DELETE RESTRICT,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);

-- At most one default tenant.
CREATE UNIQUE INDEX tenants_one_default ON tenants (is_default) WHERE is_default = 1;

CREATE TABLE generation (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n  INTEGER NOT NULL
);
INSERT INTO generation (id, n) VALUES (1, 1);

CREATE TRIGGER keypairs_insert AFTER INSERT ON keypairs BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER keypairs_update AFTER UPDATE ON keypairs BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER keypairs_delete AFTER DELETE ON keypairs BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER tenants_insert  AFTER INSERT ON tenants  BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER tenants_update  AFTER UPDATE ON tenants  BEGIN UPDATE generation SET n = n + 1; END;
CREATE TRIGGER tenants_delete  AFTER DELETE ON tenants  BEGIN UPDATE generation SET n = n + 1; END;
