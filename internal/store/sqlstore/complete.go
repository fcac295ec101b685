package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// CompleteLink marks the identity's provider of the link linked and stores the identity and
// its event, and — when that was the link's last provider — spends the link and writes the
// confirmations or link.completed, in one transaction; see store.Store. Now is the provider's
// linked time (and the link's used time), the identity's updated time (and linked time when
// it is new) and the event's time: the Identity's own LinkedAt and UpdatedAt are ignored.
//
// Beyond the interface's contract, the identity must belong to the link's bot, channel and
// user, and to one of its providers: a broker bug must not be able to attach an account to
// someone else. The link is locked first (LockLink), so completions of one link on any
// number of broker instances queue: the last of them sees every other provider linked and
// spends the link.
func (r *Rules) CompleteLink(ctx context.Context, p store.CompleteLinkParams) (store.Linked, error) {
	if err := p.Check(); err != nil {
		return store.Linked{}, r.errorf("complete link %d: %w", p.LinkID, err)
	}
	var out store.Linked
	err := r.db.InTx(ctx, func(tx Conn) (err error) {
		out, err = r.completeLink(ctx, tx, &p)
		return err
	})
	if err != nil {
		return store.Linked{}, r.errorf("complete link %d: %w", p.LinkID, err)
	}
	return out, nil
}

// completeLink is CompleteLink's transaction.
func (r *Rules) completeLink(ctx context.Context, tx Conn, p *store.CompleteLinkParams) (store.Linked, error) {
	in := &p.Identity
	if err := r.lockOpenLink(ctx, tx, p.LinkID, in); err != nil {
		return store.Linked{}, err
	}
	stored, created, err := r.upsertIdentity(ctx, tx, in, p.Now)
	if err != nil {
		return store.Linked{}, err
	}
	if err := r.claimProvider(ctx, tx, p.LinkID, in.Provider, stored.ID, p.Now); err != nil {
		return store.Linked{}, err
	}
	kind, typ := store.EventRelinked, store.WebhookRelinked
	if created {
		kind, typ = store.EventLinked, store.WebhookLinked
	}
	if err := r.insertEvent(ctx, tx, store.Event{
		IdentityID: stored.ID, Bot: in.Bot, Kind: kind, Outcome: "ok",
		Detail: in.Provider + " account " + in.AccountName(), At: p.Now,
	}); err != nil {
		return store.Linked{}, err
	}
	if p.Webhook {
		if err := r.enqueueWebhook(ctx, tx, typ, stored, "", p.Now); err != nil {
			return store.Linked{}, err
		}
	}
	complete, err := r.finishIfLast(ctx, tx, p, stored)
	return store.Linked{Identity: stored, Created: created, LinkComplete: complete}, err
}

// lockOpenLink locks the link and refuses one that does not exist (store.ErrNotFound), is
// spent (store.ErrLinkUsed) or belongs to another chat user.
func (r *Rules) lockOpenLink(ctx context.Context, tx Conn, linkID int64, in *store.Identity) error {
	var (
		bot, channel, user string
		used               bool
	)
	err := tx.QueryRow(ctx, r.sql.LockLink, linkID).Scan(&bot, &channel, &user, &used)
	switch {
	case noRows(err):
		return fmt.Errorf("link %w", store.ErrNotFound)
	case err != nil:
		return err
	case bot != in.Bot || channel != in.Channel || user != in.User:
		return fmt.Errorf("identity of %s/%s for %s user %q does not match the link", in.Bot, in.Provider, in.Channel, in.User)
	case used:
		return store.ErrLinkUsed
	}
	return nil
}

// statusAfterRelink is the status of an identity linked again: a pending identity stays
// pending and an active one active; only an identity the provider had refused takes the
// status of the fresh link.
func statusAfterRelink(stored, linked string) string {
	if stored == store.StatusRelinkRequired {
		return linked
	}
	return stored
}

