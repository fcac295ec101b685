package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// CreateFlow records a started flow. A state hash that exists already is store.ErrConflict;
// a flow for a link that does not exist is store.ErrNotFound.
func (s *Store) CreateFlow(ctx context.Context, f store.Flow) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO flows (state_hash, link_id, created_at, expires_at)
		VALUES (?, ?, ?, ?)`, f.StateHash, f.LinkID, millis(f.CreatedAt), millis(f.ExpiresAt))
	if isForeignKey(err) {
		return fmt.Errorf("sqlite: create flow for link %d: link %w", f.LinkID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create flow for link %d: %w", f.LinkID, constraint(err))
	}
	return nil
}

// ConsumeFlow marks the flow consumed and returns its link. A flow expires at its ExpiresAt.
//
// Single use rests on the conditional UPDATE: of any number of concurrent callers, only the
// one whose UPDATE sees consumed_at still NULL changes a row. Everyone else then learns why
// not, inside the same transaction, so the answer cannot race with another consumer.
func (s *Store) ConsumeFlow(ctx context.Context, stateHash []byte, now time.Time) (store.Link, error) {
	if now.IsZero() {
		return store.Link{}, errors.New("sqlite: consume flow: now is the zero time")
	}
	var link store.Link
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var linkID int64
		err := tx.QueryRowContext(ctx, `UPDATE flows SET consumed_at = ?
			WHERE state_hash = ? AND consumed_at IS NULL AND expires_at > ?
			RETURNING link_id`, millis(now), stateHash, millis(now)).Scan(&linkID)
		if errors.Is(err, sql.ErrNoRows) {
			return whyNotConsumed(ctx, tx, stateHash)
		}
		if err != nil {
			return err
		}
		link, err = linkByID(ctx, tx, linkID)
		return err
	})
	if err != nil {
		return store.Link{}, fmt.Errorf("sqlite: consume flow: %w", err)
	}
	return link, nil
}

// whyNotConsumed tells an unknown flow from a consumed or an expired one. A flow that is both
// consumed and expired reports consumed: it was used.
func whyNotConsumed(ctx context.Context, tx *sql.Tx, stateHash []byte) error {
	var consumed sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT consumed_at FROM flows WHERE state_hash = ?`, stateHash).Scan(&consumed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	case consumed.Valid:
		return store.ErrFlowConsumed
	default:
		return store.ErrExpired
	}
}
