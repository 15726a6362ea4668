-- ACME: certmagic's storage (accounts and other assets, as key/value
-- pairs), its locks, and the state of each ACME tenant's certificate
-- attempts. None of these tables bumps the generation: they change what is
-- served only through the keypairs and tenants tables.

CREATE TABLE acme_storage (
	key      TEXT    PRIMARY KEY,  -- slash-separated, no leading or trailing slash
	value    BLOB    NOT NULL,
	modified INTEGER NOT NULL      -- Unix milliseconds
) WITHOUT ROWID;

-- A lock is held while its row exists and has not expired; the holder keeps
-- pushing expires_at forward while it works.
CREATE TABLE acme_locks (
	name       TEXT    PRIMARY KEY,
	token      TEXT    NOT NULL,   -- identifies the holder
	expires_at INTEGER NOT NULL    -- Unix milliseconds
) WITHOUT ROWID;

CREATE TABLE acme_state (
	domain       TEXT    PRIMARY KEY,
	last_attempt INTEGER NOT NULL DEFAULT 0,  -- Unix seconds; 0 for never
	last_result  TEXT    NOT NULL DEFAULT '', -- '', 'ok' or 'error'
	last_error   TEXT    NOT NULL DEFAULT '',
	failures     INTEGER NOT NULL DEFAULT 0,  -- consecutive failed attempts
	next_attempt INTEGER NOT NULL DEFAULT 0,  -- Unix seconds; 0 for as soon as possible
	ari_selected INTEGER NOT NULL DEFAULT 0,  -- renewal time the CA suggested (ARI); 0 for none
	ari_next     INTEGER NOT NULL DEFAULT 0,  -- Unix seconds; when to ask the CA for ARI again
	updated_at   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
