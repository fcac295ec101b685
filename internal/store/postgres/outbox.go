package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

const outboxColumns = `id, event_id, type, bot, identity_id, channel, user_id, provider,
	provider_user_id, status, reason, identities, created_at, state, attempts, next_attempt_at, last_error,
	delivered_at`

// maxLastError bounds what a failed attempt leaves in last_error.
const maxLastError = 300

// enqueueWebhook writes one webhook event for id into the outbox, inside the caller's
// transaction: the event exists exactly when the change it announces does. It is due at once.
//
// Every caller has locked (or just inserted) the identity's row in the same transaction, so
// two events of one identity get their ids from the sequence in the order their transactions
// commit: delivery order by id is the order of the changes.
func enqueueWebhook(ctx context.Context, tx pgx.Tx, typ string, id store.Identity, reason string, at time.Time) error {
	return insertOutbox(ctx, tx, store.OutboxEvent{Type: typ, Bot: id.Bot, IdentityID: id.ID, Channel: id.Channel, User: id.User,
		Provider: id.Provider, ProviderUserID: id.ProviderUserID, Status: id.Status, Reason: reason}, at)
}

// insertOutbox writes e (its change's fields; the outbox fills in the rest) due at once.
func insertOutbox(ctx context.Context, tx pgx.Tx, e store.OutboxEvent, at time.Time) error {
	identities, err := store.EncodeLinkedIdentities(e.Identities)
	if err != nil {
		return fmt.Errorf("enqueue %s webhook: %w", e.Type, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO webhook_outbox
		(event_id, type, bot, identity_id, channel, user_id, provider, provider_user_id, status, reason,
		 identities, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
		"evt_"+rand.Text(), e.Type, e.Bot, e.IdentityID, e.Channel, e.User, e.Provider, e.ProviderUserID,
		e.Status, e.Reason, identities, ts(at))
	if err != nil {
		return fmt.Errorf("enqueue %s webhook: %w", e.Type, err)
	}
	return nil
}

// ClaimDue claims due events for holder; see store.LifecycleStore.
//
// FOR UPDATE SKIP LOCKED lets delivery loops on several instances claim at once without
// waiting for each other or claiming one event twice: a row another claimer has locked is
// skipped, and a row another claimer has already claimed and committed fails the re-check of
// claimed_until. The NOT EXISTS keeps one identity's events in order: an event waits while an
// older one of its identity is pending, claimed elsewhere or backing off after a failure.
func (s *Store) ClaimDue(ctx context.Context, holder string, now, until time.Time, limit int) ([]store.OutboxEvent, error) {
	if holder == "" || limit <= 0 || !until.After(now) {
		return nil, errors.New("postgres: claim due webhooks: need a holder, a positive limit and a claim end after now")
	}
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT o.id FROM webhook_outbox o
			WHERE o.state = 'pending' AND o.next_attempt_at <= $1
			  AND (o.claimed_until IS NULL OR o.claimed_until <= $1)
			  AND NOT EXISTS (SELECT 1 FROM webhook_outbox p
				WHERE p.state = 'pending' AND p.bot = o.bot AND p.identity_id = o.identity_id AND p.id < o.id)
			ORDER BY o.next_attempt_at, o.id LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE webhook_outbox w SET claimed_by = $3, claimed_until = $4 FROM due WHERE w.id = due.id
		RETURNING `+prefixed("w.", outboxColumns), ts(now), limit, holder, ts(until))
	if err != nil {
		return nil, fmt.Errorf("postgres: claim due webhooks: %w", err)
	}
	out, err := collect(rows, scanOutbox)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim due webhooks: %w", err)
	}
	// RETURNING does not promise an order.
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// prefixed qualifies each column of a comma-separated list with a table alias.
func prefixed(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// MarkDelivered records a delivery and releases the claim.
func (s *Store) MarkDelivered(ctx context.Context, id int64, holder string, now time.Time) error {
	return s.finishAttempt(ctx, "delivered", id, holder, `state = 'delivered', delivered_at = $3, last_error = ''`, ts(now))
}

// MarkFailed records a failed attempt and when to try again, and releases the claim.
func (s *Store) MarkFailed(ctx context.Context, id int64, holder string, next time.Time, lastError string) error {
	return s.finishAttempt(ctx, "failed", id, holder, `next_attempt_at = $3, last_error = $4`, ts(next), clip(lastError))
}

// MarkDead records the last failed attempt; the event is never tried again.
func (s *Store) MarkDead(ctx context.Context, id int64, holder string, now time.Time, lastError string) error {
	return s.finishAttempt(ctx, "dead", id, holder, `state = 'dead', next_attempt_at = $3, last_error = $4`, ts(now), clip(lastError))
}

// finishAttempt ends holder's claim on event id with set ($3… are args). A claim that expired
// and was taken over by another holder is store.ErrLeaseLost.
func (s *Store) finishAttempt(ctx context.Context, what string, id int64, holder, set string, args ...any) error {
	tag, err := s.pool.Exec(ctx, `UPDATE webhook_outbox SET `+set+`,
		attempts = attempts + 1, claimed_by = NULL, claimed_until = NULL
		WHERE id = $1 AND state = 'pending' AND claimed_by = $2`, append([]any{id, holder}, args...)...)
	if err := oneRowOrLost(tag, err); err != nil {
		return fmt.Errorf("postgres: mark webhook %d %s: %w", id, what, err)
	}
	return nil
}

// clip bounds an error message, cutting at a character boundary (PostgreSQL refuses text
// that is not valid UTF-8).
func clip(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "")
	if len(s) <= maxLastError {
		return s
	}
	return strings.ToValidUTF8(s[:maxLastError], "") + "…"
}

// OutboxEvents lists events for operators, newest first.
func (s *Store) OutboxEvents(ctx context.Context, q store.OutboxQuery) ([]store.OutboxEvent, error) {
	if q.Limit < 1 || q.Limit > 500 {
		return nil, fmt.Errorf("postgres: list webhooks: limit %d is not 1-500", q.Limit)
	}
	var c conditions
	if q.Bot != "" {
		c.add("bot = ?", q.Bot)
	}
	if q.State != "" {
		c.add("state = ?", q.State)
	}
	if q.BeforeID > 0 {
		c.add("id < ?", q.BeforeID)
	}
	query := `SELECT ` + outboxColumns + ` FROM webhook_outbox` + c.where()
	query += ` ORDER BY id DESC LIMIT ` + c.param(q.Limit)
	rows, err := s.pool.Query(ctx, query, c.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhooks: %w", err)
	}
	out, err := collect(rows, scanOutbox)
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhooks: %w", err)
	}
	return out, nil
}

// PruneOutbox deletes delivered events older than the given time. Pending and dead events
// stay: the first still have to go out, the second are for an operator to look at.
func (s *Store) PruneOutbox(ctx context.Context, deliveredBefore time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_outbox WHERE state = 'delivered' AND delivered_at < $1`, ts(deliveredBefore))
	if err != nil {
		return 0, fmt.Errorf("postgres: prune webhooks: %w", err)
	}
	return tag.RowsAffected(), nil
}

func scanOutbox(row rowScanner) (store.OutboxEvent, error) {
	var (
		e                        store.OutboxEvent
		identities               string
		created, next, delivered pgtype.Timestamptz
	)
	err := row.Scan(&e.ID, &e.EventID, &e.Type, &e.Bot, &e.IdentityID, &e.Channel, &e.User, &e.Provider,
		&e.ProviderUserID, &e.Status, &e.Reason, &identities, &created, &e.State, &e.Attempts, &next, &e.LastError,
		&delivered)
	if err == nil {
		if e.Identities, err = store.DecodeLinkedIdentities(identities); err != nil {
			err = fmt.Errorf("webhook %d: %w", e.ID, err)
		}
	}
	e.CreatedAt, e.NextAttemptAt, e.DeliveredAt = fromTS(created), fromTS(next), fromTS(delivered)
	return e, err
}
