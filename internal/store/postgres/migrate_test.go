package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
)

// Five instances starting together on an empty schema: every one opens, and the migrations
// ran once (a second run would fail on CREATE TABLE, and schema_migrations would not hold
// each version exactly once).
func TestInstancesStartingTogetherMigrateOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	const instances = 5
	stores := make([]*postgres.Store, instances)
	errs := make([]error, instances)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(t.Context(), dsn, postgres.Options{MaxConns: 2})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	versions := queryInts(t, dsn, `SELECT version FROM schema_migrations ORDER BY version`)
	if len(versions) == 0 {
		t.Fatal("no migration recorded")
	}
	for i, v := range versions {
		if v != int64(i+1) {
			t.Fatalf("schema_migrations versions %v, want 1..n once each", versions)
		}
	}
	for i, s := range stores {
		if err := s.SchemaCurrent(t.Context()); err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
}

// A database migrated by a newer release is refused at start, and an instance already running
// on it reports the schema as current (it is not behind); one restored from before a migration
// is reported by SchemaCurrent, which /readyz asks.
func TestSchemaVersions(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	exec(t, dsn, `INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')`)
	_, err := postgres.Open(t.Context(), dsn, postgres.Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this oauthbroker binary knows") {
		t.Fatalf("Open on a newer schema: %v", err)
	}
	exec(t, dsn, `DELETE FROM schema_migrations WHERE version >= 2`)
	if err := s.SchemaCurrent(t.Context()); err == nil {
		t.Error("SchemaCurrent on a schema missing migrations: no error")
	}
}

// Two instances (two pools) on one database: a link completes once, a flow is consumed once
// and a refresh lease is held once, whichever instance each racer goes through.
func TestTwoInstancesShareSingleUse(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn), open(t, dsn)
	ctx := t.Context()
	now := time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)
	l, err := a.CreateLink(ctx, store.Link{TokenHash: []byte("link"), Bot: "bot", Providers: []store.LinkProvider{{Provider: "github"}}, Channel: "slack", User: "U1",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateFlow(ctx, store.Flow{StateHash: []byte("state"), LinkID: l.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	const racers = 40
	var (
		wg                            sync.WaitGroup
		mu                            sync.Mutex
		flows, links, leases, winners int
		ids                           []int64
	)
	start := make(chan struct{})
	for i := range racers {
		s := []*postgres.Store{a, b}[i%2]
		wg.Go(func() {
			<-start
			_, ferr := s.ConsumeFlow(ctx, []byte("state"), now)
			in := store.Identity{Bot: "bot", Provider: "github", Channel: "slack", User: "U1", ProviderUserID: "acct",
				Status: store.StatusActive, AccessToken: []byte{byte(i)}, RefreshToken: []byte("r"), TokenType: "bearer"}
			done, lerr := s.CompleteLink(ctx, store.CompleteLinkParams{LinkID: l.ID, Identity: in, Now: now})
			mu.Lock()
			defer mu.Unlock()
			if ferr == nil {
				flows++
			} else if !errors.Is(ferr, store.ErrFlowConsumed) {
				t.Errorf("ConsumeFlow: %v", ferr)
			}
			if lerr == nil {
				links++
				ids = append(ids, done.Identity.ID)
			} else if !errors.Is(lerr, store.ErrLinkUsed) {
				t.Errorf("CompleteLink: %v", lerr)
			}
		})
	}
	close(start)
	wg.Wait()
	if flows != 1 || links != 1 {
		t.Fatalf("%d flows consumed and %d links completed across two instances, want 1 each", flows, links)
	}
	start = make(chan struct{})
	for i := range racers {
		s := []*postgres.Store{a, b}[i%2]
		wg.Go(func() {
			<-start
			_, lease, err := s.AcquireRefreshLease(ctx, "bot", ids[0], string(rune('a'+i)), now.Add(time.Minute), now)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("AcquireRefreshLease: %v", err)
			}
			if lease.Acquired {
				leases++
			}
			winners++
		})
	}
	close(start)
	wg.Wait()
	if leases != 1 || winners != racers {
		t.Fatalf("%d of %d racers hold the lease, want 1", leases, winners)
	}
}

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{MaxConns: 8})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func exec(t *testing.T, dsn, sql string) {
	t.Helper()
	if err := pgtest.Exec(context.Background(), dsn, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryInts(t *testing.T, dsn, sql string) []int64 {
	t.Helper()
	got, err := pgtest.QueryInts(context.Background(), dsn, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return got
}

// PostgreSQL text holds no NUL: one in a provider's profile answer is replaced, not a failed
// link; the SQLite store keeps it as it is.
func TestNULInAProfileField(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	now := time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)
	l, err := s.CreateLink(t.Context(), store.Link{TokenHash: []byte("l"), Bot: "bot", Providers: []store.LinkProvider{{Provider: "github"}}, Channel: "slack", User: "U1",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	done, err := s.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Now: now, Identity: store.Identity{
		Bot: "bot", Provider: "github", Channel: "slack", User: "U1", ProviderUserID: "1", Status: store.StatusActive,
		Name: "Ada\x00Lovelace", NickName: "ada\x00", Scopes: []string{"re\x00po"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := done.Identity; got.Name != "Ada\uFFFDLovelace" || got.NickName != "ada\uFFFD" || got.Scopes[0] != "re\uFFFDpo" {
		t.Errorf("stored %q, %q, %q", got.Name, got.NickName, got.Scopes)
	}
}
