package mcpserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/server"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestMCPBadInput: an unknown tool, arguments of the wrong type or shape, and headers the
// proxy would not pass each get a tool error with its code and a next step, and change
// nothing: the store is as it was and no request reaches a provider.
func TestMCPBadInput(t *testing.T) {
	a := testenv.StartAgentBroker(t, "")
	rt := testenv.ChatUser(testenv.KeyA, "slack", "U1")
	linkViaMCP(t, a, rt, "rides")
	cs := testenv.MustConnectMCP(t, a.URL, rt)
	before, seen := a.Snapshot(), len(a.Rides.Requests())
	call := func(extra map[string]any) map[string]any {
		args := map[string]any{"provider": "rides", "method": "POST", "path": "/rides"}
		for k, v := range extra {
			if v == nil {
				delete(args, k)
			} else {
				args[k] = v
			}
		}
		return args
	}
	for _, c := range []struct {
		name, tool string
		args       any
		code, says string
	}{
		{"unknown tool", "delete_everything", map[string]any{}, "unknown_tool", `there is no tool "delete_everything"`},
		{"providers as a string", "connect_accounts", map[string]any{"providers": "rides"}, "invalid_request", "type"},
		{"no providers", "connect_accounts", map[string]any{}, "invalid_request", "providers"},
		{"an empty provider list", "connect_accounts", map[string]any{"providers": []string{}}, "invalid_request", "minItems"},
		{"a provider twice", "connect_accounts", map[string]any{"providers": []string{"rides", "rides"}}, "invalid_request", "unique"},
		{"scopes of another provider", "connect_accounts", map[string]any{"providers": []string{"rides"}, "scopes": map[string][]string{"twitter": {"x"}}}, "invalid_request", `"twitter", which is not in providers`},
		{"an unknown provider", "connect_accounts", map[string]any{"providers": []string{"nope"}}, "unknown_provider", "nope"},
		{"a bad scope", "connect_accounts", map[string]any{"providers": []string{"rides"}, "scopes": map[string][]string{"rides": {"a b"}}}, "invalid_request", "scope"},
		{"provider as a number", "describe_provider", map[string]any{"provider": 7}, "invalid_request", "type"},
		{"an unknown provider described", "describe_provider", map[string]any{"provider": "nope"}, "unknown_provider", "nope"},
		{"account_id as a string", "call_api", call(map[string]any{"provider": nil, "account_id": "1"}), "invalid_request", "type"},
		{"provider and account_id", "call_api", call(map[string]any{"account_id": 1}), "invalid_request", "exactly one"},
		{"neither provider nor account_id", "call_api", call(map[string]any{"provider": nil}), "invalid_request", "exactly one"},
		{"an unknown method", "call_api", call(map[string]any{"method": "CONNECT"}), "invalid_request", "enum"},
		{"no path", "call_api", call(map[string]any{"path": nil}), "invalid_request", "path"},
		{"a nested query", "call_api", call(map[string]any{"query": map[string]any{"a": map[string]any{"b": 1}}}), "invalid_request", "type"},
		{"the bot's own Authorization", "call_api", call(map[string]any{"headers": map[string]string{"Authorization": "Bearer " + testenv.KeyA}}), "invalid_request", `header "Authorization" does not reach providers`},
		{"a cookie", "call_api", call(map[string]any{"headers": map[string]string{"Cookie": "s=1"}}), "invalid_request", "does not reach providers"},
		{"a header with a line break", "call_api", call(map[string]any{"headers": map[string]string{"Accept": "a\r\nX-Evil: 1"}}), "invalid_request", "control character"},
		{"a body on GET", "call_api", call(map[string]any{"method": "GET", "body": map[string]string{"a": "b"}}), "invalid_request", "GET takes no body"},
		{"a nested form", "call_api", call(map[string]any{"headers": map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "body": map[string]any{"a": []int{1}}}), "invalid_request", `form field "a"`},
		{"an unknown provider called", "call_api", call(map[string]any{"provider": "nope"}), "unknown_provider", "nope"},
		{"arguments that are not an object", "list_connected_accounts", []int{1}, "invalid_request", "JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := testenv.ToolFails(t, cs, c.tool, c.args)
			if e.Code != c.code || !strings.Contains(e.Message, c.says) || e.NextStep == "" {
				t.Errorf("%+v, want code %s saying %q, with a next step", e, c.code, c.says)
			}
		})
	}
	if a.Snapshot() != before {
		t.Error("the store changed")
	}
	if got := a.Rides.Requests(); len(got) != seen {
		t.Errorf("%d requests reached the provider", len(got)-seen)
	}
	for labels, want := range map[[2]string]float64{{"(unknown)", "unknown_tool"}: 1, {"call_api", "invalid_request"}: 11, {"connect_accounts", "unknown_provider"}: 1} {
		if got := testenv.MetricValue(t, a.Broker, "oauthbroker_mcp_tool_calls_total", map[string]string{"bot": "alpha", "tool": labels[0], "outcome": labels[1]}); got != want {
			t.Errorf("oauthbroker_mcp_tool_calls_total{tool=%q,outcome=%q} = %v, want %v", labels[0], labels[1], got, want)
		}
	}
}

