package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// selectIdentityLease is selectIdentity with the refresh lease columns appended, read with
// scanIdentityLease. (selectIdentity ends in " FROM identities"; the lease columns go before it.)
var selectIdentityLease = strings.TrimSuffix(selectIdentity, " FROM identities") +
	`, refresh_lease_until, refresh_retry_at FROM identities`

// leaseFree is the condition under which a refresh lease can be taken at time ?: nobody holds
// it (or the holder's time ran out: a holder that died is replaced by expiry), and no back-off
// after a failed refresh is running.
const leaseFree = `(refresh_lease_until IS NULL OR refresh_lease_until <= ?)
	AND (refresh_retry_at IS NULL OR refresh_retry_at <= ?)`

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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The transaction holds the write lock from its start, so the holder read here is the
		// one the UPDATE replaces.
		var prev sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT refresh_holder FROM identities WHERE id = ? AND bot = ?`, identityID, bot).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) { // no row: readLease says so below
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE identities SET refresh_holder = ?, refresh_lease_until = ?
			WHERE id = ? AND bot = ? AND `+leaseFree,
			holder, millis(until), identityID, bot, millis(now), millis(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		id, lease, err = readLease(ctx, tx, bot, identityID, now)
		lease.Acquired = n == 1
		lease.TakenOver = lease.Acquired && prev.Valid
		return err
	})
	if err != nil {
		return store.Identity{}, store.RefreshLease{}, fmt.Errorf("sqlite: acquire refresh lease of identity %d: %w", identityID, err)
	}
	return id, lease, nil
}

// RefreshState reads the identity and its lease through the read pool: waiters poll it, and
// must not queue behind the writer to do so.
func (s *Store) RefreshState(ctx context.Context, bot string, identityID int64, now time.Time) (store.Identity, store.RefreshLease, error) {
	id, lease, err := readLease(ctx, s.reader, bot, identityID, now)
	if err != nil {
		return store.Identity{}, store.RefreshLease{}, fmt.Errorf("sqlite: refresh state of identity %d: %w", identityID, err)
	}
	return id, lease, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readLease reads an identity with its lease state; a lease that ran out reads as free.
func readLease(ctx context.Context, q querier, bot string, identityID int64, now time.Time) (store.Identity, store.RefreshLease, error) {
	var until, retry sql.NullInt64
	row := q.QueryRowContext(ctx, selectIdentityLease+` WHERE id = ? AND bot = ?`, identityID, bot)
	id, err := scanIdentity(extraScan{row, []any{&until, &retry}})
	if errors.Is(err, sql.ErrNoRows) {
		return store.Identity{}, store.RefreshLease{}, store.ErrNotFound
	}
	if err != nil {
		return store.Identity{}, store.RefreshLease{}, err
	}
	var lease store.RefreshLease
	if u := fromMillis(until); u.After(now) {
		lease.Until = u
	}
	if r := fromMillis(retry); r.After(now) {
		lease.RetryAt = r
	}
	return id, lease, nil
}

// extraScan appends destinations to a row's Scan, so scanIdentity can read a longer SELECT.
type extraScan struct {
	rowScanner
	extra []any
}

func (e extraScan) Scan(dest ...any) error { return e.rowScanner.Scan(append(dest, e.extra...)...) }

// StoreRefreshed writes a refresh's tokens, its event and the lease's release in one
// transaction; see store.LifecycleStore. The UPDATE's condition is holding the lease, or else
// a compare-and-swap on both token columns it rewrites (`IS` also matches a NULL access
// token; `refresh_token = ?` never matches a NULL PrevRefreshToken).
func (s *Store) StoreRefreshed(ctx context.Context, p store.StoreRefreshedParams) (store.Identity, error) {
	switch {
	case len(p.AccessToken) == 0:
		return store.Identity{}, fmt.Errorf("sqlite: store refreshed identity %d: no access token", p.IdentityID)
	case p.Now.IsZero() || p.Event.At.IsZero():
		return store.Identity{}, fmt.Errorf("sqlite: store refreshed identity %d: now or event time is the zero time", p.IdentityID)
	}
	var out store.Identity
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// COALESCE keeps the stored refresh token when the provider did not rotate it.
		res, err := tx.ExecContext(ctx, `UPDATE identities SET access_token = ?,
			refresh_token = COALESCE(?, refresh_token), expires_at = ?, updated_at = ?,
			refresh_holder = NULL, refresh_lease_until = NULL, refresh_retry_at = NULL
			WHERE id = ? AND bot = ? AND (refresh_holder = ?
			  OR (status = ? AND access_token IS ? AND refresh_token = ?))`,
			p.AccessToken, nilIfEmpty(p.RefreshToken), millis(p.ExpiresAt), millis(p.Now), p.IdentityID, p.Bot, p.Holder,
			store.StatusActive, p.PrevAccessToken, nilIfEmpty(p.PrevRefreshToken))
		if err := oneRowOrLost(res, err); err != nil {
			return err
		}
		ev := p.Event
		ev.IdentityID, ev.Bot, ev.Kind = p.IdentityID, p.Bot, store.EventRefreshed
		if err := insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		out, err = scanIdentity(tx.QueryRowContext(ctx, selectIdentity+` WHERE id = ?`, p.IdentityID))
		return err
	})
	if err != nil {
		return store.Identity{}, fmt.Errorf("sqlite: store refreshed identity %d: %w", p.IdentityID, err)
	}
	return out, nil
}

