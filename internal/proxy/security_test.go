package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/httpapi"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

const botKey = "key-alpha-0123456789abcdef"

// pathEnv is the bot API of bot alpha, whose Spotify provider's API base is a local upstream
// that records every request it gets, with one linked identity, on a SQLite store.
type pathEnv struct {
	addr     string // the bot API's host:port; requests are written raw, exactly as given
	st       store.Store
	identity store.Identity

	mu   sync.Mutex
	seen []string // request URIs the upstream got
}

func newPathEnv(t *testing.T) *pathEnv {
	t.Helper()
	env := &pathEnv{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.mu.Lock()
		env.seen = append(env.seen, r.RequestURI)
		env.mu.Unlock()
		fmt.Fprint(w, `{"id":"me"}`)
	}))
	t.Cleanup(up.Close)
	cfg := &config.Config{
		Server: config.Server{PublicURL: "https://broker.test", OutboundTimeout: 2 * time.Second, LinkTTL: 10 * time.Minute, MaxLinkTTL: time.Hour,
			Proxy: config.Proxy{MaxRequestBody: 1 << 20, MaxResponseBody: 1 << 20}},
		Bots: []*config.Bot{{Name: "alpha", APIKeys: []string{botKey}, Confirm: config.ConfirmNone,
			Providers: []*config.Provider{{Name: "sp", Type: "spotify", Key: "k", Secret: "s", APIBaseURL: up.URL + "/v1"}}}},
	}
	reg, err := providers.NewRegistry(t.Context(), cfg, providers.Options{HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	env.st = st
	keys, _, err := seal.GenerateKeys(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id := store.Identity{Bot: "alpha", Channel: "slack", User: "U1", Provider: "sp", ProviderUserID: "42", Status: store.StatusActive, TokenType: "bearer"}
	if id.AccessToken, err = keys.Ring.Seal([]byte("at-alpha"), seal.TokenAAD("alpha", "slack", "U1", "sp", "42", "access_token")); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	l, err := st.CreateLink(t.Context(), store.Link{TokenHash: []byte("link"), Bot: "alpha", Providers: []store.LinkProvider{{Provider: "sp"}},
		Channel: "slack", User: "U1", CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	done, err := st.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Identity: id, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	env.identity = done.Identity
	// The bot API's router itself, not behind a ServeMux, which would clean the paths (and
	// redirect) before the proxy sees them.
	api := httptest.NewServer(httpapi.New(broker.New(cfg, reg, st, keys, broker.Options{}), httpapi.Options{}))
	t.Cleanup(api.Close)
	env.addr = strings.TrimPrefix(api.URL, "http://")
	return env
}

// get sends GET proxyPath + rest with the bot's key as raw bytes, so no client library
// cleans or re-encodes the path on the way, and returns the status and body.
func (env *pathEnv) get(t *testing.T, rest string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", env.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	target := fmt.Sprintf("/bots/alpha/identities/%d/proxy/%s", env.identity.ID, rest)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", target, env.addr, botKey)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (env *pathEnv) upstream() []string {
	env.mu.Lock()
	defer env.mu.Unlock()
	return append([]string(nil), env.seen...)
}

// TestProxyRefusesEscapingPathsBeforeAnyRequest: every path the proxy's check refuses —
// dot segments plain, encoded or before ';', empty segments that make "//other.host",
// absolute URLs and userinfo in the first segment, raw and encoded backslashes, encoded
// slashes, control characters, an overlong path — answers
// 400 proxy_path_not_allowed through the real bot API router, and the provider's API gets no
// request at all and the identity's usage does not count it. A plain path then goes through,
// so the upstream does count what reaches it. (Malformed percent-encoding never reaches the
// handler: net/http answers 400 for it itself; TestCheckPath covers the check's rule.)
func TestProxyRefusesEscapingPathsBeforeAnyRequest(t *testing.T) {
	env := newPathEnv(t)
	for _, rest := range []string{
		"..", "../admin", "me/../../admin", "me/..", "./me", "%2e%2e/admin", "%2E%2E/%2e%2e/admin", ".%2e/admin", "me/%2e%2e/%2e%2e",
		"..;x/admin", "me/..;/admin", "%2e%2e;/admin",
		"/other.host/x", "//other.host/x", "me//x", "me/%2F/other.host",
		"http://other.host/x", "https://other.host/", "http:%2F%2Fother.host/x", "http:", "@other.host/x", "%40other.host",
		"user:pw@other.host/x", "user@other.host",
		`a\b`, `\\other.host\x`, "a%5cb", "%5C%5Cother.host/x", "a%2Fb", "..%2F..%2Fadmin", "%2F%2Fother.host",
		"a%00b", "me%0d%0aHost:%20other.host", "me%09", "a%7f",
		strings.Repeat("a/", 2049),
	} {
		status, body := env.get(t, rest)
		if status != http.StatusBadRequest || !strings.Contains(body, `"code":"proxy_path_not_allowed"`) {
			t.Errorf("proxy/%.60s: %d %.200s, want 400 proxy_path_not_allowed", rest, status, body)
		}
	}
	if seen := env.upstream(); len(seen) != 0 {
		t.Fatalf("refused paths reached the provider's API %d times: %q", len(seen), seen)
	}
	if u, err := env.st.ProxyUsage(t.Context(), "alpha", env.identity.ID); err != nil || u != (store.ProxyUsage{}) {
		t.Fatalf("refused calls counted as uses: %+v, %v", u, err)
	}

	if status, body := env.get(t, "me/player/..."); status != http.StatusOK || body != `{"id":"me"}` {
		t.Fatalf("proxy/me/player/...: %d %s", status, body)
	}
	if seen := env.upstream(); len(seen) != 1 || seen[0] != "/v1/me/player/..." {
		t.Fatalf("the provider's API got %q, want the one plain call at /v1/me/player/...", seen)
	}
}
