package sqlstore

import (
	"context"
	"crypto/subtle"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Confirm activates the identities whose live confirmations have this code hash; see
// store.Store.
//
// The chat user's live confirmations are read first and locked (LiveConfirmations): a second
// Confirm of the same user (another instance, the same code typed twice) waits until the
// first commits, then finds the matched confirmations deleted, so a code activates its
// identities once. A wrong code costs an attempt on every live confirmation of the user, not
// only on one: otherwise a user with several pending links would give a guesser several
// times the tries. The attempt is committed even though the call fails, and the increments
// of concurrent wrong codes queue on the same row locks, so none is lost.
func (r *Rules) Confirm(ctx context.Context, p store.ConfirmParams) ([]store.Identity, error) {
	switch {
	case p.Now.IsZero():
		return nil, r.errorf("confirm: now is the zero time")
	case p.MaxAttempts <= 0:
		return nil, r.errorf("confirm: MaxAttempts %d must be positive", p.MaxAttempts)
	}
	live := []any{p.Bot, p.Channel, p.User, r.codec.Time(p.Now), p.MaxAttempts}

	var (
		out   []store.Identity
		wrong bool
	)
	err := r.db.InTx(ctx, func(tx Conn) error {
		out, wrong = nil, false
		m, err := r.matchConfirmation(ctx, tx, live, p.CodeHash)
		if err != nil {
			return err
		}
		if !m.found {
			wrong = true
			_, err := tx.Exec(ctx, r.sql.CountWrongAttempt, live...)
			return err
		}
		ids := []int64{m.identityID}
		if m.linkID != 0 {
			rows, err := tx.Query(ctx, r.sql.ConfirmedWith, m.linkID, p.CodeHash, r.codec.Time(p.Now), p.MaxAttempts)
			if err != nil {
				return err
			}
			if ids, err = Collect(rows, scanInt64); err != nil {
				return err
			}
		}
		for _, id := range ids {
			identity, err := r.activate(ctx, tx, id, p)
			if err != nil {
				return err
			}
			out = append(out, identity)
		}
		if m.linkID == 0 || !p.Webhook {
			return nil
		}
		return r.enqueueLinkCompleted(ctx, tx, m.linkID, out[len(out)-1], p.Now)
	})
	if err == nil && wrong {
		err = store.ErrWrongCode
	}
	if err != nil {
		return nil, r.errorf("confirm for %s user %q: %w", p.Channel, p.User, err)
	}
	return out, nil
}

// activate makes one identity active, records its confirmed event (and webhook) and deletes
// its confirmations.
func (r *Rules) activate(ctx context.Context, tx Conn, id int64, p store.ConfirmParams) (store.Identity, error) {
	out, err := r.codec.ScanIdentity(tx.QueryRow(ctx, r.sql.Activate, store.StatusActive, r.codec.Time(p.Now), id))
	if err != nil {
		return store.Identity{}, err
	}
	if err := r.insertEvent(ctx, tx, store.Event{
		IdentityID: id, Bot: p.Bot, Kind: store.EventConfirmed, Outcome: "ok",
		Detail: "code confirmed in the chat", At: p.Now,
	}); err != nil {
		return store.Identity{}, err
	}
	// Every confirmation of the identity goes, not only the matched one: an older code
	// from an earlier link of the same account must not confirm it a second time.
	if _, err := tx.Exec(ctx, r.sql.DeleteConfirmations, id); err != nil {
		return store.Identity{}, err
	}
	if !p.Webhook {
		return out, nil
	}
	return out, r.enqueueWebhook(ctx, tx, store.WebhookConfirmed, out, "", p.Now)
}

// codeMatch is the first live confirmation with the code hash.
type codeMatch struct {
	identityID, linkID int64
	found              bool
}

// matchConfirmation reads (and locks) the chat user's live confirmations in id order, so
// concurrent callers take the locks in the same order, and finds the first with this code
// hash, comparing every one in constant time. It returns store.ErrNotFound when the user has
// no live confirmation at all.
func (r *Rules) matchConfirmation(ctx context.Context, tx Conn, live []any, codeHash []byte) (codeMatch, error) {
	rows, err := tx.Query(ctx, r.sql.LiveConfirmations, live...)
	if err != nil {
		return codeMatch{}, err
	}
	defer rows.Close()
	var m codeMatch
	seen := false
	for rows.Next() {
		var (
			id, linkID int64
			hash       []byte
		)
		if err := rows.Scan(&id, &linkID, &hash); err != nil {
			return codeMatch{}, err
		}
		seen = true
		if !m.found && subtle.ConstantTimeCompare(hash, codeHash) == 1 {
			m = codeMatch{identityID: id, linkID: linkID, found: true}
		}
	}
	if err := rows.Err(); err != nil {
		return codeMatch{}, err
	}
	if !seen {
		return codeMatch{}, store.ErrNotFound
	}
	return m, nil
}
