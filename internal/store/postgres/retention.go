package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// purgeSQL deletes one batch of a table: $1 is the cutoff, $2 the batch size. Each picks the
// rows through the indexes of migration 0005, so a batch costs the rows it deletes, not the
// table. A cancelled link has its used_at too, so links_used finds it. Deleting a link
// cascades (ON DELETE CASCADE) to what refers to it — its link_providers, flows and
// confirmations — each through an index on link_id.
var purgeSQL = map[string]string{
	store.PurgeFlows: `DELETE FROM flows WHERE state_hash IN (
		SELECT state_hash FROM flows WHERE expires_at < $1 OR consumed_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
	store.PurgeConfirmations: `DELETE FROM confirmations WHERE id IN (
		SELECT id FROM confirmations WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
	store.PurgeAdminSessions: `DELETE FROM admin_sessions WHERE token_hash IN (
		SELECT token_hash FROM admin_sessions WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
	store.PurgeLinks: `DELETE FROM links WHERE id IN (
		SELECT id FROM links WHERE expires_at < $1 OR used_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
}

// Purge deletes up to limit rows of table spent or expired before the cutoff, in one statement
// (its own transaction). Rows another transaction has locked are left for the next batch
// rather than waited for: a purge must never hold up a flow.
func (s *Store) Purge(ctx context.Context, table string, before time.Time, limit int) (int64, error) {
	query, ok := purgeSQL[table]
	if !ok || limit <= 0 {
		return 0, fmt.Errorf("postgres: purge %q (limit %d): not a purgeable table, or no limit", table, limit)
	}
	tag, err := s.pool.Exec(ctx, query, ts(before), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: purge %s: %w", table, err)
	}
	return tag.RowsAffected(), nil
}

// AcquireLease takes or renews a named lease: one upsert whose update only happens when the
// lease is free or already the holder's, so of any number of racers exactly one gets a row back.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, until, now time.Time) (bool, error) {
	if name == "" || holder == "" {
		return false, errors.New("postgres: acquire lease: empty name or holder")
	}
	var got string
	err := s.pool.QueryRow(ctx, `INSERT INTO leases (name, holder, held_until) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
			WHERE leases.holder = excluded.holder OR leases.held_until <= $4
		RETURNING holder`, name, holder, ts(until), ts(now)).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres: acquire lease %s: %w", name, err)
	}
	return got == holder, nil
}

// ReleaseLease frees holder's lease.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("postgres: release lease %s: %w", name, err)
	}
	return nil
}
