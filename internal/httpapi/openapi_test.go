package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/httpapi"
	"github.com/oauthbroker/oauthbroker/internal/server"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The validator these tests use is internal/testenv's (contract.go), which TestMain puts in
// front of every bot API call of this package's tests.
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestOpenAPIDocument: the document is valid OpenAPI 3.1, the broker serves exactly it
// without a key, docs/openapi.yaml is the same file, and its paths are the router's routes.
func TestOpenAPIDocument(t *testing.T) {
	c, err := testenv.NewContract(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
		Provider("github", "github", "k", "s")}})

	resp, err := http.Get(b.URL + "/api/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/yaml" || !bytes.Equal(served, httpapi.OpenAPI()) {
		t.Errorf("GET /api/v1/openapi.yaml: %d %q, %d bytes; want 200 application/yaml and the embedded document", resp.StatusCode, resp.Header.Get("Content-Type"), len(served))
	}
	docs, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil || !bytes.Equal(docs, served) {
		t.Errorf("docs/openapi.yaml is not a copy of internal/httpapi/openapi.yaml (the source): run go generate ./internal/httpapi (%v)", err)
	}

	var routes []string
	api := httpapi.New(b.App.Broker, httpapi.Options{Logger: slog.New(slog.DiscardHandler)}).(chi.Routes)
	err = chi.Walk(api, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.Replace(route, "/*", "/{path:.*}", 1) // the proxy's catch-all, as testenv.NewContract routes it
		routes = append(routes, method+" "+strings.TrimSuffix(route, "/"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, path := range c.Doc.Paths.InMatchingOrder() {
		for method := range c.Doc.Paths.Value(path).Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	sort.Strings(routes)
	sort.Strings(documented)
	if !slices.Equal(routes, documented) {
		t.Errorf("the router and the document disagree:\n router:   %v\n document: %v", routes, documented)
	}
}

// TestOpenAPIContract drives every operation of the bot API into every status and error code
// the document lists for it, over real HTTP against the real broker, and validates each
// request and answer. A documented answer no request produced fails the test, so the document
// promises nothing the code does not do.
func TestOpenAPIContract(t *testing.T) {
	clk := testenv.NewClock()
	f := testenv.NewTokenFake(t, false)
	b := testenv.Start(t, testenv.Config{
		Bots: []*testenv.BotConfig{
			testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").RedirectOrigins("https://bot.example").
				Provider("sandbox", "sandbox", "client-a", "secret-a-0123456789").Gitlab(f.URL),
			testenv.Bot("bravo").Key(testenv.KeyB).Confirm("code").
				Provider("sandbox", "sandbox", "client-b", "secret-b-0123456789"),
		},
		App: app.Options{SandboxURL: f.URL, Now: clk.Now, RefreshWait: 300 * time.Millisecond},
	})
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	testenv.AddSandboxClients(t, f, b.URL)
	client, seen := testenv.ContractClient(t)
	call := func(method, path, key string, body any) (int, string) {
		t.Helper()
		return contractCall(t, client, b.URL, method, path, key, body)
	}
	expect := func(method, path, key string, body any, status int, code string) {
		t.Helper()
		if st, c := call(method, path, key, body); st != status || c != code {
			t.Errorf("%s %s: %d %q, want %d %q", method, path, st, c, status, code)
		}
	}
	link := func(bot, key, provider, user string) string {
		t.Helper()
		var l testenv.LinkBody
		data := contractJSON(t, client, b.URL, "POST", "/bots/"+bot+"/links", key, map[string]any{"provider": provider, "channel": "c", "user": user}, http.StatusCreated)
		if err := json.Unmarshal(data, &l); err != nil {
			t.Fatal(err)
		}
		return l.URL
	}
	linked := func(bot, key, provider, user string) (int64, string) {
		t.Helper()
		st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), link(bot, key, provider, user))
		if st != http.StatusOK {
			t.Fatalf("linking %s for %s: %d\n%s", provider, user, st, page)
		}
		var out struct{ Identities []testenv.IdentityBody }
		data := contractJSON(t, client, b.URL, "GET", "/bots/"+bot+"/identities?channel=c&user="+user+"&provider="+provider, key, nil, http.StatusOK)
		if err := json.Unmarshal(data, &out); err != nil || len(out.Identities) == 0 {
			t.Fatalf("identities of %s: %s", user, data)
		}
		return out.Identities[len(out.Identities)-1].ID, page
	}
	creds := func(bot string, id int64) string { return fmt.Sprintf("/bots/%s/identities/%d/credentials", bot, id) }
	linkReq := map[string]any{"provider": "sandbox", "channel": "c", "user": "u"}

	expect("GET", "/openapi.yaml", "", nil, 200, "")

	// links
	expect("POST", "/bots/alpha/links", "", linkReq, 401, "unauthorized")
	expect("POST", "/bots/alpha/links", testenv.KeyB, linkReq, 401, "unauthorized")
	expect("POST", "/bots/nosuch/links", testenv.KeyA, linkReq, 401, "unauthorized")
	expect("POST", "/bots/alpha/links", testenv.KeyA, map[string]any{"provider": "nosuch", "channel": "c", "user": "u"}, 404, "unknown_provider")
	expect("POST", "/bots/alpha/links", testenv.KeyA, map[string]any{"provider": "sandbox", "channel": "c", "user": "u", "ttl_seconds": 999999}, 400, "invalid_request")
	expect("POST", "/bots/alpha/links", testenv.KeyA, map[string]any{"provider": "sandbox", "channel": "c", "user": "u", "redirect_url": "https://evil.example/"}, 400, "redirect_url_not_allowed")
	expect("POST", "/bots/alpha/links", testenv.KeyA, map[string]any{"provider": "sandbox", "channel": "c", "user": "u", "redirect_url": "https://bot.example/done", "scopes": []string{"read"}, "ttl_seconds": 60}, 201, "")

	// identities and credentials
	sbID, _ := linked("alpha", testenv.KeyA, "sandbox", "u")
	expect("GET", "/bots/alpha/identities?channel=c&user=u", testenv.KeyA, nil, 200, "")
	expect("GET", "/bots/alpha/identities?channel=c", testenv.KeyA, nil, 400, "invalid_request")
	expect("GET", "/bots/alpha/identities?channel=c&user=u&provider=nosuch", testenv.KeyA, nil, 404, "unknown_provider")
	expect("GET", "/bots/nosuch/identities?channel=c&user=u", testenv.KeyA, nil, 401, "unauthorized")
	expect("GET", "/bots/alpha/identities?channel=c&user=u", "", nil, 401, "unauthorized")
	expect("GET", creds("alpha", sbID), testenv.KeyA, nil, 200, "")
	expect("GET", creds("alpha", sbID), "", nil, 401, "unauthorized")
	expect("GET", creds("alpha", 999999), testenv.KeyA, nil, 404, "not_found")
	expect("GET", creds("nosuch", sbID), testenv.KeyA, nil, 401, "unauthorized")

	// confirm: code, and a pending identity
	_, page := linked("bravo", testenv.KeyB, "sandbox", "confirmer")
	m := regexp.MustCompile(`id="code">(\d{6})<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no code on the connect page:\n%s", page)
	}
	pendingID, _ := linked("bravo", testenv.KeyB, "sandbox", "waiting")
	expect("GET", creds("bravo", pendingID), testenv.KeyB, nil, 409, "identity_pending")
	confirm := func(user, code string) map[string]string {
		return map[string]string{"channel": "c", "user": user, "code": code}
	}
	wrong := "000000"
	if m[1] == wrong {
		wrong = "111111"
	}
	expect("POST", "/bots/bravo/links/confirm", testenv.KeyB, confirm("confirmer", wrong), 422, "wrong_code")
	expect("POST", "/bots/bravo/links/confirm", testenv.KeyB, confirm("nobody", m[1]), 422, "no_pending_confirmation")
	expect("POST", "/bots/bravo/links/confirm", testenv.KeyB, map[string]string{"channel": "c", "user": "confirmer"}, 400, "invalid_request")
	expect("POST", "/bots/bravo/links/confirm", "", confirm("confirmer", m[1]), 401, "unauthorized")
	expect("POST", "/bots/nosuch/links/confirm", testenv.KeyB, confirm("confirmer", m[1]), 401, "unauthorized")
	expect("POST", "/bots/alpha/links/confirm", testenv.KeyA, confirm("confirmer", m[1]), 400, "confirm_not_enabled")
	expect("POST", "/bots/bravo/links/confirm", testenv.KeyB, confirm("confirmer", m[1]), 200, "")

	// require
	req := func(user string, providers ...any) map[string]any {
		return map[string]any{"channel": "c", "user": user, "providers": providers}
	}
	expect("POST", "/bots/alpha/require", testenv.KeyA, req("u", "sandbox", map[string]any{"provider": "gl", "scopes": []string{"api"}}), 200, "")
	expect("POST", "/bots/alpha/require", testenv.KeyA, req("u"), 400, "invalid_request")
	expect("POST", "/bots/alpha/require", testenv.KeyA, req("u", "sandbox", "nosuch"), 404, "unknown_provider")
	expect("POST", "/bots/nosuch/require", testenv.KeyA, req("u", "sandbox"), 401, "unauthorized")
	expect("POST", "/bots/alpha/require", "", req("u", "sandbox"), 401, "unauthorized")

	// The provider refuses the refresh token: relink_required.
	f.FirstTTL.Store(30) // expires within a minute: the next read refreshes
	glRefused, _ := linked("alpha", testenv.KeyA, "gl", "refused")
	f.RefreshMode.Store(testenv.RefreshInvalidGrant)
	expect("GET", creds("alpha", glRefused), testenv.KeyA, nil, 409, "relink_required")
	// The provider is down and the token has expired: 503 with Retry-After.
	f.RefreshMode.Store(testenv.RefreshOK)
	glDown, _ := linked("alpha", testenv.KeyA, "gl", "down")
	f.RefreshMode.Store(testenv.RefreshServerError)
	clk.Advance(31 * time.Second)
	expect("GET", creds("alpha", glDown), testenv.KeyA, nil, 503, "refresh_unavailable")
	expect("POST", "/bots/alpha/require", testenv.KeyA, req("down", "gl"), 503, "refresh_unavailable")

	// A damaged sealed token is reported, never handed out.
	damaged, _ := linked("alpha", testenv.KeyA, "sandbox", "damaged")
	testenv.DamageToken(t, b.DBPath, damaged)
	expect("GET", creds("alpha", damaged), testenv.KeyA, nil, 500, "token_unreadable")
	expect("POST", "/bots/alpha/require", testenv.KeyA, req("damaged", "sandbox"), 500, "token_unreadable")

	// unlink
	path := fmt.Sprintf("/bots/alpha/identities/%d", sbID)
	expect("DELETE", path, "", nil, 401, "unauthorized")
	expect("DELETE", fmt.Sprintf("/bots/nosuch/identities/%d", sbID), testenv.KeyA, nil, 401, "unauthorized")
	expect("DELETE", path, testenv.KeyA, nil, 204, "")
	expect("DELETE", path, testenv.KeyA, nil, 404, "not_found")

	// Answers of the router itself, with a key or without: the routes are public (this
	// document); what a key guards is what a route answers.
	expect("GET", "/no/such/route", testenv.KeyA, nil, 404, "route_not_found")
	expect("GET", "/bots/alpha/no/such/route", "", nil, 404, "route_not_found")
	expect("PUT", "/bots/alpha/require", testenv.KeyA, nil, 405, "method_not_allowed")
	expect("PUT", "/bots/alpha/require", "", nil, 405, "method_not_allowed")

	// The store goes away: every operation that needs it answers 500 internal.
	b.App.Store.Close()
	expect("POST", "/bots/alpha/links", testenv.KeyA, linkReq, 500, "internal")
	expect("POST", "/bots/bravo/links/confirm", testenv.KeyB, confirm("confirmer", m[1]), 500, "internal")
	expect("GET", "/bots/alpha/identities?channel=c&user=u", testenv.KeyA, nil, 500, "internal")
	expect("GET", creds("alpha", glRefused), testenv.KeyA, nil, 500, "internal")
	expect("DELETE", fmt.Sprintf("/bots/alpha/identities/%d", glRefused), testenv.KeyA, nil, 500, "internal")
	expect("POST", "/bots/alpha/require", testenv.KeyA, req("u", "sandbox"), 500, "internal")

	// 429: a broker whose bots may make one link-creating call a minute.
	limited := testenv.StartLimitedBroker(t, server.Limits{LinksPerBot: 1}, "")
	limitedCall := func(method, path string, body any, status int, code string) {
		t.Helper()
		if st, c := contractCall(t, client, limited.URL, method, path, testenv.KeyA, body); st != status || c != code {
			t.Errorf("%s %s on the limited broker: %d %q, want %d %q", method, path, st, c, status, code)
		}
	}
	limitedCall("POST", "/bots/alpha/links", linkReq, 201, "")
	limitedCall("POST", "/bots/alpha/links", linkReq, 429, "rate_limited")
	limitedCall("POST", "/bots/alpha/require", req("u", "sandbox"), 429, "rate_limited")

	c, err := testenv.NewContract(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	got := seen()
	for _, k := range c.Documented() {
		if !got[k] && !testenv.ProxyOperation(k) { // TestProxyContract (internal/proxy/contract_test.go) drives the proxy's
			t.Errorf("documented but never produced: %s", k)
		}
	}
}

// contractDo sends one bot API request through client (with the key, when there is one) and
// returns the status and body.
func contractDo(t *testing.T, client *http.Client, base, method, path, key string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, base+"/api/v1"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// contractCall is contractDo for the status and, for a problem, its code.
func contractCall(t *testing.T, client *http.Client, base, method, path, key string, body any) (int, string) {
	t.Helper()
	status, data := contractDo(t, client, base, method, path, key, body)
	var p testenv.ProblemBody
	if status >= 400 {
		_ = json.Unmarshal(data, &p)
	}
	return status, p.Code
}

// contractJSON is contractDo for an answer the test needs: it fails unless the status is
// want, and returns the body.
func contractJSON(t *testing.T, client *http.Client, base, method, path, key string, body any, want int) []byte {
	t.Helper()
	status, out := contractDo(t, client, base, method, path, key, body)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, out, want)
	}
	return out
}