// TestMCPSessionWithoutChatUser: a session whose requests carry no chat user, or a malformed
// one, can list the tools, but every tool answers a clear error naming the headers, and
// nothing happens.
func TestMCPSessionWithoutChatUser(t *testing.T) {
	a := testenv.StartAgentBroker(t, "")
	before := a.Snapshot()
	for _, c := range []struct {
		name          string
		channel, user string
		label         string
		code, says    string
	}{
		{"no headers", "", "", "", "chat_user_missing", "X-OAuthBroker-Channel and X-OAuthBroker-User missing"},
		{"no user", "slack", "", "", "chat_user_missing", "X-OAuthBroker-User missing"},
		{"a channel with a space", "sl ack", "U1", "", "invalid_request", "channel must be"},
		{"a user too long", "slack", strings.Repeat("u", 257), "", "invalid_request", "user must be 1-256 bytes"},
		{"a label too long", "slack", "U1", strings.Repeat("l", 65), "invalid_request", "X-OAuthBroker-User-Label"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rt := testenv.ChatUser(testenv.KeyA, c.channel, c.user)
			rt.Set("X-OAuthBroker-User-Label", c.label)
			cs := testenv.MustConnectMCP(t, a.URL, rt)
			tools, err := cs.ListTools(context.Background(), nil)
			if err != nil || len(tools.Tools) != 4 {
				t.Fatalf("tools/list: %v", err)
			}
			for _, tl := range tools.Tools {
				e := testenv.ToolFails(t, cs, tl.Name, map[string]any{"providers": []string{"rides"}})
				if e.Code != c.code || !strings.Contains(e.Message, c.says) || e.NextStep == "" {
					t.Errorf("%s: %+v, want %s saying %q", tl.Name, e, c.code, c.says)
				}
			}
		})
	}
	if a.Snapshot() != before {
		t.Error("the store changed")
	}
}

// TestMCPBodyAndRateLimits: call_api is held to the proxy's own limits, shared with the bot
// API: a body over server.proxy.max_request_body is refused before it is sent, and the
// per-bot rate limit counts a bot's direct proxy calls and its call_api calls together.
func TestMCPBodyAndRateLimits(t *testing.T) {
	a := testenv.StartAgentBroker(t, "  proxy:\n    max_request_body: 1KiB\n    rate_limit: 3\n")
	rt := testenv.ChatUser(testenv.KeyA, "slack", "U1")
	id := linkViaMCP(t, a, rt, "rides")
	cs := testenv.MustConnectMCP(t, a.URL, rt)
	before, seen := a.Snapshot(), len(a.APICalls())

	e := testenv.ToolFails(t, cs, "call_api", map[string]any{"provider": "rides", "method": "POST", "path": "/rides",
		"body": map[string]string{"destination": strings.Repeat("x", 2048)}})
	if e.Code != "payload_too_large" || !strings.Contains(e.Message, "max_request_body") || e.NextStep == "" {
		t.Errorf("a 2 KiB body: %+v", e)
	}
	if len(a.APICalls()) != seen || a.Snapshot() != before {
		t.Error("the refused body reached the provider or changed the store")
	}

	// The refused body counted as one call of the minute; one direct call and one call_api
	// make three, and the fourth is refused whichever way it comes.
	if r := a.Call("POST", testenv.ProxyPath("alpha", id, "rides"), testenv.KeyA, http.Header{"Content-Type": {"application/json"}}, strings.NewReader(`{"destination":"a"}`)); r.Status != http.StatusCreated {
		t.Fatalf("direct proxy call: %d %s", r.Status, r.Body)
	}
	var ok testenv.CallAnswer
	testenv.Tool(t, cs, "call_api", map[string]any{"provider": "rides", "method": "POST", "path": "/rides", "body": map[string]string{"destination": "b"}}, &ok)
	if ok.Status != http.StatusCreated {
		t.Fatalf("call_api: %+v", ok)
	}
	seen = len(a.APICalls())
	e = testenv.ToolFails(t, cs, "call_api", map[string]any{"provider": "rides", "method": "POST", "path": "/rides", "body": map[string]string{"destination": "c"}})
	if e.Code != "rate_limited" || e.RetryAfterSeconds <= 0 || !strings.Contains(e.NextStep, "retry_after_seconds") {
		t.Errorf("over the rate limit: %+v", e)
	}
	if len(a.APICalls()) != seen {
		t.Error("the refused call reached the provider")
	}
}

