package mcpserver_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// linkViaMCP links the chat user's account of provider through connect_accounts, as the user
// would after the model showed the link, and returns its account id.
func linkViaMCP(t *testing.T, a *testenv.AgentBroker, rt *testenv.Runtime, provider string) int64 {
	t.Helper()
	cs := testenv.MustConnectMCP(t, a.URL, rt)
	var need testenv.ConnectAnswer
	testenv.Tool(t, cs, "connect_accounts", map[string]any{"providers": []string{provider}}, &need)
	a.CompleteLink(t, rt, need.ConnectURL)
	var list struct {
		Accounts []struct {
			AccountID int64  `json:"account_id"`
			Provider  string `json:"provider"`
		} `json:"accounts"`
	}
	testenv.Tool(t, cs, "list_connected_accounts", map[string]any{"provider": provider}, &list)
	if len(list.Accounts) != 1 {
		t.Fatalf("after linking %s: %+v", provider, list)
	}
	return list.Accounts[0].AccountID
}

// TestMCPRefusesWrongKeys: without a key, with a key of no bot, or with a malformed header,
// /mcp answers 401 unauthorized, and one and the same body to every key it does not know (as
// the bot API answers an unknown bot and a wrong key); no session opens.
func TestMCPRefusesWrongKeys(t *testing.T) {
	a := testenv.StartAgentBroker(t, "")
	before := a.Snapshot()
	var bodies []string
	for _, auth := range []string{"", "Bearer not-a-key-of-any-bot-0123456", "Bearer " + testenv.KeyA + "x", "Basic " + testenv.KeyA, "Bearer " + testenv.KeyA + " " + testenv.KeyA} {
		h := http.Header{"X-Oauthbroker-Channel": {"slack"}, "X-Oauthbroker-User": {"U1"}}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		st, body, rh := testenv.MCPPost(t, a.URL, h, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`)
		if st != http.StatusUnauthorized || rh.Get("Content-Type") != "application/problem+json" || rh.Get("Mcp-Session-Id") != "" ||
			rh.Get("WWW-Authenticate") != `Bearer realm="oauthbroker"` || !strings.Contains(body, `"code":"unauthorized"`) {
			t.Errorf("Authorization %q: %d %q %s", auth, st, rh, body)
		}
		bodies = append(bodies, body)
	}
	// No usable bearer key (none, another scheme, two tokens) is one answer; a key that opens no
	// bot, whatever it looks like, is another.
	if bodies[0] != bodies[3] || bodies[0] != bodies[4] || bodies[1] != bodies[2] {
		t.Errorf("the 401 answers differ:\n%s", strings.Join(bodies, "\n"))
	}
	if _, err := testenv.ConnectMCP(t, a.URL, testenv.ChatUser("not-a-key-of-any-bot-0123456", "slack", "U1")); err == nil {
		t.Error("the SDK's client connected with a wrong key")
	}
	if a.Snapshot() != before {
		t.Error("the store changed")
	}
}

// TestMCPSessionStaysWithItsBotAndUser: a session opened for one bot and chat user refuses
// (403, before any tool runs) a request that carries another chat user, no chat user, or
// another bot's key; the same request with the session's own headers goes through.
func TestMCPSessionStaysWithItsBotAndUser(t *testing.T) {
	a := testenv.StartAgentBroker(t, "")
	linkViaMCP(t, a, testenv.ChatUser(testenv.KeyA, "slack", "U1"), "rides")
	cs := testenv.MustConnectMCP(t, a.URL, testenv.ChatUser(testenv.KeyA, "slack", "U1"))
	testenv.Tool(t, cs, "list_connected_accounts", map[string]any{}, nil)
	before, calls := a.Snapshot(), len(a.APICalls())

	own := http.Header{"Authorization": {"Bearer " + testenv.KeyA}, "X-Oauthbroker-Channel": {"slack"}, "X-Oauthbroker-User": {"U1"},
		"Mcp-Session-Id": {cs.ID()}}
	for name, change := range map[string]func(http.Header){
		"another user":    func(h http.Header) { h.Set("X-Oauthbroker-User", "U2") },
		"another channel": func(h http.Header) { h.Set("X-Oauthbroker-Channel", "teams") },
		"no chat user":    func(h http.Header) { h.Del("X-Oauthbroker-Channel"); h.Del("X-Oauthbroker-User") },
		"bot B's key":     func(h http.Header) { h.Set("Authorization", "Bearer "+testenv.KeyB) },
	} {
		h := own.Clone()
		change(h)
		st, body, _ := testenv.MCPPost(t, a.URL, h, testenv.ListAccountsCall)
		if st != http.StatusForbidden || strings.Contains(body, "rides") {
			t.Errorf("%s: %d %s, want 403 and nothing of the session's accounts", name, st, body)
		}
	}
	if st, body, _ := testenv.MCPPost(t, a.URL, own, testenv.ListAccountsCall); st != http.StatusOK || !strings.Contains(body, `\"provider\":\"rides\"`) {
		t.Errorf("the session's own headers: %d %s", st, body)
	}
	if a.Snapshot() != before || len(a.APICalls()) != calls {
		t.Error("a refused request changed the store or reached a provider")
	}
}

// TestMCPUserSeesOnlyTheirOwnAccounts: a session for chat user U2 (or for U1 of another bot)
// neither sees nor uses U1's accounts: the list is empty, call_api by provider asks U2 to
// link their own, and call_api with U1's account_id is not found, exactly like an id that
// does not exist; nothing reaches the provider and nothing of U1's changes.
func TestMCPUserSeesOnlyTheirOwnAccounts(t *testing.T) {
	a := testenv.StartAgentBroker(t, "")
	u1 := linkViaMCP(t, a, testenv.ChatUser(testenv.KeyA, "slack", "U1"), "rides")

	for name, c := range map[string]struct {
		rt                 *testenv.Runtime
		bot, channel, user string
	}{
		"another user of the bot": {testenv.ChatUser(testenv.KeyA, "slack", "U2"), "alpha", "slack", "U2"},
		"the same user elsewhere": {testenv.ChatUser(testenv.KeyA, "teams", "U1"), "alpha", "teams", "U1"},
		"the same user of bot B":  {testenv.ChatUser(testenv.KeyB, "slack", "U1"), "bravo", "slack", "U1"},
	} {
		t.Run(name, func(t *testing.T) {
			rt := c.rt
			cs := testenv.MustConnectMCP(t, a.URL, rt)
			var list struct {
				Accounts []any `json:"accounts"`
			}
			testenv.Tool(t, cs, "list_connected_accounts", map[string]any{}, &list)
			if len(list.Accounts) != 0 {
				t.Errorf("sees %+v", list.Accounts)
			}
			before, calls := a.Snapshot(), len(a.APICalls())
			for _, id := range []int64{u1, u1 + 1000} {
				e := testenv.ToolFails(t, cs, "call_api", map[string]any{"account_id": id, "method": "POST", "path": "/rides", "body": map[string]string{"destination": "x"}})
				if e.Code != "not_found" || e.Message != fmt.Sprintf("account %d is not one of this user's accounts", id) {
					t.Errorf("account %d: %+v", id, e)
				}
			}
			if a.Snapshot() != before {
				t.Error("the store changed")
			}
			e := testenv.ToolFails(t, cs, "call_api", map[string]any{"provider": "rides", "method": "POST", "path": "/rides", "body": map[string]string{"destination": "x"}})
			if e.Code != "not_linked" || !strings.HasPrefix(e.ConnectURL, a.URL+"/bots/"+c.bot+"/connect?link=") || !strings.Contains(e.NextStep, e.ConnectURL) {
				t.Fatalf("call_api by provider: %+v, want not_linked with a link of this user's own", e)
			}
			if len(a.APICalls()) != calls {
				t.Error("a call reached the provider")
			}
			// The link is for this session's user, and nobody else's.
			st, page := testenv.Visit(t, testenv.NewBrowser(t), e.ConnectURL)
			if who := fmt.Sprintf(`<strong class="user">%s</strong> on %s`, c.user, c.channel); st != http.StatusOK || !strings.Contains(page, who) || testenv.ProviderState(page, "rides") != "not_linked" {
				t.Errorf("the link's page: %d, want %s with rides not linked\n%s", st, who, page)
			}
		})
	}
}

// TestMCPNoArgumentNamesAUser: no tool's schema has a channel or user, and a model that adds
// one anyway is refused by the schema, before anything happens.
func TestMCPNoArgumentNamesAUser(t *testing.T) {
	a := testenv.StartAgentBroker(t, "")
	cs := testenv.MustConnectMCP(t, a.URL, testenv.ChatUser(testenv.KeyA, "slack", "U1"))
	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := a.Snapshot()
	for _, tl := range tools.Tools {
		schema := tl.InputSchema.(map[string]any)
		for prop := range schema["properties"].(map[string]any) {
			if strings.Contains(prop, "channel") || strings.Contains(prop, "user") {
				t.Errorf("%s takes %q", tl.Name, prop)
			}
		}
		if schema["additionalProperties"] != false {
			t.Errorf("%s accepts arguments its schema does not name", tl.Name)
		}
		for _, extra := range []map[string]any{{"channel": "slack", "user": "U2"}, {"user_id": "U2"}, {"X-OAuthBroker-User": "U2"}} {
			args := map[string]any{"providers": []string{"rides"}, "provider": "rides", "method": "GET", "path": "/x"}
			switch tl.Name {
			case "list_connected_accounts":
				args = map[string]any{}
			case "connect_accounts":
				args = map[string]any{"providers": []string{"rides"}}
			case "describe_provider":
				args = map[string]any{"provider": "rides"}
			case "call_api":
				args = map[string]any{"provider": "rides", "method": "GET", "path": "/x"}
			}
			for k, v := range extra {
				args[k] = v
			}
			if e := testenv.ToolFails(t, cs, tl.Name, args); e.Code != "invalid_request" || !strings.Contains(e.Message, "unexpected additional properties") {
				t.Errorf("%s with %v: %+v", tl.Name, extra, e)
			}
		}
	}
	if a.Snapshot() != before {
		t.Error("the store changed")
	}
}

// TestMCPProxyEscapesRefused: a path through call_api that could leave the provider's API
// base is refused by the proxy's own rules, with its code, before any request goes out.
func TestMCPProxyEscapesRefused(t *testing.T) {
	a := testenv.StartAgentBroker(t, "")
	rt := testenv.ChatUser(testenv.KeyA, "slack", "U1")
	linkViaMCP(t, a, rt, "rides")
	cs := testenv.MustConnectMCP(t, a.URL, rt)
	before, seen := a.Snapshot(), len(a.Rides.Requests())
	for _, path := range []string{
		"../../credentials", "/../user", "/%2e%2e/%2e%2e/admin", "//evil.example/x", "http://evil.example/x",
		"@evil.example/x", "/a%2Fb", `/a\b`, "/a%00b", "/a%zz", "/rides?destination=x", "/rides#x", "/a%0d%0aHost:%20evil",
	} {
		e := testenv.ToolFails(t, cs, "call_api", map[string]any{"provider": "rides", "method": "GET", "path": path})
		if e.Code != "proxy_path_not_allowed" || e.NextStep == "" {
			t.Errorf("path %q: %+v", path, e)
		}
	}
	if got := a.Rides.Requests(); len(got) != seen {
		t.Errorf("%d requests reached the provider: %+v", len(got)-seen, got[seen:])
	}
	if a.Snapshot() != before {
		t.Error("the store changed")
	}
}
