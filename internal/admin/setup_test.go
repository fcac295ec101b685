package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
	"github.com/oauthbroker/oauthbroker/templates"
)

// The package's own tests run the real pieces (config, providers, broker, SQLite store and
// templates) without a network: the end-to-end tests over HTTP are in cmd/oauthbroker.

const testPassword = "correct horse battery staple"

type fixture struct {
	h     *Handler
	mux   chi.Router // the handler mounted at Prefix, as the server mounts it
	store *sqlite.Store
	now   time.Time
}

// newFixture builds the admin pages on a store at path (a new file when empty) for a broker
// whose public URL is publicURL.
func newFixture(tb testing.TB, publicURL, path string) *fixture {
	tb.Helper()
	if path == "" {
		path = filepath.Join(tb.TempDir(), "broker.db")
	}
	cfg, err := config.Parse("test.yaml", []byte("server:\n  public_url: "+publicURL+"\nbots:\n  supportbot:\n    api_keys: [\"0123456789abcdef0123\"]\n    providers:\n      github: {type: github, key: k, secret: s}\n"),
		config.LoadOptions{Getenv: func(string) (string, bool) { return "", false }, Types: providers.Types()})
	if err != nil {
		tb.Fatal(err)
	}
	reg, err := providers.NewRegistry(context.Background(), cfg, providers.Options{HTTPClient: &http.Client{Timeout: time.Second}})
	if err != nil {
		tb.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	keys, _, err := seal.GenerateKeys(time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	pages, err := templates.Parse()
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{store: st, now: time.Now()}
	b := broker.New(cfg, reg, st, keys, broker.Options{})
	f.h, err = New(Options{Broker: b, Store: st, Pages: pages, Keys: keys, Password: testPassword, Now: func() time.Time { return f.now }})
	if err != nil {
		tb.Fatal(err)
	}
	f.mux = chi.NewRouter()
	f.mux.Mount(Prefix, f.h)
	return f
}

// login returns the session cookie of a fresh login.
func (f *fixture) login(tb testing.TB) *http.Cookie {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, "/admin/login", strings.NewReader(url.Values{"password": {testPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	f.serve(rec, req)
	if rec.Code != http.StatusSeeOther || len(rec.Result().Cookies()) != 1 {
		tb.Fatalf("login: %d %v", rec.Code, rec.Result().Cookies())
	}
	return rec.Result().Cookies()[0]
}

func (f *fixture) serve(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }
