package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// CompleteLink marks the identity's provider of the link linked and stores the identity and
// its event, and — when that was the link's last provider — spends the link and writes the
// confirmations or link.completed, in one transaction; see store.Store. Now is the provider's
// linked_at (and the link's used_at), the identity's updated_at (and linked_at when it is new)
// and the event's time: the Identity's own LinkedAt and UpdatedAt are ignored.
//
// Beyond the interface's contract, the identity must belong to the link's bot, channel and
// user, and to one of its providers: a broker bug must not be able to attach an account to
// someone else. Completions of one link never interleave: every write goes through the one
// writer connection, in IMMEDIATE transactions.
func (s *Store) CompleteLink(ctx context.Context, p store.CompleteLinkParams) (store.Linked, error) {
	in := p.Identity
	if err := p.Check(); err != nil {
		return store.Linked{}, fmt.Errorf("sqlite: complete link %d: %w", p.LinkID, err)
	}
	scopes, err := scopesJSON(in.Scopes)
	if err != nil {
		return store.Linked{}, fmt.Errorf("sqlite: complete link %d: %w", p.LinkID, err)
	}
	now := millis(p.Now)

	var out store.Linked
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkLinkOpen(ctx, tx, p.LinkID, in); err != nil {
			return err
		}
		id, created, err := upsertIdentity(ctx, tx, in, scopes, now)
		if err != nil {
			return err
		}
		if err := claimProvider(ctx, tx, p.LinkID, in.Provider, id, now); err != nil {
			return err
		}
		kind := store.EventRelinked
		if created {
			kind = store.EventLinked
		}
		if err := insertEvent(ctx, tx, store.Event{
			IdentityID: id, Bot: in.Bot, Kind: kind, Outcome: "ok",
			Detail: in.Provider + " account " + in.AccountName(), At: p.Now,
		}); err != nil {
			return err
		}
		stored, err := scanIdentity(tx.QueryRowContext(ctx, selectIdentity+` WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if p.Webhook {
			typ := store.WebhookRelinked
			if created {
				typ = store.WebhookLinked
			}
			if err := enqueueWebhook(ctx, tx, typ, stored, "", p.Now); err != nil {
				return err
			}
		}
		complete, err := finishIfLast(ctx, tx, p, stored, now)
		out = store.Linked{Identity: stored, Created: created, LinkComplete: complete}
		return err
	})
	if err != nil {
		return store.Linked{}, fmt.Errorf("sqlite: complete link %d: %w", p.LinkID, err)
	}
	return out, nil
}

// checkLinkOpen refuses a link that does not exist (store.ErrNotFound), is spent
// (store.ErrLinkUsed) or belongs to another chat user.
func checkLinkOpen(ctx context.Context, tx *sql.Tx, linkID int64, in store.Identity) error {
	var (
		bot, channel, user string
		used               sql.NullInt64
	)
	err := tx.QueryRowContext(ctx, `SELECT bot, channel, user_id, used_at FROM links WHERE id = ?`, linkID).
		Scan(&bot, &channel, &user, &used)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("link %w", store.ErrNotFound)
	case err != nil:
		return err
	case bot != in.Bot || channel != in.Channel || user != in.User:
		return fmt.Errorf("identity of %s/%s for %s user %q does not match the link", in.Bot, in.Provider, in.Channel, in.User)
	case used.Valid:
		return store.ErrLinkUsed
	}
	return nil
}

// upsertIdentity inserts the identity, or updates the existing one with the same natural key
// keeping its id, linked_at and status (see store.Store.CompleteLink).
func upsertIdentity(ctx context.Context, tx *sql.Tx, in store.Identity, scopes string, now sql.NullInt64) (int64, bool, error) {
	var (
		id        int64
		oldStatus string
	)
	err := tx.QueryRowContext(ctx, `SELECT id, status FROM identities
		WHERE bot = ? AND channel = ? AND user_id = ? AND provider = ? AND provider_user_id = ?`,
		in.Bot, in.Channel, in.User, in.Provider, in.ProviderUserID).Scan(&id, &oldStatus)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		err = tx.QueryRowContext(ctx, `INSERT INTO identities
			(id, bot, channel, user_id, provider, provider_user_id, name, nickname, email, avatar_url,
			 status, scopes, access_token, access_token_secret, refresh_token, token_type, expires_at,
			 linked_at, updated_at)
			VALUES (`+nextIdentityID+`, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			in.Bot, in.Channel, in.User, in.Provider, in.ProviderUserID, in.Name, in.NickName, in.Email, in.AvatarURL,
			in.Status, scopes, in.AccessToken, in.AccessTokenSecret, in.RefreshToken, in.TokenType, millis(in.ExpiresAt),
			now, now).Scan(&id)
		return id, true, constraint(err)
	case err != nil:
		return 0, false, err
	}
	// A pending identity stays pending and an active one active; only an identity the
	// provider had refused takes the status of the fresh link.
	status := oldStatus
	if oldStatus == store.StatusRelinkRequired {
		status = in.Status
	}
	// New tokens end any refresh running on the old ones: its holder loses the lease
	// (store.ErrLeaseLost) instead of overwriting what the user just linked.
	_, err = tx.ExecContext(ctx, `UPDATE identities SET name = ?, nickname = ?, email = ?,
		avatar_url = ?, status = ?, scopes = ?, access_token = ?, access_token_secret = ?,
		refresh_token = ?, token_type = ?, expires_at = ?, updated_at = ?,
		refresh_holder = NULL, refresh_lease_until = NULL, refresh_retry_at = NULL WHERE id = ?`,
		in.Name, in.NickName, in.Email, in.AvatarURL, status, scopes,
		in.AccessToken, in.AccessTokenSecret, in.RefreshToken, in.TokenType, millis(in.ExpiresAt), now, id)
	return id, false, err
}

// claimProvider marks the link's provider linked by identity id. Each provider is linked once
// per link: single use rests on the conditional UPDATE; the follow-up read only explains a
// refusal.
func claimProvider(ctx context.Context, tx *sql.Tx, linkID int64, provider string, id int64, now sql.NullInt64) error {
	res, err := tx.ExecContext(ctx, `UPDATE link_providers SET identity_id = ?, linked_at = ?
		WHERE link_id = ? AND provider = ? AND linked_at IS NULL`, id, now, linkID, provider)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var linked sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT linked_at FROM link_providers WHERE link_id = ? AND provider = ?`, linkID, provider).Scan(&linked)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("provider %q is not one of link %d's", provider, linkID)
	}
	if err != nil {
		return err
	}
	return store.ErrLinkUsed
}

// finishIfLast spends the link when no provider of it is left to link, and then creates one
// confirmation per identity of the link under the one code, or (without a confirmation)
// enqueues link.completed.
func finishIfLast(ctx context.Context, tx *sql.Tx, p store.CompleteLinkParams, completing store.Identity, now sql.NullInt64) (bool, error) {
	var left int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM link_providers WHERE link_id = ? AND linked_at IS NULL`, p.LinkID).Scan(&left); err != nil {
		return false, err
	}
	if left > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE links SET used_at = ? WHERE id = ?`, now, p.LinkID); err != nil {
		return false, err
	}
	if c := p.Confirmation; c != nil {
		// The confirmations belong to the link's chat user, whatever the caller filled in.
		_, err := tx.ExecContext(ctx, `INSERT INTO confirmations
			(identity_id, link_id, bot, channel, user_id, code_hash, attempts, expires_at)
			SELECT lp.identity_id, lp.link_id, i.bot, i.channel, i.user_id, ?, ?, ?
			FROM link_providers lp JOIN identities i ON i.id = lp.identity_id
			WHERE lp.link_id = ? ORDER BY lp.position`,
			c.CodeHash, c.Attempts, millis(c.ExpiresAt), p.LinkID)
		if err != nil {
			return true, fmt.Errorf("insert confirmations: %w", err)
		}
		return true, nil
	}
	if !p.Webhook {
		return true, nil
	}
	return true, enqueueLinkCompleted(ctx, tx, p.LinkID, completing, p.Now)
}

// linkIdentities are the identities a link linked that still exist, in the link's order.
func linkIdentities(ctx context.Context, tx *sql.Tx, linkID int64) ([]store.LinkedIdentity, error) {
	rows, err := tx.QueryContext(ctx, `SELECT i.id, i.provider, i.provider_user_id, i.status
		FROM link_providers lp JOIN identities i ON i.id = lp.identity_id
		WHERE lp.link_id = ? ORDER BY lp.position`, linkID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.LinkedIdentity
	for rows.Next() {
		var li store.LinkedIdentity
		if err := rows.Scan(&li.ID, &li.Provider, &li.ProviderUserID, &li.Status); err != nil {
			return nil, err
		}
		out = append(out, li)
	}
	return out, rows.Err()
}

// enqueueLinkCompleted writes link.completed for the link into the outbox, keyed to the
// identity that completed it (see store.OutboxEvent.Identities).
func enqueueLinkCompleted(ctx context.Context, tx *sql.Tx, linkID int64, completing store.Identity, at time.Time) error {
	ids, err := linkIdentities(ctx, tx, linkID)
	if err != nil {
		return err
	}
	return insertOutbox(ctx, tx, store.OutboxEvent{Type: store.WebhookLinkCompleted, Bot: completing.Bot,
		IdentityID: completing.ID, Channel: completing.Channel, User: completing.User, Identities: ids}, at)
}

// nextIdentityID is the id of a new identity: above every id ever used. SQLite's own choice
// (the largest rowid + 1) hands an unlinked identity's id to the next account when the
// unlinked one was the newest, and then a bot holding the old id would read another user's
// credentials, and history and webhook events of two accounts would share one id. Every
// identity gets a linked event that is never deleted, so identity_events remembers the ids
// (both maxima are index lookups).
const nextIdentityID = `(SELECT max(coalesce((SELECT max(id) FROM identities), 0),
	coalesce((SELECT max(identity_id) FROM identity_events), 0)) + 1)`
