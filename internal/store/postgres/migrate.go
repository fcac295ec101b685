package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/oauthbroker/oauthbroker/internal/store/schema"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrations are numbered files NNNN_what.sql, applied in order. A migration is never edited
// once released: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration = schema.Migration

// loadMigrations reads the migrations in dir of fsys and checks they are numbered 1..n.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) { return schema.Load(fsys, dir) }

// migrationLock is the first key of the advisory lock that serialises migrations; the second
// is the schema's name, so brokers on different schemas of one database (tests do that) do
// not wait for each other.
const migrationLock = 0x6f617574 // "oaut"

// migrate brings the schema up to the newest embedded migration.
//
// Every instance behind a load balancer runs this at start, often at the same moment. The
// whole upgrade is one transaction holding a transaction-scoped advisory lock: the first
// instance migrates while the others wait on the lock, then they read the version it
// committed and find nothing left to do. PostgreSQL's DDL is transactional, so a migration
// that fails (or an instance killed halfway) leaves the schema as it was, never half done;
// and the lock goes with the transaction, so a killed instance cannot leave it held.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: load migrations: %w", err)
	}
	return applyMigrations(ctx, pool, ms)
}

func applyMigrations(ctx context.Context, pool *pgxpool.Pool, ms []migration) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, migrationLock); err != nil {
			return fmt.Errorf("postgres: take the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("postgres: create schema_migrations (does the DSN's search_path name a schema that exists?): %w", err)
		}
		current, err := schemaVersion(ctx, tx)
		if err != nil {
			return err
		}
		if known := len(ms); current > known {
			return fmt.Errorf("postgres: the database schema is at version %d, newer than this oauthbroker binary knows (%d): "+
				"it was migrated by a newer release; run that release or newer, or restore a backup made for this one", current, known)
		}
		for _, m := range ms[current:] {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("postgres: migration %s: record version: %w", m.Name, err)
			}
		}
		return nil
	})
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: read schema version: %w", err)
	}
	return v, nil
}

// SchemaCurrent fails unless every migration embedded in this binary is applied: an instance
// pointed at a database restored from an old backup stops answering /readyz.
func (s *Store) SchemaCurrent(ctx context.Context) error {
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: load migrations: %w", err)
	}
	v, err := schemaVersion(ctx, s.pool)
	if err != nil {
		return err
	}
	if v < len(ms) {
		return fmt.Errorf("postgres: the database schema is at version %d, this binary needs %d", v, len(ms))
	}
	return nil
}
