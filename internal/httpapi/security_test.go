package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/httpapi"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
	"github.com/oauthbroker/oauthbroker/internal/testenv/dbdigest"
)

const (
	keyAlpha = "key-alpha-0123456789abcdef"
	keyBravo = "key-bravo-0123456789abcdef"
)

// keyEnv is the bot API for bots alpha and bravo (each a Spotify provider, which has no
// revocation, whose proxied calls go to a local upstream that counts them) over httptest,
// on a SQLite file holding one identity per bot with tokens sealed as the broker seals them.
type keyEnv struct {
	url      string
	dbPath   string
	upstream atomic.Int64
	alpha    store.Identity // alpha's identity, whose access token is "at-alpha"
	bravo    store.Identity
}

func newKeyEnv(t *testing.T) *keyEnv {
	t.Helper()
	env := &keyEnv{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.upstream.Add(1)
		fmt.Fprint(w, `{"id":"me"}`)
	}))
	t.Cleanup(up.Close)
	bot := func(name, key string) *config.Bot {
		return &config.Bot{Name: name, APIKeys: []string{key}, Confirm: config.ConfirmNone,
			Providers: []*config.Provider{{Name: "sp", Type: "spotify", Key: "k", Secret: "s", APIBaseURL: up.URL + "/v1"}}}
	}
	cfg := &config.Config{
		Server: config.Server{PublicURL: "https://broker.test", OutboundTimeout: 2 * time.Second, LinkTTL: 10 * time.Minute, MaxLinkTTL: time.Hour,
			Proxy: config.Proxy{MaxRequestBody: 1 << 20, MaxResponseBody: 1 << 20}},
		Bots: []*config.Bot{bot("alpha", keyAlpha), bot("bravo", keyBravo)},
	}
	reg, err := providers.NewRegistry(t.Context(), cfg, providers.Options{HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	env.dbPath = filepath.Join(t.TempDir(), "api.db")
	st, err := sqlite.Open(t.Context(), env.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, _, err := seal.GenerateKeys(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	link := func(bot string) store.Identity {
		id := store.Identity{Bot: bot, Channel: "slack", User: "U1", Provider: "sp", ProviderUserID: "42",
			Status: store.StatusActive, TokenType: "bearer"}
		if id.AccessToken, err = keys.Ring.Seal([]byte("at-"+bot), seal.TokenAAD(bot, "slack", "U1", "sp", "42", "access_token")); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		l, err := st.CreateLink(t.Context(), store.Link{TokenHash: []byte("link-of-" + bot), Bot: bot,
			Providers: []store.LinkProvider{{Provider: "sp"}}, Channel: "slack", User: "U1", CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		done, err := st.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Identity: id, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return done.Identity
	}
	env.alpha, env.bravo = link("alpha"), link("bravo")
	b := broker.New(cfg, reg, st, keys, broker.Options{})
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", http.StripPrefix("/api/v1", httpapi.New(b, httpapi.Options{})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	env.url = srv.URL + "/api/v1"
	return env
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (env *keyEnv) call(t *testing.T, method, path, auth, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, env.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(data)}
}

// alphaRoutes are every bot API route of bot alpha, with a body each accepts.
func (env *keyEnv) alphaRoutes() []struct{ method, path, body string } {
	id := fmt.Sprint(env.alpha.ID)
	return []struct{ method, path, body string }{
		{"POST", "/bots/alpha/links", `{"provider":"sp","channel":"slack","user":"U2"}`},
		{"POST", "/bots/alpha/links/confirm", `{"channel":"slack","user":"U1","code":"123456"}`},
		{"GET", "/bots/alpha/identities?channel=slack&user=U1", ""},
		{"GET", "/bots/alpha/identities/" + id + "/credentials", ""},
		{"POST", "/bots/alpha/require", `{"channel":"slack","user":"U3","providers":[{"provider":"sp"}]}`},
		{"GET", "/bots/alpha/identities/" + id + "/proxy/me", ""},
		{"DELETE", "/bots/alpha/identities/" + id, ""},
	}
}

// TestBotKeyOpensOnlyItsBot: without a key, with a wrong one, or with bot bravo's own valid
// key, every route of bot alpha answers 401 unauthorized with a Bearer challenge, hands out
// no token, sends nothing through the proxy and changes nothing in the store; alpha's key
// opens each of them, and bravo's key opens bravo's routes (so it is a real key) but not
// alpha's identity there.
func TestBotKeyOpensOnlyItsBot(t *testing.T) {
	env := newKeyEnv(t)
	before := dbdigest.Dump(t, env.dbPath)
	for _, auth := range []string{"", "Bearer ", "Bearer wrong-key-0123456789abcd", "Bearer " + keyBravo,
		"Basic " + keyAlpha, "Bearer " + keyAlpha + " " + keyAlpha, "Bearer " + keyAlpha + "x", "Bearer " + keyAlpha[:len(keyAlpha)-1]} {
		for _, rt := range env.alphaRoutes() {
			a := env.call(t, rt.method, rt.path, auth, rt.body)
			if a.status != http.StatusUnauthorized || !strings.Contains(a.body, `"code":"unauthorized"`) ||
				!strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s with %q: %d %s, want 401 unauthorized", rt.method, rt.path, auth, a.status, a.body)
			}
			if strings.Contains(a.body, "at-alpha") || strings.Contains(a.body, "at-bravo") {
				t.Errorf("%s %s with %q: a token in the answer: %s", rt.method, rt.path, auth, a.body)
			}
		}
	}
	if n := env.upstream.Load(); n != 0 {
		t.Errorf("the provider's API got %d calls without alpha's key", n)
	}
	if after := dbdigest.Dump(t, env.dbPath); after != before {
		t.Fatalf("refused calls changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// bravo's key is a real key: it opens bravo's own routes, where alpha's identity does not
	// exist.
	bravo := "Bearer " + keyBravo
	if a := env.call(t, "GET", fmt.Sprintf("/bots/bravo/identities/%d/credentials", env.bravo.ID), bravo, ""); a.status != http.StatusOK || !strings.Contains(a.body, `"access_token":"at-bravo"`) {
		t.Fatalf("bravo's credentials with bravo's key: %d %s", a.status, a.body)
	}
	for _, path := range []string{fmt.Sprintf("/bots/bravo/identities/%d/credentials", env.alpha.ID), fmt.Sprintf("/bots/bravo/identities/%d/proxy/me", env.alpha.ID)} {
		if a := env.call(t, "GET", path, bravo, ""); a.status != http.StatusNotFound || strings.Contains(a.body, "at-alpha") {
			t.Errorf("alpha's identity at bravo's route %s: %d %s, want 404", path, a.status, a.body)
		}
	}
	if a := env.call(t, "DELETE", fmt.Sprintf("/bots/bravo/identities/%d", env.alpha.ID), bravo, ""); a.status != http.StatusNotFound {
		t.Errorf("deleting alpha's identity at bravo's route: %d %s, want 404", a.status, a.body)
	}
	if n := env.upstream.Load(); n != 0 {
		t.Errorf("the provider's API got %d calls for alpha's identity without alpha's key", n)
	}

	// alpha's key opens every route of alpha (the delete last).
	want := []int{http.StatusCreated, http.StatusBadRequest, http.StatusOK, http.StatusOK, http.StatusOK, http.StatusOK, http.StatusNoContent}
	for i, rt := range env.alphaRoutes() {
		a := env.call(t, rt.method, rt.path, "Bearer "+keyAlpha, rt.body)
		if a.status != want[i] {
			t.Errorf("%s %s with alpha's key: %d %s, want %d", rt.method, rt.path, a.status, a.body, want[i])
		}
		if strings.HasSuffix(rt.path, "/credentials") && !strings.Contains(a.body, `"access_token":"at-alpha"`) {
			t.Errorf("alpha's credentials with alpha's key: %s", a.body)
		}
	}
	if n := env.upstream.Load(); n != 1 {
		t.Errorf("the provider's API got %d calls, want alpha's one proxied call", n)
	}
}
