package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// testBroker is one real broker (the code path of `serve`) on an httptest server, with its
// SQLite file, driven over real HTTP.
type testBroker struct {
	t      *testing.T
	URL    string
	app    *app.App
	dbPath string
	logs   *syncBuffer
}

// brokerYAML renders a providers.yaml for a test: {{URL}} and {{DB}} are filled in.
func startBroker(t *testing.T, botsYAML string) *testBroker {
	t.Helper()
	return startBrokerWith(t, botsYAML, app.Options{})
}

func startBrokerWith(t *testing.T, botsYAML string, opts app.Options) *testBroker {
	t.Helper()
	return startBrokerServer(t, "  outbound_timeout: 5s\n", botsYAML, opts)
}

// startBrokerServer is the one way the tests start a broker: serverYAML is the lines of the
// server: section besides public_url (which is the test server's own address).
func startBrokerServer(t *testing.T, serverYAML, botsYAML string, opts app.Options) *testBroker {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + srv.Listener.Addr().String()
	dbPath := filepath.Join(t.TempDir(), "broker.db")
	yaml := fmt.Sprintf("server:\n  public_url: %s\n%sstorage:\n  dsn: %s\nbots:\n%s", publicURL, serverYAML, dbPath, botsYAML)
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.LoadOptions{Getenv: func(string) (string, bool) { return "", false }, Types: providers.Types()})
	if err != nil {
		t.Fatalf("config:\n%v\n--- yaml:\n%s", err, yaml)
	}
	logs := &syncBuffer{}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) (string, bool) { return "", false }
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
	return &testBroker{t: t, URL: publicURL, app: a, dbPath: dbPath, logs: logs}
}

// newBrowser is a browser: a cookie jar, following redirects.
func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// api sends one bot API request and decodes the JSON answer into out (when non-nil).
func (b *testBroker) api(method, path, key string, body any, out any) int {
	b.t.Helper()
	var raw string
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			b.t.Fatal(err)
		}
		raw = string(data)
	}
	status, h, data := b.rawAPI(method, path, key, raw)
	if status >= 400 {
		if ct := h.Get("Content-Type"); ct != "application/problem+json" {
			b.t.Errorf("%s %s: error answered with Content-Type %q, want application/problem+json", method, path, ct)
		}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal([]byte(data), out); err != nil {
			b.t.Fatalf("%s %s: %d %s: %v", method, path, status, data, err)
		}
	}
	return status
}

// rawAPI sends one bot API request with body as it is (bytes a JSON encoder would not write,
// say; "" for none), through http.DefaultClient, and returns the status, headers and body of
// the answer.
func (b *testBroker) rawAPI(method, path, key, body string) (int, http.Header, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.URL+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(data)
}

type problemBody struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

type linkBody struct {
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at"`
}

// link asks the bot API for a link and fails the test if it cannot.
func (b *testBroker) link(bot, key, provider, channel, user string) string {
	b.t.Helper()
	var l linkBody
	if st := b.api("POST", "/bots/"+bot+"/links", key, map[string]any{"provider": provider, "channel": channel, "user": user}, &l); st != http.StatusCreated {
		b.t.Fatalf("create link: status %d", st)
	}
	return l.URL
}

