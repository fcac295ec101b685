-- 0001: the initial schema.
--
-- Times are INTEGER unix milliseconds UTC; NULL is the zero time.
-- Scopes are JSON arrays of strings in TEXT. Token fields hold sealed bytes (package seal).
-- user_id is the chat user id (column "user" would shadow a keyword in other SQL dialects).

CREATE TABLE links (
	id           INTEGER PRIMARY KEY,
	token_hash   BLOB    NOT NULL UNIQUE,
	bot          TEXT    NOT NULL,
	provider     TEXT    NOT NULL,
	channel      TEXT    NOT NULL,
	user_id      TEXT    NOT NULL,
	scopes       TEXT    NOT NULL DEFAULT '[]',
	redirect_url TEXT    NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	used_at      INTEGER
) STRICT;

CREATE TABLE flows (
	state_hash  BLOB    PRIMARY KEY,
	link_id     INTEGER NOT NULL REFERENCES links (id) ON DELETE CASCADE,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	consumed_at INTEGER
) STRICT;

CREATE INDEX flows_link_id ON flows (link_id);

CREATE TABLE identities (
	id                  INTEGER PRIMARY KEY,
	bot                 TEXT    NOT NULL,
	channel             TEXT    NOT NULL,
	user_id             TEXT    NOT NULL,
	provider            TEXT    NOT NULL,
	provider_user_id    TEXT    NOT NULL,
	name                TEXT    NOT NULL DEFAULT '',
	nickname            TEXT    NOT NULL DEFAULT '',
	email               TEXT    NOT NULL DEFAULT '',
	avatar_url          TEXT    NOT NULL DEFAULT '',
	status              TEXT    NOT NULL CHECK (status IN ('active', 'pending', 'relink_required')),
	scopes              TEXT    NOT NULL DEFAULT '[]',
	access_token        BLOB,
	access_token_secret BLOB,
	refresh_token       BLOB,
	token_type          TEXT    NOT NULL DEFAULT '',
	expires_at          INTEGER,
	linked_at           INTEGER NOT NULL,
	updated_at          INTEGER NOT NULL,
	UNIQUE (bot, channel, user_id, provider, provider_user_id)
) STRICT;

-- No separate index on (bot, channel, user_id, provider): the UNIQUE constraint's index has
-- exactly that prefix and serves a chat user's lookups (sqlite_test checks the query plan).

-- identity_id has no foreign key: an identity's history outlives it.
CREATE TABLE identity_events (
	id          INTEGER PRIMARY KEY,
	identity_id INTEGER NOT NULL,
	bot         TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	outcome     TEXT    NOT NULL DEFAULT '',
	detail      TEXT    NOT NULL DEFAULT '',
	at          INTEGER NOT NULL
) STRICT;

CREATE INDEX identity_events_identity ON identity_events (identity_id, id);

CREATE TABLE confirmations (
	id          INTEGER PRIMARY KEY,
	identity_id INTEGER NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
	bot         TEXT    NOT NULL,
	channel     TEXT    NOT NULL,
	user_id     TEXT    NOT NULL,
	code_hash   BLOB    NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	expires_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX confirmations_user ON confirmations (bot, channel, user_id);
CREATE INDEX confirmations_identity ON confirmations (identity_id);
