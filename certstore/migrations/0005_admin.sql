-- The admin token's hash. One row at most: rotating the token replaces it.
-- Changes here are not serving changes, so they do not bump the generation.

CREATE TABLE admin_token (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	salt       BLOB    NOT NULL,
	hash       BLOB    NOT NULL, -- SHA-256 of salt then token
	created_at INTEGER NOT NULL  -- Unix seconds
);
