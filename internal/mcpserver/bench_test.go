package mcpserver_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/oauthbroker/oauthbroker/internal/store"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// BenchmarkCallAPIOverProxy measures what MCP adds to a proxied call: the same GET of the same
// identity to the same fake upstream, once as a bot's direct proxy request and once as an MCP
// call_api tool call in an open session (JSON-RPC, the session's checks, the account lookup,
// the in-process proxy call and the answer's shaping). One caller at a time: the figure is
// latency, not throughput. docs/BENCHMARKS.md has the ratio and the command:
//
//	go test -run '^$' -bench BenchmarkCallAPIOverProxy -benchtime 3s -count 5 ./internal/mcpserver/
func BenchmarkCallAPIOverProxy(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-0" {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":1,"username":"ada","name":"Ada Lovelace"}`)
	}))
	b.Cleanup(upstream.Close)
	dir := b.TempDir()
	// No rate limit: it would stop the benchmark, not measure it.
	a, base := testenv.StartBrokerOn(b, fmt.Sprintf("  proxy:\n    rate_limit: 0\nstorage:\n  dsn: %s\n  keys_file: %s\n", filepath.Join(dir, "broker.db"), filepath.Join(dir, "keys.json")),
		testenv.GlBot(upstream.URL, "")+"        api_base_url: "+upstream.URL+"\n")
	ring := testenv.KeyRing(b, a.Cfg.Storage.KeysFile)
	now := time.Now().UTC()
	in := store.Identity{Bot: "alpha", Channel: "slack", User: "U0", Provider: "gl", ProviderUserID: "1", Name: "Ada",
		Status: store.StatusActive, TokenType: "bearer", ExpiresAt: now.Add(24 * time.Hour)}
	in.AccessToken = testenv.SealAs(b, ring, in, "access_token", "at-0")
	l, err := a.Store.CreateLink(b.Context(), store.Link{TokenHash: []byte("bench"), Bot: "alpha", Providers: []store.LinkProvider{{Provider: "gl"}}, Channel: "slack", User: "U0",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	done, err := a.Store.CompleteLink(b.Context(), store.CompleteLinkParams{LinkID: l.ID, Identity: in, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

	b.Run("direct proxy", func(b *testing.B) {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/bots/alpha/identities/%d/proxy/user", base, done.Identity.ID), nil)
		req.Header.Set("Authorization", "Bearer "+testenv.KeyA)
		for b.Loop() {
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.Run("call_api", func(b *testing.B) {
		rt := testenv.ChatUser(testenv.KeyA, "slack", "U0")
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(b.Context(), &mcp.StreamableClientTransport{
			Endpoint: base + "/mcp", HTTPClient: &http.Client{Transport: rt}, MaxRetries: -1, DisableStandaloneSSE: true}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer cs.Close()
		params := &mcp.CallToolParams{Name: "call_api", Arguments: map[string]any{"provider": "gl", "method": "GET", "path": "/user"}}
		for b.Loop() {
			res, err := cs.CallTool(b.Context(), params)
			if err != nil || res.IsError {
				b.Fatalf("call_api: %v %+v", err, res)
			}
		}
	})
}
