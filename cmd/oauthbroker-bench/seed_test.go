package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

// linkStore is what checkSeededLinks reads and writes of either store.
type linkStore interface {
	LinkByTokenHash(ctx context.Context, tokenHash []byte) (store.Link, error)
	CreateLink(ctx context.Context, l store.Link) (store.Link, error)
	Identity(ctx context.Context, bot string, id int64) (store.Identity, error)
}

// checkSeededLinks: a store seeded with n identities holds seededLinks(n) spent links, each
// read back by its key as the store reads a link (its chat user's, its provider linked to that
// user's identity), and a link made afterwards gets an id after theirs.
func checkSeededLinks(t *testing.T, s linkStore, n int) {
	t.Helper()
	ctx := t.Context()
	last := int64(seededLinks(n))
	for _, k := range []int64{1, last / 2, last} {
		l, err := s.LinkByTokenHash(ctx, seedLink(k, time.Now()).key)
		if err != nil {
			t.Fatalf("seeded link %d: %v", k, err)
		}
		if l.ID != k || l.Bot != benchBot || l.User != seedUser(k) || l.UsedAt.IsZero() || !l.ExpiresAt.After(l.CreatedAt) {
			t.Errorf("seeded link %d = %+v, want id %d of %s's user %s, spent", k, l, k, benchBot, seedUser(k))
		}
		if len(l.Providers) != 1 || l.Providers[0].Provider != seedProvider || l.Providers[0].IdentityID != k ||
			l.Providers[0].LinkedAt.IsZero() || !slices.Equal(l.Providers[0].Scopes, seedScopes) {
			t.Errorf("seeded link %d's providers = %+v, want %s with scopes %q linked to identity %d", k, l.Providers, seedProvider, seedScopes, k)
		}
		ident, err := s.Identity(ctx, benchBot, k)
		if err != nil {
			t.Fatalf("seeded identity %d: %v", k, err)
		}
		if !slices.Equal(ident.Scopes, seedScopes) {
			t.Errorf("seeded identity %d's scopes = %q, want %q", k, ident.Scopes, seedScopes)
		}
	}
	if _, err := s.LinkByTokenHash(ctx, seedLink(last+1, time.Now()).key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("link %d, one past the seeded ones: err = %v, want store.ErrNotFound", last+1, err)
	}
	now := time.Now()
	made, err := s.CreateLink(ctx, store.Link{
		TokenHash: []byte("a link made after the seeding, 40 bytes!"), Bot: benchBot, Channel: benchChannel, User: "U-after",
		Providers: []store.LinkProvider{{Provider: seedProvider}}, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("CreateLink after the seeding: %v", err)
	}
	if made.ID <= last {
		t.Errorf("a link made after the seeding got id %d, want one after the %d seeded", made.ID, last)
	}
}

// TestSeedStore: the SQLite population is the store the broker will read, its identities and
// its spent links; a store seeded the same way is reused, one seeded before the seeding
// changed (its marker says otherwise) is seeded again.
func TestSeedStore(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	const n = 120
	dbPath, _, took, err := seedStore(ctx, dir, n, t.Logf)
	if err != nil {
		t.Fatalf("seedStore: %v", err)
	}
	if took == 0 {
		t.Error("the first seeding took no time: it reused a store that was not there")
	}
	s, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.IdentityTokens(ctx, benchBot, n); err != nil {
		t.Errorf("seeded identity %d: %v", n, err)
	}
	checkSeededLinks(t, s, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if _, _, took, err := seedStore(ctx, dir, n, t.Logf); err != nil || took != 0 {
		t.Errorf("seeding the same store again: took %v, err %v; want it reused", took, err)
	}
	// A marker of the seeding before links were seeded holds only the count.
	if err := os.WriteFile(filepath.Join(dir, "seeded"), []byte(strconv.Itoa(n)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, took, err := seedStore(ctx, dir, n, t.Logf); err != nil || took == 0 {
		t.Errorf("a store seeded before links were: took %v, err %v; want it seeded again", took, err)
	}
}
