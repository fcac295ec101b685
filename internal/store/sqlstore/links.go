package sqlstore

import (
	"context"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// CreateLink inserts a link and its providers and returns it with its ID and its times as
// stored. A token hash that already exists, or a provider listed twice, is store.ErrConflict.
func (r *Rules) CreateLink(ctx context.Context, l store.Link) (store.Link, error) {
	if len(l.Providers) == 0 {
		return store.Link{}, r.errorf("create link: a link needs at least one provider")
	}
	c := r.codec
	err := r.db.InTx(ctx, func(tx Conn) error {
		var err error
		l.ID, err = tx.Insert(ctx, r.sql.InsertLink, l.TokenHash, l.Bot, l.Channel, l.User, l.UserLabel, l.RedirectURL,
			c.Time(l.CreatedAt), c.Time(l.ExpiresAt), c.Time(l.UsedAt), c.Time(l.CancelledAt))
		if err != nil {
			return c.Constraint(err)
		}
		for i, p := range l.Providers {
			_, err := tx.Exec(ctx, r.sql.InsertLinkProvider, l.ID, i, p.Provider, c.Scopes(p.Scopes), c.ID(p.IdentityID), c.Time(p.LinkedAt))
			if err != nil {
				return c.Constraint(err)
			}
		}
		return nil
	})
	if err != nil {
		return store.Link{}, r.errorf("create link: %w", err)
	}
	return NormalLink(l), nil
}

// NormalLink is l as a store returns it once written: its times as they read back (Normal),
// its providers a copy of the caller's.
func NormalLink(l store.Link) store.Link {
	l.CreatedAt, l.ExpiresAt, l.UsedAt, l.CancelledAt = Normal(l.CreatedAt), Normal(l.ExpiresAt), Normal(l.UsedAt), Normal(l.CancelledAt)
	l.Providers = append([]store.LinkProvider(nil), l.Providers...)
	for i := range l.Providers {
		l.Providers[i].LinkedAt = Normal(l.Providers[i].LinkedAt)
	}
	return l
}

// CancelLink spends a link that is not spent yet; see store.Store. Single use rests on the
// conditional UPDATE (it takes the link's row lock, so a completion of the same link waits
// and then finds it spent); the follow-up read only explains a refusal, and used_at is never
// cleared, so it cannot contradict the UPDATE.
func (r *Rules) CancelLink(ctx context.Context, linkID int64, now time.Time) error {
	if now.IsZero() {
		return r.errorf("cancel link: now is the zero time")
	}
	w := r.db.Writer()
	n, err := w.Exec(ctx, r.sql.CancelLink, r.codec.Time(now), linkID)
	if err == nil && n == 0 {
		err = refusal(w.QueryRow(ctx, r.sql.LinkExists, linkID), store.ErrLinkUsed)
	}
	if err != nil {
		return r.errorf("cancel link %d: %w", linkID, err)
	}
	return nil
}

// refusal explains a conditional write that changed nothing: store.ErrNotFound when the row
// does not exist (row, a read of it, finds nothing), else why.
func refusal(row Row, why error) error {
	var one any
	err := row.Scan(&one)
	switch {
	case noRows(err):
		return store.ErrNotFound
	case err != nil:
		return err
	}
	return why
}

// CreateFlow records a started flow. A state hash that exists already is store.ErrConflict;
// a flow for a link that does not exist is store.ErrNotFound.
func (r *Rules) CreateFlow(ctx context.Context, f store.Flow) error {
	_, err := r.db.Writer().Exec(ctx, r.sql.InsertFlow, f.StateHash, f.LinkID, r.codec.Time(f.CreatedAt), r.codec.Time(f.ExpiresAt))
	if r.codec.IsForeignKey(err) {
		return r.errorf("create flow for link %d: link %w", f.LinkID, store.ErrNotFound)
	}
	if err != nil {
		return r.errorf("create flow for link %d: %w", f.LinkID, r.codec.Constraint(err))
	}
	return nil
}

// WhyNotConsumed explains a ConsumeFlow whose conditional UPDATE found nothing to consume:
// store.ErrNotFound for an unknown flow, store.ErrFlowConsumed for a consumed one (also when
// it has expired since: it was used), store.ErrExpired otherwise. consumed_at is never
// cleared, so this read cannot contradict the UPDATE, inside its transaction or after it.
func (r *Rules) WhyNotConsumed(ctx context.Context, c Conn, stateHash []byte) error {
	var consumed bool
	err := c.QueryRow(ctx, r.sql.FlowConsumed, stateHash).Scan(&consumed)
	switch {
	case noRows(err):
		return store.ErrNotFound
	case err != nil:
		return err
	case consumed:
		return store.ErrFlowConsumed
	default:
		return store.ErrExpired
	}
}

// CountOpenFlows counts the link's flows that are neither consumed nor expired at now.
func (r *Rules) CountOpenFlows(ctx context.Context, linkID int64, now time.Time) (int, error) {
	var n int
	if err := r.db.Reader().QueryRow(ctx, r.sql.CountOpenFlows, linkID, r.codec.Time(now)).Scan(&n); err != nil {
		return 0, r.errorf("count open flows of link %d: %w", linkID, err)
	}
	return n, nil
}
