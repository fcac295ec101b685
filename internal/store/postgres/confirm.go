package postgres

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// liveConfirmations is the WHERE clause of a chat user's confirmations that can still be
// confirmed at $4: not expired (a confirmation expires at its ExpiresAt) and not voided by
// $5 wrong attempts.
const liveConfirmations = ` WHERE bot = $1 AND channel = $2 AND user_id = $3 AND expires_at > $4 AND attempts < $5`

// Confirm activates the identities whose live confirmations have this code hash; see
// store.Store.
//
// The chat user's live confirmations are read FOR UPDATE: a second Confirm of the same user
// (another instance, the same code typed twice) waits until the first commits, then finds the
// matched confirmations deleted, so a code activates its identities once. A wrong code costs
// an attempt on every live confirmation of the user, not only on one (otherwise a user with
// several pending links would give a guesser several times the tries); the attempt is
// committed even though the call fails, and the increments of concurrent wrong codes queue on
// the same row locks, so none is lost.
func (s *Store) Confirm(ctx context.Context, p store.ConfirmParams) ([]store.Identity, error) {
	switch {
	case p.Now.IsZero():
		return nil, errors.New("postgres: confirm: now is the zero time")
	case p.MaxAttempts <= 0:
		return nil, fmt.Errorf("postgres: confirm: MaxAttempts %d must be positive", p.MaxAttempts)
	}
	live := []any{p.Bot, p.Channel, p.User, ts(p.Now), p.MaxAttempts}

	var (
		out   []store.Identity
		wrong bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out, wrong = nil, false
		m, err := matchConfirmation(ctx, tx, live, p.CodeHash)
		if err != nil {
			return err
		}
		if !m.found {
			wrong = true
			_, err := tx.Exec(ctx, `UPDATE confirmations SET attempts = attempts + 1`+liveConfirmations, live...)
			return err
		}
		ids := []int64{m.identityID}
		if m.linkID != 0 {
			if ids, err = confirmedWith(ctx, tx, m.linkID, p); err != nil {
				return err
			}
		}
		for _, id := range ids {
			identity, err := activate(ctx, tx, id, p)
			if err != nil {
				return err
			}
			out = append(out, identity)
		}
		if m.linkID == 0 || !p.Webhook {
			return nil
		}
		return enqueueLinkCompleted(ctx, tx, m.linkID, out[len(out)-1], p.Now)
	})
	if err == nil && wrong {
		err = store.ErrWrongCode
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: confirm for %s user %q: %w", p.Channel, p.User, err)
	}
	return out, nil
}

// confirmedWith lists the identities of a link whose live confirmations (locked by
// matchConfirmation) have the code hash, in the link's order.
func confirmedWith(ctx context.Context, tx pgx.Tx, linkID int64, p store.ConfirmParams) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT c.identity_id FROM confirmations c
		LEFT JOIN link_providers lp ON lp.link_id = c.link_id AND lp.identity_id = c.identity_id
		WHERE c.link_id = $1 AND c.code_hash = $2 AND c.expires_at > $3 AND c.attempts < $4
		ORDER BY lp.position, c.id`, linkID, p.CodeHash, ts(p.Now), p.MaxAttempts)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r rowScanner) (int64, error) {
		var id int64
		err := r.Scan(&id)
		return id, err
	})
}

// activate makes one identity active, records its confirmed event (and webhook) and deletes
// its confirmations.
func activate(ctx context.Context, tx pgx.Tx, id int64, p store.ConfirmParams) (store.Identity, error) {
	if _, err := tx.Exec(ctx, `UPDATE identities SET status = $1, updated_at = $2 WHERE id = $3`,
		store.StatusActive, ts(p.Now), id); err != nil {
		return store.Identity{}, err
	}
	if err := insertEvent(ctx, tx, store.Event{
		IdentityID: id, Bot: p.Bot, Kind: store.EventConfirmed, Outcome: "ok",
		Detail: "code confirmed in the chat", At: p.Now,
	}); err != nil {
		return store.Identity{}, err
	}
	// Every confirmation of the identity goes, not only the matched one: an older code
	// from an earlier link of the same account must not confirm it a second time.
	if _, err := tx.Exec(ctx, `DELETE FROM confirmations WHERE identity_id = $1`, id); err != nil {
		return store.Identity{}, err
	}
	out, err := scanIdentity(tx.QueryRow(ctx, selectIdentity+` WHERE id = $1`, id))
	if err != nil || !p.Webhook {
		return out, err
	}
	return out, enqueueWebhook(ctx, tx, store.WebhookConfirmed, out, "", p.Now)
}

// codeMatch is the first live confirmation with the code hash.
type codeMatch struct {
	identityID, linkID int64
	found              bool
}

// matchConfirmation locks the chat user's live confirmations (in id order, so concurrent
// callers take the locks in the same order) and finds the first with this code hash. It
// returns store.ErrNotFound when the user has no live confirmation at all.
func matchConfirmation(ctx context.Context, tx pgx.Tx, live []any, codeHash []byte) (codeMatch, error) {
	rows, err := tx.Query(ctx, `SELECT identity_id, link_id, code_hash FROM confirmations`+liveConfirmations+` ORDER BY id FOR UPDATE`, live...)
	if err != nil {
		return codeMatch{}, err
	}
	defer rows.Close()
	var m codeMatch
	seen := false
	for rows.Next() {
		var (
			id     int64
			linkID pgtype.Int8
			hash   []byte
		)
		if err := rows.Scan(&id, &linkID, &hash); err != nil {
			return codeMatch{}, err
		}
		seen = true
		if !m.found && subtle.ConstantTimeCompare(hash, codeHash) == 1 {
			m = codeMatch{identityID: id, linkID: linkID.Int64, found: true}
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
