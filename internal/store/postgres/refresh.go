package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

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
	id, lease, err := scanLease(extraScan{s.pool.QueryRow(ctx, `UPDATE identities SET refresh_holder = $1, refresh_lease_until = $2
		FROM (SELECT id AS prev_id, refresh_holder AS prev_holder FROM identities WHERE id = $3 AND bot = $4 FOR UPDATE) AS prev
		WHERE id = prev.prev_id
		  AND (refresh_lease_until IS NULL OR refresh_lease_until <= $5)
		  AND (refresh_retry_at IS NULL OR refresh_retry_at <= $5)
		RETURNING `+identityColumns+`, refresh_lease_until, refresh_retry_at, prev.prev_holder IS NOT NULL`,
		holder, ts(until), identityID, bot, ts(now)), []any{&takenOver}}, now)
	if err == nil {
		lease.Acquired, lease.TakenOver = true, takenOver
		return id, lease, nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		id, lease, err = s.readLease(ctx, bot, identityID, now)
	}
	if err != nil {
		return store.Identity{}, store.RefreshLease{}, fmt.Errorf("postgres: acquire refresh lease of identity %d: %w", identityID, err)
	}
	return id, lease, nil
}

// RefreshState reads the identity and its lease, for callers waiting on another holder.
func (s *Store) RefreshState(ctx context.Context, bot string, identityID int64, now time.Time) (store.Identity, store.RefreshLease, error) {
	id, lease, err := s.readLease(ctx, bot, identityID, now)
	if err != nil {
		return store.Identity{}, store.RefreshLease{}, fmt.Errorf("postgres: refresh state of identity %d: %w", identityID, err)
	}
	return id, lease, nil
}

// readLease reads an identity with its lease state; a lease that ran out reads as free.
func (s *Store) readLease(ctx context.Context, bot string, identityID int64, now time.Time) (store.Identity, store.RefreshLease, error) {
	id, lease, err := scanLease(s.pool.QueryRow(ctx, selectIdentityLease+` WHERE id = $1 AND bot = $2`, identityID, bot), now)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Identity{}, store.RefreshLease{}, store.ErrNotFound
	}
	return id, lease, err
}

const selectIdentityLease = `SELECT ` + identityColumns + `, refresh_lease_until, refresh_retry_at FROM identities`

// scanLease scans identityColumns followed by the lease's end and back-off.
func scanLease(row rowScanner, now time.Time) (store.Identity, store.RefreshLease, error) {
	var until, retry pgtype.Timestamptz
	id, err := scanIdentity(extraScan{row, []any{&until, &retry}})
	if err != nil {
		return store.Identity{}, store.RefreshLease{}, err
	}
	var lease store.RefreshLease
	if u := fromTS(until); u.After(now) {
		lease.Until = u
	}
	if r := fromTS(retry); r.After(now) {
		lease.RetryAt = r
	}
	return id, lease, nil
}

// extraScan appends destinations to a row's Scan, so scanIdentity can read a longer row.
type extraScan struct {
	rowScanner
	extra []any
}

func (e extraScan) Scan(dest ...any) error { return e.rowScanner.Scan(append(dest, e.extra...)...) }

// StoreRefreshed writes a refresh's tokens, its event and the lease's release in one
// transaction; see store.LifecycleStore. The UPDATE's condition is holding the lease, or else
// a compare-and-swap on both token columns it rewrites (IS NOT DISTINCT FROM also matches a
// NULL access token; `refresh_token = $10` never matches a NULL PrevRefreshToken). Under READ
// COMMITTED a concurrent writer's row is re-checked against the condition once it commits.
func (s *Store) StoreRefreshed(ctx context.Context, p store.StoreRefreshedParams) (store.Identity, error) {
	switch {
	case len(p.AccessToken) == 0:
		return store.Identity{}, fmt.Errorf("postgres: store refreshed identity %d: no access token", p.IdentityID)
	case p.Now.IsZero() || p.Event.At.IsZero():
		return store.Identity{}, fmt.Errorf("postgres: store refreshed identity %d: now or event time is the zero time", p.IdentityID)
	}
	var out store.Identity
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// COALESCE keeps the stored refresh token when the provider did not rotate it.
		var err error
		out, err = scanIdentity(tx.QueryRow(ctx, `UPDATE identities SET access_token = $1,
			refresh_token = COALESCE($2, refresh_token), expires_at = $3, updated_at = $4,
			refresh_holder = NULL, refresh_lease_until = NULL, refresh_retry_at = NULL
			WHERE id = $5 AND bot = $6 AND (refresh_holder = $7
			  OR (status = $8 AND access_token IS NOT DISTINCT FROM $9 AND refresh_token = $10))
			RETURNING `+identityColumns,
			p.AccessToken, nilIfEmpty(p.RefreshToken), ts(p.ExpiresAt), ts(p.Now), p.IdentityID, p.Bot, p.Holder,
			store.StatusActive, p.PrevAccessToken, nilIfEmpty(p.PrevRefreshToken)))
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrLeaseLost
		}
		if err != nil {
			return err
		}
		ev := p.Event
		ev.IdentityID, ev.Bot, ev.Kind = p.IdentityID, p.Bot, store.EventRefreshed
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.Identity{}, fmt.Errorf("postgres: store refreshed identity %d: %w", p.IdentityID, err)
	}
	return out, nil
}

