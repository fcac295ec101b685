package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// AcquireRefreshLease takes the lease with one conditional UPDATE: SQLite runs writers one at
// a time (and this store's writes queue on one connection), so of any number of racers, in
// this process or another one on the same file, exactly one sees the condition true.
func (s *Store) AcquireRefreshLease(ctx context.Context, bot string, identityID int64, holder string, until, now time.Time) (store.Identity, store.RefreshLease, error) {
	if holder == "" || !until.After(now) {
		return store.Identity{}, store.RefreshLease{}, fmt.Errorf("sqlite: acquire refresh lease of identity %d: need a holder and a lease end after now", identityID)
	}
	var (
		id    store.Identity
		lease store.RefreshLease
	)
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// The transaction holds the write lock from its start, so the holder read here is the
		// one the UPDATE replaces.
		var prev sql.NullString
		c := s.tx(tx)
		err := c.QueryRow(ctx, leaseHolder, identityID, bot).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) { // no row: ReadLease says so below
			return err
		}
		// The lease is free when nobody holds it (or the holder's time ran out: a holder that
		// died is replaced by expiry), and no back-off after a failed refresh is running.
		n, err := c.Exec(ctx, takeLease, holder, millis(until), identityID, bot, millis(now))
		if err != nil {
			return err
		}
		id, lease, err = s.ReadLease(ctx, c, bot, identityID, now)
		lease.Acquired = n == 1
		lease.TakenOver = lease.Acquired && prev.Valid
		return err
	})
	if err != nil {
		return store.Identity{}, store.RefreshLease{}, fmt.Errorf("sqlite: acquire refresh lease of identity %d: %w", identityID, err)
	}
	return id, lease, nil
}

const leaseHolder = `SELECT refresh_holder FROM identities WHERE id = ? AND bot = ?`

// takeLease (holder, until, id, bot, now) takes the lease when it is free.
const takeLease = `UPDATE identities SET refresh_holder = ?1, refresh_lease_until = ?2
	WHERE id = ?3 AND bot = ?4 AND (refresh_lease_until IS NULL OR refresh_lease_until <= ?5)
	  AND (refresh_retry_at IS NULL OR refresh_retry_at <= ?5)`
