package sqlite_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

const (
	benchIdentities = 100_000
	perUser         = 4 // identities per chat user: one per provider
)

var benchProviders = [perUser]string{"github", "twitter", "uber", "spotify"}

// seeded opens a store on a file holding benchIdentities identities, seeded in one
// transaction straight through the driver (CompleteLink one by one would take minutes).
func seeded(b *testing.B) *sqlite.Store {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.db")
	s, err := sqlite.Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })

	db := rawDB(b, path)
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	ins, err := tx.Prepare(`INSERT INTO identities (id, bot, channel, user_id, provider, provider_user_id,
		name, nickname, email, avatar_url, status, scopes, access_token, refresh_token, token_type,
		expires_at, linked_at, updated_at)
		VALUES (?, 'supportbot', 'slack', ?, ?, ?, 'Ada Lovelace', 'ada', 'ada@example.com',
		'https://avatars.example/ada.png', 'active', '["read:user","repo"]', ?, ?, 'bearer', ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	sealed := make([]byte, 120) // about a sealed OAuth 2 access token
	for i := range benchIdentities {
		id := int64(i + 1)
		_, err := ins.Exec(id, benchUser(i/perUser), benchProviders[i%perUser], fmt.Sprint(i),
			sealed, sealed, 1_900_000_000_000+id, 1_800_000_000_000+id, 1_800_000_000_000+id)
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	_ = db.Close()
	return s
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
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := s.IdentityTokens(ctx, "supportbot", int64(i*7919%benchIdentities+1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
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
