package sqlite

import (
	"context"
	"fmt"
	"time"
)

// CountOpenFlows counts the link's flows that are neither consumed nor expired at now, by
// flows_link_id (operations_test.go pins the plan).
func (s *Store) CountOpenFlows(ctx context.Context, linkID int64, now time.Time) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, countOpenFlows, linkID, millis(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count open flows of link %d: %w", linkID, err)
	}
	return n, nil
}

const countOpenFlows = `SELECT count(*) FROM flows WHERE link_id = ? AND consumed_at IS NULL AND expires_at > ?`

// SchemaCurrent fails unless every migration embedded in this binary is applied.
func (s *Store) SchemaCurrent(ctx context.Context) error {
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: load migrations: %w", err)
	}
	v, err := schemaVersion(ctx, s.reader)
	if err != nil {
		return err
	}
	if v < len(ms) {
		return fmt.Errorf("sqlite: the database schema is at version %d, this binary needs %d", v, len(ms))
	}
	return nil
}
