package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// BenchmarkCredentials measures the bot API's hottest call, GET …/credentials of a token that
// needs no refresh, through the whole broker (HTTP, bearer check, store read, decryption,
// JSON) on SQLite and on PostgreSQL, in the same run and on the same machine:
//
//	go test -run '^$' -bench Credentials -benchtime 5s ./cmd/oauthbroker/
//
// Both brokers are in this process; PostgreSQL is the server the tests use. reads/s is the
// figure to compare.
func BenchmarkCredentials(b *testing.B) {
	dir := b.TempDir()
	stores := []struct{ name, storage string }{
		{"sqlite", fmt.Sprintf("storage:\n  dsn: %s\n  keys_file: %s\n", filepath.Join(dir, "broker.db"), filepath.Join(dir, "sqlite.keys.json"))},
	}
	if pgtest.Available() == nil {
		stores = append(stores, struct{ name, storage string }{"postgres", postgresStorage(pgtest.DSN(b), filepath.Join(dir, "pg.keys.json"))})
	} else {
		b.Log("PostgreSQL: no server; benchmarking SQLite only")
	}
	for _, s := range stores {
		base, ids := credentialsBroker(b, s.storage, filepath.Join(dir, s.name))
		b.Run(s.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			b.SetParallelism(16) // 16 × GOMAXPROCS concurrent bots
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := ids[rand.IntN(len(ids))]
					req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/bots/alpha/identities/%d/credentials", base, id), nil)
					req.Header.Set("Authorization", "Bearer "+keyA)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("credentials: %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
		})
	}
}

// credentialsBroker starts a broker on storage with 100 linked identities whose tokens are
// good for a day, and returns its URL and the identities' ids.
func credentialsBroker(b testing.TB, storage, keysDir string) (string, []int64) {
	b.Helper()
	_, base, ids := testenv.CredentialsApp(b, storage, keysDir)
	return base, ids
}
