package proxy_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// bearerOf is the token of a request's Authorization: Bearer header.
func bearerOf(s testenv.SeenRequest) string {
	tok, _ := strings.CutPrefix(s.Header.Get("Authorization"), "Bearer ")
	return tok
}

// TestProxyRefreshesAnExpiredToken: a proxied call on a token about to expire refreshes it
// first, exactly once, and calls the API with the new token; the next call uses it as it is.
func TestProxyRefreshesAnExpiredToken(t *testing.T) {
	clk := testenv.NewClock()
	f := testenv.NewTokenFake(t, true)
	api := testenv.NewUpstream(t, testenv.ForwardTo(f.URL))
	b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.RefreshProxy(f, api.URL)}, App: app.Options{Now: clk.Now}})
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	id := b.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U1")
	first := f.LastGrant(t)

	clk.Advance(59*time.Minute + 30*time.Second) // within RefreshAhead of the expiry
	for i := range 2 {
		r := b.Call("GET", testenv.ProxyPath("alpha", id.ID, "user"), testenv.KeyA, nil, nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"username":"ada"`) {
			t.Fatalf("call %d: %d %s", i, r.Status, r.Body)
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

// TestProxyRetriesOnceAfterA401: the provider refuses a token the broker still holds valid.
// The broker refreshes once (one refresh for many calls refused together), retries each call
// once with the new token and the same body, and a 401 that persists goes back to the bot.
func TestProxyRetriesOnceAfterA401(t *testing.T) {
	f := testenv.NewTokenFake(t, true)
	rev := testenv.NewRevokingAPI(testenv.ForwardTo(f.URL))
	api := testenv.NewUpstream(t, rev.ServeHTTP)
	b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.RefreshProxy(f, api.URL)}})
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	id := b.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U1")
	old := f.LastGrant(t).AccessToken
	rev.Revoke(old)

	// Twenty calls, all refused at first: one refresh, twenty retries.
	var wg sync.WaitGroup
	replies := make([]testenv.Reply, 20)
	for i := range replies {
		wg.Go(func() {
			body := fmt.Sprintf(`{"n":%d}`, i)
			replies[i] = b.Call("POST", testenv.ProxyPath("alpha", id.ID, "echo"), testenv.KeyA, http.Header{"Content-Type": {"application/json"}}, strings.NewReader(body))
		})
	}
	wg.Wait()
	for i, r := range replies {
		if want := fmt.Sprintf(`{"n":%d}`, i); r.Status != http.StatusOK || string(r.Body) != want {
			t.Errorf("call %d: %d %s, want 200 %s", i, r.Status, r.Body, want)
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
	rev.Revoke(fresh)
	big := `{"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	r := b.Call("POST", testenv.ProxyPath("alpha", id.ID, "echo"), testenv.KeyA, http.Header{"Content-Type": {"application/json"}}, strings.NewReader(big))
	if r.Status != http.StatusUnauthorized || r.Header.Get("X-OAuthBroker-Identity") == "" || f.RefreshCalls.Load() != 2 {
		t.Errorf("a long body refused: %d, %d refreshes in all; want the provider's 401 and a second refresh", r.Status, f.RefreshCalls.Load())
	}
	r = b.Call("POST", testenv.ProxyPath("alpha", id.ID, "echo"), testenv.KeyA, http.Header{"Content-Type": {"application/json"}}, strings.NewReader(big))
	if r.Status != http.StatusOK || string(r.Body) != big {
		t.Errorf("the bot's retry: %d, %d bytes", r.Status, len(r.Body))
	}

	// The provider refuses every token: one refresh, one retry, then its 401.
	rev.RevokeAll()
	before := len(api.Requests())
	r = b.Call("GET", testenv.ProxyPath("alpha", id.ID, "user"), testenv.KeyA, nil, nil)
	if r.Status != http.StatusUnauthorized || r.Header.Get("X-OAuthBroker-Identity") == "" {
		t.Errorf("%d %s, want the provider's 401", r.Status, r.Body)
	}
	if n, calls := f.RefreshCalls.Load(), len(api.Requests())-before; n != 3 || calls != 2 {
		t.Errorf("%d refreshes in all and %d API calls, want 3 and 2 (no loop)", n, calls)
	}

	// The provider refuses the refresh token as well: the user must link again.
	f.RefreshMode.Store(testenv.RefreshInvalidGrant)
	if r := b.Call("GET", testenv.ProxyPath("alpha", id.ID, "user"), testenv.KeyA, nil, nil); r.Status != http.StatusConflict || r.Problem.Code != "relink_required" {
		t.Errorf("%d %s, want 409 relink_required", r.Status, r.Body)
	}
	if ids := b.Identities("alpha", testenv.KeyA, "slack", "U1"); ids[0].Status != "relink_required" {
		t.Errorf("status %s, want relink_required", ids[0].Status)
	}
	for _, g := range f.Issued() {
		b.NoSecretLogged(g.AccessToken, g.RefreshToken)
	}
}
