package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/webhook"
)

// Broker is one real broker (the code path of `serve`, wired by internal/app) on an httptest
// server, with its SQLite file, driven over real HTTP.
type Broker struct {
	T      testing.TB
	URL    string      // the broker's base URL (its server.public_url)
	App    *app.App    // the running broker: its store, config, background loops
	DBPath string      // the SQLite file
	Logs   *SyncBuffer // everything the broker logged, at debug level
}

// StartBroker runs the bots of botsYAML (the lines under `bots:`) with the default options.
func StartBroker(t testing.TB, botsYAML string) *Broker {
	t.Helper()
	return StartBrokerWith(t, botsYAML, app.Options{})
}

// StartBrokerWith is StartBroker with options (a clock, limits, a sandbox URL, ...).
func StartBrokerWith(t testing.TB, botsYAML string, opts app.Options) *Broker {
	t.Helper()
	return StartBrokerServer(t, "  outbound_timeout: 5s\n", botsYAML, opts)
}

// StartBrokerServer is the one way the tests start a broker: serverYAML is the lines of the
// server: section besides public_url (which is the test server's own address). The broker
// stops, and its store closes, when the test ends.
func StartBrokerServer(t testing.TB, serverYAML, botsYAML string, opts app.Options) *Broker {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + srv.Listener.Addr().String()
	dbPath := filepath.Join(t.TempDir(), "broker.db")
	yaml := fmt.Sprintf("server:\n  public_url: %s\n%sstorage:\n  dsn: %s\nbots:\n%s", publicURL, serverYAML, dbPath, botsYAML)
	logs := &SyncBuffer{}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a := serveApp(t, srv, yaml, opts)
	return &Broker{T: t, URL: publicURL, App: a, DBPath: dbPath, Logs: logs}
}

// serveApp is what every test broker shares: the configuration parsed from yaml without the
// process environment, the real app (the code path of `serve`) opened with opts and served by
// the unstarted srv, and both closed when the test ends.
func serveApp(t testing.TB, srv *httptest.Server, yaml string, opts app.Options) *app.App {
	t.Helper()
	noEnv := func(string) (string, bool) { return "", false }
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.LoadOptions{Getenv: noEnv, Types: providers.Types()})
	if err != nil {
		t.Fatalf("config:\n%v\n--- yaml:\n%s", err, yaml)
	}
	if opts.Getenv == nil {
		opts.Getenv = noEnv
	}
	a, err := app.Open(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("app.Open: %v", err)
	}
	srv.Config.Handler = a.Handler
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		a.Store.Close()
	})
	return a
}

// API sends one bot API request and decodes the JSON answer into out (when non-nil).
func (b *Broker) API(method, path, key string, body any, out any) int {
	b.T.Helper()
	var raw string
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			b.T.Fatal(err)
		}
		raw = string(data)
	}
	status, h, data := b.RawAPI(method, path, key, raw)
	if status >= 400 {
		if ct := h.Get("Content-Type"); ct != "application/problem+json" {
			b.T.Errorf("%s %s: error answered with Content-Type %q, want application/problem+json", method, path, ct)
		}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal([]byte(data), out); err != nil {
			b.T.Fatalf("%s %s: %d %s: %v", method, path, status, data, err)
		}
	}
	return status
}

// RawAPI sends one bot API request with body as it is (bytes a JSON encoder would not write,
// say; "" for none), through http.DefaultClient, and returns the status, headers and body of
// the answer.
func (b *Broker) RawAPI(method, path, key, body string) (int, http.Header, string) {
	b.T.Helper()
	req, err := http.NewRequest(method, b.URL+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		b.T.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.T.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(data)
}

type ProblemBody struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

type LinkBody struct {
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at"`
}

// Link asks the bot API for a link and fails the test if it cannot.
func (b *Broker) Link(bot, key, provider, channel, user string) string {
	b.T.Helper()
	var l LinkBody
	if st := b.API("POST", "/bots/"+bot+"/links", key, map[string]any{"provider": provider, "channel": channel, "user": user}, &l); st != http.StatusCreated {
		b.T.Fatalf("create link: status %d", st)
	}
	return l.URL
}

type IdentityBody struct {
	ID             int64    `json:"id"`
	Provider       string   `json:"provider"`
	ProviderUserID string   `json:"provider_user_id"`
	Name           string   `json:"name"`
	NickName       string   `json:"nickname"`
	Email          string   `json:"email"`
	Status         string   `json:"status"`
	Scopes         []string `json:"scopes"`
	ExpiresAt      *string  `json:"expires_at"`
}

func (b *Broker) Identities(bot, key, channel, user string) []IdentityBody {
	b.T.Helper()
	var out struct {
		Identities []IdentityBody `json:"identities"`
	}
	q := url.Values{"channel": {channel}, "user": {user}}
	if st := b.API("GET", "/bots/"+bot+"/identities?"+q.Encode(), key, nil, &out); st != http.StatusOK {
		b.T.Fatalf("list identities: status %d", st)
	}
	return out.Identities
}

type CredentialsBody struct {
	Provider          string  `json:"provider"`
	TokenType         string  `json:"token_type"`
	AccessToken       string  `json:"access_token"`
	AccessTokenSecret string  `json:"access_token_secret"`
	ExpiresAt         *string `json:"expires_at"`
}

func (b *Broker) Credentials(bot, key string, id int64) CredentialsBody {
	b.T.Helper()
	var c CredentialsBody
	if st := b.API("GET", fmt.Sprintf("/bots/%s/identities/%d/credentials", bot, id), key, nil, &c); st != http.StatusOK {
		b.T.Fatalf("credentials: status %d", st)
	}
	return c
}

// LinkOne links the sandbox's account for one chat user through the browser flow and returns
// the identity.
func (b *Broker) LinkOne(bot, key, provider, channel, user string) IdentityBody {
	b.T.Helper()
	if st, page := ConnectAll(b.T, NewBrowser(b.T), b.Link(bot, key, provider, channel, user)); st != http.StatusOK {
		b.T.Fatalf("link %s for %s/%s: %d\n%s", provider, channel, user, st, page)
	}
	ids := b.Identities(bot, key, channel, user)
	if len(ids) == 0 {
		b.T.Fatalf("no identity for %s/%s after linking", channel, user)
	}
	return ids[len(ids)-1]
}

// CredentialsRaw reads credentials and returns the status, the body and the Retry-After header.
func (b *Broker) CredentialsRaw(bot, key string, id int64) (int, CredentialsBody, ProblemBody, string) {
	b.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/bots/%s/identities/%d/credentials", b.URL, bot, id), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.T.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var c CredentialsBody
	var p ProblemBody
	if resp.StatusCode == http.StatusOK {
		json.Unmarshal(data, &c)
	} else {
		json.Unmarshal(data, &p)
	}
	return resp.StatusCode, c, p, resp.Header.Get("Retry-After")
}

// FastWebhooks are delivery settings that retry in milliseconds, for tests.
var FastWebhooks = webhook.Options{Poll: 10 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}

// RunBackground starts the broker's webhook delivery until the test ends.
func (b *Broker) RunBackground() {
	stop := b.App.StartBackground(context.Background())
	b.T.Cleanup(stop)
}

// SyncBuffer collects log output from concurrent handlers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
