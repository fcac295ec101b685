-- 0007: retention. The janitor deletes links, flows, confirmations and admin sessions spent or
-- expired for longer than storage.retention, a small batch per transaction; these indexes make
-- each batch a range scan of the oldest rows instead of a scan of the table. admin_sessions
-- has its expiry index since 0002. A cancelled link is used at its cancellation, so
-- links_used finds it too. What a deleted link cascades to (its flows, link_providers and
-- confirmations) is found through their link_id indexes (0001, 0006).
CREATE INDEX links_expires ON links (expires_at);
CREATE INDEX links_used ON links (used_at) WHERE used_at IS NOT NULL;
CREATE INDEX flows_expires ON flows (expires_at);
CREATE INDEX flows_consumed ON flows (consumed_at) WHERE consumed_at IS NOT NULL;
CREATE INDEX confirmations_expires ON confirmations (expires_at);

-- Named leases: one broker instance at a time holds one (the janitor's), until held_until; an
-- instance that dies loses it by expiry.
CREATE TABLE leases (
	name       TEXT    PRIMARY KEY,
	holder     TEXT    NOT NULL,
	held_until INTEGER NOT NULL
) STRICT;
