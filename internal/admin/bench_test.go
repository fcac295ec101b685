package admin

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// The admin pages' server time at scale: each request goes through the real handler (session
// check, store reads, template render into a buffer) on a seeded SQLite file. Benchmarks run
// only under -bench; docs/BENCHMARKS.md has the command and the figures at a million rows:
//
//	OAUTHBROKER_BENCH_ROWS=1000000 go test -run '^$' -bench AdminPages ./internal/admin/
//
// OAUTHBROKER_BENCH_DB=FILE keeps the seeded database between runs (seeded when missing).
func BenchmarkAdminPages(b *testing.B) {
	n := 100_000
	if v := os.Getenv("OAUTHBROKER_BENCH_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("OAUTHBROKER_BENCH_ROWS=%q: want a number of rows, at least 1000", v)
		}
	}
	path := os.Getenv("OAUTHBROKER_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	_, statErr := os.Stat(path)
	f := newFixture(b, "http://127.0.0.1", path)
	if os.IsNotExist(statErr) {
		if err := f.store.SeedIdentities(b.Context(), n); err != nil {
			b.Fatal(err)
		}
	}
	totals, err := f.store.IdentityTotals(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	n = 0
	for _, t := range totals {
		n += t.Count
	}
	b.Logf("%d identities", n)
	mid, err := f.store.ListIdentities(b.Context(), store.IdentityListQuery{OlderThan: int64(n/2) + 1, Limit: 1})
	if err != nil || len(mid.Identities) != 1 {
		b.Fatalf("middle row: %v", err)
	}
	who := mid.Identities[0]
	cookie := f.login(b)

	for _, c := range []struct{ name, path string }{
		{"first page", "/admin/"},
		{"bot", "/admin/?bot=supportbot"},
		{"small bot+provider+pending", "/admin/?bot=tinybot&provider=spotify&status=pending"},
		{"middle page", fmt.Sprintf("/admin/?older=%d", n/2)},
		{"previous page", fmt.Sprintf("/admin/?newer=%d", n/2)},
		{"search user id", "/admin/?q=" + url.QueryEscape(who.User)},
		{"search email", "/admin/?q=" + url.QueryEscape(who.Email)},
		{"search family name", "/admin/?q=lovelace"},
		{"search one letter", "/admin/?q=a"},
		{"identity page", identityURL(who.Bot, who.ID)},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, c.path, nil)
			req.AddCookie(cookie)
			for b.Loop() {
				rec := &discard{header: http.Header{}}
				f.serve(rec, req)
				if rec.status != http.StatusOK {
					b.Fatalf("GET %s: %d", c.path, rec.status)
				}
			}
		})
	}
}

// discard is a ResponseWriter that keeps the status only, so the benchmark measures the
// server, not a recorder's copying.
type discard struct {
	header http.Header
	status int
}

func (d *discard) Header() http.Header { return d.header }
func (d *discard) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}
func (d *discard) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return io.Discard.Write(p)
}
