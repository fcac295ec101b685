package sqlite

import (
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// This store's SQL for the rules in package sqlstore: what each statement takes and returns
// is documented there (sqlstore.Statements). SQLite needs no row locks: every write
// transaction takes the write lock when it begins (the writer's _txlock=immediate), so what
// a transaction reads cannot change before it writes. Placeholders are numbered (?1) where a
// statement takes its arguments in another order than it names them, or one twice.
var statements = sqlstore.Statements{
	InsertLink: `INSERT INTO links
		(token_hash, bot, channel, user_id, user_label, redirect_url, created_at, expires_at, used_at, cancelled_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	InsertLinkProvider: `INSERT INTO link_providers (link_id, position, provider, scopes, identity_id, linked_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
	CancelLink:     `UPDATE links SET used_at = ?1, cancelled_at = ?1 WHERE id = ?2 AND used_at IS NULL`,
	LinkExists:     `SELECT 1 FROM links WHERE id = ?`,
	InsertFlow:     `INSERT INTO flows (state_hash, link_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
	FlowConsumed:   `SELECT consumed_at IS NOT NULL FROM flows WHERE state_hash = ?`,
	CountOpenFlows: countOpenFlows,

	LockLink: `SELECT bot, channel, user_id, used_at IS NOT NULL FROM links WHERE id = ?`,
	IdentityByKey: `SELECT id, status FROM identities
		WHERE bot = ? AND channel = ? AND user_id = ? AND provider = ? AND provider_user_id = ?`,
	InsertIdentity: `INSERT INTO identities
		(id, bot, channel, user_id, provider, provider_user_id, name, nickname, email, avatar_url,
		 status, scopes, access_token, access_token_secret, refresh_token, token_type, expires_at,
		 linked_at, updated_at)
		VALUES (` + nextIdentityID + `, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17)
		RETURNING ` + identityColumns,
	UpdateIdentity: `UPDATE identities SET name = ?, nickname = ?, email = ?, avatar_url = ?, status = ?,
		scopes = ?, access_token = ?, access_token_secret = ?, refresh_token = ?, token_type = ?,
		expires_at = ?, updated_at = ?, refresh_holder = NULL, refresh_lease_until = NULL, refresh_retry_at = NULL
		WHERE id = ? RETURNING ` + identityColumns,
	ClaimProvider: `UPDATE link_providers SET identity_id = ?, linked_at = ?
		WHERE link_id = ? AND provider = ? AND linked_at IS NULL`,
	LinkHasProvider: `SELECT 1 FROM link_providers WHERE link_id = ? AND provider = ?`,
	ProvidersLeft:   `SELECT count(*) FROM link_providers WHERE link_id = ? AND linked_at IS NULL`,
	SpendLink:       `UPDATE links SET used_at = ? WHERE id = ?`,
	InsertConfirmations: `INSERT INTO confirmations
		(identity_id, link_id, bot, channel, user_id, code_hash, attempts, expires_at)
		SELECT lp.identity_id, lp.link_id, i.bot, i.channel, i.user_id, ?, ?, ?
		FROM link_providers lp JOIN identities i ON i.id = lp.identity_id
		WHERE lp.link_id = ? ORDER BY lp.position`,
	LinkIdentities: `SELECT i.id, i.provider, i.provider_user_id, i.status
		FROM link_providers lp JOIN identities i ON i.id = lp.identity_id
		WHERE lp.link_id = ? ORDER BY lp.position`,

	IdentityByID:   selectIdentity + ` WHERE id = ?`,
	DeleteIdentity: `DELETE FROM identities WHERE id = ? AND bot = ? RETURNING ` + identityColumns,
	InsertEvent: `INSERT INTO identity_events (identity_id, bot, kind, outcome, detail, at)
		VALUES (?, ?, ?, ?, ?, ?)`,
	Events: `SELECT id, identity_id, bot, kind, outcome, detail, at
		FROM identity_events WHERE identity_id = ? AND bot = ? ORDER BY id`,
	InsertOutbox: `INSERT INTO webhook_outbox
		(event_id, type, bot, identity_id, channel, user_id, provider, provider_user_id, status, reason,
		 identities, created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)`,

	LiveConfirmations: `SELECT identity_id, coalesce(link_id, 0), code_hash FROM confirmations` + liveConfirmations + ` ORDER BY id`,
	CountWrongAttempt: `UPDATE confirmations SET attempts = attempts + 1` + liveConfirmations,
	ConfirmedWith: `SELECT c.identity_id FROM confirmations c
		LEFT JOIN link_providers lp ON lp.link_id = c.link_id AND lp.identity_id = c.identity_id
		WHERE c.link_id = ? AND c.code_hash = ? AND c.expires_at > ? AND c.attempts < ?
		ORDER BY lp.position, c.id`,
	Activate:            `UPDATE identities SET status = ?, updated_at = ? WHERE id = ? RETURNING ` + identityColumns,
	DeleteConfirmations: `DELETE FROM confirmations WHERE identity_id = ?`,

	IdentityLease: selectIdentityLease + ` WHERE id = ? AND bot = ?`,
	// `IS` also matches a NULL access token; `refresh_token = ?` never matches a NULL previous
	// refresh token. COALESCE keeps the stored refresh token when the provider did not rotate it.
	StoreRefreshed: `UPDATE identities SET access_token = ?,
		refresh_token = COALESCE(?, refresh_token), expires_at = ?, updated_at = ?,
		refresh_holder = NULL, refresh_lease_until = NULL, refresh_retry_at = NULL
		WHERE id = ? AND bot = ? AND (refresh_holder = ?
		  OR (status = ? AND access_token IS ? AND refresh_token = ?))
		RETURNING ` + identityColumns,
	ReleaseRefreshLease: `UPDATE identities SET refresh_holder = NULL, refresh_lease_until = NULL,
		refresh_retry_at = ? WHERE id = ? AND bot = ? AND refresh_holder = ?`,
	LockRefreshHolder: `SELECT coalesce(refresh_holder, ''), status FROM identities WHERE id = ? AND bot = ?`,
	MarkRelinkRequired: `UPDATE identities SET status = ?, updated_at = ?,
		refresh_holder = NULL, refresh_lease_until = NULL, refresh_retry_at = NULL
		WHERE id = ? RETURNING ` + identityColumns,

	SealedBatch: `SELECT id, bot, channel, user_id, provider, provider_user_id,
		access_token, access_token_secret, refresh_token FROM identities WHERE id > ? ORDER BY id LIMIT ?`,
	// `IS` compares NULL with NULL as equal, which a field the provider never issued needs.
	ReplaceSealed: `UPDATE identities SET access_token = ?, access_token_secret = ?, refresh_token = ?
		WHERE id = ? AND access_token IS ? AND access_token_secret IS ? AND refresh_token IS ?`,
	IdentityExists: `SELECT 1 FROM identities WHERE id = ?`,

	ClaimDue: `UPDATE webhook_outbox SET claimed_by = ?3, claimed_until = ?4
		WHERE id IN (` + dueEvents + `) RETURNING ` + outboxColumns,
	MarkDelivered: `UPDATE webhook_outbox SET state = 'delivered', delivered_at = ?3, last_error = ''` + endClaim,
	MarkFailed:    `UPDATE webhook_outbox SET next_attempt_at = ?3, last_error = ?4` + endClaim,
	MarkDead:      `UPDATE webhook_outbox SET state = 'dead', next_attempt_at = ?3, last_error = ?4` + endClaim,
	PruneOutbox:   `DELETE FROM webhook_outbox WHERE state = 'delivered' AND delivered_at < ?`,

	RecordProxyCall: `INSERT INTO proxy_usage (identity_id, calls, last_used_at, last_status)
		SELECT id, 1, ?, ? FROM identities WHERE id = ? AND bot = ?
		ON CONFLICT (identity_id) DO UPDATE SET calls = calls + 1,
			last_status = CASE WHEN excluded.last_used_at >= last_used_at THEN excluded.last_status ELSE last_status END,
			last_used_at = max(last_used_at, excluded.last_used_at)`,
	ProxyUsage: `SELECT u.calls, u.last_used_at, u.last_status
		FROM proxy_usage u JOIN identities i ON i.id = u.identity_id
		WHERE u.identity_id = ? AND i.bot = ?`,

	Purge: purgeSQL,
	AcquireLease: `INSERT INTO leases (name, holder, held_until) VALUES (?1, ?2, ?3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
			WHERE leases.holder = excluded.holder OR leases.held_until <= ?4
		RETURNING holder`,
	ReleaseLease: `DELETE FROM leases WHERE name = ? AND holder = ?`,

	// identity_counts is kept in step with identities by triggers (0002_admin.sql).
	IdentityTotals: `SELECT bot, provider, status, n FROM identity_counts
		WHERE n > 0 ORDER BY bot, provider, status`,
	DeleteExpiredAdminSessions: `DELETE FROM admin_sessions WHERE expires_at <= ?`,
	InsertAdminSession: `INSERT INTO admin_sessions (token_hash, credential, created_at, expires_at)
		VALUES (?, ?, ?, ?)`,
	AdminSession:       `SELECT token_hash, credential, created_at, expires_at FROM admin_sessions WHERE token_hash = ?`,
	DeleteAdminSession: `DELETE FROM admin_sessions WHERE token_hash = ?`,
}

const identityColumns = `id, bot, channel, user_id, provider, provider_user_id,
	name, nickname, email, avatar_url, status, scopes,
	access_token, access_token_secret, refresh_token, token_type, expires_at,
	linked_at, updated_at`

const selectIdentity = `SELECT ` + identityColumns + ` FROM identities`

// selectIdentityLease is selectIdentity with the refresh lease columns appended.
const selectIdentityLease = `SELECT ` + identityColumns + `, refresh_lease_until, refresh_retry_at FROM identities`

// nextIdentityID is the id of a new identity: above every id ever used. SQLite's own choice
// (the largest rowid + 1) hands an unlinked identity's id to the next account when the
// unlinked one was the newest, and then a bot holding the old id would read another user's
// credentials, and history and webhook events of two accounts would share one id. Every
// identity gets a linked event that is never deleted, so identity_events remembers the ids
// (both maxima are index lookups).
const nextIdentityID = `(SELECT max(coalesce((SELECT max(id) FROM identities), 0),
	coalesce((SELECT max(identity_id) FROM identity_events), 0)) + 1)`

// liveConfirmations is the WHERE clause of a chat user's confirmations that can still be
// confirmed at a time: not expired (a confirmation expires at its ExpiresAt) and not voided
// by too many wrong attempts.
const liveConfirmations = ` WHERE bot = ? AND channel = ? AND user_id = ? AND expires_at > ? AND attempts < ?`

const outboxColumns = `id, event_id, type, bot, identity_id, channel, user_id, provider,
	provider_user_id, status, reason, identities, created_at, state, attempts, next_attempt_at, last_error,
	delivered_at`

// dueEvents selects the events ClaimDue may claim at ?1, at most ?2, in delivery order. The
// NOT EXISTS keeps one identity's events in order: an event waits while any older one of its
// identity is pending, whether that one is claimed elsewhere or backing off after a failure.
// INDEXED BY: without statistics SQLite would rather use the equality on state (every
// pending row, then a sort) than the partial index that is already in due order.
const dueEvents = `SELECT o.id FROM webhook_outbox o INDEXED BY webhook_outbox_due
	WHERE o.state = 'pending' AND o.next_attempt_at <= ?1
	  AND (o.claimed_until IS NULL OR o.claimed_until <= ?1)
	  AND NOT EXISTS (SELECT 1 FROM webhook_outbox p
		WHERE p.state = 'pending' AND p.bot = o.bot AND p.identity_id = o.identity_id AND p.id < o.id)
	ORDER BY o.next_attempt_at, o.id LIMIT ?2`

// endClaim ends the claim of holder ?2 on pending event ?1, counting the attempt.
const endClaim = `, attempts = attempts + 1, claimed_by = NULL, claimed_until = NULL
	WHERE id = ?1 AND state = 'pending' AND claimed_by = ?2`

// purgeSQL deletes one batch of a table: ?1 is the cutoff, ?2 the batch size. Confirmations
// and admin sessions are picked through their expiry indexes (0007, 0002). Links and flows
// have no such index (0008 dropped them: each cost a page on every link and flow written):
// a batch reads their oldest rows in rowid order, which is the order they were made in, and
// deletes the spent or expired ones among the first purgeWindow + ?2, so it reads at most that
// many rows however large the table. The test of each row is the same as through an index,
// so nothing is deleted before its time. A cancelled link has its used_at too.
//
// What a batch can miss: due rows behind a window of rows that are not yet due, which takes
// more than purgeWindow links or flows made before the cutoff and still open after it. Those
// fall due within their lifetime (a link's at most server.max_link_ttl, a flow's 15 minutes),
// are purged, and the window moves on: a row is purged at most that much later than its
// time (plus the janitor's interval), never kept forever.
//
// Deleting a link cascades (ON DELETE CASCADE, enforced: the writer has foreign_keys on) to
// what refers to it — its link_providers, flows and confirmations — each through an index on
// link_id.
var purgeSQL = map[string]string{
	store.PurgeFlows: `DELETE FROM flows WHERE rowid IN (
		SELECT r FROM (SELECT rowid AS r, expires_at, consumed_at FROM flows ORDER BY rowid LIMIT ?2 + ` + purgeWindow + `)
		WHERE expires_at < ?1 OR consumed_at < ?1 LIMIT ?2)`,
	store.PurgeConfirmations: `DELETE FROM confirmations WHERE id IN (
		SELECT id FROM confirmations WHERE expires_at < ?1 LIMIT ?2)`,
	store.PurgeAdminSessions: `DELETE FROM admin_sessions WHERE token_hash IN (
		SELECT token_hash FROM admin_sessions WHERE expires_at < ?1 LIMIT ?2)`,
	store.PurgeLinks: `DELETE FROM links WHERE id IN (
		SELECT id FROM (SELECT id, expires_at, used_at FROM links ORDER BY id LIMIT ?2 + ` + purgeWindow + `)
		WHERE expires_at < ?1 OR used_at < ?1 LIMIT ?2)`,
}

// purgeWindow is how many rows of links or flows that are not yet due a batch steps over
// before it gives up until the next run: 4,096 rows are about a hundred pages of the table,
// a fraction of a millisecond to read.
const purgeWindow = "4096"

// countOpenFlows counts a link's open flows by flows_link_id (operations_test.go pins the plan).
const countOpenFlows = `SELECT count(*) FROM flows WHERE link_id = ? AND consumed_at IS NULL AND expires_at > ?`
