package postgres

import (
	"slices"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
)

// TestNewIdentitiesDoNotWaitForEachOther: a transaction that links a new account does not wait
// for another one's commit because both count in the totals of the same bot, provider and
// status; and the totals still add up across the shards, with an identity counted before they
// were spread deleted, and an identity changing status.
func TestNewIdentitiesDoNotWaitForEachOther(t *testing.T) {
	s := openStore(t, pgtest.DSN(t))
	ctx := t.Context()
	const insert = `INSERT INTO identities (bot, channel, user_id, provider, provider_user_id, status, linked_at, updated_at)
		VALUES ('b', 'slack', $1, 'github', $1, 'active', now(), now()) RETURNING id`
	first, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = first.Rollback(ctx) }()
	var a, b int64
	if err := first.QueryRow(ctx, insert, "u1").Scan(&a); err != nil {
		t.Fatal(err)
	}
	second, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = second.Rollback(ctx) }()
	if _, err := second.Exec(ctx, `SET LOCAL lock_timeout = '2s'`); err != nil {
		t.Fatal(err)
	}
	if err := second.QueryRow(ctx, insert, "u2").Scan(&b); err != nil {
		t.Fatalf("a new identity waited for another one's commit: %v", err)
	}
	if err := second.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	totals := func(want ...store.IdentityTotal) {
		t.Helper()
		got, err := s.IdentityTotals(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("IdentityTotals %v, want %v", got, want)
		}
	}
	totals(store.IdentityTotal{Bot: "b", Provider: "github", Status: "active", Count: 2})

	// An identity counted in shard 0, as every identity was before the totals were spread,
	// then deleted: its own shard goes below zero, and the total is still right.
	var c int64
	if err := s.pool.QueryRow(ctx, insert, "u3").Scan(&c); err != nil {
		t.Fatal(err)
	}
	if a%32 == 0 || b%32 == 0 || c%32 == 0 || c%32 == a%32 || c%32 == b%32 {
		t.Fatalf("identities %d, %d and %d: the test needs the third in a shard of its own", a, b, c)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE identity_counts SET shard = 0 WHERE shard = $1`, c%32); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM identities WHERE id = $1`, c); err != nil {
		t.Fatal(err)
	}
	var lowest int64
	if err := s.pool.QueryRow(ctx, `SELECT min(n) FROM identity_counts`).Scan(&lowest); err != nil || lowest != -1 {
		t.Fatalf("the deleted identity's shard counts %d (%v), want -1", lowest, err)
	}
	totals(store.IdentityTotal{Bot: "b", Provider: "github", Status: "active", Count: 2})

	if _, err := s.pool.Exec(ctx, `UPDATE identities SET status = 'relink_required' WHERE id = $1`, a); err != nil {
		t.Fatal(err)
	}
	totals(store.IdentityTotal{Bot: "b", Provider: "github", Status: "active", Count: 1},
		store.IdentityTotal{Bot: "b", Provider: "github", Status: "relink_required", Count: 1})
}
