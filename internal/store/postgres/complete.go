package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// The steps of CompleteLink after the identity (identities.go): each provider of a link is
// linked once, and the last one spends the link.

// lockOpenLink locks the link's row and refuses a link that does not exist
// (store.ErrNotFound), is spent (store.ErrLinkUsed) or belongs to another chat user.
func lockOpenLink(ctx context.Context, tx pgx.Tx, linkID int64, in store.Identity) error {
	var (
		bot, channel, user string
		used               pgtype.Timestamptz
	)
	err := tx.QueryRow(ctx, `SELECT bot, channel, user_id, used_at FROM links WHERE id = $1 FOR UPDATE`, linkID).
		Scan(&bot, &channel, &user, &used)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
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

// claimProvider marks the link's provider linked by identity id; store.ErrLinkUsed when it
// already was. The follow-up read only explains a refusal.
func claimProvider(ctx context.Context, tx pgx.Tx, linkID int64, provider string, id int64, now time.Time) error {
	tag, err := tx.Exec(ctx, `UPDATE link_providers SET identity_id = $1, linked_at = $2
		WHERE link_id = $3 AND provider = $4 AND linked_at IS NULL`, id, ts(now), linkID, provider)
	if err != nil || tag.RowsAffected() == 1 {
		return err
	}
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM link_providers WHERE link_id = $1 AND provider = $2`, linkID, provider).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
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
func finishIfLast(ctx context.Context, tx pgx.Tx, p store.CompleteLinkParams, completing store.Identity) (bool, error) {
	var left int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM link_providers WHERE link_id = $1 AND linked_at IS NULL`, p.LinkID).Scan(&left); err != nil {
		return false, err
	}
	if left > 0 {
		return false, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE links SET used_at = $1 WHERE id = $2`, ts(p.Now), p.LinkID); err != nil {
		return false, err
	}
	if c := p.Confirmation; c != nil {
		// The confirmations belong to the link's chat user, whatever the caller filled in.
		_, err := tx.Exec(ctx, `INSERT INTO confirmations
			(identity_id, link_id, bot, channel, user_id, code_hash, attempts, expires_at)
			SELECT lp.identity_id, lp.link_id, i.bot, i.channel, i.user_id, $1, $2, $3
			FROM link_providers lp JOIN identities i ON i.id = lp.identity_id
			WHERE lp.link_id = $4 ORDER BY lp.position`,
			c.CodeHash, c.Attempts, ts(c.ExpiresAt), p.LinkID)
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

// enqueueLinkCompleted writes link.completed for the link into the outbox, keyed to the
// identity that completed it (see store.OutboxEvent.Identities), which the caller has locked.
func enqueueLinkCompleted(ctx context.Context, tx pgx.Tx, linkID int64, completing store.Identity, at time.Time) error {
	rows, err := tx.Query(ctx, `SELECT i.id, i.provider, i.provider_user_id, i.status
		FROM link_providers lp JOIN identities i ON i.id = lp.identity_id
		WHERE lp.link_id = $1 ORDER BY lp.position`, linkID)
	if err != nil {
		return err
	}
	ids, err := collect(rows, func(r rowScanner) (store.LinkedIdentity, error) {
		var li store.LinkedIdentity
		err := r.Scan(&li.ID, &li.Provider, &li.ProviderUserID, &li.Status)
		return li, err
	})
	if err != nil {
		return err
	}
	return insertOutbox(ctx, tx, store.OutboxEvent{Type: store.WebhookLinkCompleted, Bot: completing.Bot,
		IdentityID: completing.ID, Channel: completing.Channel, User: completing.User, Identities: ids}, at)
}
