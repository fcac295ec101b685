package sqlite_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// BenchmarkCreateLink is the store's part of POST /links: one link with one provider, on a
// store of 100,000 identities.
func BenchmarkCreateLink(b *testing.B) {
	s := seeded(b)
	now := time.Now()
	b.ResetTimer()
	defer reportWrites(b)()
	for i := range b.N {
		if _, err := s.CreateLink(b.Context(), benchLink(i, now)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateLinkParallel is BenchmarkCreateLink from about 64 goroutines at once, as
// POST /links under load: the writes queue for the one writer connection.
func BenchmarkCreateLinkParallel(b *testing.B) {
	inParallel(b, func(s *sqlite.Store, i int, now time.Time) error {
		_, err := s.CreateLink(b.Context(), benchLink(i, now))
		return err
	})
}

// BenchmarkCreateLinkKeys is BenchmarkCreateLinkParallel on a store that already holds
// 300,000 links, as one in service does (the janitor keeps spent links for the retention
// period), with link keys as the broker stores them (internal/broker, tokenKey): "random",
// a token's SHA-256, as it did before its tokens began with their creation time, and
// "ordered", that time followed by the SHA-256. Each random key dirties a random leaf page of
// the links' unique index (writes/op and wKiB/op show the page at the commit and again at
// the checkpoint); ordered keys share the index's last pages.
func BenchmarkCreateLinkKeys(b *testing.B) {
	for _, ordered := range []bool{false, true} {
		name := map[bool]string{false: "random", true: "ordered"}[ordered]
		b.Run("keys="+name, func(b *testing.B) {
			s := seededWithLinks(b, 300_000)
			start := time.Now()
			inParallelOn(b, s, func(s *sqlite.Store, i int, now time.Time) error {
				l := benchLink(i, now)
				sum := sha256.Sum256(fmt.Appendf(nil, "token %d", i))
				l.TokenHash = sum[:]
				if ordered {
					l.TokenHash = binary.BigEndian.AppendUint64(nil, uint64(start.UnixNano())+uint64(i))
					l.TokenHash = append(l.TokenHash, sum[:]...)
				}
				_, err := s.CreateLink(b.Context(), l)
				return err
			})
		})
	}
}

// seededWithLinks is seeded with n spent links more, of random keys, written straight into
// the file before the store opens it.
func seededWithLinks(b *testing.B, n int) *sqlite.Store {
	b.Helper()
	return seededWith(b, func(db *sql.DB) error {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		link, err := tx.Prepare(`INSERT INTO links (id, token_hash, bot, channel, user_id, created_at, expires_at, used_at)
			VALUES (?, ?, 'supportbot', 'slack', ?, 1700000000000, 1700000600000, 1700000300000)`)
		if err != nil {
			return err
		}
		provider, err := tx.Prepare(`INSERT INTO link_providers (link_id, position, provider, linked_at) VALUES (?, 0, 'github', 1700000300000)`)
		if err != nil {
			return err
		}
		for i := range n {
			sum := sha256.Sum256(fmt.Appendf(nil, "old link %d", i))
			if _, err := link.Exec(i+1, sum[:], fmt.Sprintf("O%08d", i)); err != nil {
				return err
			}
			if _, err := provider.Exec(i + 1); err != nil {
				return err
			}
		}
		return tx.Commit()
	})
}

// inParallel runs write on a seeded store from about 64 goroutines at once (RunParallel's
// goroutines are GOMAXPROCS × the parallelism), each call with an index of its own.
func inParallel(b *testing.B, write func(s *sqlite.Store, i int, now time.Time) error) {
	inParallelOn(b, seeded(b), write)
}

// inParallelOn is inParallel on the store s.
func inParallelOn(b *testing.B, s *sqlite.Store, write func(s *sqlite.Store, i int, now time.Time) error) {
	now := time.Now()
	var next atomic.Int64
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	cpu := testenv.ProcessCPU(b)
	b.ResetTimer()
	defer reportWrites(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := write(s, int(next.Add(1)), now); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((testenv.ProcessCPU(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkLinkWrites is the store's writes of one complete link flow on a store of 100,000
// identities: create the link, start a flow, consume it at the callback and complete the
// link with a new identity and its webhook events.
func BenchmarkLinkWrites(b *testing.B) {
	s := seeded(b)
	now := time.Now()
	b.ResetTimer()
	defer reportWrites(b)()
	for i := range b.N {
		if err := linkFlow(b, s, i, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLinkWritesParallel is BenchmarkLinkWrites from about 64 goroutines at once, each
// running whole link flows.
func BenchmarkLinkWritesParallel(b *testing.B) {
	inParallel(b, func(s *sqlite.Store, i int, now time.Time) error { return linkFlow(b, s, i, now) })
}

// linkFlow runs the store's four write transactions of link flow i.
func linkFlow(b *testing.B, s store.Store, i int, now time.Time) error {
	l, err := s.CreateLink(b.Context(), benchLink(i, now))
	if err != nil {
		return err
	}
	state := fmt.Appendf(nil, "state-%032d", i)
	if err := s.CreateFlow(b.Context(), store.Flow{StateHash: state, LinkID: l.ID, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
		return err
	}
	if _, err := s.ConsumeFlow(b.Context(), state, now); err != nil {
		return err
	}
	_, err = s.CompleteLink(b.Context(), store.CompleteLinkParams{LinkID: l.ID, Now: now, Webhook: true,
		Identity: store.Identity{Bot: l.Bot, Channel: l.Channel, User: l.User, Provider: "github",
			ProviderUserID: fmt.Sprint(900_000_000 + i), Name: "Ada Lovelace", NickName: "ada", Email: "ada@example.com",
			Status: store.StatusActive, Scopes: []string{"read:user"}, AccessToken: make([]byte, 120),
			RefreshToken: make([]byte, 120), TokenType: "bearer", ExpiresAt: now.Add(time.Hour)}})
	return err
}

func benchLink(i int, now time.Time) store.Link {
	return store.Link{TokenHash: fmt.Appendf(nil, "link-%032d", i), Bot: "supportbot", Channel: "slack",
		User: fmt.Sprintf("W%08d", i), CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
		Providers: []store.LinkProvider{{Provider: "github", Scopes: []string{"read:user"}}}}
}

// reportWrites reports the write system calls (writes/op) and bytes (wKiB/op) the process
// made per operation from now until the returned function runs: what SQLite writes for the
// WAL frames of every page a transaction dirtied, and for checkpoints. Each page an index
// adds to a write shows here, where time per operation drowns it in the machine's noise.
// Linux only (/proc/self/io); elsewhere nothing is reported.
func reportWrites(b *testing.B) func() {
	calls0, bytes0, ok := processWrites()
	return func() {
		calls1, bytes1, ok1 := processWrites()
		if !ok || !ok1 || b.N == 0 {
			return
		}
		b.ReportMetric(float64(calls1-calls0)/float64(b.N), "writes/op")
		b.ReportMetric(float64(bytes1-bytes0)/1024/float64(b.N), "wKiB/op")
	}
}

// processWrites reads the process's write system calls and bytes written from /proc/self/io.
func processWrites() (calls, written int64, ok bool) {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0, false
	}
	found := 0
	for line := range bytes.Lines(data) {
		name, value, _ := bytes.Cut(bytes.TrimSpace(line), []byte(": "))
		n, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil {
			continue
		}
		switch string(name) {
		case "syscw":
			calls, found = n, found+1
		case "wchar":
			written, found = n, found+1
		}
	}
	return calls, written, found == 2
}
