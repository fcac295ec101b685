package sqlstore

import (
	"context"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// The refresh lease's rules (store.LifecycleStore). Taking the lease is each backend's one
// conditional write (AcquireRefreshLease); what a lease is, and every write that ends one, is
// here.

// LeaseAt is a lease as it stands at now: a lease end or a back-off that has passed is none.
func LeaseAt(until, retry, now time.Time) store.RefreshLease {
	var lease store.RefreshLease
	if until.After(now) {
		lease.Until = until
	}
	if retry.After(now) {
		lease.RetryAt = retry
	}
	return lease
}

// ScanLease reads identity columns followed by refresh_lease_until and refresh_retry_at
// (and then extra), and the lease they make at now.
func (r *Rules) ScanLease(row Row, now time.Time, extra ...any) (store.Identity, store.RefreshLease, error) {
	until, retry := r.codec.NullTime(), r.codec.NullTime()
	id, err := r.codec.ScanIdentity(Extend(row, append([]any{until, retry}, extra...)...))
	if err != nil {
		return store.Identity{}, store.RefreshLease{}, err
	}
	return id, LeaseAt(until.Time(), retry.Time(), now), nil
}

// ReadLease reads an identity with its lease state at now, through c; store.ErrNotFound when
// the bot has no such identity.
func (r *Rules) ReadLease(ctx context.Context, c Conn, bot string, identityID int64, now time.Time) (store.Identity, store.RefreshLease, error) {
	id, lease, err := r.ScanLease(c.QueryRow(ctx, r.sql.IdentityLease, identityID, bot), now)
	if noRows(err) {
		return store.Identity{}, store.RefreshLease{}, store.ErrNotFound
	}
	return id, lease, err
}

// RefreshState reads the identity and its lease (Acquired is false), for callers waiting on
// another holder, through the read connections: waiters poll it, and must not queue behind
// writers to do so.
func (r *Rules) RefreshState(ctx context.Context, bot string, identityID int64, now time.Time) (store.Identity, store.RefreshLease, error) {
	id, lease, err := r.ReadLease(ctx, r.db.Reader(), bot, identityID, now)
	if err != nil {
		return store.Identity{}, store.RefreshLease{}, r.errorf("refresh state of identity %d: %w", identityID, err)
	}
	return id, lease, nil
}

// StoreRefreshed writes a refresh's tokens, its event and the lease's release in one
// transaction; see store.LifecycleStore. The write's condition is holding the lease, or else
// a compare-and-swap on both token columns it rewrites (store.StoreRefreshedParams): a
// refresh that outlived its lease keeps the token the provider rotated unless something newer
// was stored. A refresh token the provider did not rotate (nil) keeps the stored one.
func (r *Rules) StoreRefreshed(ctx context.Context, p store.StoreRefreshedParams) (store.Identity, error) {
	switch {
	case len(p.AccessToken) == 0:
		return store.Identity{}, r.errorf("store refreshed identity %d: no access token", p.IdentityID)
	case p.Now.IsZero() || p.Event.At.IsZero():
		return store.Identity{}, r.errorf("store refreshed identity %d: now or event time is the zero time", p.IdentityID)
	}
	var out store.Identity
	err := r.db.InTx(ctx, func(tx Conn) error {
		var err error
		out, err = r.codec.ScanIdentity(tx.QueryRow(ctx, r.sql.StoreRefreshed, p.AccessToken, nilIfEmpty(p.RefreshToken),
			r.codec.Time(p.ExpiresAt), r.codec.Time(p.Now), p.IdentityID, p.Bot, p.Holder,
			store.StatusActive, p.PrevAccessToken, nilIfEmpty(p.PrevRefreshToken)))
		if noRows(err) {
			return store.ErrLeaseLost
		}
		if err != nil {
			return err
		}
		ev := p.Event
		ev.IdentityID, ev.Bot, ev.Kind = p.IdentityID, p.Bot, store.EventRefreshed
		return r.insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.Identity{}, r.errorf("store refreshed identity %d: %w", p.IdentityID, err)
	}
	return out, nil
}

// ReleaseRefreshLease gives the lease back, with an optional back-off and history event.
func (r *Rules) ReleaseRefreshLease(ctx context.Context, p store.ReleaseRefreshParams) error {
	err := r.db.InTx(ctx, func(tx Conn) error {
		n, err := tx.Exec(ctx, r.sql.ReleaseRefreshLease, r.codec.Time(p.RetryAt), p.IdentityID, p.Bot, p.Holder)
		if err := oneRowOrLost(n, err); err != nil || p.Event == nil {
			return err
		}
		ev := *p.Event
		ev.IdentityID, ev.Bot = p.IdentityID, p.Bot
		return r.insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return r.errorf("release refresh lease of identity %d: %w", p.IdentityID, err)
	}
	return nil
}

// MarkRelinkRequired moves an active identity to relink_required; see store.LifecycleStore.
// The row is locked first, so the holder check and the change see the same row: a relink or
// a concurrent mark on another instance comes before or after, never in between.
func (r *Rules) MarkRelinkRequired(ctx context.Context, p store.RelinkRequiredParams) (store.Identity, bool, error) {
	if p.Event.At.IsZero() {
		return store.Identity{}, false, r.errorf("mark identity %d relink_required: event time is the zero time", p.IdentityID)
	}
	var (
		out     store.Identity
		changed bool
	)
	err := r.db.InTx(ctx, func(tx Conn) error {
		changed = false
		var holder, status string
		err := tx.QueryRow(ctx, r.sql.LockRefreshHolder, p.IdentityID, p.Bot).Scan(&holder, &status)
		if noRows(err) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if p.Holder != "" && holder != p.Holder {
			return store.ErrLeaseLost
		}
		if status != store.StatusActive {
			out, err = r.codec.ScanIdentity(tx.QueryRow(ctx, r.sql.IdentityByID, p.IdentityID))
			return err
		}
		out, err = r.codec.ScanIdentity(tx.QueryRow(ctx, r.sql.MarkRelinkRequired, store.StatusRelinkRequired,
			r.codec.Time(p.Event.At), p.IdentityID))
		if err != nil {
			return err
		}
		changed = true
		ev := p.Event
		ev.IdentityID, ev.Bot, ev.Kind = p.IdentityID, p.Bot, store.EventRelinkRequired
		if err := r.insertEvent(ctx, tx, ev); err != nil || !ev.Webhook {
			return err
		}
		return r.enqueueWebhook(ctx, tx, store.WebhookRelinkRequired, out, ev.Outcome, ev.At)
	})
	if err != nil {
		return store.Identity{}, false, r.errorf("mark identity %d relink_required: %w", p.IdentityID, err)
	}
	return out, changed, nil
}
