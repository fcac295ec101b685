package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// invalidUTF8Bodies has, for every JSON route, a body with invalid UTF-8 (a stray 0xff byte,
// a truncated sequence, an overlong encoding, an encoded surrogate, an escaped lone surrogate)
// in each of its fields, and the field the answer must name. A \xHH in a body is that raw
// byte (rawBytes); a \uHHHH is JSON's own escape. They are FuzzJSONBodies' seeds too.
var invalidUTF8Bodies = []struct{ route, body, field string }{
	{"/links", `{"provider":"gh\xff","channel":"c","user":"u"}`, "provider"},
	{"/links", `{"provider":"gh","channel":"c\xc3","user":"u"}`, "channel"},
	{"/links", `{"provider":"gh","channel":"c","user":"bob\xff"}`, "user"},
	{"/links", `{"provider":"gh","channel":"c","user":"\ud800bob"}`, "user"},
	{"/links", `{"provider":"gh","channel":"c","user":"u","scopes":["repo","re\xc0\xafpo"]}`, "scopes[1]"},
	{"/links", `{"provider":"gh","channel":"c","user":"u","redirect_url":"https://bot.example/\xed\xa0\x80"}`, "redirect_url"},
	{"/links", `{"provider":"gh","channel":"c","user":"u","us\xffer":"x"}`, "a field name"},
	{"/links", `{"provider":"gh","channel":"c","user":"u","user_label":"Ada \xc0\xaf"}`, "user_label"},
	{"/links", `{"provider":"gh","channel":"c","user":"u","user_label":"\udfffAda"}`, "user_label"},
	{"/links", `{"providers":["gh\xff"],"channel":"c","user":"u"}`, "providers[0]"},
	{"/links", `{"providers":["gh",{"provider":"g\xe2\x82h"}],"channel":"c","user":"u"}`, "providers[1].provider"},
	{"/links", `{"providers":[{"provider":"gh","scopes":["repo","\ud800"]}],"channel":"c","user":"u"}`, "providers[0].scopes[1]"},
	{"/links", `{"providers":[{"provider":"gh","sco\xffpes":[]}],"channel":"c","user":"u"}`, "a field name in providers[0]"},
	{"/links/confirm", `{"channel":"c\xff","user":"u","code":"123456"}`, "channel"},
	{"/links/confirm", `{"channel":"c","user":"\xe2\x82","code":"123456"}`, "user"},
	{"/links/confirm", `{"channel":"c","user":"u","code":"12345\xff"}`, "code"},
	{"/require", `{"channel":"\xff","user":"u","providers":["gh"]}`, "channel"},
	{"/require", `{"channel":"c","user":"u\xff","providers":["gh"]}`, "user"},
	{"/require", `{"channel":"c","user":"u","user_label":"Ada\xed\xa0\x80","providers":["gh"]}`, "user_label"},
	{"/require", `{"channel":"c","user":"u","providers":["gh","\xffgh"]}`, "providers[1]"},
	{"/require", `{"channel":"c","user":"u","providers":[{"provider":"g\xffh"}]}`, "providers[0].provider"},
	{"/require", `{"channel":"c","user":"u","providers":[{"provider":"gh","scopes":["a","\udc00"]}]}`, "providers[0].scopes[1]"},
	{"/require", `{"channel":"c","user":"u","providers":[{"provider":"gh","sc\xffopes":[]}]}`, "a field name in providers[0]"},
}

var hexByte = regexp.MustCompile(`\\x([0-9a-f]{2})`)

// rawBytes turns each \xHH of a table body into the byte it names.
func rawBytes(body string) string {
	return hexByte.ReplaceAllStringFunc(body, func(m string) string {
		b, _ := strconv.ParseUint(m[2:], 16, 8)
		return string([]byte{byte(b)})
	})
}

func post(h http.Handler, route, body string) (*httptest.ResponseRecorder, problem) {
	req := httptest.NewRequest(http.MethodPost, "/bots/a"+route, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+fuzzKey)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var p problem
	_ = json.Unmarshal(rec.Body.Bytes(), &p)
	return rec, p
}

// TestInvalidUTF8IsRefusedNamingTheField: invalid UTF-8 anywhere in a JSON body is 400
// invalid_request naming the field, on every JSON route, instead of being stored as U+FFFD.
// U+FFFD itself, written out or escaped, is a character like any other.
func TestInvalidUTF8IsRefusedNamingTheField(t *testing.T) {
	h := fuzzAPIOf(t)
	for _, c := range invalidUTF8Bodies {
		body := rawBytes(c.body)
		if strings.Contains(c.body, `\x`) && utf8.ValidString(body) {
			t.Fatalf("%q is valid UTF-8: the case proves nothing", c.body)
		}
		rec, p := post(h, c.route, body)
		if rec.Code != http.StatusBadRequest || p.Code != "invalid_request" || !strings.Contains(p.Detail, "field "+c.field+" is not valid UTF-8") {
			t.Errorf("%s %q: %d %+v, want 400 invalid_request naming %s", c.route, c.body, rec.Code, p, c.field)
		}
	}
	for _, body := range []string{`{"provider":"gh","channel":"c","user":"a\ufffdb"}`, "{\"provider\":\"gh\",\"channel\":\"c\",\"user\":\"a\uFFFDb\"}",
		`{"provider":"gh","channel":"c","user":"\ud83d\ude00"}`,
		`{"providers":["gh"],"channel":"c","user":"u","user_label":"Zoë \ud83d\ude00 \ufffd"}`,
		`{"providers":[{"provider":"gh","scopes":["re\u0070o"]}],"channel":"c","user":"u"}`} {
		if rec, p := post(h, "/links", body); rec.Code != http.StatusCreated {
			t.Errorf("%q: %d %+v, want 201", body, rec.Code, p)
		}
	}
}

// FuzzJSONBodies: whatever the body of a JSON route, the answer is never a 5xx, and a body
// that is not valid UTF-8 is always 400 invalid_request. Seeds: a body per field per route
// with invalid UTF-8 in that field (invalidUTF8Bodies).
// Run: go test -fuzz=FuzzJSONBodies ./internal/httpapi/
func FuzzJSONBodies(f *testing.F) {
	for _, c := range invalidUTF8Bodies {
		f.Add(c.route, []byte(rawBytes(c.body)))
	}
	h := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, route string, body []byte) {
		switch route {
		case "/links", "/links/confirm", "/require":
		default:
			route = "/links"
		}
		rec, p := post(h, route, string(body))
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %+v", route, body, rec.Code, p)
		}
		if !utf8.Valid(body) && (rec.Code != http.StatusBadRequest || p.Code != "invalid_request") {
			t.Fatalf("%s %q is not valid UTF-8, yet answered %d %+v", route, body, rec.Code, p)
		}
	})
}
