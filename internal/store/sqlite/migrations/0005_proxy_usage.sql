-- 0005: usage of the API proxy (store.UsageStore): calls per identity, the latest one's time
-- and status, for the admin identity page.
--
-- A table of its own rather than columns on identities: every proxied call writes here, and
-- identities carries the admin list's indexes and the totals' triggers, which such a write
-- would otherwise touch. The usage belongs to the identity: a relink keeps the id and so the
-- count, an unlink deletes both.
CREATE TABLE proxy_usage (
	identity_id  INTEGER PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
	calls        INTEGER NOT NULL,
	last_used_at INTEGER NOT NULL,
	last_status  INTEGER NOT NULL
) STRICT;
