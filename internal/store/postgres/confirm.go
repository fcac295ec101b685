package postgres

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// liveConfirmations is the WHERE clause of a chat user's confirmations that can still be
// confirmed at $4: not expired (a confirmation expires at its ExpiresAt) and not voided by
// $5 wrong attempts.
const liveConfirmations = ` WHERE bot = $1 AND channel = $2 AND user_id = $3 AND expires_at > $4 AND attempts < $5`

// Confirm activates the identity whose live confirmation has this code hash; see store.Store.
//
// The chat user's live confirmations are read FOR UPDATE: a second Confirm of the same user
// (another instance, the same code typed twice) waits until the first commits, then finds the
// matched confirmation deleted, so a code activates its identity once. A wrong code costs an
// attempt on every live confirmation of the user, not only on one (otherwise a user with
// several pending links would give a guesser several times the tries); the attempt is
// committed even though the call fails, and the increments of concurrent wrong codes queue on
// the same row locks, so none is lost.
func (s *Store) Confirm(ctx context.Context, p store.ConfirmParams) (store.Identity, error) {
	switch {
	case p.Now.IsZero():
		return store.Identity{}, errors.New("postgres: confirm: now is the zero time")
	case p.MaxAttempts <= 0:
		return store.Identity{}, fmt.Errorf("postgres: confirm: MaxAttempts %d must be positive", p.MaxAttempts)
	}
	live := []any{p.Bot, p.Channel, p.User, ts(p.Now), p.MaxAttempts}

	var (
		out   store.Identity
		wrong bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		wrong = false
		identityID, found, err := matchConfirmation(ctx, tx, live, p.CodeHash)
		if err != nil {
			return err
		}
		if !found {
			wrong = true
			_, err := tx.Exec(ctx, `UPDATE confirmations SET attempts = attempts + 1`+liveConfirmations, live...)
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE identities SET status = $1, updated_at = $2 WHERE id = $3`,
			store.StatusActive, ts(p.Now), identityID); err != nil {
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
		if _, err := tx.Exec(ctx, `DELETE FROM confirmations WHERE identity_id = $1`, identityID); err != nil {
			return err
		}
		out, err = scanIdentity(tx.QueryRow(ctx, selectIdentity+` WHERE id = $1`, identityID))
		if err != nil || !p.Webhook {
			return err
		}
		return enqueueWebhook(ctx, tx, store.WebhookConfirmed, out, "", p.Now)
	})
	if err == nil && wrong {
		err = store.ErrWrongCode
	}
	if err != nil {
		return store.Identity{}, fmt.Errorf("postgres: confirm for %s user %q: %w", p.Channel, p.User, err)
	}
	return out, nil
}

// matchConfirmation locks the chat user's live confirmations (in id order, so concurrent
// callers take the locks in the same order) and finds the one with this code hash. It
// returns store.ErrNotFound when the user has no live confirmation at all.
func matchConfirmation(ctx context.Context, tx pgx.Tx, live []any, codeHash []byte) (identityID int64, found bool, err error) {
	rows, err := tx.Query(ctx, `SELECT identity_id, code_hash FROM confirmations`+liveConfirmations+` ORDER BY id FOR UPDATE`, live...)
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
