package sqlstore

// Statements are a backend's SQL for the rules. Each comment lists the arguments in the order
// the rules pass them (a backend whose placeholders are positional numbers them, ?1 or $1,
// where it needs another order or one twice) and the columns a query returns. "Identity
// columns" are id, bot, channel, user_id, provider, provider_user_id, name, nickname, email,
// avatar_url, status, scopes, access_token, access_token_secret, refresh_token, token_type,
// expires_at, linked_at, updated_at: what Codec.ScanIdentity reads.
//
// Where a row must not change between a read and the write that depends on it, the read
// locks it (PostgreSQL: FOR UPDATE); SQLite needs nothing more, since its transactions take
// the write lock when they begin.
type Statements struct {
	// Links and flows.

	// InsertLink (token_hash, bot, channel, user, user_label, redirect_url, created_at,
	// expires_at, used_at, cancelled_at), run by Conn.Insert: the link's id.
	InsertLink string
	// InsertLinkProvider (link_id, position, provider, scopes, identity_id, linked_at).
	InsertLinkProvider string
	// CancelLink (now, link_id) spends the link when it is not spent: used_at and
	// cancelled_at are now.
	CancelLink string
	// LinkExists (link_id) → any one column.
	LinkExists string
	// InsertFlow (state_hash, link_id, created_at, expires_at).
	InsertFlow string
	// FlowConsumed (state_hash) → whether the flow's consumed_at is set.
	FlowConsumed string
	// CountOpenFlows (link_id, now) → the link's flows neither consumed nor expired.
	CountOpenFlows string

	// Completing a link, in the order CompleteLink runs them.

	// LockLink (link_id) → bot, channel, user_id, whether used_at is set; locks the link.
	LockLink string
	// IdentityByKey (bot, channel, user, provider, provider_user_id) → id, status; locks it.
	IdentityByKey string
	// InsertIdentity (bot, channel, user, provider, provider_user_id, name, nickname, email,
	// avatar_url, status, scopes, access_token, access_token_secret, refresh_token,
	// token_type, expires_at, now) → identity columns. now is linked_at and updated_at. A new
	// id is above every id ever given, so an unlinked identity's id never comes back. No
	// row: an insert of the same account by a concurrent transaction came first.
	InsertIdentity string
	// UpdateIdentity (name, nickname, email, avatar_url, status, scopes, access_token,
	// access_token_secret, refresh_token, token_type, expires_at, now, id) → identity columns;
	// it also clears the refresh lease and its back-off.
	UpdateIdentity string
	// ClaimProvider (identity_id, now, link_id, provider) marks the link's provider linked
	// when it is not yet.
	ClaimProvider string
	// LinkHasProvider (link_id, provider) → any one column.
	LinkHasProvider string
	// ProvidersLeft (link_id) → how many providers of the link are not linked.
	ProvidersLeft string
	// SpendLink (now, link_id) sets used_at.
	SpendLink string
	// InsertConfirmations (code_hash, attempts, expires_at, link_id) creates one confirmation
	// per identity of the link, for the identity's bot, channel and user.
	InsertConfirmations string
	// LinkIdentities (link_id) → id, provider, provider_user_id, status of the identities the
	// link linked that still exist, in the link's order.
	LinkIdentities string

	// Identities, their history and their webhook events.

	// IdentityByID (id) → identity columns.
	IdentityByID string
	// DeleteIdentity (id, bot) → identity columns of the deleted identity.
	DeleteIdentity string
	// InsertEvent (identity_id, bot, kind, outcome, detail, at).
	InsertEvent string
	// Events (identity_id, bot) → id, identity_id, bot, kind, outcome, detail, at; oldest first.
	Events string
	// InsertOutbox (event_id, type, bot, identity_id, channel, user, provider,
	// provider_user_id, status, reason, identities, at); at is created_at and next_attempt_at.
	InsertOutbox string

	// Confirmations.

	// LiveConfirmations (bot, channel, user, now, max attempts) → identity_id, link_id (0
	// when none), code_hash of the chat user's confirmations that are not expired nor void,
	// by id; locks them.
	LiveConfirmations string
	// CountWrongAttempt (bot, channel, user, now, max attempts) adds an attempt to each of them.
	CountWrongAttempt string
	// ConfirmedWith (link_id, code_hash, now, max attempts) → identity_id of the link's live
	// confirmations with the code hash, in the link's order.
	ConfirmedWith string
	// Activate (status, now, id) sets the identity's status and updated_at → identity columns.
	Activate string
	// DeleteConfirmations (identity_id).
	DeleteConfirmations string

	// Refresh leases.

	// IdentityLease (id, bot) → identity columns, refresh_lease_until, refresh_retry_at.
	IdentityLease string
	// StoreRefreshed (access_token, refresh_token or NULL to keep it, expires_at, now, id, bot,
	// holder, active status, previous access_token, previous refresh_token) → identity
	// columns. It writes when holder holds the lease, or else when the identity is active and
	// its access and refresh tokens are still the previous ones (NULL access tokens match, a
	// NULL previous refresh token never does), and clears the lease and its back-off.
	StoreRefreshed string
	// ReleaseRefreshLease (retry_at, id, bot, holder) clears the lease when holder holds it.
	ReleaseRefreshLease string
	// LockRefreshHolder (id, bot) → the lease's holder ("" when none), status; locks the row.
	LockRefreshHolder string
	// MarkRelinkRequired (status, now, id) sets the status and updated_at and clears the
	// lease and its back-off → identity columns.
	MarkRelinkRequired string

	// Key rotation.

	// SealedBatch (after id, limit) → id, bot, channel, user_id, provider, provider_user_id,
	// access_token, access_token_secret, refresh_token, by id.
	SealedBatch string
	// ReplaceSealed (access_token, access_token_secret, refresh_token, id, old access_token,
	// old access_token_secret, old refresh_token) writes the three when the stored ones are
	// the old ones, NULL matching NULL.
	ReplaceSealed string
	// IdentityExists (id) → any one column.
	IdentityExists string

	// The webhook outbox.

	// ClaimDue (now, limit, holder, claimed_until) → outbox columns of the events it claimed:
	// pending, due, not claimed by a live claim, with no older pending event of the same bot
	// and identity, oldest due first.
	ClaimDue string
	// MarkDelivered (id, holder, now), MarkFailed (id, holder, next attempt, last error) and
	// MarkDead (id, holder, now, last error) end holder's claim on a pending event, counting
	// the attempt.
	MarkDelivered, MarkFailed, MarkDead string
	// PruneOutbox (delivered before) deletes delivered events.
	PruneOutbox string

	// The API proxy's usage.

	// RecordProxyCall (at, status, id, bot) counts a call of the bot's identity; the latest at
	// keeps its status.
	RecordProxyCall string
	// ProxyUsage (id, bot) → calls, last_used_at, last_status.
	ProxyUsage string

	// Retention.

	// Purge, per store.PurgeTables entry: (cutoff, limit) deletes one batch.
	Purge map[string]string
	// AcquireLease (name, holder, until, now) → holder, when it inserted the lease or took
	// it over (free at now, or already holder's); no row otherwise.
	AcquireLease string
	// ReleaseLease (name, holder).
	ReleaseLease string

	// The operators' pages.

	// IdentityTotals () → bot, provider, status, n of every combination with identities,
	// sorted by code point.
	IdentityTotals string
	// DeleteExpiredAdminSessions (now).
	DeleteExpiredAdminSessions string
	// InsertAdminSession (token_hash, credential, created_at, expires_at).
	InsertAdminSession string
	// AdminSession (token_hash) → token_hash, credential, created_at, expires_at.
	AdminSession string
	// DeleteAdminSession (token_hash).
	DeleteAdminSession string
}
