package sqlite

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// liveConfirmations is the WHERE clause of a chat user's confirmations that can still be
// confirmed at a time: not expired (a confirmation expires at its ExpiresAt) and not voided
// by too many wrong attempts.
const liveConfirmations = ` WHERE bot = ? AND channel = ? AND user_id = ? AND expires_at > ? AND attempts < ?`

// Confirm activates the identities whose live confirmations have this code hash; see
// store.Store.
//
// A wrong code costs an attempt on every live confirmation of the chat user, not only on one:
// otherwise a user with several pending links would give a guesser several times the tries.
// The attempt is committed even though the call fails.
func (s *Store) Confirm(ctx context.Context, p store.ConfirmParams) ([]store.Identity, error) {
	switch {
	case p.Now.IsZero():
		return nil, errors.New("sqlite: confirm: now is the zero time")
	case p.MaxAttempts <= 0:
		return nil, fmt.Errorf("sqlite: confirm: MaxAttempts %d must be positive", p.MaxAttempts)
	}
	now := millis(p.Now)
	live := []any{p.Bot, p.Channel, p.User, now, p.MaxAttempts}

	var (
		out   []store.Identity
		wrong bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		m, err := matchConfirmation(ctx, tx, live, p.CodeHash)
		if err != nil {
			return err
		}
		if !m.found {
			wrong = true
			_, err := tx.ExecContext(ctx, `UPDATE confirmations SET attempts = attempts + 1`+liveConfirmations, live...)
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
		return nil, fmt.Errorf("sqlite: confirm for %s user %q: %w", p.Channel, p.User, err)
	}
	return out, nil
}

// confirmedWith lists the identities of a link whose live confirmations have the code hash,
// in the link's order.
func confirmedWith(ctx context.Context, tx *sql.Tx, linkID int64, p store.ConfirmParams) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT c.identity_id FROM confirmations c
		LEFT JOIN link_providers lp ON lp.link_id = c.link_id AND lp.identity_id = c.identity_id
		WHERE c.link_id = ? AND c.code_hash = ? AND c.expires_at > ? AND c.attempts < ?
		ORDER BY lp.position, c.id`, linkID, p.CodeHash, millis(p.Now), p.MaxAttempts)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// activate makes one identity active, records its confirmed event (and webhook) and deletes
// its confirmations.
func activate(ctx context.Context, tx *sql.Tx, id int64, p store.ConfirmParams) (store.Identity, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE identities SET status = ?, updated_at = ? WHERE id = ?`,
		store.StatusActive, millis(p.Now), id); err != nil {
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
	if _, err := tx.ExecContext(ctx, `DELETE FROM confirmations WHERE identity_id = ?`, id); err != nil {
		return store.Identity{}, err
	}
	out, err := scanIdentity(tx.QueryRowContext(ctx, selectIdentity+` WHERE id = ?`, id))
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

// matchConfirmation finds the live confirmation with this code hash. It returns
// store.ErrNotFound when the chat user has no live confirmation at all.
func matchConfirmation(ctx context.Context, tx *sql.Tx, live []any, codeHash []byte) (codeMatch, error) {
	rows, err := tx.QueryContext(ctx, `SELECT identity_id, link_id, code_hash FROM confirmations`+liveConfirmations+` ORDER BY id`, live...)
	if err != nil {
		return codeMatch{}, err
	}
	defer rows.Close()
	var m codeMatch
	seen := false
	for rows.Next() {
		var (
			id     int64
			linkID sql.NullInt64
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
