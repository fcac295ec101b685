package mcpserver

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/oauthbroker/oauthbroker/internal/proxy"
)

// tools are the tool definitions, without a broker: their schemas and texts only.
func tools() []tool {
	var s Server
	return s.toolList()
}

// TestSchemas: every tool's schema resolves, is an object that refuses arguments it does not
// name, and names no chat user; call_api's methods are the proxy's.
func TestSchemas(t *testing.T) {
	for _, tl := range tools() {
		var s jsonschema.Schema
		if err := json.Unmarshal([]byte(tl.schema), &s); err != nil {
			t.Fatalf("%s: %v", tl.name, err)
		}
		if _, err := s.Resolve(nil); err != nil {
			t.Errorf("%s: %v", tl.name, err)
		}
		if s.Type != "object" || s.AdditionalProperties == nil || s.AdditionalProperties.Not == nil {
			t.Errorf("%s: type %q, additionalProperties %v; want an object that refuses other arguments", tl.name, s.Type, s.AdditionalProperties)
		}
		for name := range s.Properties {
			if strings.Contains(name, "user") || strings.Contains(name, "channel") {
				t.Errorf("%s takes %s", tl.name, name)
			}
		}
		if tl.name == "call_api" {
			var methods []string
			for _, m := range s.Properties["method"].Enum {
				methods = append(methods, m.(string))
			}
			if !slices.Equal(methods, proxy.Methods()) {
				t.Errorf("call_api's methods %v, the proxy's %v", methods, proxy.Methods())
			}
		}
	}
}

