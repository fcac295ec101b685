package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// The MCP endpoint's tests (internal/mcpserver) and the command's agent tests share this
// harness: a broker whose bot alpha has a rides provider (the sandbox with its demo rides API)
// and a twitter provider (the OAuth 1.0a fake, which verifies every signature), bot bravo a
// rides provider of its own, both with the default confirm: code, and an MCP client as a bot's
// runtime opens it, with the SDK's own client over real HTTP.

// AgentBroker is the broker with the providers' APIs, which record every request that
// reaches them.
type AgentBroker struct {
	*Broker
	Sandbox     *sandbox.Server
	Demo        *sandbox.DemoAPIs
	Rides       *Upstream // the sandbox and its demo APIs; ride bookings are POST /api/v4/rides
	Twitter     *Upstream // the Twitter API, forwarding to the fake
	TwitterFake *providertest.Twitter
}

func StartAgentBroker(t testing.TB, serverYAML string) *AgentBroker {
	t.Helper()
	return StartAgentBrokerWith(t, serverYAML, app.Options{})
}

func StartAgentBrokerWith(t testing.TB, serverYAML string, opts app.Options) *AgentBroker {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{
		Users:       []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}},
		AutoApprove: "1001",
	})
	if err != nil {
		t.Fatal(err)
	}
	a := &AgentBroker{Sandbox: sb, TwitterFake: providertest.NewTwitter(t, map[string]string{"ck-alpha": "cs-alpha-secret"})}
	a.Demo = sandbox.NewDemoAPIs(sb)
	a.Rides = NewUpstream(t, a.Demo.ServeHTTP)
	a.Twitter = NewUpstream(t, ForwardTo(a.TwitterFake.URL()))
	bots := fmt.Sprintf(`  alpha:
    api_keys: [%q]
    providers:
      rides: {type: sandbox, key: rides-alpha, secret: rides-alpha-secret-0123, scopes: [%s]}
      twitter:
        type: twitter
        key: ck-alpha
        secret: cs-alpha-secret
        api_base_url: %s
%s  bravo:
    api_keys: [%q]
    providers:
      rides: {type: sandbox, key: rides-bravo, secret: rides-bravo-secret-0123, scopes: [%s]}
`, KeyA, sandbox.ScopeRides, a.Twitter.URL, EndpointsYAML(a.TwitterFake.Endpoints(), "        "), KeyB, sandbox.ScopeRides)
	if !strings.Contains(serverYAML, "outbound_timeout") {
		serverYAML += "  outbound_timeout: 5s\n"
	}
	opts.SandboxURL = a.Rides.URL
	a.Broker = StartBrokerServer(t, serverYAML, bots, opts)
	for _, c := range []sandbox.Client{
		{ID: "rides-alpha", Secret: "rides-alpha-secret-0123", RedirectURIs: []string{a.URL + "/bots/alpha/rides/callback"}},
		{ID: "rides-bravo", Secret: "rides-bravo-secret-0123", RedirectURIs: []string{a.URL + "/bots/bravo/rides/callback"}},
	} {
		if err := sb.AddClient(c); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// APICalls are the requests that reached the providers' APIs (not their OAuth endpoints).
func (a *AgentBroker) APICalls() []SeenRequest {
	var out []SeenRequest
	for _, r := range a.Rides.Requests() {
		if strings.HasPrefix(r.URI, "/api/v4/rides") || strings.HasPrefix(r.URI, "/api/v4/posts") {
			out = append(out, r)
		}
	}
	for _, r := range a.Twitter.Requests() {
		if strings.HasPrefix(r.URI, "/1.1/statuses") || strings.HasPrefix(r.URI, "/2/") {
			out = append(out, r)
		}
	}
	return out
}

// Runtime is what a bot's model runtime sends with every MCP request: the bot's key and the
// chat user's headers. A test may change them between requests of one session.
type Runtime struct {
	mu     sync.Mutex
	header http.Header
}

func (rt *Runtime) Set(k, v string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if v == "" {
		rt.header.Del(k)
	} else {
		rt.header.Set(k, v)
	}
}

func (rt *Runtime) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	rt.mu.Lock()
	for k, vs := range rt.header {
		r.Header[k] = vs
	}
	rt.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// ChatUser is the headers of a runtime acting for (channel, user); "" leaves a header out.
func ChatUser(key, channel, user string) *Runtime {
	rt := &Runtime{header: http.Header{}}
	rt.Set("Authorization", "Bearer "+key)
	rt.Set("X-OAuthBroker-Channel", channel)
	rt.Set("X-OAuthBroker-User", user)
	return rt
}

// ConnectMCP opens an MCP session at the broker's /mcp with the SDK's client.
func ConnectMCP(t testing.TB, base string, rt *Runtime) (*mcp.ClientSession, error) {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "test-runtime", Version: "1"}, nil)
	return client.Connect(t.Context(), &mcp.StreamableClientTransport{
		Endpoint: base + "/mcp", HTTPClient: &http.Client{Transport: rt}, MaxRetries: -1,
	}, nil)
}

