-- 0002: the operators' pages (docs/OPERATIONS.md, admin): listing identities across bots at a
-- million rows, their totals, and admin sessions. docs/BENCHMARKS.md has the query plans and
-- timings.

-- The list is newest first, ORDER BY id DESC, paged by keyset (id < last id seen). id is the
-- rowid: it never changes, so a page never skips or repeats a row while tokens refresh
-- (updated_at would shuffle the list under the reader's feet).
--
-- Every combination of the three filters has an index that ends in id, so any filtered page
-- is one index range walked backwards that stops after a page: no OFFSET, no sort, and no
-- scan of rows of other bots, providers or statuses. Without statistics SQLite prefers the
-- index that matches the most equality terms, so the plan does not depend on ANALYZE
-- (admin_plan_test.go pins every plan). Only inserts, deletes and changes of bot, provider or
-- status touch these indexes; a token refresh does not.
CREATE INDEX identities_admin_bot                   ON identities (bot, id);
CREATE INDEX identities_admin_provider              ON identities (provider, id);
CREATE INDEX identities_admin_status                ON identities (status, id);
CREATE INDEX identities_admin_bot_provider          ON identities (bot, provider, id);
CREATE INDEX identities_admin_bot_status            ON identities (bot, status, id);
CREATE INDEX identities_admin_provider_status       ON identities (provider, status, id);
CREATE INDEX identities_admin_bot_provider_status   ON identities (bot, provider, status, id);

-- Search is a prefix match, ignoring ASCII case, on the user id, the name, the name without
-- its first word (so a family name finds "Ada Lovelace"), the nickname and the email. Each is
-- an index on the lower-cased value, searched as the range [needle, needle+1): an exact user
-- id or email is one index probe, and LIKE '%x%' (a scan of every row) is never needed.
-- SQLite's lower() folds ASCII only; the store folds the needle the same way. The indexes are
-- not partial (WHERE email <> ''): a partial index stops being covering, and each branch of a
-- search must be answered from its index alone, without reading the rows it then drops.
CREATE INDEX identities_admin_search_user     ON identities (lower(user_id));
CREATE INDEX identities_admin_search_name     ON identities (lower(name));
CREATE INDEX identities_admin_search_nickname ON identities (lower(nickname));
CREATE INDEX identities_admin_search_email    ON identities (lower(email));
CREATE INDEX identities_admin_search_surname  ON identities (lower(substr(name, instr(name, ' ') + 1)));

-- Totals per bot, provider and status, kept by triggers in the transaction that changes an
-- identity: counting a million rows on every page view would cost more than the page itself.
CREATE TABLE identity_counts (
	bot      TEXT    NOT NULL,
	provider TEXT    NOT NULL,
	status   TEXT    NOT NULL,
	n        INTEGER NOT NULL,
	PRIMARY KEY (bot, provider, status)
) STRICT, WITHOUT ROWID;

INSERT INTO identity_counts (bot, provider, status, n)
	SELECT bot, provider, status, count(*) FROM identities GROUP BY bot, provider, status;

CREATE TRIGGER identity_counts_insert AFTER INSERT ON identities BEGIN
	INSERT INTO identity_counts (bot, provider, status, n) VALUES (NEW.bot, NEW.provider, NEW.status, 1)
		ON CONFLICT (bot, provider, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER identity_counts_delete AFTER DELETE ON identities BEGIN
	UPDATE identity_counts SET n = n - 1
		WHERE bot = OLD.bot AND provider = OLD.provider AND status = OLD.status;
	DELETE FROM identity_counts
		WHERE bot = OLD.bot AND provider = OLD.provider AND status = OLD.status AND n <= 0;
END;

CREATE TRIGGER identity_counts_update AFTER UPDATE OF bot, provider, status ON identities
	WHEN OLD.bot IS NOT NEW.bot OR OLD.provider IS NOT NEW.provider OR OLD.status IS NOT NEW.status
BEGIN
	UPDATE identity_counts SET n = n - 1
		WHERE bot = OLD.bot AND provider = OLD.provider AND status = OLD.status;
	DELETE FROM identity_counts
		WHERE bot = OLD.bot AND provider = OLD.provider AND status = OLD.status AND n <= 0;
	INSERT INTO identity_counts (bot, provider, status, n) VALUES (NEW.bot, NEW.provider, NEW.status, 1)
		ON CONFLICT (bot, provider, status) DO UPDATE SET n = n + 1;
END;

-- An operator's login. Only the SHA-256 of the session cookie is kept, so a database dump opens
-- no session. credential identifies the admin credential that opened it (a keyed hash, not the
-- password): changing the password ends every session opened with the old one.
CREATE TABLE admin_sessions (
	token_hash BLOB    PRIMARY KEY,
	credential BLOB    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);