// upsertIdentity stores the account under its natural key and returns it as stored and
// whether it is new. An existing identity keeps its id, linked time and (statusAfterRelink)
// status, and its refresh lease ends: a refresh running on the old tokens loses it
// (store.ErrLeaseLost) instead of overwriting what the user just linked.
//
// The existing row is locked when it is read, so two callbacks for the same account on two
// instances queue. When there is none, an insert that finds a concurrent insert of the same
// account before it (InsertIdentity returns no row) goes round again to update that one: the
// account ends up as one identity either way, never as a unique violation.
func (r *Rules) upsertIdentity(ctx context.Context, tx Conn, in *store.Identity, now time.Time) (store.Identity, bool, error) {
	c := r.codec
	for range 2 {
		var (
			id     int64
			status string
		)
		err := tx.QueryRow(ctx, r.sql.IdentityByKey, in.Bot, in.Channel, in.User, in.Provider, in.ProviderUserID).Scan(&id, &status)
		if err == nil {
			stored, err := c.ScanIdentity(tx.QueryRow(ctx, r.sql.UpdateIdentity, in.Name, in.NickName, in.Email, in.AvatarURL,
				statusAfterRelink(status, in.Status), c.Scopes(in.Scopes), in.AccessToken, in.AccessTokenSecret, in.RefreshToken,
				in.TokenType, c.Time(in.ExpiresAt), c.Time(now), id))
			return stored, false, err
		}
		if !noRows(err) {
			return store.Identity{}, false, err
		}
		stored, err := c.ScanIdentity(tx.QueryRow(ctx, r.sql.InsertIdentity, in.Bot, in.Channel, in.User, in.Provider,
			in.ProviderUserID, in.Name, in.NickName, in.Email, in.AvatarURL, in.Status, c.Scopes(in.Scopes),
			in.AccessToken, in.AccessTokenSecret, in.RefreshToken, in.TokenType, c.Time(in.ExpiresAt), c.Time(now)))
		if err == nil {
			return stored, true, nil
		}
		if !noRows(err) {
			return store.Identity{}, false, c.Constraint(err)
		}
	}
	return store.Identity{}, false, fmt.Errorf("%w: the account was linked and unlinked concurrently; try again", store.ErrConflict)
}

// claimProvider marks the link's provider linked by identity id. Each provider is linked once
// per link: single use rests on the conditional UPDATE; the follow-up read only explains a
// refusal.
func (r *Rules) claimProvider(ctx context.Context, tx Conn, linkID int64, provider string, id int64, now time.Time) error {
	n, err := tx.Exec(ctx, r.sql.ClaimProvider, id, r.codec.Time(now), linkID, provider)
	if err != nil || n == 1 {
		return err
	}
	err = refusal(tx.QueryRow(ctx, r.sql.LinkHasProvider, linkID, provider), store.ErrLinkUsed)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("provider %q is not one of link %d's", provider, linkID)
	}
	return err
}

// finishIfLast spends the link when no provider of it is left to link, and then creates one
// confirmation per identity of the link under the one code or, without a confirmation,
// enqueues link.completed.
func (r *Rules) finishIfLast(ctx context.Context, tx Conn, p *store.CompleteLinkParams, completing store.Identity) (bool, error) {
	var left int
	if err := tx.QueryRow(ctx, r.sql.ProvidersLeft, p.LinkID).Scan(&left); err != nil {
		return false, err
	}
	if left > 0 {
		return false, nil
	}
	if _, err := tx.Exec(ctx, r.sql.SpendLink, r.codec.Time(p.Now), p.LinkID); err != nil {
		return false, err
	}
	if cf := p.Confirmation; cf != nil {
		// The confirmations belong to the link's chat user, whatever the caller filled in.
		if _, err := tx.Exec(ctx, r.sql.InsertConfirmations, cf.CodeHash, cf.Attempts, r.codec.Time(cf.ExpiresAt), p.LinkID); err != nil {
			return true, fmt.Errorf("insert confirmations: %w", err)
		}
		return true, nil
	}
	if !p.Webhook {
		return true, nil
	}
	return true, r.enqueueLinkCompleted(ctx, tx, p.LinkID, completing, p.Now)
}
