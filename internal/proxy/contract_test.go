package proxy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/httpapi"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The API proxy in the OpenAPI contract (contract_test.go calls these three): its route is
// one path with a catch-all parameter and an operation per method, and its answers are the
// provider's or the broker's own problems.

// contractAPI is the provider API of TestProxyContract: each failure the proxy reports has
// its path; reads go to the sandbox behind f, writes are accepted.
func contractAPI(f *testenv.TokenFake) http.HandlerFunc {
	forward := testenv.ForwardTo(f.URL)
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v4/big":
			w.Header().Set("Content-Length", "5000")
			w.Write(bytes.Repeat([]byte("x"), 5000))
		case "/api/v4/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
		case "/api/v4/drop": // the connection breaks before an answer
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				forward(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"ok":true}`)
		}
	}
}

// TestProxyContract drives the proxy's operations into every answer the OpenAPI document
// lists for them, through the validating client: each status and code once (by any method),
// and the provider's own answer by every method.
func TestProxyContract(t *testing.T) {
	clk := testenv.NewClock()
	f := testenv.NewTokenFake(t, false)
	tw := providertest.NewTwitter(t, map[string]string{"ck-alpha": "cs-alpha-secret"})
	api := testenv.NewUpstream(t, contractAPI(f))
	b := testenv.Start(t, testenv.Config{
		Server: []string{"outbound_timeout: 1s", "proxy: {max_request_body: 4KiB, max_response_body: 4KiB}"},
		Bots: []*testenv.BotConfig{
			testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
				Gitlab(f.URL, testenv.APIBase(api.URL+"/api/v4")).
				Provider("twitter", "twitter", "ck-alpha", "cs-alpha-secret", testenv.At(tw.Endpoints())).
				Provider("sso", "auth0", "sso-client", "sso-secret", testenv.Options(map[string]string{"domain": "id.example.com"})),
			testenv.Bot("bravo").Key(testenv.KeyB).Confirm("code").
				Provider("sandbox", "sandbox", "client-b", "secret-b-0123456789"),
		},
		App: app.Options{SandboxURL: f.URL, Now: clk.Now, RefreshWait: 300 * time.Millisecond},
	})
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	if err := f.AddClient(sandbox.Client{ID: "client-b", Secret: "secret-b-0123456789", RedirectURIs: []string{b.URL + "/bots/bravo/sandbox/callback"}}); err != nil {
		t.Fatal(err)
	}
	client, seen := testenv.ContractClient(t)
	expect := func(method, path, key string, header http.Header, body string, status int, code string) {
		t.Helper()
		req, _ := http.NewRequest(method, b.URL+"/api/v1"+path, strings.NewReader(body))
		for k, v := range header {
			req.Header[k] = v
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var p testenv.ProblemBody
		json.Unmarshal(data, &p)
		if resp.StatusCode != status || p.Code != code {
			t.Errorf("%s %s: %d %s, want %d %q", method, path, resp.StatusCode, data, status, code)
		}
	}
	gl := b.LinkOne("alpha", testenv.KeyA, "gl", "c", "u").ID
	twID := b.LinkOne("alpha", testenv.KeyA, "twitter", "c", "u").ID
	pending := b.LinkOne("bravo", testenv.KeyB, "sandbox", "c", "u").ID
	damaged := b.LinkOne("alpha", testenv.KeyA, "gl", "c", "damaged").ID
	testenv.DamageToken(t, b.DBPath, damaged)
	planted := plantIdentity(t, b, "alpha", "sso")
	f.FirstTTL.Store(30) // these expire within a minute: the next call refreshes
	refused := b.LinkOne("alpha", testenv.KeyA, "gl", "c", "refused").ID
	down := b.LinkOne("alpha", testenv.KeyA, "gl", "c", "down").ID

	for _, m := range proxyMethods {
		expect(m, testenv.ProxyPath("alpha", gl, "user"), testenv.KeyA, nil, "", http.StatusOK, "")
	}
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	expect("GET", testenv.ProxyPath("alpha", gl, "..%2f"), testenv.KeyA, nil, "", 400, "proxy_path_not_allowed")
	expect("POST", testenv.ProxyPath("alpha", twID, "1.1/statuses/update.json"), testenv.KeyA, form, "status=%zz", 400, "invalid_request")
	expect("GET", testenv.ProxyPath("alpha", gl, "user"), "", nil, "", 401, "unauthorized")
	expect("GET", testenv.ProxyPath("nosuch", gl, "user"), testenv.KeyA, nil, "", 401, "unauthorized")
	expect("DELETE", testenv.ProxyPath("alpha", 999999, "user"), testenv.KeyA, nil, "", 404, "not_found")
	expect("GET", testenv.ProxyPath("bravo", pending, "user"), testenv.KeyB, nil, "", 409, "identity_pending")
	expect("PUT", testenv.ProxyPath("alpha", gl, "user"), testenv.KeyA, nil, strings.Repeat("x", 5000), 413, "payload_too_large")
	expect("GET", testenv.ProxyPath("alpha", damaged, "user"), testenv.KeyA, nil, "", 500, "token_unreadable")
	expect("GET", testenv.ProxyPath("alpha", planted, "user"), testenv.KeyA, nil, "", 501, "proxy_not_configured")
	expect("GET", testenv.ProxyPath("alpha", gl, "drop"), testenv.KeyA, nil, "", 502, "provider_error")
	expect("GET", testenv.ProxyPath("alpha", gl, "big"), testenv.KeyA, nil, "", 502, "response_too_large")
	expect("PATCH", testenv.ProxyPath("alpha", gl, "slow"), testenv.KeyA, nil, "{}", 504, "provider_timeout")
	f.RefreshMode.Store(testenv.RefreshInvalidGrant)
	expect("GET", testenv.ProxyPath("alpha", refused, "user"), testenv.KeyA, nil, "", 409, "relink_required")
	f.RefreshMode.Store(testenv.RefreshServerError)
	clk.Advance(31 * time.Second)
	expect("GET", testenv.ProxyPath("alpha", down, "user"), testenv.KeyA, nil, "", 503, "refresh_unavailable")

	// The rate limit, on a broker that allows one call a minute: counted before the identity
	// is looked at, so the first call's 404 spends the allowance.
	limited := testenv.Start(t, testenv.Config{Server: []string{"proxy: {rate_limit: 1}"},
		Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").Provider("gh", "github", "k", "s")}})
	for i, want := range []struct {
		status int
		code   string
	}{{404, "not_found"}, {429, "rate_limited"}} {
		req, _ := http.NewRequest("GET", limited.URL+"/api/v1"+testenv.ProxyPath("alpha", 1, "user"), nil)
		req.Header.Set("Authorization", "Bearer "+testenv.KeyA)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want.status {
			t.Errorf("rate-limited call %d: %d, want %d %s", i, resp.StatusCode, want.status, want.code)
		}
	}

	b.App.Store.Close()
	expect("GET", testenv.ProxyPath("alpha", gl, "user"), testenv.KeyA, nil, "", 500, "internal")

	c, err := testenv.NewContract(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	got, missing := seen(), map[string]bool{}
	for _, k := range c.Documented() {
		if !testenv.ProxyOperation(k) {
			continue
		}
		_, statusCode, _ := strings.Cut(k, " ")
		if strings.HasPrefix(statusCode, "default") {
			if !got[k] {
				t.Errorf("no provider answer passed through by %s", k)
			}
			continue
		}
		found := false
		for s := range got {
			_, sc, _ := strings.Cut(s, " ")
			found = found || testenv.ProxyOperation(s) && sc == statusCode
		}
		if !found && !missing[statusCode] {
			missing[statusCode] = true
			t.Errorf("documented but never produced, by any method: %s", statusCode)
		}
	}
}

var proxyMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// plantIdentity puts an identity of the bot's provider straight into the store, for a provider
// no fake can link (its tokens are placeholders, never opened).
func plantIdentity(t *testing.T, b *testenv.Broker, bot, provider string) int64 {
	t.Helper()
	now := time.Now().UTC()
	l, err := b.App.Store.CreateLink(t.Context(), store.Link{TokenHash: []byte("planted-" + provider), Bot: bot,
		Providers: []store.LinkProvider{{Provider: provider}}, Channel: "c", User: "planted", CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	done, err := b.App.Store.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Now: now, Identity: store.Identity{
		Bot: bot, Channel: "c", User: "planted", Provider: provider, ProviderUserID: "planted", Status: store.StatusActive,
		TokenType: "bearer", AccessToken: []byte("placeholder")}})
	if err != nil {
		t.Fatal(err)
	}
	return done.Identity.ID
}