// ReleaseRefreshLease gives the lease back, with an optional back-off and history event.
func (s *Store) ReleaseRefreshLease(ctx context.Context, p store.ReleaseRefreshParams) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE identities SET refresh_holder = NULL, refresh_lease_until = NULL,
			refresh_retry_at = ? WHERE id = ? AND bot = ? AND refresh_holder = ?`,
			millis(p.RetryAt), p.IdentityID, p.Bot, p.Holder)
		if err := oneRowOrLost(res, err); err != nil {
			return err
		}
		if p.Event == nil {
			return nil
		}
		ev := *p.Event
		ev.IdentityID, ev.Bot = p.IdentityID, p.Bot
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return fmt.Errorf("sqlite: release refresh lease of identity %d: %w", p.IdentityID, err)
	}
	return nil
}

// MarkRelinkRequired moves an active identity to relink_required; see store.LifecycleStore.
func (s *Store) MarkRelinkRequired(ctx context.Context, p store.RelinkRequiredParams) (store.Identity, bool, error) {
	if p.Event.At.IsZero() {
		return store.Identity{}, false, fmt.Errorf("sqlite: mark identity %d relink_required: event time is the zero time", p.IdentityID)
	}
	var (
		out     store.Identity
		changed bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if p.Holder != "" {
			var holder sql.NullString
			err := tx.QueryRowContext(ctx, `SELECT refresh_holder FROM identities WHERE id = ? AND bot = ?`, p.IdentityID, p.Bot).Scan(&holder)
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
			if holder.String != p.Holder {
				return store.ErrLeaseLost
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE identities SET status = ?, updated_at = ?,
			refresh_holder = NULL, refresh_lease_until = NULL, refresh_retry_at = NULL
			WHERE id = ? AND bot = ? AND status = ?`,
			store.StatusRelinkRequired, millis(p.Event.At), p.IdentityID, p.Bot, store.StatusActive)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		out, err = scanIdentity(tx.QueryRowContext(ctx, selectIdentity+` WHERE id = ? AND bot = ?`, p.IdentityID, p.Bot))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil || n == 0 {
			return err
		}
		changed = true
		ev := p.Event
		ev.IdentityID, ev.Bot, ev.Kind = p.IdentityID, p.Bot, store.EventRelinkRequired
		if err := insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		if !ev.Webhook {
			return nil
		}
		return enqueueWebhook(ctx, tx, store.WebhookRelinkRequired, out, ev.Outcome, ev.At)
	})
	if err != nil {
		return store.Identity{}, false, fmt.Errorf("sqlite: mark identity %d relink_required: %w", p.IdentityID, err)
	}
	return out, changed, nil
}

// oneRowOrLost turns an UPDATE conditioned on holding a lease into store.ErrLeaseLost when
// it changed nothing.
func oneRowOrLost(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
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
