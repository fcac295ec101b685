package postgres

import (
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// This store's SQL for the rules in package sqlstore: what each statement takes and returns
// is documented there (sqlstore.Statements). Under READ COMMITTED, a read that a later write
// depends on locks its rows (FOR UPDATE), so a second transaction on another instance waits
// for the first to commit and then reads what it wrote; a conditional write re-checks its
// WHERE clause against the committed row.
var statements = sqlstore.Statements{
	InsertLink: `INSERT INTO links
		(token_hash, bot, channel, user_id, user_label, redirect_url, created_at, expires_at, used_at, cancelled_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
	InsertLinkProvider: `INSERT INTO link_providers (link_id, position, provider, scopes, identity_id, linked_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
	CancelLink:     `UPDATE links SET used_at = $1, cancelled_at = $1 WHERE id = $2 AND used_at IS NULL`,
	LinkExists:     `SELECT 1 FROM links WHERE id = $1`,
	InsertFlow:     `INSERT INTO flows (state_hash, link_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
	FlowConsumed:   `SELECT consumed_at IS NOT NULL FROM flows WHERE state_hash = $1`,
	CountOpenFlows: `SELECT count(*) FROM flows WHERE link_id = $1 AND consumed_at IS NULL AND expires_at > $2`,

	LockLink: `SELECT bot, channel, user_id, used_at IS NOT NULL FROM links WHERE id = $1 FOR UPDATE`,
	IdentityByKey: `SELECT id, status FROM identities
		WHERE bot = $1 AND channel = $2 AND user_id = $3 AND provider = $4 AND provider_user_id = $5 FOR UPDATE`,
	// ON CONFLICT DO NOTHING waits for a concurrent insert of the same account and then
	// returns no row, so the rules go round to update that one. The sequence never gives an
	// id twice.
	InsertIdentity: `INSERT INTO identities
		(bot, channel, user_id, provider, provider_user_id, name, nickname, email, avatar_url,
		 status, scopes, access_token, access_token_secret, refresh_token, token_type, expires_at,
		 linked_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)
		ON CONFLICT (bot, channel, user_id, provider, provider_user_id) DO NOTHING RETURNING ` + identityColumns,
	UpdateIdentity: `UPDATE identities SET name = $1, nickname = $2, email = $3, avatar_url = $4, status = $5,
		scopes = $6, access_token = $7, access_token_secret = $8, refresh_token = $9, token_type = $10,
		expires_at = $11, updated_at = $12, refresh_holder = NULL, refresh_lease_until = NULL, refresh_retry_at = NULL
		WHERE id = $13 RETURNING ` + identityColumns,
	ClaimProvider: `UPDATE link_providers SET identity_id = $1, linked_at = $2
		WHERE link_id = $3 AND provider = $4 AND linked_at IS NULL`,
	LinkHasProvider: `SELECT 1 FROM link_providers WHERE link_id = $1 AND provider = $2`,
	ProvidersLeft:   `SELECT count(*) FROM link_providers WHERE link_id = $1 AND linked_at IS NULL`,
	SpendLink:       `UPDATE links SET used_at = $1 WHERE id = $2`,
	InsertConfirmations: `INSERT INTO confirmations
		(identity_id, link_id, bot, channel, user_id, code_hash, attempts, expires_at)
		SELECT lp.identity_id, lp.link_id, i.bot, i.channel, i.user_id, $1, $2, $3
		FROM link_providers lp JOIN identities i ON i.id = lp.identity_id
		WHERE lp.link_id = $4 ORDER BY lp.position`,
	LinkIdentities: `SELECT i.id, i.provider, i.provider_user_id, i.status
		FROM link_providers lp JOIN identities i ON i.id = lp.identity_id
		WHERE lp.link_id = $1 ORDER BY lp.position`,

	IdentityByID:   selectIdentity + ` WHERE id = $1`,
	DeleteIdentity: `DELETE FROM identities WHERE id = $1 AND bot = $2 RETURNING ` + identityColumns,
	InsertEvent: `INSERT INTO identity_events (identity_id, bot, kind, outcome, detail, at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
	Events: `SELECT id, identity_id, bot, kind, outcome, detail, at
		FROM identity_events WHERE identity_id = $1 AND bot = $2 ORDER BY id`,
	InsertOutbox: `INSERT INTO webhook_outbox
		(event_id, type, bot, identity_id, channel, user_id, provider, provider_user_id, status, reason,
		 identities, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,

	// In id order, so concurrent callers take the row locks in the same order.
	LiveConfirmations: `SELECT identity_id, coalesce(link_id, 0), code_hash FROM confirmations` + liveConfirmations + ` ORDER BY id FOR UPDATE`,
	CountWrongAttempt: `UPDATE confirmations SET attempts = attempts + 1` + liveConfirmations,
	ConfirmedWith: `SELECT c.identity_id FROM confirmations c
		LEFT JOIN link_providers lp ON lp.link_id = c.link_id AND lp.identity_id = c.identity_id
		WHERE c.link_id = $1 AND c.code_hash = $2 AND c.expires_at > $3 AND c.attempts < $4
		ORDER BY lp.position, c.id`,
	Activate:            `UPDATE identities SET status = $1, updated_at = $2 WHERE id = $3 RETURNING ` + identityColumns,
	DeleteConfirmations: `DELETE FROM confirmations WHERE identity_id = $1`,

	IdentityLease: selectIdentityLease + ` WHERE id = $1 AND bot = $2`,
	// IS NOT DISTINCT FROM also matches a NULL access token; `refresh_token = $10` never
	// matches a NULL previous refresh token. COALESCE keeps the stored refresh token when the
	// provider did not rotate it.
	StoreRefreshed: `UPDATE identities SET access_token = $1,
		refresh_token = COALESCE($2, refresh_token), expires_at = $3, updated_at = $4,
		refresh_holder = NULL, refresh_lease_until = NULL, refresh_retry_at = NULL
		WHERE id = $5 AND bot = $6 AND (refresh_holder = $7
		  OR (status = $8 AND access_token IS NOT DISTINCT FROM $9 AND refresh_token = $10))
		RETURNING ` + identityColumns,
	ReleaseRefreshLease: `UPDATE identities SET refresh_holder = NULL, refresh_lease_until = NULL,
		refresh_retry_at = $1 WHERE id = $2 AND bot = $3 AND refresh_holder = $4`,
	LockRefreshHolder: `SELECT coalesce(refresh_holder, ''), status FROM identities WHERE id = $1 AND bot = $2 FOR UPDATE`,
	MarkRelinkRequired: `UPDATE identities SET status = $1, updated_at = $2,
		refresh_holder = NULL, refresh_lease_until = NULL, refresh_retry_at = NULL
		WHERE id = $3 RETURNING ` + identityColumns,

	SealedBatch: `SELECT id, bot, channel, user_id, provider, provider_user_id,
		access_token, access_token_secret, refresh_token FROM identities WHERE id > $1 ORDER BY id LIMIT $2`,
	// IS NOT DISTINCT FROM compares NULL with NULL as equal, which a field the provider never
	// issued needs.
	ReplaceSealed: `UPDATE identities SET access_token = $1, access_token_secret = $2, refresh_token = $3
		WHERE id = $4 AND access_token IS NOT DISTINCT FROM $5 AND access_token_secret IS NOT DISTINCT FROM $6
		  AND refresh_token IS NOT DISTINCT FROM $7`,
	IdentityExists: `SELECT 1 FROM identities WHERE id = $1`,

	// FOR UPDATE SKIP LOCKED lets delivery loops on several instances claim at once without
	// waiting for each other or claiming one event twice: a row another claimer has locked is
	// skipped, and a row another claimer has already claimed and committed fails the re-check
	// of claimed_until.
	ClaimDue: `WITH due AS (
			SELECT o.id FROM webhook_outbox o
			WHERE o.state = 'pending' AND o.next_attempt_at <= $1
			  AND (o.claimed_until IS NULL OR o.claimed_until <= $1)
			  AND NOT EXISTS (SELECT 1 FROM webhook_outbox p
				WHERE p.state = 'pending' AND p.bot = o.bot AND p.identity_id = o.identity_id AND p.id < o.id)
			ORDER BY o.next_attempt_at, o.id LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE webhook_outbox w SET claimed_by = $3, claimed_until = $4 FROM due WHERE w.id = due.id
		RETURNING ` + prefixed("w.", outboxColumns),
	MarkDelivered: `UPDATE webhook_outbox SET state = 'delivered', delivered_at = $3, last_error = ''` + endClaim,
	MarkFailed:    `UPDATE webhook_outbox SET next_attempt_at = $3, last_error = $4` + endClaim,
	MarkDead:      `UPDATE webhook_outbox SET state = 'dead', next_attempt_at = $3, last_error = $4` + endClaim,
	PruneOutbox:   `DELETE FROM webhook_outbox WHERE state = 'delivered' AND delivered_at < $1`,

	// Concurrent calls of one identity queue on its usage row, so no count is lost.
	RecordProxyCall: `INSERT INTO proxy_usage AS u (identity_id, calls, last_used_at, last_status)
		SELECT id, 1, $1, $2 FROM identities WHERE id = $3 AND bot = $4
		ON CONFLICT (identity_id) DO UPDATE SET calls = u.calls + 1,
			last_status = CASE WHEN excluded.last_used_at >= u.last_used_at THEN excluded.last_status ELSE u.last_status END,
			last_used_at = greatest(u.last_used_at, excluded.last_used_at)`,
	ProxyUsage: `SELECT u.calls, u.last_used_at, u.last_status
		FROM proxy_usage u JOIN identities i ON i.id = u.identity_id
		WHERE u.identity_id = $1 AND i.bot = $2`,

	Purge: purgeSQL,
	AcquireLease: `INSERT INTO leases (name, holder, held_until) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
			WHERE leases.holder = excluded.holder OR leases.held_until <= $4
		RETURNING holder`,
	ReleaseLease: `DELETE FROM leases WHERE name = $1 AND holder = $2`,

	// identity_counts is kept in step with identities by a trigger, each total spread over
	// shards (0006_count_shards.sql). The order is by code point, as in every store, whatever
	// the database's collation.
	IdentityTotals: `SELECT bot, provider, status, sum(n)::bigint FROM identity_counts
		GROUP BY bot, provider, status HAVING sum(n) > 0
		ORDER BY bot COLLATE "C", provider COLLATE "C", status COLLATE "C"`,
	DeleteExpiredAdminSessions: `DELETE FROM admin_sessions WHERE expires_at <= $1`,
	InsertAdminSession: `INSERT INTO admin_sessions (token_hash, credential, created_at, expires_at)
		VALUES ($1, $2, $3, $4)`,
	AdminSession:       `SELECT token_hash, credential, created_at, expires_at FROM admin_sessions WHERE token_hash = $1`,
	DeleteAdminSession: `DELETE FROM admin_sessions WHERE token_hash = $1`,
}

const identityColumns = `id, bot, channel, user_id, provider, provider_user_id,
	name, nickname, email, avatar_url, status, scopes,
	access_token, access_token_secret, refresh_token, token_type, expires_at,
	linked_at, updated_at`

const selectIdentity = `SELECT ` + identityColumns + ` FROM identities`

const selectIdentityLease = `SELECT ` + identityColumns + `, refresh_lease_until, refresh_retry_at FROM identities`

// liveConfirmations is the WHERE clause of a chat user's confirmations that can still be
// confirmed at $4: not expired (a confirmation expires at its ExpiresAt) and not voided by
// $5 wrong attempts.
const liveConfirmations = ` WHERE bot = $1 AND channel = $2 AND user_id = $3 AND expires_at > $4 AND attempts < $5`

const outboxColumns = `id, event_id, type, bot, identity_id, channel, user_id, provider,
	provider_user_id, status, reason, identities, created_at, state, attempts, next_attempt_at, last_error,
	delivered_at`

// endClaim ends the claim of holder $2 on pending event $1, counting the attempt.
const endClaim = `, attempts = attempts + 1, claimed_by = NULL, claimed_until = NULL
	WHERE id = $1 AND state = 'pending' AND claimed_by = $2`

// purgeSQL deletes one batch of a table: $1 is the cutoff, $2 the batch size. Each picks the
// rows through the indexes of migration 0005, so a batch costs the rows it deletes, not the
// table. A cancelled link has its used_at too, so links_used finds it. Deleting a link
// cascades (ON DELETE CASCADE) to what refers to it — its link_providers, flows and
// confirmations — each through an index on link_id. Rows another transaction has locked are
// left for the next batch rather than waited for: a purge must never hold up a flow.
var purgeSQL = map[string]string{
	store.PurgeFlows: `DELETE FROM flows WHERE state_hash IN (
		SELECT state_hash FROM flows WHERE expires_at < $1 OR consumed_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
	store.PurgeConfirmations: `DELETE FROM confirmations WHERE id IN (
		SELECT id FROM confirmations WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
	store.PurgeAdminSessions: `DELETE FROM admin_sessions WHERE token_hash IN (
		SELECT token_hash FROM admin_sessions WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
	store.PurgeLinks: `DELETE FROM links WHERE id IN (
		SELECT id FROM links WHERE expires_at < $1 OR used_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
}