// TestParseCall: call_api's arguments as the request the proxy gets, and the arguments
// refused before any account is looked up.
func TestParseCall(t *testing.T) {
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for _, c := range []struct {
		name                     string
		in                       callArgs
		path, query, ctype, body string
		refused                  string // part of the error; "" when accepted
	}{
		{name: "JSON body", in: callArgs{Provider: "p", Method: "POST", Path: "/rides", Body: json.RawMessage(`{ "a" : [1, 2] }`)},
			path: "rides", ctype: "application/json", body: `{"a":[1,2]}`},
		{name: "text body", in: callArgs{Provider: "p", Method: "PUT", Path: "notes/1", Body: json.RawMessage(`"hello\nworld"`)},
			path: "notes/1", ctype: "text/plain; charset=utf-8", body: "hello\nworld"},
		{name: "form body", in: callArgs{Provider: "p", Method: "POST", Path: "/1.1/statuses/update.json", Headers: form,
			Body: json.RawMessage(`{"status":"100% on time & more","trim_user":true,"n":1.5}`)},
			path: "1.1/statuses/update.json", ctype: "application/x-www-form-urlencoded", body: "n=1.5&status=100%25+on+time+%26+more&trim_user=true"},
		{name: "string body with its own type", in: callArgs{Provider: "p", Method: "POST", Path: "/x", Headers: form, Body: json.RawMessage(`"a=1"`)},
			path: "x", ctype: "application/x-www-form-urlencoded", body: "a=1"},
		{name: "null body", in: callArgs{Provider: "p", Method: "DELETE", Path: "/x/1", Body: json.RawMessage(`null`)}, path: "x/1"},
		{name: "query: type", in: callArgs{AccountID: 3, Method: "GET", Path: "/search", Query: map[string]json.RawMessage{
			"q": json.RawMessage(`"a&b c"`), "n": json.RawMessage(`10`), "all": json.RawMessage(`false`), "id": json.RawMessage(`["1", 2]`)}},
			path: "search", query: "all=false&id=1&id=2&n=10&q=a%26b+c"},
		{name: "an allowed header in any case", in: callArgs{Provider: "p", Method: "GET", Path: "/u", Headers: map[string]string{"accept": "application/json"}}, path: "u"},
		{name: "both provider and account", in: callArgs{Provider: "p", AccountID: 1, Method: "GET", Path: "/"}, refused: "exactly one"},
		{name: "a query in the path", in: callArgs{Provider: "p", Method: "GET", Path: "/u?x=1"}, refused: "? or #"},
		{name: "a fragment in the path", in: callArgs{Provider: "p", Method: "GET", Path: "/u#x"}, refused: "? or #"},
		{name: "Authorization", in: callArgs{Provider: "p", Method: "GET", Path: "/u", Headers: map[string]string{"authorization": "x"}}, refused: "does not reach providers"},
		{name: "X-Forwarded-Host", in: callArgs{Provider: "p", Method: "GET", Path: "/u", Headers: map[string]string{"X-Forwarded-Host": "evil"}}, refused: "does not reach providers"},
		{name: "a header line break", in: callArgs{Provider: "p", Method: "GET", Path: "/u", Headers: map[string]string{"Accept": "a\nb"}}, refused: "control character"},
		{name: "a body on HEAD", in: callArgs{Provider: "p", Method: "HEAD", Path: "/u", Body: json.RawMessage(`"x"`)}, refused: "takes no body"},
		{name: "a nested form", in: callArgs{Provider: "p", Method: "POST", Path: "/u", Headers: form, Body: json.RawMessage(`{"a":{"b":1}}`)}, refused: `form field "a"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := parseCall(c.in)
			if c.refused != "" {
				if err == nil || !strings.Contains(err.Error(), c.refused) {
					t.Fatalf("error %v, want one saying %q", err, c.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.path != c.path || out.rawQuery != c.query || out.header.Get("Content-Type") != c.ctype || string(out.body) != c.body {
				t.Errorf("path %q query %q type %q body %q", out.path, out.rawQuery, out.header.Get("Content-Type"), out.body)
			}
			if c.in.Headers["accept"] != "" && out.header.Get("Accept") != c.in.Headers["accept"] {
				t.Errorf("header %v", out.header)
			}
		})
	}
}

// TestReadCaller: the chat user headers by the bot API's rules, and what a session without
// them is told.
func TestReadCaller(t *testing.T) {
	for _, c := range []struct {
		name   string
		header http.Header
		code   string // of the problem; "" when usable
	}{
		{"channel and user", http.Header{"X-Oauthbroker-Channel": {"slack"}, "X-Oauthbroker-User": {"U1 ✓"}}, ""},
		{"with a label", http.Header{"X-Oauthbroker-Channel": {"slack"}, "X-Oauthbroker-User": {"U1"}, "X-Oauthbroker-User-Label": {"Ada (Slack)"}}, ""},
		{"none", http.Header{}, CodeChatUserMissing},
		{"empty values", http.Header{"X-Oauthbroker-Channel": {""}, "X-Oauthbroker-User": {""}}, "invalid_request"},
		{"a user twice", http.Header{"X-Oauthbroker-Channel": {"slack"}, "X-Oauthbroker-User": {"U1", "U2"}}, "invalid_request"},
		{"a control character", http.Header{"X-Oauthbroker-Channel": {"slack"}, "X-Oauthbroker-User": {"U\x01"}}, "invalid_request"},
		{"invalid UTF-8", http.Header{"X-Oauthbroker-Channel": {"slack"}, "X-Oauthbroker-User": {"U\xff"}}, "invalid_request"},
		{"a label with a line break", http.Header{"X-Oauthbroker-Channel": {"slack"}, "X-Oauthbroker-User": {"U1"}, "X-Oauthbroker-User-Label": {"a\u2028b"}}, "invalid_request"},
	} {
		c0 := readCaller("b", "k", c.header)
		got := ""
		if c0.problem != nil {
			got = c0.problem.Code
		}
		if got != c.code {
			t.Errorf("%s: problem %+v, want code %q", c.name, c0.problem, c.code)
		}
	}
	// The binding tells every bot and chat user apart, however their bytes run together.
	seen := map[string]string{}
	for _, p := range [][3]string{{"b", "c", "u"}, {"b", "cu", ""}, {"bc", "", "u"}, {"b", "c", "v"}, {"a", "c", "u"}} {
		k := (&caller{bot: p[0], channel: p[1], user: p[2]}).binding()
		if prev, dup := seen[k]; dup {
			t.Errorf("%v binds like %s", p, prev)
		}
		seen[k] = strings.Join(p[:], "/")
	}
}

func TestTrimPartialRune(t *testing.T) {
	for in, want := range map[string]string{"abc": "abc", "ab\xc3": "ab", "a\xe2\x9c": "a", "a✓": "a✓", "": "", "\xff": "\xff"} {
		if got := string(trimPartialRune([]byte(in))); got != want {
			t.Errorf("trimPartialRune(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSchemaReason: a schema refusal names the argument it is about.
func TestSchemaReason(t *testing.T) {
	var call tool
	for _, tl := range tools() {
		if tl.name == "call_api" {
			call = tl
		}
	}
	var s jsonschema.Schema
	if err := json.Unmarshal([]byte(call.schema), &s); err != nil {
		t.Fatal(err)
	}
	resolved, err := s.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	for args, want := range map[string]string{
		`{"method":"FETCH","path":"/x"}`:                     "method: enum: FETCH does not equal any of",
		`{"method":"GET","path":""}`:                         "path: minLength",
		`{"method":"GET","path":"/x","account_id":"1"}`:      "account_id: type",
		`{"method":"GET","path":"/x","query":{"a":{"b":1}}}`: "query: type",
		`{"path":"/x"}`: "required",
	} {
		var v any
		if err := json.Unmarshal([]byte(args), &v); err != nil {
			t.Fatal(err)
		}
		err := resolved.Validate(v)
		if err == nil || !strings.HasPrefix(schemaReason(err), want) {
			t.Errorf("%s: %q, want it to start with %q", args, schemaReason(err), want)
		}
	}
}
