-- 0003: usage of the API proxy (store.UsageStore): calls per identity, the latest one's time
-- and status, for the admin identity page.
--
-- A table of its own rather than columns on identities: every proxied call writes here, and a
-- write to identities would touch its admin indexes and wake the totals trigger. The usage
-- belongs to the identity: a relink keeps the id and so the count, an unlink deletes both.
CREATE TABLE proxy_usage (
	identity_id  bigint      PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
	calls        bigint      NOT NULL,
	last_used_at timestamptz NOT NULL,
	last_status  integer     NOT NULL
);
