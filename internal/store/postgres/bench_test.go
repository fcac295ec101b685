package postgres_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// BenchmarkCreateLink is the store's part of POST /links on PostgreSQL: one link with one
// provider, a transaction of two inserts. Alone, the time per link is mostly waiting for
// the server's answers, so it shows each round trip a transaction saves or adds; in
// parallel (64 goroutines, the pool's ten connections) it is what the bench's POST /links
// gets from the store. cpu-µs/op is this process's CPU (pgx's side), not the server's.
func BenchmarkCreateLink(b *testing.B) {
	s, err := postgres.Open(b.Context(), pgtest.DSN(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	var next atomic.Int64
	b.Run("serial", func(b *testing.B) {
		defer reportCPU(b)()
		for range b.N {
			if _, err := s.CreateLink(b.Context(), benchLink(int(next.Add(1)), now)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(32) // × GOMAXPROCS (2 here): about the bench's 64 clients
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.CreateLink(b.Context(), benchLink(int(next.Add(1)), now)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func benchLink(i int, now time.Time) store.Link {
	return store.Link{TokenHash: fmt.Appendf(nil, "link-%032d", i), Bot: "supportbot", Channel: "slack",
		User: fmt.Sprintf("W%08d", i), CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
		Providers: []store.LinkProvider{{Provider: "github", Scopes: []string{"read:user"}}}}
}

// reportCPU reports the process's CPU per operation from now until the returned function
// runs.
func reportCPU(b *testing.B) func() {
	cpu0 := testenv.ProcessCPU(b)
	return func() {
		b.ReportMetric(float64((testenv.ProcessCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

// BenchmarkIdentityTokens is the store's part of GET credentials on PostgreSQL: 10,000
// identities read at random, one at a time and from 64 goroutines (about the bench's 64
// clients). cpu-µs/op is this process's CPU (pgx's side), not the server's, which under the
// parallel load is on the same cores and shows in ns/op.
func BenchmarkIdentityTokens(b *testing.B) {
	const identities = 10_000
	dsn := pgtest.DSN(b)
	s, err := postgres.Open(b.Context(), dsn, postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := pgtest.Exec(b.Context(), dsn, fmt.Sprintf(`INSERT INTO identities
		(bot, channel, user_id, provider, provider_user_id, status, access_token, token_type, linked_at, updated_at)
		SELECT 'supportbot', 'slack', 'W' || g, 'github', 'gh-' || g, 'active', sha512(int8send(g)), 'bearer', now(), now()
		FROM generate_series(1, %d) AS g`, identities)); err != nil {
		b.Fatal(err)
	}
	read := func(b *testing.B, i int) {
		if _, err := s.IdentityTokens(b.Context(), "supportbot", int64(i*7919%identities+1)); err != nil {
			b.Error(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; b.Loop(); i++ {
			read(b, i)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(32) // × GOMAXPROCS (2 here)
		defer reportCPU(b)()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				read(b, int(next.Add(1)))
			}
		})
	})
}
