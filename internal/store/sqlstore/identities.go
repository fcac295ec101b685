package sqlstore

import (
	"context"
	"fmt"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// DeleteIdentity removes the identity (and, by their foreign keys, its confirmations and
// usage) and records ev for it (Kind defaults to unlinked; IdentityID and Bot are filled in)
// and, with ev.Webhook, identity.unlinked, in one transaction. The identity's history stays.
func (r *Rules) DeleteIdentity(ctx context.Context, bot string, id int64, ev store.Event) error {
	if ev.At.IsZero() {
		return r.errorf("delete identity %d: event time is the zero time", id)
	}
	ev.IdentityID, ev.Bot = id, bot
	if ev.Kind == "" {
		ev.Kind = store.EventUnlinked
	}
	err := r.db.InTx(ctx, func(tx Conn) error {
		// The deleted row gives the webhook event the identity as it was when it went. Of two
		// concurrent deletes, the second waits for the first's row lock and then deletes nothing.
		gone, err := r.codec.ScanIdentity(tx.QueryRow(ctx, r.sql.DeleteIdentity, id, bot))
		if noRows(err) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := r.insertEvent(ctx, tx, ev); err != nil || !ev.Webhook {
			return err
		}
		return r.enqueueWebhook(ctx, tx, store.WebhookUnlinked, gone, "", ev.At)
	})
	if err != nil {
		return r.errorf("delete identity %d: %w", id, err)
	}
	return nil
}

func (r *Rules) insertEvent(ctx context.Context, tx Conn, e store.Event) error {
	if _, err := tx.Exec(ctx, r.sql.InsertEvent, e.IdentityID, e.Bot, e.Kind, e.Outcome, e.Detail, r.codec.Time(e.At)); err != nil {
		return fmt.Errorf("insert %s event: %w", e.Kind, err)
	}
	return nil
}

// Events returns an identity's history, oldest first. The history outlives the identity, so
// an unknown or deleted identity is not an error: its history is simply what was recorded.
func (r *Rules) Events(ctx context.Context, bot string, identityID int64) ([]store.Event, error) {
	rows, err := r.db.Reader().Query(ctx, r.sql.Events, identityID, bot)
	if err != nil {
		return nil, r.errorf("events of identity %d: %w", identityID, err)
	}
	out, err := Collect(rows, func(row Row) (store.Event, error) {
		var e store.Event
		at := r.codec.NullTime()
		err := row.Scan(&e.ID, &e.IdentityID, &e.Bot, &e.Kind, &e.Outcome, &e.Detail, at)
		e.At = at.Time()
		return e, err
	})
	if err != nil {
		return nil, r.errorf("events of identity %d: %w", identityID, err)
	}
	return out, nil
}
