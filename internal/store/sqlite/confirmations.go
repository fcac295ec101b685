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

// Confirm activates the identity whose live confirmation has this code hash; see store.Store.
//
// A wrong code costs an attempt on every live confirmation of the chat user, not only on one:
// otherwise a user with several pending links would give a guesser several times the tries.
// The attempt is committed even though the call fails.
func (s *Store) Confirm(ctx context.Context, p store.ConfirmParams) (store.Identity, error) {
	switch {
	case p.Now.IsZero():
		return store.Identity{}, errors.New("sqlite: confirm: now is the zero time")
	case p.MaxAttempts <= 0:
		return store.Identity{}, fmt.Errorf("sqlite: confirm: MaxAttempts %d must be positive", p.MaxAttempts)
	}
	now := millis(p.Now)
	live := []any{p.Bot, p.Channel, p.User, now, p.MaxAttempts}

	var (
		out   store.Identity
		wrong bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		identityID, found, err := matchConfirmation(ctx, tx, live, p.CodeHash)
		if err != nil {
			return err
		}
		if !found {
			wrong = true
			_, err := tx.ExecContext(ctx, `UPDATE confirmations SET attempts = attempts + 1`+liveConfirmations, live...)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE identities SET status = ?, updated_at = ? WHERE id = ?`,
			store.StatusActive, now, identityID); err != nil {
			return err
		}
		if err := insertEvent(ctx, tx, store.Event{
			IdentityID: identityID, Bot: p.Bot, Kind: store.EventConfirmed, Outcome: "ok",
			Detail: "code confirmed in the chat", At: p.Now,
		}); err != nil {
			return err
		}
		// Every confirmation of the identity goes, not only the matched one: an older code
		// from an earlier link of the same account must not confirm it a second time.
		if _, err := tx.ExecContext(ctx, `DELETE FROM confirmations WHERE identity_id = ?`, identityID); err != nil {
			return err
		}
		out, err = scanIdentity(tx.QueryRowContext(ctx, selectIdentity+` WHERE id = ?`, identityID))
		if err != nil || !p.Webhook {
			return err
		}
		return enqueueWebhook(ctx, tx, store.WebhookConfirmed, out, "", p.Now)
	})
	if err == nil && wrong {
		err = store.ErrWrongCode
	}
	if err != nil {
		return store.Identity{}, fmt.Errorf("sqlite: confirm for %s user %q: %w", p.Channel, p.User, err)
	}
	return out, nil
}

// matchConfirmation finds the live confirmation with this code hash. It returns
// store.ErrNotFound when the chat user has no live confirmation at all.
func matchConfirmation(ctx context.Context, tx *sql.Tx, live []any, codeHash []byte) (identityID int64, found bool, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT identity_id, code_hash FROM confirmations`+liveConfirmations+` ORDER BY id`, live...)
	if err != nil {
		return 0, false, err
	}
	defer rows.Close()
	seen := false
	for rows.Next() {
		var (
			id   int64
			hash []byte
		)
		if err := rows.Scan(&id, &hash); err != nil {
			return 0, false, err
		}
		seen = true
		if !found && subtle.ConstantTimeCompare(hash, codeHash) == 1 {
			identityID, found = id, true
		}
	}
	if err := rows.Err(); err != nil {
		return 0, false, err
	}
	if !seen {
		return 0, false, store.ErrNotFound
	}
	return identityID, found, nil
}
