-- 0003: the token lifecycle: refresh leases on identities, and the webhook outbox.

-- One refresh at a time per identity, across processes: the holder owns the lease until
-- refresh_lease_until; a holder that dies loses it by expiry. refresh_retry_at is the back-off
-- after a failed refresh.
ALTER TABLE identities ADD COLUMN refresh_holder TEXT;
ALTER TABLE identities ADD COLUMN refresh_lease_until INTEGER;
ALTER TABLE identities ADD COLUMN refresh_retry_at INTEGER;

-- Webhook events, written in the transaction of the change they announce and delivered from
-- here. AUTOINCREMENT: an id is never reused, even after its row is pruned, because delivery
-- order follows it. event_id is what receivers see (random, so a restored backup cannot make
-- a new event look like a replay of an old one).
CREATE TABLE webhook_outbox (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id         TEXT    NOT NULL UNIQUE,
	type             TEXT    NOT NULL,
	bot              TEXT    NOT NULL,
	identity_id      INTEGER NOT NULL,
	channel          TEXT    NOT NULL,
	user_id          TEXT    NOT NULL,
	provider         TEXT    NOT NULL,
	provider_user_id TEXT    NOT NULL,
	status           TEXT    NOT NULL,
	reason           TEXT    NOT NULL DEFAULT '',
	created_at       INTEGER NOT NULL,
	state            TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  INTEGER NOT NULL,
	claimed_by       TEXT,
	claimed_until    INTEGER,
	last_error       TEXT    NOT NULL DEFAULT '',
	delivered_at     INTEGER
) STRICT;

-- The delivery loop's two questions: what is due, and is an older event of the same
-- identity still pending. Both only ever look at pending rows.
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_outbox_identity ON webhook_outbox (bot, identity_id, id) WHERE state = 'pending';
-- Operators list dead events, and pruning finds old delivered ones.
CREATE INDEX webhook_outbox_state ON webhook_outbox (state, id);
