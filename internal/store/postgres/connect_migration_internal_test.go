package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
	"github.com/oauthbroker/oauthbroker/internal/store/storetest"
)

// TestConnectMigrationKeepsLinks: links made before links had several providers read back
// after 0004 (storetest.CheckMigratedLinks).
func TestConnectMigrationKeepsLinks(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if err := applyMigrations(ctx, pool, ms[:3]); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO links (token_hash, bot, provider, channel, user_id, scopes, created_at, expires_at, used_at)
			VALUES ('\x01', 'b', 'github', 'c', 'u', '{repo}', to_timestamp(1), to_timestamp(2), NULL)`,
		`INSERT INTO links (token_hash, bot, provider, channel, user_id, scopes, created_at, expires_at, used_at)
			VALUES ('\x02', 'b', 'twitter', 'c', 'u', '{}', to_timestamp(1), to_timestamp(2), to_timestamp(1.5))`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := applyMigrations(ctx, pool, ms); err != nil {
		t.Fatal(err)
	}
	storetest.CheckMigratedLinks(t, &Store{pool: pool})
}
