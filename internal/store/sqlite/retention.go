package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// purgeSQL deletes one batch of a table: ?1 is the cutoff, ?2 the batch size. Each picks the
// rows through the indexes of migration 0007, so a batch costs the rows it deletes, not the
// table. A cancelled link has its used_at too, so links_used finds it. Deleting a link
// cascades (ON DELETE CASCADE, enforced: the writer has foreign_keys on) to what refers to
// it — its link_providers, flows and confirmations — each through an index on link_id.
var purgeSQL = map[string]string{
	store.PurgeFlows: `DELETE FROM flows WHERE state_hash IN (
		SELECT state_hash FROM flows WHERE expires_at < ?1 OR consumed_at < ?1 LIMIT ?2)`,
	store.PurgeConfirmations: `DELETE FROM confirmations WHERE id IN (
		SELECT id FROM confirmations WHERE expires_at < ?1 LIMIT ?2)`,
	store.PurgeAdminSessions: `DELETE FROM admin_sessions WHERE token_hash IN (
		SELECT token_hash FROM admin_sessions WHERE expires_at < ?1 LIMIT ?2)`,
	store.PurgeLinks: `DELETE FROM links WHERE id IN (
		SELECT id FROM links WHERE expires_at < ?1 OR used_at < ?1 LIMIT ?2)`,
}

// Purge deletes up to limit rows of table spent or expired before the cutoff, in one write
// transaction: the single writer is held for one batch only, and readers (WAL) never wait.
func (s *Store) Purge(ctx context.Context, table string, before time.Time, limit int) (int64, error) {
	query, ok := purgeSQL[table]
	if !ok || limit <= 0 {
		return 0, fmt.Errorf("sqlite: purge %q (limit %d): not a purgeable table, or no limit", table, limit)
	}
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, millis(before), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge %s: %w", table, err)
	}
	return n, nil
}

// AcquireLease takes or renews a named lease: one upsert whose update only happens when the
// lease is free or already the holder's, so of any number of racers exactly one gets a row back.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, until, now time.Time) (bool, error) {
	if name == "" || holder == "" {
		return false, errors.New("sqlite: acquire lease: empty name or holder")
	}
	var got string
	err := s.writer.QueryRowContext(ctx, `INSERT INTO leases (name, holder, held_until) VALUES (?1, ?2, ?3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
			WHERE leases.holder = excluded.holder OR leases.held_until <= ?4
		RETURNING holder`, name, holder, millis(until), millis(now)).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lease %s: %w", name, err)
	}
	return got == holder, nil
}

// ReleaseLease frees holder's lease.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("sqlite: release lease %s: %w", name, err)
	}
	return nil
}
