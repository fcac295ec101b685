package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

const selectOutbox = `SELECT ` + outboxColumns + ` FROM webhook_outbox`

const outboxColumns = `id, event_id, type, bot, identity_id, channel, user_id, provider,
	provider_user_id, status, reason, identities, created_at, state, attempts, next_attempt_at, last_error,
	delivered_at`

// maxLastError bounds what a failed attempt leaves in last_error.
const maxLastError = 300

// enqueueWebhook writes one webhook event for id into the outbox, inside the caller's
// transaction: the event exists exactly when the change it announces does. It is due at once.
func enqueueWebhook(ctx context.Context, tx *sql.Tx, typ string, id store.Identity, reason string, at time.Time) error {
	return insertOutbox(ctx, tx, store.OutboxEvent{Type: typ, Bot: id.Bot, IdentityID: id.ID, Channel: id.Channel, User: id.User,
		Provider: id.Provider, ProviderUserID: id.ProviderUserID, Status: id.Status, Reason: reason}, at)
}

// insertOutbox writes e (its change's fields; the outbox fills in the rest) due at once.
func insertOutbox(ctx context.Context, tx *sql.Tx, e store.OutboxEvent, at time.Time) error {
	identities, err := store.EncodeLinkedIdentities(e.Identities)
	if err != nil {
		return fmt.Errorf("enqueue %s webhook: %w", e.Type, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO webhook_outbox
		(event_id, type, bot, identity_id, channel, user_id, provider, provider_user_id, status, reason,
		 identities, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		"evt_"+rand.Text(), e.Type, e.Bot, e.IdentityID, e.Channel, e.User, e.Provider, e.ProviderUserID,
		e.Status, e.Reason, identities, millis(at), millis(at))
	if err != nil {
		return fmt.Errorf("enqueue %s webhook: %w", e.Type, err)
	}
	return nil
}

// dueEvents selects the events ClaimDue may claim at ? (twice) in delivery order. The NOT
// EXISTS keeps one identity's events in order: an event waits while any older one of its
// identity is pending, whether that one is claimed elsewhere or backing off after a failure.
// INDEXED BY: without statistics SQLite would rather use the equality on state (every
// pending row, then a sort) than the partial index that is already in due order.
const dueEvents = `SELECT o.id FROM webhook_outbox o INDEXED BY webhook_outbox_due
	WHERE o.state = 'pending' AND o.next_attempt_at <= ?
	  AND (o.claimed_until IS NULL OR o.claimed_until <= ?)
	  AND NOT EXISTS (SELECT 1 FROM webhook_outbox p
		WHERE p.state = 'pending' AND p.bot = o.bot AND p.identity_id = o.identity_id AND p.id < o.id)
	ORDER BY o.next_attempt_at, o.id LIMIT ?`

// ClaimDue claims due events for holder; see store.LifecycleStore.
func (s *Store) ClaimDue(ctx context.Context, holder string, now, until time.Time, limit int) ([]store.OutboxEvent, error) {
	if holder == "" || limit <= 0 || !until.After(now) {
		return nil, errors.New("sqlite: claim due webhooks: need a holder, a positive limit and a claim end after now")
	}
	var out []store.OutboxEvent
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE webhook_outbox SET claimed_by = ?, claimed_until = ?
			WHERE id IN (`+dueEvents+`)
			RETURNING `+outboxColumns,
			holder, millis(until), millis(now), millis(now), limit)
		if err != nil {
			return err
		}
		out, err = scanOutboxRows(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim due webhooks: %w", err)
	}
	// RETURNING does not promise an order.
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// MarkDelivered records a delivery and releases the claim.
func (s *Store) MarkDelivered(ctx context.Context, id int64, holder string, now time.Time) error {
	return s.finishAttempt(ctx, "delivered", id, holder, `state = 'delivered', delivered_at = ?, last_error = ''`, millis(now))
}

// MarkFailed records a failed attempt and when to try again, and releases the claim.
func (s *Store) MarkFailed(ctx context.Context, id int64, holder string, next time.Time, lastError string) error {
	return s.finishAttempt(ctx, "failed", id, holder, `next_attempt_at = ?, last_error = ?`, millis(next), clip(lastError))
}

// MarkDead records the last failed attempt; the event is never tried again.
func (s *Store) MarkDead(ctx context.Context, id int64, holder string, now time.Time, lastError string) error {
	return s.finishAttempt(ctx, "dead", id, holder, `state = 'dead', next_attempt_at = ?, last_error = ?`, millis(now), clip(lastError))
}

func (s *Store) finishAttempt(ctx context.Context, what string, id int64, holder, set string, args ...any) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_outbox SET `+set+`,
			attempts = attempts + 1, claimed_by = NULL, claimed_until = NULL
			WHERE id = ? AND state = 'pending' AND claimed_by = ?`, append(args, id, holder)...)
		return oneRowOrLost(res, err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: mark webhook %d %s: %w", id, what, err)
	}
	return nil
}

func clip(s string) string {
	if len(s) <= maxLastError {
		return s
	}
	return strings.ToValidUTF8(s[:maxLastError], "") + "…"
}

// OutboxEvents lists events for operators, newest first.
func (s *Store) OutboxEvents(ctx context.Context, q store.OutboxQuery) ([]store.OutboxEvent, error) {
	if q.Limit < 1 || q.Limit > 500 {
		return nil, fmt.Errorf("sqlite: list webhooks: limit %d is not 1-500", q.Limit)
	}
	var (
		where []string
		args  []any
	)
	for _, f := range []struct {
		col string
		v   string
	}{{"bot", q.Bot}, {"state", q.State}} {
		if f.v != "" {
			where, args = append(where, f.col+" = ?"), append(args, f.v)
		}
	}
	if q.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, q.BeforeID)
	}
	query := selectOutbox
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.reader.QueryContext(ctx, query+` ORDER BY id DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhooks: %w", err)
	}
	out, err := scanOutboxRows(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhooks: %w", err)
	}
	return out, nil
}

// PruneOutbox deletes delivered events older than the given time. Pending and dead events
// stay: the first still have to go out, the second are for an operator to look at.
func (s *Store) PruneOutbox(ctx context.Context, deliveredBefore time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE state = 'delivered' AND delivered_at < ?`, millis(deliveredBefore))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune webhooks: %w", err)
	}
	return n, nil
}

func scanOutboxRows(rows *sql.Rows) ([]store.OutboxEvent, error) {
	defer rows.Close()
	out := []store.OutboxEvent{}
	for rows.Next() {
		var (
			e                        store.OutboxEvent
			identities               string
			created, next, delivered sql.NullInt64
		)
		if err := rows.Scan(&e.ID, &e.EventID, &e.Type, &e.Bot, &e.IdentityID, &e.Channel, &e.User, &e.Provider,
			&e.ProviderUserID, &e.Status, &e.Reason, &identities, &created, &e.State, &e.Attempts, &next, &e.LastError,
			&delivered); err != nil {
			return nil, err
		}
		var err error
		if e.Identities, err = store.DecodeLinkedIdentities(identities); err != nil {
			return nil, fmt.Errorf("webhook %d: %w", e.ID, err)
		}
		e.CreatedAt, e.NextAttemptAt, e.DeliveredAt = fromMillis(created), fromMillis(next), fromMillis(delivered)
		out = append(out, e)
	}
	return out, rows.Err()
}