// TestMCPLinkLimitSharedWithTheBotAPI: connect_accounts makes links, so it counts toward the
// bot's per-minute link limit together with the bot's own link and require calls: over the
// limit it answers rate_limited with retry_after_seconds and stores no link, and a call_api
// that would offer a link says to connect the account without one.
func TestMCPLinkLimitSharedWithTheBotAPI(t *testing.T) {
	a := testenv.StartAgentBrokerWith(t, "", app.Options{Limits: &server.Limits{LinksPerBot: 2}})
	cs := testenv.MustConnectMCP(t, a.URL, testenv.ChatUser(testenv.KeyA, "slack", "U1"))
	var need testenv.ConnectAnswer
	testenv.Tool(t, cs, "connect_accounts", map[string]any{"providers": []string{"rides", "twitter"}}, &need)
	if need.ConnectURL == "" {
		t.Fatalf("connect_accounts within the limit: %+v", need)
	}
	if st := a.API("POST", "/bots/alpha/links", testenv.KeyA, map[string]any{"provider": "rides", "channel": "slack", "user": "U1"}, nil); st != http.StatusCreated {
		t.Fatalf("the bot's own link within the limit: %d", st)
	}
	before := a.Snapshot()
	e := testenv.ToolFails(t, cs, "connect_accounts", map[string]any{"providers": []string{"rides"}})
	if e.Code != "rate_limited" || e.RetryAfterSeconds <= 0 || e.ConnectURL != "" {
		t.Errorf("connect_accounts over the limit: %+v", e)
	}
	e = testenv.ToolFails(t, cs, "call_api", map[string]any{"provider": "rides", "method": "GET", "path": "/rides"})
	if e.Code != "not_linked" || e.ConnectURL != "" || !strings.Contains(e.NextStep, "connect_accounts") {
		t.Errorf("call_api over the link limit: %+v", e)
	}
	if a.Snapshot() != before || len(a.APICalls()) != 0 {
		t.Error("a refused call stored a link or reached a provider")
	}
	// Another bot has its own allowance.
	testenv.Tool(t, testenv.MustConnectMCP(t, a.URL, testenv.ChatUser(testenv.KeyB, "slack", "U1")), "connect_accounts", map[string]any{"providers": []string{"rides"}}, nil)
}

// TestMCPToolList: the tools, each with a description for a model, a JSON schema of its
// arguments and the annotations that say what it may do.
func TestMCPToolList(t *testing.T) {
	a := testenv.StartAgentBroker(t, "")
	cs := testenv.MustConnectMCP(t, a.URL, testenv.ChatUser(testenv.KeyA, "slack", "U1"))
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		readOnly, destructive, openWorld bool
		required                         []string
	}{
		"list_connected_accounts": {readOnly: true},
		"connect_accounts":        {required: []string{"providers"}},
		"call_api":                {destructive: true, openWorld: true, required: []string{"method", "path"}},
		"describe_provider":       {readOnly: true, required: []string{"provider"}},
	}
	if len(res.Tools) != len(want) {
		t.Errorf("%d tools, want %d", len(res.Tools), len(want))
	}
	for _, tl := range res.Tools {
		w, ok := want[tl.Name]
		if !ok {
			t.Errorf("unexpected tool %s", tl.Name)
			continue
		}
		an := tl.Annotations
		if an == nil || an.ReadOnlyHint != w.readOnly || an.DestructiveHint == nil || *an.DestructiveHint != w.destructive ||
			an.OpenWorldHint == nil || *an.OpenWorldHint != w.openWorld || an.Title == "" {
			t.Errorf("%s: annotations %+v", tl.Name, an)
		}
		if len(tl.Description) < 100 {
			t.Errorf("%s: description %q is too short to guide a model", tl.Name, tl.Description)
		}
		schema := tl.InputSchema.(map[string]any)
		if schema["type"] != "object" {
			t.Errorf("%s: schema type %v", tl.Name, schema["type"])
		}
		var required []string
		for _, r := range asSlice(schema["required"]) {
			required = append(required, r.(string))
		}
		if strings.Join(required, ",") != strings.Join(w.required, ",") {
			t.Errorf("%s: required %v, want %v", tl.Name, required, w.required)
		}
		for name, p := range schema["properties"].(map[string]any) {
			if _, ok := p.(map[string]any)["description"]; !ok && name != "method" {
				t.Errorf("%s: argument %s has no description", tl.Name, name)
			}
		}
	}
	init := cs.InitializeResult()
	if caps, _ := json.Marshal(init.Capabilities); string(caps) != `{"tools":{}}` || init.Instructions == "" || init.ServerInfo.Name != "oauthbroker" {
		t.Errorf("initialize: %+v", init)
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