func MustConnectMCP(t testing.TB, base string, rt *Runtime) *mcp.ClientSession {
	t.Helper()
	cs, err := ConnectMCP(t, base, rt)
	if err != nil {
		t.Fatalf("connect to /mcp: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// ToolError is a tool's refusal as the model reads it.
type ToolError struct {
	Code              string `json:"code"`
	Message           string `json:"message"`
	NextStep          string `json:"next_step"`
	ConnectURL        string `json:"connect_url"`
	RetryAfterSeconds int    `json:"retry_after_seconds"`
}

// CallTool calls a tool and returns its result's text, which is JSON, and whether it is an
// error; a protocol error fails the test.
func CallTool(t testing.TB, cs *mcp.ClientSession, name string, args any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error %v", name, err)
	}
	if len(res.Content) != 1 {
		t.Fatalf("%s: %d content items, want 1", name, len(res.Content))
	}
	text, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("%s: content %T, want text", name, res.Content[0])
	}
	if structured, _ := json.Marshal(res.StructuredContent); !jsonEqual(structured, []byte(text.Text)) {
		t.Errorf("%s: structured content %s differs from the text %s", name, structured, text.Text)
	}
	return text.Text, res.IsError
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return string(ja) == string(jb)
}

// Tool calls a tool that must succeed and decodes its answer into out.
func Tool(t testing.TB, cs *mcp.ClientSession, name string, args, out any) {
	t.Helper()
	text, isErr := CallTool(t, cs, name, args)
	if isErr {
		t.Fatalf("%s(%v): tool error %s", name, args, text)
	}
	if out != nil {
		DecodeJSON(t, []byte(text), out)
	}
}

// ToolFails calls a tool that must answer a tool error, and returns it.
func ToolFails(t testing.TB, cs *mcp.ClientSession, name string, args any) ToolError {
	t.Helper()
	text, isErr := CallTool(t, cs, name, args)
	var out struct {
		Error ToolError `json:"error"`
	}
	DecodeJSON(t, []byte(text), &out)
	if !isErr || out.Error.Code == "" || out.Error.Message == "" {
		t.Fatalf("%s(%v): %s, want a tool error with a code and a message", name, args, text)
	}
	return out.Error
}

// ConnectAnswer is connect_accounts' answer.
type ConnectAnswer struct {
	Ready      bool       `json:"ready"`
	ConnectURL string     `json:"connect_url"`
	ExpiresAt  *time.Time `json:"expires_at"`
	Missing    []struct {
		Provider string `json:"provider"`
		Reason   string `json:"reason"`
	} `json:"missing"`
	MessageForUser string `json:"message_for_user"`
	NextStep       string `json:"next_step"`
}

// CallAnswer is call_api's answer.
type CallAnswer struct {
	AccountID int64             `json:"account_id"`
	Provider  string            `json:"provider"`
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	BodyBytes int64             `json:"body_bytes"`
	Truncated bool              `json:"body_truncated"`
	Note      string            `json:"note"`
}

// CompleteLink is the user opening the one link the model showed them, in a browser of their
// own, and connecting every provider it lists in that one visit (the fakes approve at once).
// The page then shows one code for them all, which the user types in the chat; the bot's
// runtime rt confirms it with the bot API itself, so the model never sees it. It returns the
// connect page as it ended.
func (a *AgentBroker) CompleteLink(t testing.TB, rt *Runtime, link string) string {
	t.Helper()
	st, page := ConnectAll(t, NewBrowser(t), link)
	code := PageCode(page)
	if st != http.StatusOK || !IsComplete(page) || code == "" {
		t.Fatalf("opening %s and connecting every provider: %d, want the page complete with a code\n%s", link, st, page)
	}
	bot := regexp.MustCompile(`/bots/([^/]+)/connect\?`).FindStringSubmatch(link)
	if bot == nil {
		t.Fatalf("%s is not a connect link", link)
	}
	rt.mu.Lock()
	key := strings.TrimPrefix(rt.header.Get("Authorization"), "Bearer ")
	who := map[string]string{"channel": rt.header.Get("X-OAuthBroker-Channel"), "user": rt.header.Get("X-OAuthBroker-User"), "code": code}
	rt.mu.Unlock()
	var p ProblemBody
	if st := a.API("POST", "/bots/"+bot[1]+"/links/confirm", key, who, &p); st != http.StatusOK {
		t.Fatalf("confirming the page's code: %d %+v", st, p)
	}
	return page
}

// MCPPost sends one JSON-RPC message to /mcp over plain HTTP, as a runtime's transport would.
func MCPPost(t testing.TB, base string, header http.Header, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(body))
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), resp.Header
}

// ListAccountsCall is a JSON-RPC call of list_connected_accounts, for MCPPost.
const ListAccountsCall = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_connected_accounts","arguments":{}}}`