type identityBody struct {
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

func (b *testBroker) identities(bot, key, channel, user string) []identityBody {
	b.t.Helper()
	var out struct {
		Identities []identityBody `json:"identities"`
	}
	q := url.Values{"channel": {channel}, "user": {user}}
	if st := b.api("GET", "/bots/"+bot+"/identities?"+q.Encode(), key, nil, &out); st != http.StatusOK {
		b.t.Fatalf("list identities: status %d", st)
	}
	return out.Identities
}

type credentialsBody struct {
	Provider          string  `json:"provider"`
	TokenType         string  `json:"token_type"`
	AccessToken       string  `json:"access_token"`
	AccessTokenSecret string  `json:"access_token_secret"`
	ExpiresAt         *string `json:"expires_at"`
}

func (b *testBroker) credentials(bot, key string, id int64) credentialsBody {
	b.t.Helper()
	var c credentialsBody
	if st := b.api("GET", fmt.Sprintf("/bots/%s/identities/%d/credentials", bot, id), key, nil, &c); st != http.StatusOK {
		b.t.Fatalf("credentials: status %d", st)
	}
	return c
}

// visit GETs a URL in the browser and returns the final status and body.
func visit(t *testing.T, browser *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := browser.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// snapshot is a digest of every row of every table a link changes: equal snapshots mean the
// store did not change. It reads the file through its own connection, as an operator would.
func (b *testBroker) snapshot(except ...string) string {
	b.t.Helper()
	db, err := sql.Open("sqlite3", "file:"+b.dbPath+"?mode=ro")
	if err != nil {
		b.t.Fatal(err)
	}
	defer db.Close()
	h := sha256.New()
	for _, table := range []string{"links", "link_providers", "flows", "identities", "identity_events", "confirmations"} {
		if slices.Contains(except, table) {
			continue
		}
		rows, err := db.Query("SELECT * FROM " + table + " ORDER BY rowid")
		if table == "link_providers" { // WITHOUT ROWID
			rows, err = db.Query("SELECT * FROM " + table + " ORDER BY link_id, position")
		}
		if err != nil {
			b.t.Fatalf("snapshot %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				b.t.Fatal(err)
			}
			fmt.Fprintf(h, "%s%v\n", table, vals)
			n++
		}
		rows.Close()
		fmt.Fprintf(h, "%s:%d\n", table, n)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// count returns the number of rows in a table.
func (b *testBroker) count(table string) int {
	b.t.Helper()
	db, err := sql.Open("sqlite3", "file:"+b.dbPath+"?mode=ro")
	if err != nil {
		b.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		b.t.Fatal(err)
	}
	return n
}

// rawFiles returns the bytes of the database and its WAL, as an attacker with the disk
// would see them.
func (b *testBroker) rawFiles() []byte {
	b.t.Helper()
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		data, err := os.ReadFile(b.dbPath + suffix)
		if err == nil {
			all = append(all, data...)
		}
	}
	return all
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// newSandbox starts the sandbox OAuth 2 server as a stand-alone fake provider that
// approves as user 1001 without a page.
func newSandbox(t *testing.T, clients ...sandbox.Client) (*sandbox.Server, string) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{
		Clients:     clients,
		Users:       []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}, {ID: "1002", Login: "grace", Name: "Grace Hopper", Email: "grace@example.com"}},
		AutoApprove: "1001",
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv.URL
}

func mustContain(t *testing.T, body, want string) {
	t.Helper()
	if !strings.Contains(body, want) {
		t.Errorf("page does not contain %q:\n%s", want, body)
	}
}

// stopAtCallback is the browser up to the provider's redirect back to the broker: it opens
// the link's page, clicks its first provider's button and returns the callback URL without
// visiting it, so a test can tamper with it or replay it.
func stopAtCallback(t *testing.T, browser *http.Client, linkURL string) string {
	t.Helper()
	return stopAtCallbackFor(t, browser, linkURL, "")
}

// stopAtCallbackFor is stopAtCallback for one provider of the link ("" for the first).
func stopAtCallbackFor(t *testing.T, browser *http.Client, linkURL, provider string) string {
	t.Helper()
	c := *browser
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/callback") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	status, page := visit(t, &c, linkURL)
	if status != http.StatusOK {
		t.Fatalf("the link's page: status %d\n%s", status, page)
	}
	if provider == "" {
		forms := connectForms(page)
		if len(forms) == 0 || forms[0].provider == "" {
			t.Fatalf("no provider to click on the page:\n%s", page)
		}
		provider = forms[0].provider
	}
	resp := submit(t, &c, formFor(t, page, provider))
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || !strings.Contains(loc, "/callback") {
		t.Fatalf("flow did not reach the callback: status %d, Location %q", resp.StatusCode, loc)
	}
	return loc
}

// clock is a test clock that only moves when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
