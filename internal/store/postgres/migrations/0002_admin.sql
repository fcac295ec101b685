-- 0002: the operators' pages (docs/OPERATIONS.md, admin): the list of identities across bots,
-- its search, the totals, and admin sessions.

-- The list is newest first, ORDER BY id DESC, paged by keyset (id < last id seen): id never
-- changes, so a page never skips or repeats a row while tokens refresh. Every combination of
-- the three filters has an index ending in id, so a filtered page is one index range read
-- backwards that stops after the page: no OFFSET, no sort.
CREATE INDEX identities_admin_bot                 ON identities (bot, id);
CREATE INDEX identities_admin_provider            ON identities (provider, id);
CREATE INDEX identities_admin_status              ON identities (status, id);
CREATE INDEX identities_admin_bot_provider        ON identities (bot, provider, id);
CREATE INDEX identities_admin_bot_status          ON identities (bot, status, id);
CREATE INDEX identities_admin_provider_status     ON identities (provider, status, id);
CREATE INDEX identities_admin_bot_provider_status ON identities (bot, provider, status, id);

-- Search is a prefix match ignoring ASCII case on the user id, the name, the name without its
-- first word (so a family name finds "Ada Lovelace"), the nickname and the email: the same
-- rule as the SQLite store, whatever this database's locale. translate() folds exactly A-Z
-- (lower() would fold more or less depending on the locale), and the "C" collation orders by
-- code point, so a prefix is the range [needle, needle with its last character incremented)
-- and each search is an index range scan. No pg_trgm: it is not installed everywhere, and a
-- prefix needs nothing more. admin.go repeats these expressions word for word, which is how
-- the planner matches an expression index.
CREATE INDEX identities_admin_search_user ON identities
	((translate(user_id, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) COLLATE "C");
CREATE INDEX identities_admin_search_name ON identities
	((translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) COLLATE "C");
CREATE INDEX identities_admin_search_nickname ON identities
	((translate(nickname, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) COLLATE "C");
CREATE INDEX identities_admin_search_email ON identities
	((translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) COLLATE "C");
CREATE INDEX identities_admin_search_surname ON identities
	((translate(substr(name, strpos(name, ' ') + 1), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) COLLATE "C");

-- Totals per bot, provider and status, kept by a trigger in the transaction that changes an
-- identity: counting a million rows on every page view would cost more than the page.
-- A combination that drops to zero keeps its row (IdentityTotals leaves it out): deleting it
-- would race with a concurrent increment of the same combination.
CREATE TABLE identity_counts (
	bot      text   NOT NULL,
	provider text   NOT NULL,
	status   text   NOT NULL,
	n        bigint NOT NULL,
	PRIMARY KEY (bot, provider, status)
);

INSERT INTO identity_counts (bot, provider, status, n)
	SELECT bot, provider, status, count(*) FROM identities GROUP BY bot, provider, status;

-- An identity that changes bot, provider or status moves one count to another. Two such
-- moves in opposite directions (active → relink_required beside relink_required → active)
-- would each lock one count row and wait for the other's: the two rows are always touched in
-- key order, so concurrent writers queue instead of deadlocking.
CREATE FUNCTION identity_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO identity_counts AS c (bot, provider, status, n) VALUES (NEW.bot, NEW.provider, NEW.status, 1)
			ON CONFLICT (bot, provider, status) DO UPDATE SET n = c.n + 1;
	ELSIF TG_OP = 'DELETE' THEN
		UPDATE identity_counts SET n = n - 1
			WHERE bot = OLD.bot AND provider = OLD.provider AND status = OLD.status;
	ELSIF (OLD.bot, OLD.provider, OLD.status) IS DISTINCT FROM (NEW.bot, NEW.provider, NEW.status) THEN
		IF (OLD.bot, OLD.provider, OLD.status) < (NEW.bot, NEW.provider, NEW.status) THEN
			UPDATE identity_counts SET n = n - 1
				WHERE bot = OLD.bot AND provider = OLD.provider AND status = OLD.status;
			INSERT INTO identity_counts AS c (bot, provider, status, n) VALUES (NEW.bot, NEW.provider, NEW.status, 1)
				ON CONFLICT (bot, provider, status) DO UPDATE SET n = c.n + 1;
		ELSE
			INSERT INTO identity_counts AS c (bot, provider, status, n) VALUES (NEW.bot, NEW.provider, NEW.status, 1)
				ON CONFLICT (bot, provider, status) DO UPDATE SET n = c.n + 1;
			UPDATE identity_counts SET n = n - 1
				WHERE bot = OLD.bot AND provider = OLD.provider AND status = OLD.status;
		END IF;
	END IF;
	RETURN NULL;
END;
$$;

CREATE TRIGGER identity_counts_follow AFTER INSERT OR DELETE OR UPDATE OF bot, provider, status
	ON identities FOR EACH ROW EXECUTE FUNCTION identity_counts_follow();

-- An operator's login. Only the SHA-256 of the session cookie is kept, so a database dump opens
-- no session; credential identifies the admin credential that opened it (a keyed hash).
CREATE TABLE admin_sessions (
	token_hash bytea       PRIMARY KEY,
	credential bytea       NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);
