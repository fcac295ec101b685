package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
)

// refreshProxyBot is bot alpha with a gitlab provider at the token fake (which refreshes and
// rotates), whose API is reached through api, an upstream in front of the fake's /api/v4.
func refreshProxyBot(f *tokenFake, api string) string {
	return fmt.Sprintf("  alpha:\n    api_keys: [%q]\n    confirm: none\n    providers:\n%s        api_base_url: %s/api/v4\n", keyA, gitlabYAML(f.URL), api)
}

// bearerOf is the token of a request's Authorization: Bearer header.
func bearerOf(s seenRequest) string {
	tok, _ := strings.CutPrefix(s.Header.Get("Authorization"), "Bearer ")
	return tok
}

// TestProxyRefreshesAnExpiredToken: a proxied call on a token about to expire refreshes it
// first, exactly once, and calls the API with the new token; the next call uses it as it is.
func TestProxyRefreshesAnExpiredToken(t *testing.T) {
	clk := newClock()
	f := newTokenFake(t, true)
	api := newUpstream(t, forwardTo(f.URL))
	b := startBrokerWith(t, refreshProxyBot(f, api.URL), app.Options{Now: clk.Now})
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	id := b.linkOne("alpha", keyA, "gl", "slack", "U1")
	first := f.LastGrant(t)

	clk.Advance(59*time.Minute + 30*time.Second) // within RefreshAhead of the expiry
	for i := range 2 {
		r := b.call("GET", proxyPath("alpha", id.ID, "user"), keyA, nil, nil)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"username":"ada"`) {
			t.Fatalf("call %d: %d %s", i, r.status, r.body)
		}
	}
	fresh := f.LastGrant(t)
	if n := f.RefreshCalls.Load(); n != 1 || fresh.AccessToken == first.AccessToken {
		t.Fatalf("%d refreshes, want 1", n)
	}
	for i, s := range api.Requests() {
		if bearerOf(s) != fresh.AccessToken {
			t.Errorf("API call %d was made with %.12s…, want the refreshed token", i, bearerOf(s))
		}
	}
}

// revokingAPI answers 401 to every request bearing one of the revoked tokens, as a provider
// does with a token it ended early, and forwards the others to the fake (POST /api/v4/echo
// answers its body, to show a retried body is the same).
type revokingAPI struct {
	mu      sync.Mutex
	revoked map[string]bool
	all     bool // every token is refused
	next    http.HandlerFunc
}

func (a *revokingAPI) revoke(tokens ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, tok := range tokens {
		a.revoked[tok] = true
	}
}

func (a *revokingAPI) serve(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	refused := a.all || a.revoked[tok]
	a.mu.Unlock()
	switch {
	case refused:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
	case r.URL.Path == "/api/v4/echo":
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		io.Copy(w, r.Body)
	default:
		a.next(w, r)
	}
}

// TestProxyRetriesOnceAfterA401: the provider refuses a token the broker still holds valid.
// The broker refreshes once (one refresh for many calls refused together), retries each call
// once with the new token and the same body, and a 401 that persists goes back to the bot.
func TestProxyRetriesOnceAfterA401(t *testing.T) {
	f := newTokenFake(t, true)
	rev := &revokingAPI{revoked: map[string]bool{}, next: forwardTo(f.URL)}
	api := newUpstream(t, rev.serve)
	b := startBroker(t, refreshProxyBot(f, api.URL))
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	id := b.linkOne("alpha", keyA, "gl", "slack", "U1")
	old := f.LastGrant(t).AccessToken
	rev.revoke(old)

	// Twenty calls, all refused at first: one refresh, twenty retries.
	var wg sync.WaitGroup
	replies := make([]reply, 20)
	for i := range replies {
		wg.Go(func() {
			body := fmt.Sprintf(`{"n":%d}`, i)
			replies[i] = b.call("POST", proxyPath("alpha", id.ID, "echo"), keyA, http.Header{"Content-Type": {"application/json"}}, strings.NewReader(body))
		})
	}
	wg.Wait()
	for i, r := range replies {
		if want := fmt.Sprintf(`{"n":%d}`, i); r.status != http.StatusOK || string(r.body) != want {
			t.Errorf("call %d: %d %s, want 200 %s", i, r.status, r.body, want)
		}
	}
	fresh := f.LastGrant(t).AccessToken
	if n := f.RefreshCalls.Load(); n != 1 || fresh == old {
		t.Fatalf("%d refreshes for 20 refused calls, want 1", n)
	}
	var withOld, withNew int
	for _, s := range api.Requests() {
		switch bearerOf(s) {
		case old:
			withOld++
		case fresh:
			withNew++
		}
	}
	if withNew != 20 || withOld > 20 {
		t.Errorf("the API saw %d calls with the old token and %d with the new one, want ≤20 and 20", withOld, withNew)
	}

	// A body too long to hold for a second try (over 1 MiB) streams through once: its 401 goes
	// back to the bot, the refresh happens all the same, and the bot's own retry succeeds.
	rev.revoke(fresh)
	big := `{"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	r := b.call("POST", proxyPath("alpha", id.ID, "echo"), keyA, http.Header{"Content-Type": {"application/json"}}, strings.NewReader(big))
	if r.status != http.StatusUnauthorized || r.header.Get("X-OAuthBroker-Identity") == "" || f.RefreshCalls.Load() != 2 {
		t.Errorf("a long body refused: %d, %d refreshes in all; want the provider's 401 and a second refresh", r.status, f.RefreshCalls.Load())
	}
	r = b.call("POST", proxyPath("alpha", id.ID, "echo"), keyA, http.Header{"Content-Type": {"application/json"}}, strings.NewReader(big))
	if r.status != http.StatusOK || string(r.body) != big {
		t.Errorf("the bot's retry: %d, %d bytes", r.status, len(r.body))
	}

	// The provider refuses every token: one refresh, one retry, then its 401.
	rev.mu.Lock()
	rev.all = true
	rev.mu.Unlock()
	before := len(api.Requests())
	r = b.call("GET", proxyPath("alpha", id.ID, "user"), keyA, nil, nil)
	if r.status != http.StatusUnauthorized || r.header.Get("X-OAuthBroker-Identity") == "" {
		t.Errorf("%d %s, want the provider's 401", r.status, r.body)
	}
	if n, calls := f.RefreshCalls.Load(), len(api.Requests())-before; n != 3 || calls != 2 {
		t.Errorf("%d refreshes in all and %d API calls, want 3 and 2 (no loop)", n, calls)
	}

	// The provider refuses the refresh token as well: the user must link again.
	f.RefreshMode.Store(refreshInvalidGrant)
	if r := b.call("GET", proxyPath("alpha", id.ID, "user"), keyA, nil, nil); r.status != http.StatusConflict || r.problem.Code != "relink_required" {
		t.Errorf("%d %s, want 409 relink_required", r.status, r.body)
	}
	if ids := b.identities("alpha", keyA, "slack", "U1"); ids[0].Status != "relink_required" {
		t.Errorf("status %s, want relink_required", ids[0].Status)
	}
	for _, g := range f.Issued() {
		b.noSecretLogged(g.AccessToken, g.RefreshToken)
	}
}
