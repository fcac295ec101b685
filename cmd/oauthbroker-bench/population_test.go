package main

import (
	"slices"
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
	dsn := pgtest.DSN(t)
	ctx := t.Context()
	s, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	keys, _, err := seal.LoadOrCreateKeyFile(t.TempDir()+"/keys.json", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	if err := seedPostgres(ctx, dsn, keys.Ring, n, t.Logf); err != nil {
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

	s, err = postgres.Open(ctx, dsn, postgres.Options{})
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
	token, err := keys.Ring.Open(ident.AccessToken,
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
