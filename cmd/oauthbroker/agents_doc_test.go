package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestAgentsDocAnswers: every answer docs/AGENTS.md shows (a fenced json block right after an
// `<!-- answer: NAME -->` line) is one this test gets from the real broker, key for key and
// type for type, and every answer the test gets is documented; so the document cannot show
// an answer the endpoint does not give.
func TestAgentsDocAnswers(t *testing.T) {
	produced := agentAnswers(t)
	documented := documentedAnswers(t, filepath.Join(repoRoot, "docs", "AGENTS.md"))
	for name, got := range produced {
		doc, ok := documented[name]
		if !ok {
			t.Errorf("docs/AGENTS.md does not show the answer %q:\n%s", name, got)
			continue
		}
		if a, b := shapeOf(t, doc), shapeOf(t, got); a != b {
			t.Errorf("answer %q: docs/AGENTS.md shows\n  %s\nthe broker answers\n  %s\n%s", name, a, b, got)
		}
	}
	for name := range documented {
		if _, ok := produced[name]; !ok {
			t.Errorf("docs/AGENTS.md shows an answer %q that no test produces", name)
		}
	}
}

// agentAnswers runs the documented scenario and returns each answer by the name the document
// gives it.
func agentAnswers(t *testing.T) map[string]string {
	a := testenv.StartAgentBroker(t, "  proxy:\n    rate_limit: 3\n")
	out := map[string]string{}
	get := func(name string, cs *mcp.ClientSession, tool string, args any, wantErr bool) {
		t.Helper()
		text, isErr := testenv.CallTool(t, cs, tool, args)
		if isErr != wantErr {
			t.Fatalf("%s: %s", name, text)
		}
		out[name] = text
	}
	rt := testenv.ChatUser(testenv.KeyA, "slack", "U1")
	u1 := testenv.MustConnectMCP(t, a.URL, rt)
	get("connect_accounts.not_ready", u1, "connect_accounts", map[string]any{"providers": []string{"rides", "twitter"}}, false)
	var need testenv.ConnectAnswer
	testenv.DecodeJSON(t, []byte(out["connect_accounts.not_ready"]), &need)
	a.CompleteLink(t, rt, need.ConnectURL)
	get("connect_accounts.ready", u1, "connect_accounts", map[string]any{"providers": []string{"rides", "twitter"}}, false)
	get("list_connected_accounts", u1, "list_connected_accounts", map[string]any{}, false)
	get("describe_provider", u1, "describe_provider", map[string]any{"provider": "twitter"}, false)
	get("call_api", u1, "call_api", map[string]any{"provider": "rides", "method": "POST", "path": "/rides", "body": map[string]string{"destination": "the station"}}, false)
	a.Rides.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "[%s{}]", strings.Repeat(`{"id":"ride_1","destination":"the station"},`, 2000))
	})
	get("call_api.cut", u1, "call_api", map[string]any{"provider": "rides", "method": "GET", "path": "/rides"}, false)
	get("error.proxy_path_not_allowed", u1, "call_api", map[string]any{"provider": "rides", "method": "GET", "path": "../../credentials"}, true)
	get("error.invalid_request", u1, "call_api", map[string]any{"provider": "rides", "method": "FETCH", "path": "/rides"}, true)
	get("error.unknown_tool", u1, "book_ride", map[string]any{}, true)
	get("call_api.provider_error", u1, "call_api", map[string]any{"provider": "twitter", "method": "GET", "path": "/1.1/nothing/here.json"}, false)
	get("error.rate_limited", u1, "call_api", map[string]any{"provider": "rides", "method": "GET", "path": "/rides"}, true)

	u2 := testenv.MustConnectMCP(t, a.URL, testenv.ChatUser(testenv.KeyA, "slack", "U2"))
	get("error.not_linked", u2, "call_api", map[string]any{"provider": "rides", "method": "GET", "path": "/rides"}, true)
	nobody := testenv.MustConnectMCP(t, a.URL, testenv.ChatUser(testenv.KeyA, "", ""))
	get("error.chat_user_missing", nobody, "list_connected_accounts", map[string]any{}, true)
	_, body, _ := testenv.MCPPost(t, a.URL, http.Header{"Authorization": {"Bearer not-a-key-of-any-bot-0123456"}}, testenv.ListAccountsCall)
	out["http.unauthorized"] = body
	return out
}

var answerBlock = regexp.MustCompile("(?s)<!-- answer: ([a-z_.]+) -->\\s*```json\\n(.*?)```")

func documentedAnswers(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range answerBlock.FindAllStringSubmatch(readFile(t, path), -1) {
		if _, dup := out[m[1]]; dup {
			t.Errorf("%s shows the answer %q twice", path, m[1])
		}
		out[m[1]] = m[2]
	}
	if len(out) < 10 {
		t.Fatalf("%s shows %d answers; was it read?", path, len(out))
	}
	return out
}

// shapeOf describes a JSON answer by its keys and the types of their values, recursively. What
// a provider answers (call_api's headers and body) is data, not shape.
func shapeOf(t *testing.T, text string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("not JSON (%v):\n%s", err, text)
	}
	return shape(v, "")
}

func shape(v any, key string) string {
	if key == "headers" || key == "body" {
		return "any"
	}
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + shape(v[k], k)
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		kinds := []string{}
		for _, e := range v {
			if s := shape(e, ""); !slices.Contains(kinds, s) {
				kinds = append(kinds, s)
			}
		}
		return "[" + strings.Join(kinds, "|") + "]"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}
