package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
)

// TestSeedPostgres: the PostgreSQL population is the store the broker will read. Seeded into
// the schema the store's own migrations made, its totals count every identity, its tokens open
// under the bench's key, it holds the spent links seedStore writes, an unlink afterwards keeps
// the totals exact, and the table has been vacuumed, as a server's would be after a while (the
// first run must not pay for the copy).
func TestSeedPostgres(t *testing.T) {
	dsn, ring := schemaToSeed(t)
	ctx := t.Context()
	const n = 100
	if err := seedPostgres(ctx, dsn, ring, n, t.Logf); err != nil {
		t.Fatalf("seedPostgres: %v", err)
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var vacuumed bool
	err = c.QueryRow(ctx, `SELECT pg_stat_get_last_vacuum_time(to_regclass('identities')) IS NOT NULL`).Scan(&vacuumed)
	c.Close(ctx)
	if err != nil {
		t.Fatal(err)
	} else if !vacuumed {
		t.Error("the seeded identities were not vacuumed")
	}

	s, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	wantTotal := func(want int) {
		t.Helper()
		totals, err := s.IdentityTotals(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if w := []store.IdentityTotal{{Bot: benchBot, Provider: seedProvider, Status: "active", Count: want}}; !slices.Equal(totals, w) {
			t.Errorf("IdentityTotals = %+v, want %+v", totals, w)
		}
	}
	wantTotal(n)
	checkSeededLinks(t, s, n)

	const id = 42
	ident, err := s.IdentityTokens(ctx, benchBot, id)
	if err != nil {
		t.Fatal(err)
	}
	token, err := ring.Open(ident.AccessToken,
		seal.TokenAAD(ident.Bot, ident.Channel, ident.User, ident.Provider, ident.ProviderUserID, "access_token"))
	if err != nil {
		t.Fatalf("opening identity %d's access token: %v", id, err)
	}
	if string(token) != accessToken(id) {
		t.Errorf("identity %d's access token = %q, want %q", id, token, accessToken(id))
	}

	if err := s.DeleteIdentity(ctx, benchBot, id, store.Event{Kind: store.EventUnlinked, Outcome: "ok", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	wantTotal(n - 1)
}

// TestSeedPostgresWithoutTheRightToCheckpoint: a role that may write the bench's tables and
// set session_replication_role, but is neither a superuser nor in pg_checkpoint, still seeds
// every identity; the refused CHECKPOINT is one line of the bench's log, not a failed run.
func TestSeedPostgresWithoutTheRightToCheckpoint(t *testing.T) {
	dsn, ring := schemaToSeed(t)
	ctx := t.Context()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := pgx.Identifier{u.Query().Get("search_path")}.Sanitize()
	role, password := "ob_seed_"+strings.ToLower(rand.Text()[:12]), rand.Text()
	if err := pgtest.Exec(ctx, dsn, `CREATE ROLE `+role+` LOGIN PASSWORD '`+password+`'`); err != nil {
		t.Skipf("this test needs a server user that may create roles: %v", err)
	}
	t.Cleanup(func() {
		if err := pgtest.Exec(context.Background(), dsn, `DROP OWNED BY `+role+`; DROP ROLE `+role); err != nil {
			t.Errorf("dropping role %s: %v", role, err)
		}
	})
	grants := `GRANT USAGE ON SCHEMA ` + schema + ` TO ` + role + `;
		GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + schema + ` TO ` + role + `;
		GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ` + schema + ` TO ` + role + `;
		GRANT SET ON PARAMETER session_replication_role TO ` + role
	if err := pgtest.Exec(ctx, dsn, grants); err != nil {
		t.Skipf("this test needs a server (PostgreSQL 15 or later) that grants the right to set a parameter: %v", err)
	}
	u.User = url.UserPassword(role, password)

	var logged []string
	logf := func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	const n = 50
	if err := seedPostgres(ctx, u.String(), ring, n, logf); err != nil {
		t.Fatalf("seedPostgres as %s: %v", role, err)
	}
	if len(logged) != 1 || !strings.HasPrefix(logged[0], "CHECKPOINT after seeding refused (") {
		t.Errorf("the bench logged %q, want one line saying the CHECKPOINT was refused", logged)
	}
	ids, err := pgtest.QueryInts(ctx, dsn, `SELECT count(*) FROM identities`)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != n {
		t.Errorf("identities after the seeding: %v, want %d", ids, n)
	}
}

// schemaToSeed is a schema of the test server with the store's tables, made by the store's own
// Open as setupStore makes them, and a key ring for the seeding to seal its tokens with.
func schemaToSeed(t *testing.T) (dsn string, ring *seal.KeyRing) {
	t.Helper()
	dsn = pgtest.DSN(t)
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	keys, _, err := seal.LoadOrCreateKeyFile(t.TempDir()+"/keys.json", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return dsn, keys.Ring
}
