package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

const (
	benchIdentities = 100_000
	perUser         = 4 // identities per chat user: one per provider
)

var benchProviders = [perUser]string{"github", "twitter", "uber", "spotify"}

// seeded opens a store on a file holding benchIdentities identities: a copy of one seeded
// file, made once per test binary (seeding takes seconds, and a benchmark function runs
// several times as b.N grows).
func seeded(b *testing.B) *sqlite.Store { return seededWith(b, nil) }

// copyFile copies the file at from to a new file at to, readable by its owner only.
func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// seededWith is seeded with more rows that more writes into the copy of the seeded file,
// before the store opens it (nil: none).
func seededWith(b *testing.B, more func(*sql.DB) error) *sqlite.Store {
	b.Helper()
	seedOnce.Do(func() { seedPath, seedErr = seedTemplate() })
	if seedErr != nil {
		b.Fatal(seedErr)
	}
	path := filepath.Join(b.TempDir(), "bench.db")
	copyFile(b, seedPath, path)
	if more != nil {
		db, err := sql.Open("sqlite3", path)
		if err != nil {
			b.Fatal(err)
		}
		err = more(db)
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	s, err := sqlite.Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

var (
	seedOnce sync.Once
	seedDir  string // removed by TestMain
	seedPath string
	seedErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if seedDir != "" {
		_ = os.RemoveAll(seedDir)
	}
	os.Exit(code)
}

// seedTemplate makes the seeded file: the schema through Open, the identities in one
// transaction straight through the driver (CompleteLink one by one would take minutes).
func seedTemplate() (string, error) {
	var err error
	if seedDir, err = os.MkdirTemp("", "sqlite-bench-"); err != nil {
		return "", err
	}
	path := filepath.Join(seedDir, "seed.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		return "", err
	}
	if err := s.Close(); err != nil { // checkpoints: the file alone is the database
		return "", err
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		return "", err
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	ins, err := tx.Prepare(`INSERT INTO identities (id, bot, channel, user_id, provider, provider_user_id,
		name, nickname, email, avatar_url, status, scopes, access_token, refresh_token, token_type,
		expires_at, linked_at, updated_at)
		VALUES (?, 'supportbot', 'slack', ?, ?, ?, 'Ada Lovelace', 'ada', 'ada@example.com',
		'https://avatars.example/ada.png', 'active', '["read:user","repo"]', ?, ?, 'bearer', ?, ?, ?)`)
	if err != nil {
		return "", err
	}
	sealed := make([]byte, 120) // about a sealed OAuth 2 access token
	for i := range benchIdentities {
		id := int64(i + 1)
		_, err := ins.Exec(id, benchUser(i/perUser), benchProviders[i%perUser], fmt.Sprint(i),
			sealed, sealed, 1_900_000_000_000+id, 1_800_000_000_000+id, 1_800_000_000_000+id)
		if err != nil {
			return "", err
		}
	}
	if err := tx.Commit(); err != nil {
		return "", err
	}
	// The driver's default journal mode is the file's (WAL): fold the WAL in before copying.
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return "", err
	}
	return path, nil
}

func benchUser(n int) string { return fmt.Sprintf("U%08d", n) }

func BenchmarkIdentity(b *testing.B) {
	s := seeded(b)
	ctx := b.Context()
	b.Run("serial", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			id := int64(i*7919%benchIdentities + 1) // hop around the table, not along it
			if _, err := s.Identity(ctx, "supportbot", id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := s.Identity(ctx, "supportbot", int64(i*7919%benchIdentities+1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkIdentityTokens is BenchmarkIdentity through the credentials read's narrower
// statement; the two side by side show what leaving out the profile saves.
func BenchmarkIdentityTokens(b *testing.B) {
	s := seeded(b)
	ctx := b.Context()
	b.Run("serial", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			id := int64(i*7919%benchIdentities + 1)
			if _, err := s.IdentityTokens(ctx, "supportbot", id); err != nil {
				b.Fatal(err)
			}
		}
	})
	read := func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := s.IdentityTokens(ctx, "supportbot", int64(i*7919%benchIdentities+1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.Run("parallel", read)
	// More reads under way than read connections, as under the bench's 64 clients: the
	// reads that find every connection taken wait for one.
	b.Run("parallel-32-per-cpu", func(b *testing.B) {
		b.SetParallelism(32)
		read(b)
	})
}

func BenchmarkIdentities(b *testing.B) {
	s := seeded(b)
	ctx := b.Context()
	users := benchIdentities / perUser
	b.Run("serial", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			got, err := s.Identities(ctx, store.IdentityQuery{Bot: "supportbot", Channel: "slack", User: benchUser(i * 7919 % users)})
			if err != nil || len(got) != perUser {
				b.Fatalf("Identities: %d, %v", len(got), err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				got, err := s.Identities(ctx, store.IdentityQuery{Bot: "supportbot", Channel: "slack", User: benchUser(i * 7919 % users)})
				if err != nil || len(got) != perUser {
					b.Errorf("Identities: %d, %v", len(got), err)
					return
				}
			}
		})
	})
}
