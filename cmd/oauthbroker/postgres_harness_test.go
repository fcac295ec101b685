package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// Helpers of the PostgreSQL tests: a broker configured for any storage section, a load
// balancer in front of several broker processes, and sealing as the broker seals.

// postgresStorage, startBrokerOn, keyRing and sealAs are testenv's, under the names the tests
// here use.
var (
	postgresStorage = testenv.PostgresStorage
	startBrokerOn   = testenv.StartBrokerOn
	keyRing         = testenv.KeyRing
	sealAs          = testenv.SealAs
)

// balancer is a load balancer in front of broker instances, as operators run one: every
// request goes to the backend pick chooses (by default, turn by turn), and it records which
// backend served which path.
type balancer struct {
	URL      string
	backends []*url.URL

	mu     sync.Mutex
	pick   func(r *http.Request) int
	next   int
	served []string // "backend index path", in order
}

func newBalancer(t testing.TB, backends ...string) *balancer {
	t.Helper()
	lb := &balancer{}
	for _, b := range backends {
		u, err := url.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		lb.backends = append(lb.backends, u)
	}
	srv := httptest.NewServer(http.HandlerFunc(lb.serve))
	t.Cleanup(srv.Close)
	lb.URL = srv.URL
	return lb
}

// route sets how the balancer picks a backend; nil: turn by turn.
func (lb *balancer) route(pick func(r *http.Request) int) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.pick = pick
}

func (lb *balancer) serve(w http.ResponseWriter, r *http.Request) {
	lb.mu.Lock()
	i := lb.next % len(lb.backends)
	lb.next++
	if lb.pick != nil {
		i = lb.pick(r)
	}
	lb.served = append(lb.served, fmt.Sprintf("%d %s", i, r.URL.Path))
	lb.mu.Unlock()
	httputil.NewSingleHostReverseProxy(lb.backends[i]).ServeHTTP(w, r)
}

// log is what the balancer served so far.
func (lb *balancer) log() []string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return append([]string(nil), lb.served...)
}

// writePostgresServeConfig writes a providers.yaml for one `serve` instance: its own listen
// address, the balancer's public URL, and the shared database and key file.
func writePostgresServeConfig(t *testing.T, dir, name, publicURL, listen, storageYAML, botsYAML string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile(t, path, fmt.Sprintf("server:\n  public_url: %s\n  listen: %s\n  outbound_timeout: 5s\n%sbots:\n%s",
		publicURL, listen, storageYAML, botsYAML))
	return path
}
