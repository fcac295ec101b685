package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
	"github.com/oauthbroker/oauthbroker/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openFile(t)
		return s
	})
}

func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(t.Context(), ":memory:")
		if err != nil {
			t.Fatalf("Open(:memory:): %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// openFile opens a store on a new file and, at cleanup, closes it and checks the file's
// integrity: every conformance test, the concurrent ones included, must leave it sound.
func openFile(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "oauthbroker.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkIntegrity(t, path)
	})
	return s, path
}

// rawDB opens the file with the driver alone, to look at it from outside the store.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func checkIntegrity(t testing.TB, path string) {
	t.Helper()
	db := rawDB(t, path)
	var result string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&result); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	if result != "ok" {
		t.Errorf("integrity_check: %s", result)
	}
	var fkViolations int
	if err := db.QueryRow(`SELECT count(*) FROM pragma_foreign_key_check`).Scan(&fkViolations); err != nil {
		t.Fatalf("foreign_key_check: %v", err)
	}
	if fkViolations != 0 {
		t.Errorf("foreign_key_check: %d violations", fkViolations)
	}
}

func schemaVersions(t testing.TB, path string) []int {
	t.Helper()
	rows, err := rawDB(t, path).Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

func TestReopenKeepsDataAndMigratesNothingTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oauthbroker.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	l, err := s.CreateLink(t.Context(), store.Link{
		TokenHash: []byte("hash"), Bot: "b", Channel: "c", User: "u", Providers: []store.LinkProvider{{Provider: "p"}},
		CreatedAt: time.UnixMilli(1), ExpiresAt: time.UnixMilli(2),
	})
	if err != nil {
		t.Fatalf("CreateLink: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	before := schemaVersions(t, path)
	if len(before) == 0 || before[0] != 1 {
		t.Fatalf("schema versions after first Open: %v", before)
	}

	for range 2 {
		s, err = sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		got, err := s.LinkByTokenHash(t.Context(), []byte("hash"))
		if err != nil || got.ID != l.ID {
			t.Fatalf("link after reopen: %+v, %v", got, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if after := schemaVersions(t, path); len(after) != len(before) {
		t.Errorf("schema versions %v after reopening, were %v", after, before)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oauthbroker.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	_ = s.Close()
	if _, err := rawDB(t, path).Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatalf("pretend a newer release migrated: %v", err)
	}
	_, err = sqlite.Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), "newer than this oauthbroker binary knows") {
		t.Fatalf("Open of a newer schema: %v, want a refusal that says the schema is newer", err)
	}
}

func TestFileIsInWALMode(t *testing.T) {
	_, path := openFile(t)
	var mode string
	if err := rawDB(t, path).QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

func TestOpenFailsOnAnUnusablePath(t *testing.T) {
	for _, path := range []string{"", filepath.Join(t.TempDir(), "missing-dir", "x.db")} {
		if s, err := sqlite.Open(t.Context(), path); err == nil {
			_ = s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

func TestFileNameWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd?name#with%chars.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	defer s.Close()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at %q: %v", path, err)
	}
}

// The interface does not ask for it, but the SQLite store refuses to attach an account to a
// link of another chat user: a broker bug must not link one person's account to another.
func TestCompleteLinkRefusesAnIdentityOfAnotherChatUser(t *testing.T) {
	s, _ := openFile(t)
	ctx := t.Context()
	now := time.UnixMilli(1_900_000_000_000)
	l, err := s.CreateLink(ctx, store.Link{
		TokenHash: []byte("hash"), Bot: "b", Channel: "slack", User: "victim", Providers: []store.LinkProvider{{Provider: "github"}},
		CreatedAt: now, ExpiresAt: now.Add(time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	in := store.Identity{Bot: "b", Provider: "github", Channel: "slack", User: "attacker", ProviderUserID: "1", Status: store.StatusActive}
	_, err = s.CompleteLink(ctx, store.CompleteLinkParams{LinkID: l.ID, Identity: in, Now: now})
	if err == nil || errors.Is(err, store.ErrLinkUsed) || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CompleteLink with another user's identity: %v, want a mismatch error", err)
	}
	if got, _ := s.LinkByTokenHash(ctx, []byte("hash")); !got.UsedAt.IsZero() {
		t.Error("the link was used by a refused CompleteLink")
	}
}

func TestClosedStoreFailsPing(t *testing.T) {
	s, _ := openFile(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	_ = s.Close()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded")
	}
}
