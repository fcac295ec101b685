package sqlstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// enqueueWebhook writes one webhook event for id into the outbox, inside the caller's
// transaction: the event exists exactly when the change it announces does. It is due at once.
//
// Every caller has locked (or just inserted) the identity's row in the same transaction, so
// two events of one identity get their ids in the order their transactions commit: delivery
// order by id is the order of the changes.
func (r *Rules) enqueueWebhook(ctx context.Context, tx Conn, typ string, id store.Identity, reason string, at time.Time) error {
	return r.insertOutbox(ctx, tx, store.OutboxEvent{Type: typ, Bot: id.Bot, IdentityID: id.ID, Channel: id.Channel, User: id.User,
		Provider: id.Provider, ProviderUserID: id.ProviderUserID, Status: id.Status, Reason: reason}, at)
}

// insertOutbox writes e (its change's fields; the outbox fills in the rest) due at once.
func (r *Rules) insertOutbox(ctx context.Context, tx Conn, e store.OutboxEvent, at time.Time) error {
	identities, err := store.EncodeLinkedIdentities(e.Identities)
	if err == nil {
		_, err = tx.Exec(ctx, r.sql.InsertOutbox, "evt_"+rand.Text(), e.Type, e.Bot, e.IdentityID, e.Channel, e.User,
			e.Provider, e.ProviderUserID, e.Status, e.Reason, identities, r.codec.Time(at))
	}
	if err != nil {
		return fmt.Errorf("enqueue %s webhook: %w", e.Type, err)
	}
	return nil
}

// enqueueLinkCompleted writes link.completed for the link into the outbox, keyed to the
// identity that completed it (see store.OutboxEvent.Identities).
func (r *Rules) enqueueLinkCompleted(ctx context.Context, tx Conn, linkID int64, completing store.Identity, at time.Time) error {
	rows, err := tx.Query(ctx, r.sql.LinkIdentities, linkID)
	if err != nil {
		return err
	}
	ids, err := Collect(rows, func(row Row) (store.LinkedIdentity, error) {
		var li store.LinkedIdentity
		err := row.Scan(&li.ID, &li.Provider, &li.ProviderUserID, &li.Status)
		return li, err
	})
	if err != nil {
		return err
	}
	return r.insertOutbox(ctx, tx, store.OutboxEvent{Type: store.WebhookLinkCompleted, Bot: completing.Bot,
		IdentityID: completing.ID, Channel: completing.Channel, User: completing.User, Identities: ids}, at)
}

// ClaimDue claims due events for holder; see store.LifecycleStore. It is one statement, so
// its own transaction.
func (r *Rules) ClaimDue(ctx context.Context, holder string, now, until time.Time, limit int) ([]store.OutboxEvent, error) {
	if holder == "" || limit <= 0 || !until.After(now) {
		return nil, r.errorf("claim due webhooks: need a holder, a positive limit and a claim end after now")
	}
	rows, err := r.db.Writer().Query(ctx, r.sql.ClaimDue, r.codec.Time(now), limit, holder, r.codec.Time(until))
	var out []store.OutboxEvent
	if err == nil {
		out, err = ScanOutbox(rows, r.codec)
	}
	if err != nil {
		return nil, r.errorf("claim due webhooks: %w", err)
	}
	// RETURNING does not promise an order.
	slices.SortFunc(out, func(a, b store.OutboxEvent) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// MarkDelivered records a delivery and releases the claim.
func (r *Rules) MarkDelivered(ctx context.Context, id int64, holder string, now time.Time) error {
	return r.finishAttempt(ctx, "delivered", r.sql.MarkDelivered, id, holder, r.codec.Time(now))
}

// MarkFailed records a failed attempt and when to try again, and releases the claim.
func (r *Rules) MarkFailed(ctx context.Context, id int64, holder string, next time.Time, lastError string) error {
	return r.finishAttempt(ctx, "failed", r.sql.MarkFailed, id, holder, r.codec.Time(next), clip(lastError))
}

// MarkDead records the last failed attempt; the event is never tried again.
func (r *Rules) MarkDead(ctx context.Context, id int64, holder string, now time.Time, lastError string) error {
	return r.finishAttempt(ctx, "dead", r.sql.MarkDead, id, holder, r.codec.Time(now), clip(lastError))
}

// finishAttempt ends holder's claim on event id. A claim that expired and was taken over by
// another holder is store.ErrLeaseLost.
func (r *Rules) finishAttempt(ctx context.Context, what, query string, id int64, holder string, args ...any) error {
	n, err := r.db.Writer().Exec(ctx, query, append([]any{id, holder}, args...)...)
	if err := oneRowOrLost(n, err); err != nil {
		return r.errorf("mark webhook %d %s: %w", id, what, err)
	}
	return nil
}

// PruneOutbox deletes delivered events older than the given time. Pending and dead events
// stay: the first still have to go out, the second are for an operator to look at.
func (r *Rules) PruneOutbox(ctx context.Context, deliveredBefore time.Time) (int64, error) {
	n, err := r.db.Writer().Exec(ctx, r.sql.PruneOutbox, r.codec.Time(deliveredBefore))
	if err != nil {
		return 0, r.errorf("prune webhooks: %w", err)
	}
	return n, nil
}

// ScanOutbox reads rows of outbox columns (id, event_id, type, bot, identity_id, channel,
// user_id, provider, provider_user_id, status, reason, identities, created_at, state,
// attempts, next_attempt_at, last_error, delivered_at) and closes them.
func ScanOutbox(rows Rows, codec Codec) ([]store.OutboxEvent, error) {
	return Collect(rows, func(row Row) (store.OutboxEvent, error) { return ScanOutboxRow(row, codec) })
}

// ScanOutboxRow reads one row of outbox columns.
func ScanOutboxRow(row Row, codec Codec) (store.OutboxEvent, error) {
	var (
		e                        store.OutboxEvent
		identities               string
		created, next, delivered = codec.NullTime(), codec.NullTime(), codec.NullTime()
	)
	err := row.Scan(&e.ID, &e.EventID, &e.Type, &e.Bot, &e.IdentityID, &e.Channel, &e.User, &e.Provider,
		&e.ProviderUserID, &e.Status, &e.Reason, &identities, created, &e.State, &e.Attempts, next, &e.LastError, delivered)
	if err != nil {
		return store.OutboxEvent{}, err
	}
	if e.Identities, err = store.DecodeLinkedIdentities(identities); err != nil {
		return store.OutboxEvent{}, fmt.Errorf("webhook %d: %w", e.ID, err)
	}
	e.CreatedAt, e.NextAttemptAt, e.DeliveredAt = created.Time(), next.Time(), delivered.Time()
	return e, nil
}
