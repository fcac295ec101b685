package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestProxyRefusesEscapes: every path that could leave the provider's API base, or be read as
// another host on the way, is refused with 400 before anything is sent: the API sees nothing.
func TestProxyRefusesEscapes(t *testing.T) {
	canary := testenv.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{}") })
	b, id := testenv.CanaryBroker(t, canary)
	for _, path := range []string{
		"http://evil/",
		"https://evil.example/x",
		"/evil.com/x", // …/proxy//evil.com/x
		"//evil.com/x",
		"%2e%2e/%2e%2e/admin",
		"..%2f..%2f",
		"..%2F..%2Fadmin",
		"../admin",
		"user/../../admin",
		"user/%2E%2E/%2e%2e/admin",
		"..;/admin",
		"@evil.com",
		"@evil.com/x",
		"%40evil.com",
		"user:pw@evil.com/",
		"a%5C..%5Cadmin",
		"user%2F..%2F..%2Fadmin",
		"user/%00",
		"user%0d%0aHost:%20evil.example",
	} {
		r := b.Call("GET", testenv.ProxyPath("alpha", id, path), testenv.KeyA, nil, nil)
		if r.Status != http.StatusBadRequest || r.Problem.Code != "proxy_path_not_allowed" {
			t.Errorf("…/proxy/%s: %d %s, want 400 proxy_path_not_allowed", path, r.Status, r.Body)
		}
	}
	for _, raw := range []string{`a\b`, `..\..\admin`, `\\evil.com\x`} {
		r := b.CallRaw("GET", testenv.ProxyPath("alpha", id, raw), testenv.KeyA)
		if r.Status != http.StatusBadRequest {
			t.Errorf("…/proxy/%s: %d %s, want 400", raw, r.Status, r.Body)
		}
	}
	if seen := canary.Requests(); len(seen) != 0 {
		t.Errorf("the API saw %d requests, first %s %s", len(seen), seen[0].Method, seen[0].URI)
	}
	// What is refused was never counted as a use of the identity.
	if u, err := b.App.Store.ProxyUsage(t.Context(), "alpha", id); err != nil || u.Calls != 0 {
		t.Errorf("usage %+v (%v), want none", u, err)
	}
}

// TestProxyIdentityOfAnotherBot: bot B's key opens neither bot A's route nor, through B's own
// route, A's identity, and nothing is sent.
func TestProxyIdentityOfAnotherBot(t *testing.T) {
	canary := testenv.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{}") })
	b, id := testenv.CanaryBroker(t, canary)
	for _, c := range []struct {
		path, key string
		status    int
		code      string
	}{
		{testenv.ProxyPath("alpha", id, "user"), testenv.KeyB, http.StatusUnauthorized, "unauthorized"},
		{testenv.ProxyPath("alpha", id, "user"), "", http.StatusUnauthorized, "unauthorized"},
		{testenv.ProxyPath("bravo", id, "user"), testenv.KeyB, http.StatusNotFound, "not_found"},
		{testenv.ProxyPath("alpha", id+1, "user"), testenv.KeyA, http.StatusNotFound, "not_found"},
		{testenv.ProxyPath("nosuch", id, "user"), testenv.KeyA, http.StatusUnauthorized, "unauthorized"},
	} {
		r := b.Call("POST", c.path, c.key, http.Header{"Content-Type": {"application/json"}}, strings.NewReader(`{"x":1}`))
		if r.Status != c.status || r.Problem.Code != c.code || r.Header.Get("X-OAuthBroker-Identity") != "" {
			t.Errorf("%s with key %.10q: %d %s, want %d %s", c.path, c.key, r.Status, r.Body, c.status, c.code)
		}
	}
	if n := len(canary.Requests()); n != 0 {
		t.Errorf("the API saw %d requests, want none", n)
	}
}

// TestProxyNeverFollowsRedirects: a redirect to another host goes back to the bot as it is, and
// the other host never hears from the broker; one inside the API base comes back as the same
// path under the proxy, which the bot's client follows through the broker, signed again.
func TestProxyNeverFollowsRedirects(t *testing.T) {
	evil := testenv.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "stolen") })
	var canary *testenv.Upstream
	canary = testenv.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/away":
			http.Redirect(w, r, evil.URL+"/steal?from=proxy", http.StatusFound)
		case "/api/out-of-base":
			http.Redirect(w, r, "/admin", http.StatusTemporaryRedirect)
		case "/api/old":
			http.Redirect(w, r, canary.URL+"/api/new?page=2", http.StatusMovedPermanently)
		default:
			fmt.Fprintf(w, `{"path":%q,"auth":%q}`, r.URL.RequestURI(), r.Header.Get("Authorization"))
		}
	})
	b, id := testenv.CanaryBroker(t, canary)

	r := b.Call("GET", testenv.ProxyPath("alpha", id, "away"), testenv.KeyA, nil, nil)
	if r.Status != http.StatusFound || r.Header.Get("Location") != evil.URL+"/steal?from=proxy" {
		t.Errorf("redirect to another host: %d Location %q, want the 302 as the provider sent it", r.Status, r.Header.Get("Location"))
	}
	r = b.Call("GET", testenv.ProxyPath("alpha", id, "out-of-base"), testenv.KeyA, nil, nil)
	if r.Status != http.StatusTemporaryRedirect || r.Header.Get("Location") != "/admin" {
		t.Errorf("redirect out of the base path: %d Location %q", r.Status, r.Header.Get("Location"))
	}
	if n := len(evil.Requests()); n != 0 {
		t.Errorf("the other host saw %d requests", n)
	}
	for _, s := range canary.Requests() {
		if s.URI == "/admin" {
			t.Errorf("the broker followed a redirect out of the API base")
		}
	}

	r = b.Call("GET", testenv.ProxyPath("alpha", id, "old"), testenv.KeyA, nil, nil)
	want := fmt.Sprintf("/api/v1/bots/alpha/identities/%d/proxy/new?page=2", id)
	if r.Status != http.StatusMovedPermanently || r.Header.Get("Location") != want {
		t.Fatalf("redirect inside the base: %d Location %q, want %q", r.Status, r.Header.Get("Location"), want)
	}
	// A bot's client following it (Go's keeps the Authorization header on the same host).
	req, _ := http.NewRequest("GET", b.URL+"/api/v1"+testenv.ProxyPath("alpha", id, "old"), nil)
	req.Header.Set("Authorization", "Bearer "+testenv.KeyA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"path":"/api/new?page=2","auth":"Bearer sbx_at_`) {
		t.Errorf("followed: %d %s", resp.StatusCode, body)
	}
}
