package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/admin"
	"github.com/oauthbroker/oauthbroker/internal/server"
)

// TestAdminLoginBehindATrustedProxy: behind a reverse proxy every login comes from the proxy's
// address, so the limit counts the client the proxy forwarded. An attacker's wrong passwords
// lock out the attacker only: the operator behind the same proxy logs in every time, and a
// correct password never spends anything.
func TestAdminLoginBehindATrustedProxy(t *testing.T) {
	sb, sbURL := interactiveSandbox(t)
	limits := server.DefaultLimits()
	limits.TrustedProxies = []string{"127.0.0.1/32"}
	b := startAdminBroker(t, sb, sbURL, "", appOptions{getenv: adminEnv(adminPassword), limits: &limits})
	attacker, operator := newAdminBrowser(t, b.URL), newAdminBrowser(t, b.URL)
	attacker.xff, operator.xff = "203.0.113.66", "198.51.100.10"

	// The operator logs in more often than the failure budget: successes cost nothing.
	for range admin.LoginBurst + 2 {
		operator.mustLogin()
	}
	for i := range admin.LoginBurst {
		if p := attacker.login(fmt.Sprintf("guess-%d", i)); p.status != http.StatusUnauthorized {
			t.Fatalf("attacker's guess %d: %d, want 401", i+1, p.status)
		}
	}
	for i := range 3 {
		if p := attacker.login("guess-more"); p.status != http.StatusTooManyRequests {
			t.Fatalf("attacker past the limit (%d): %d, want 429", i+1, p.status)
		}
		// Interleaved with the attacker's refused guesses, the operator is never refused.
		operator.mustLogin()
	}
	// The attacker cannot get around the limit by writing its own X-Forwarded-For: the proxy
	// appends the address it saw, and that right-most one is the client.
	attacker.xff = "198.51.100.10, 203.0.113.66"
	if p := attacker.login(adminPassword); p.status != http.StatusTooManyRequests {
		t.Errorf("attacker with a forged hop: %d, want 429", p.status)
	}
}

// TestFlowLimitCountsRefusalsOnly: many people behind one address (an office NAT) sign in
// without holding each other up, however many they are; someone at that address opening
// links that are not valid is refused after the allowance, with the default limit.
func TestFlowLimitCountsRefusalsOnly(t *testing.T) {
	limits := server.DefaultLimits()
	clk := newClock() // the allowance refills only when the test says so, however slow the machine
	b := startLimitedBrokerWith(t, limits, "", clk.Now)
	const signIns = 300
	if signIns*2 <= limits.FlowPerClient {
		t.Fatalf("%d sign-ins make %d flow requests, within the limit of %d: the test would prove nothing", signIns, signIns*2, limits.FlowPerClient)
	}
	links := make([]string, signIns)
	for i := range links {
		links[i] = b.link("alpha", keyA, "sandbox", "c", fmt.Sprintf("user-%d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan string, signIns)
	for w := range 4 { // four at a time, from the one loopback address
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < signIns; i += 4 {
				if st, page := visit(t, newBrowser(t), links[i]); st != http.StatusOK || !strings.Contains(page, "linked") {
					errs <- fmt.Sprintf("sign-in %d: %d", i, st)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := b.count("identities"); n != signIns {
		t.Fatalf("%d identities after %d sign-ins", n, signIns)
	}
	if n := metricValue(t, b, "oauthbroker_rate_limited_total", map[string]string{"limit": "flow"}); n != 0 {
		t.Errorf("successful sign-ins were rate-limited %v times", n)
	}

	// 200 bogus links from the same address: the first FlowPerClient are refused as not
	// found, the rest as too many, and nothing reaches the store either way.
	before := b.snapshot()
	counts := map[int]int{}
	for i := range 200 {
		st, _ := visit(t, newBrowser(t), fmt.Sprintf("%s/bots/alpha/sandbox/auth?link=bogus-%d", b.URL, i))
		counts[st]++
	}
	if counts[http.StatusNotFound] != limits.FlowPerClient || counts[http.StatusTooManyRequests] != 200-limits.FlowPerClient {
		t.Errorf("200 bogus links: %v, want %d× 404 then 429", counts, limits.FlowPerClient)
	}
	if b.snapshot() != before {
		t.Error("bogus links changed the store")
	}
	// Now even a valid link from that address waits; another address is not affected.
	link := b.link("alpha", keyA, "sandbox", "c", "late")
	if st, _ := visit(t, newBrowser(t), link); st != http.StatusTooManyRequests {
		t.Errorf("a valid link from the limited address: %d, want 429", st)
	}
	other := fromAddress("127.0.0.2")
	other.Jar = newBrowser(t).Jar
	other.CheckRedirect = nil
	if st, _ := visit(t, other, link); st != http.StatusOK {
		t.Errorf("the same link from another address: %d, want 200", st)
	}
	// The allowance refills with time: two refused requests a second at the default.
	clk.Advance(time.Second)
	if st, _ := visit(t, newBrowser(t), b.URL+"/bots/alpha/sandbox/auth?link=bogus-again"); st != http.StatusNotFound {
		t.Errorf("a second later, the limited address: %d, want 404 (refilled)", st)
	}
}
