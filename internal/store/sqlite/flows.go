package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

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
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var linkID int64
		c := s.tx(tx)
		err := c.QueryRow(ctx, consumeFlow, millis(now), stateHash, millis(now)).Scan(&linkID)
		if errors.Is(err, sql.ErrNoRows) {
			return s.WhyNotConsumed(ctx, c, stateHash)
		}
		if err != nil {
			return err
		}
		link, err = linkByID(ctx, c, linkID)
		return err
	})
	if err != nil {
		return store.Link{}, fmt.Errorf("sqlite: consume flow: %w", err)
	}
	return link, nil
}

// consumeFlow (now, state_hash, now) → link_id of the flow it consumed.
const consumeFlow = `UPDATE flows SET consumed_at = ?
	WHERE state_hash = ? AND consumed_at IS NULL AND expires_at > ?
	RETURNING link_id`
