package main

import (
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
)

// TestSeedPostgres: the PostgreSQL population is the store the broker will read. Seeded into
// the schema the store's own migrations made, its totals count every identity, its tokens open
// under the bench's key, and an unlink afterwards keeps the totals exact.
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
	if err := seedPostgres(ctx, dsn, keys.Ring, n); err != nil {
		t.Fatalf("seedPostgres: %v", err)
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
