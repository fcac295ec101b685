package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/server"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestUnknownBotAnswersLikeAWrongKey: on every bot API route, a bot that does not exist
// answers exactly what a wrong key of a real bot gets (status, headers, body), so without a key
// nobody can tell which bot names exist. Nothing reaches the store.
func TestUnknownBotAnswersLikeAWrongKey(t *testing.T) {
	b := testenv.StartLimitedBroker(t, server.Limits{}, "")
	routes := []struct{ method, path, body string }{
		{"POST", "/links", `{"provider":"sandbox","channel":"c","user":"u"}`},
		{"POST", "/links/confirm", `{"channel":"c","user":"u","code":"123456"}`},
		{"GET", "/identities?channel=c&user=u", ""},
		{"GET", "/identities/1/credentials", ""},
		{"DELETE", "/identities/1", ""},
		{"POST", "/require", `{"channel":"c","user":"u","providers":["sandbox"]}`},
		{"GET", "/identities/1/proxy/user", ""},
		{"POST", "/identities/1/proxy/user", `{}`},
	}
	type answer struct {
		status                 int
		contentType, challenge string
		body                   string
	}
	send := func(method, path, key, body string) answer {
		t.Helper()
		status, h, data := b.RawAPI(method, path, key, body)
		return answer{status, h.Get("Content-Type"), h.Get("WWW-Authenticate"), data}
	}
	const wrongKey = "wrong-key-0123456789abcdef"
	before := b.Snapshot()
	for _, r := range routes {
		noKey, wrong := send(r.method, "/bots/alpha"+r.path, "", r.body), send(r.method, "/bots/alpha"+r.path, wrongKey, r.body)
		for _, a := range []answer{noKey, wrong} {
			if a.status != http.StatusUnauthorized || a.challenge == "" {
				t.Fatalf("%s %s on a real bot: %+v, want 401 with a challenge", r.method, r.path, a)
			}
		}
		for _, bot := range []string{"nosuch", "zz", "alpha-"} {
			for _, c := range []struct {
				key  string
				want answer
			}{{"", noKey}, {wrongKey, wrong}, {testenv.KeyA, wrong}} { // testenv.KeyA: a real key, of another bot
				if got := send(r.method, "/bots/"+bot+r.path, c.key, r.body); got != c.want {
					t.Errorf("%s /bots/%s%s with key %.8q: %+v\nwant what bot alpha answers: %+v", r.method, bot, r.path, c.key, got, c.want)
				}
			}
		}
	}
	if b.Snapshot() != before {
		t.Error("probing changed the store")
	}
}

// TestInvalidUTF8UserIsRefused: a chat user id with invalid UTF-8 bytes is refused with 400
// naming the field, instead of being stored with U+FFFD in their place (where the bot's later
// lookups by the original id would miss it). Nothing is stored, on any JSON route.
func TestInvalidUTF8UserIsRefused(t *testing.T) {
	b := testenv.StartLimitedBroker(t, server.Limits{}, "    confirm: code\n")
	for _, c := range []struct{ route, body string }{
		{"/bots/alpha/links", "{\"provider\":\"sandbox\",\"channel\":\"c\",\"user\":\"bob\xff\"}"},
		{"/bots/alpha/links/confirm", "{\"channel\":\"c\",\"user\":\"bob\xff\",\"code\":\"123456\"}"},
		{"/bots/alpha/require", "{\"channel\":\"c\",\"user\":\"bob\xff\",\"providers\":[\"sandbox\"]}"},
	} {
		t.Run(c.route, func(t *testing.T) {
			b.Unchanged(t, http.StatusBadRequest, "field user is not valid UTF-8", func() (int, string) {
				status, _, body := b.RawAPI(http.MethodPost, c.route, testenv.KeyA, c.body)
				if !strings.Contains(body, `"code":"invalid_request"`) {
					t.Errorf("answer: %s", body)
				}
				return status, body
			})
		})
	}
}
