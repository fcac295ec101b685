package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// AcquireRefreshLease takes the lease with one conditional UPDATE. Of any number of racers on
// any number of instances, the first locks the row and sets the holder; each other one waits
// for that row lock, re-checks the WHERE clause against the committed row (the lease is no
// longer free) and changes nothing. Nobody holds a row lock or a connection while the
// provider answers: the lease is the row's content, and it lapses by itself if the holder
// dies.
//
// The winner gets the row back from RETURNING; a loser reads it (and the lease it lost to) in
// the same call. RETURNING shows the row after the UPDATE, so the holder it replaced comes
// from the row locked in the FROM subquery: FOR UPDATE makes that the latest committed
// version, the one the UPDATE's condition is checked against.
func (s *Store) AcquireRefreshLease(ctx context.Context, bot string, identityID int64, holder string, until, now time.Time) (store.Identity, store.RefreshLease, error) {
	if holder == "" || !until.After(now) {
		return store.Identity{}, store.RefreshLease{}, fmt.Errorf("postgres: acquire refresh lease of identity %d: need a holder and a lease end after now", identityID)
	}
	var takenOver bool
	id, lease, err := s.ScanLease(s.pool.QueryRow(ctx, `UPDATE identities SET refresh_holder = $1, refresh_lease_until = $2
		FROM (SELECT id AS prev_id, refresh_holder AS prev_holder FROM identities WHERE id = $3 AND bot = $4 FOR UPDATE) AS prev
		WHERE id = prev.prev_id
		  AND (refresh_lease_until IS NULL OR refresh_lease_until <= $5)
		  AND (refresh_retry_at IS NULL OR refresh_retry_at <= $5)
		RETURNING `+identityColumns+`, refresh_lease_until, refresh_retry_at, prev.prev_holder IS NOT NULL`,
		holder, ts(until), identityID, bot, ts(now)), now, &takenOver)
	if err == nil {
		lease.Acquired, lease.TakenOver = true, takenOver
		return id, lease, nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		id, lease, err = s.ReadLease(ctx, pgConn{s.pool}, bot, identityID, now)
	}
	if err != nil {
		return store.Identity{}, store.RefreshLease{}, fmt.Errorf("postgres: acquire refresh lease of identity %d: %w", identityID, err)
	}
	return id, lease, nil
}
