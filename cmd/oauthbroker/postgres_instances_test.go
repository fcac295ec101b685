package main

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestTwoInstancesOnPostgres runs two real `oauthbroker serve` processes on one PostgreSQL
// database and one key file, behind one load balancer and one public URL, as docs/DEPLOY.md has
// operators run them: neither instance keeps anything of its own between requests.
func TestTwoInstancesOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	pgtest.Require(t)
	bin := buildBinary(t)

	// A flow begun on A (the auth request, which sets the flow cookie and records the flow)
	// completes on B (the callback), and the other way round.
	t.Run("a flow begun on one instance completes on the other", func(t *testing.T) {
		c := startPair(t, bin, newTokenFake(t, false))
		for i, route := range [][2]int{{0, 1}, {1, 0}} {
			c.lb.route(func(r *http.Request) int {
				if strings.HasSuffix(r.URL.Path, "/callback") {
					return route[1]
				}
				return route[0]
			})
			user := fmt.Sprint("U", i)
			if st, page := connectAll(t, newBrowser(t), c.lbBroker(t).link("alpha", keyA, "gl", "slack", user)); st != http.StatusOK {
				t.Fatalf("auth on %d, callback on %d: %d\n%s", route[0], route[1], st, page)
			}
			log := c.lb.log()
			if !slices.Contains(log, fmt.Sprintf("%d /bots/alpha/gl/auth", route[0])) || !slices.Contains(log, fmt.Sprintf("%d /bots/alpha/gl/callback", route[1])) {
				t.Fatalf("the balancer served %v", log)
			}
			// Both instances see the identity.
			for _, b := range c.brokers(t) {
				if ids := b.identities("alpha", keyA, "slack", user); len(ids) != 1 {
					t.Fatalf("%s lists %d identities for %s", b.URL, len(ids), user)
				}
			}
		}
	})

	// One link, two browsers: each starts its flow, consents at the provider, and their
	// callbacks arrive at the same moment, one on each instance. Exactly one links the
	// account; the other is told the link was used.
	t.Run("one link used on both instances at once succeeds once", func(t *testing.T) {
		c := startPair(t, bin, newTokenFake(t, false))
		c.lb.route(func(r *http.Request) int {
			if ck, err := r.Cookie("lb-backend"); err == nil && ck.Value == "1" {
				return 1
			}
			return 0
		})
		linkURL := c.lbBroker(t).link("alpha", keyA, "gl", "slack", "U1")
		callbacks := make([]string, 2)
		browsers := make([]*http.Client, 2)
		for i := range browsers {
			browsers[i] = stickyBrowser(t, c.lb.URL, i)
			callbacks[i] = stopAtCallback(t, browsers[i], linkURL)
		}
		statuses, pages := make([]int, 2), make([]string, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range browsers {
			wg.Go(func() {
				<-start
				statuses[i], pages[i] = visit(t, browsers[i], callbacks[i])
			})
		}
		close(start)
		wg.Wait()
		slices.Sort(statuses)
		if !slices.Equal(statuses, []int{http.StatusOK, http.StatusGone}) {
			t.Fatalf("callbacks answered %v, want one 200 and one 410\n%s\n---\n%s", statuses, pages[0], pages[1])
		}
		if ids := c.lbBroker(t).identities("alpha", keyA, "slack", "U1"); len(ids) != 1 {
			t.Fatalf("%d identities, want 1", len(ids))
		}
		served := strings.Join(c.lb.log(), "\n")
		if !strings.Contains(served, "0 /bots/alpha/gl/callback") || !strings.Contains(served, "1 /bots/alpha/gl/callback") {
			t.Fatalf("the callbacks did not go one to each instance:\n%s", served)
		}
	})

	// 300 reads of a token about to expire, split across the two instances: the provider sees
	// exactly one refresh, and every read gets the new token.
	t.Run("300 reads across both instances refresh once", func(t *testing.T) {
		f := newTokenFake(t, true)
		f.FirstTTL.Store(30) // expires within the 60 s the broker refreshes ahead
		c := startPair(t, bin, f)
		id := c.lbBroker(t).linkOne("alpha", keyA, "gl", "slack", "U1")
		brokers := c.brokers(t)
		readAllAtOnce(t, f, brokers, 300, id.ID)
	})
}

// pair is two serve processes on one database behind one balancer.
type pair struct {
	lb        *balancer
	instances []*serveProcess
}

// startPair starts two instances on a fresh schema, sharing one key file, with the balancer's
// URL as their public URL; fake is their provider.
func startPair(t *testing.T, bin string, fake *tokenFake) *pair {
	t.Helper()
	dir := t.TempDir()
	storage := postgresStorage(pgtest.DSN(t), filepath.Join(dir, "oauthbroker.keys.json"))
	addrs := []string{testenv.FreeAddr(t), testenv.FreeAddr(t)}
	lb := newBalancer(t, "http://"+addrs[0], "http://"+addrs[1])
	fake.Register(t, lb.URL+"/bots/alpha/gl/callback")
	p := &pair{lb: lb}
	// One after the other: the first start creates the key file the second one reads.
	for i, addr := range addrs {
		cfg := writePostgresServeConfig(t, dir, fmt.Sprintf("%d.yaml", i), lb.URL, addr, storage, glBot(fake.URL, ""))
		p.instances = append(p.instances, startServe(t, bin, cfg, addr))
	}
	return p
}

// lbBroker drives the pair through the balancer, as bots and browsers do.
func (p *pair) lbBroker(t *testing.T) *testBroker { return remote(t, p.lb.URL) }

// brokers drives each instance directly.
func (p *pair) brokers(t *testing.T) []*testBroker {
	return []*testBroker{p.instances[0].broker(t), p.instances[1].broker(t)}
}

// stickyBrowser is a browser whose requests the balancer sends to one backend (by a cookie
// of the balancer's own, as sticky sessions do).
func stickyBrowser(t *testing.T, lbURL string, backend int) *http.Client {
	t.Helper()
	b := newBrowser(t)
	u, _ := http.NewRequest(http.MethodGet, lbURL, nil)
	b.Jar.(*cookiejar.Jar).SetCookies(u.URL, []*http.Cookie{{Name: "lb-backend", Value: fmt.Sprint(backend), Path: "/"}})
	return b
}
