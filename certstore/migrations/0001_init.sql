-- Keypairs, tenants and the generation counter that signals every change.
--
-- Every committed change to keypairs or tenants bumps generation.n, stamps
-- the changed row's seq with the new generation, and records a deletion in
-- deletions: a reader that last saw generation G rebuilds its view from the
-- rows with seq > G and the deletions with seq > G alone.

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
	updated_at  INTEGER NOT NULL,
	seq         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE tenants (
	id          INTEGER PRIMARY KEY,
	domain      TEXT    NOT NULL UNIQUE,
	is_default  INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
	certificate TEXT    REFERENCES keypairs (name) ON UPDATE CASCADE ON DELETE RESTRICT,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	seq         INTEGER NOT NULL DEFAULT 0
);

-- At most one default tenant.
CREATE UNIQUE INDEX tenants_one_default ON tenants (is_default) WHERE is_default = 1;

CREATE TABLE generation (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n  INTEGER NOT NULL
);
INSERT INTO generation (id, n) VALUES (1, 1);

CREATE INDEX keypairs_seq ON keypairs (seq);
CREATE INDEX tenants_seq ON tenants (seq);

-- Deleted rows, kept so that readers catching up see them go: kind is
-- 'keypair' (key is the name) or 'tenant' (key is the id). Deletions are
-- rare (discovery and ACME never delete), so they are kept.
CREATE TABLE deletions (
	seq  INTEGER NOT NULL,
	kind TEXT    NOT NULL,
	key  TEXT    NOT NULL
);
CREATE INDEX deletions_seq ON deletions (seq);

-- The WHEN clauses keep the seq stamp itself from counting as a change.
CREATE TRIGGER keypairs_insert AFTER INSERT ON keypairs BEGIN
	UPDATE generation SET n = n + 1;
	UPDATE keypairs SET seq = (SELECT n FROM generation) WHERE id = NEW.id;
END;
CREATE TRIGGER keypairs_update AFTER UPDATE ON keypairs WHEN NEW.seq IS OLD.seq BEGIN
	UPDATE generation SET n = n + 1;
	UPDATE keypairs SET seq = (SELECT n FROM generation) WHERE id = NEW.id;
END;
CREATE TRIGGER keypairs_delete AFTER DELETE ON keypairs BEGIN
	UPDATE generation SET n = n + 1;
	INSERT INTO deletions (seq, kind, key) SELECT n, 'keypair', OLD.name FROM generation;
END;
CREATE TRIGGER tenants_insert AFTER INSERT ON tenants BEGIN
	UPDATE generation SET n = n + 1;
	UPDATE tenants SET seq = (SELECT n FROM generation) WHERE id = NEW.id;
END;
CREATE TRIGGER tenants_update AFTER UPDATE ON tenants WHEN NEW.seq IS OLD.seq BEGIN
	UPDATE generation SET n = n + 1;
	UPDATE tenants SET seq = (SELECT n FROM generation) WHERE id = NEW.id;
END;
CREATE TRIGGER tenants_delete AFTER DELETE ON tenants BEGIN
	UPDATE generation SET n = n + 1;
	INSERT INTO deletions (seq, kind, key) SELECT n, 'tenant', OLD.id FROM generation;
END;