// ReleaseRefreshLease gives the lease back, with an optional back-off and history event.
func (s *Store) ReleaseRefreshLease(ctx context.Context, p store.ReleaseRefreshParams) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE identities SET refresh_holder = NULL, refresh_lease_until = NULL,
			refresh_retry_at = $1 WHERE id = $2 AND bot = $3 AND refresh_holder = $4`,
			ts(p.RetryAt), p.IdentityID, p.Bot, p.Holder)
		if err := oneRowOrLost(tag, err); err != nil || p.Event == nil {
			return err
		}
		ev := *p.Event
		ev.IdentityID, ev.Bot = p.IdentityID, p.Bot
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return fmt.Errorf("postgres: release refresh lease of identity %d: %w", p.IdentityID, err)
	}
	return nil
}

// MarkRelinkRequired moves an active identity to relink_required; see store.LifecycleStore.
// The row is locked first, so the holder check and the change see the same row: a relink
// or a concurrent mark on another instance comes before or after, never in between.
func (s *Store) MarkRelinkRequired(ctx context.Context, p store.RelinkRequiredParams) (store.Identity, bool, error) {
	if p.Event.At.IsZero() {
		return store.Identity{}, false, fmt.Errorf("postgres: mark identity %d relink_required: event time is the zero time", p.IdentityID)
	}
	var (
		out     store.Identity
		changed bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		changed = false
		var (
			holder pgtype.Text
			status string
		)
		err := tx.QueryRow(ctx, `SELECT refresh_holder, status FROM identities WHERE id = $1 AND bot = $2 FOR UPDATE`,
			p.IdentityID, p.Bot).Scan(&holder, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if p.Holder != "" && holder.String != p.Holder {
			return store.ErrLeaseLost
		}
		if status != store.StatusActive {
			out, err = scanIdentity(tx.QueryRow(ctx, selectIdentity+` WHERE id = $1`, p.IdentityID))
			return err
		}
		out, err = scanIdentity(tx.QueryRow(ctx, `UPDATE identities SET status = $1, updated_at = $2,
			refresh_holder = NULL, refresh_lease_until = NULL, refresh_retry_at = NULL
			WHERE id = $3 RETURNING `+identityColumns, store.StatusRelinkRequired, ts(p.Event.At), p.IdentityID))
		if err != nil {
			return err
		}
		changed = true
		ev := p.Event
		ev.IdentityID, ev.Bot, ev.Kind = p.IdentityID, p.Bot, store.EventRelinkRequired
		if err := insertEvent(ctx, tx, ev); err != nil || !ev.Webhook {
			return err
		}
		return enqueueWebhook(ctx, tx, store.WebhookRelinkRequired, out, ev.Outcome, ev.At)
	})
	if err != nil {
		return store.Identity{}, false, fmt.Errorf("postgres: mark identity %d relink_required: %w", p.IdentityID, err)
	}
	return out, changed, nil
}

// oneRowOrLost turns an UPDATE conditioned on holding a lease or claim into
// store.ErrLeaseLost when it changed nothing.
func oneRowOrLost(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return store.ErrLeaseLost
	}
	return nil
}

// nilIfEmpty makes an empty slice a SQL NULL, so COALESCE treats "none" alike either way.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
