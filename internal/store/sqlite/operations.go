package sqlite

import (
	"context"
	"fmt"
)

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
