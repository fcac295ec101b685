package sqlite

import (
	"context"
	"fmt"
	"time"
)

// CountOpenFlows counts the chat user's flows that are neither consumed nor expired at now.
// It walks the user's links by the links_user index and their flows by flows_link_id
// (operations_test.go pins the plan).
func (s *Store) CountOpenFlows(ctx context.Context, bot, channel, user string, now time.Time) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, countOpenFlows, bot, channel, user, millis(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count open flows of %s/%s: %w", bot, channel, err)
	}
	return n, nil
}

const countOpenFlows = `SELECT count(*) FROM links l JOIN flows f ON f.link_id = l.id
	WHERE l.bot = ? AND l.channel = ? AND l.user_id = ? AND f.consumed_at IS NULL AND f.expires_at > ?`

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
