package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/server"
)

// TestUnknownBotAnswersLikeAWrongKey: on every bot API route, a bot that does not exist
// answers exactly what a wrong key of a real bot gets (status, headers, body), so without a key
// nobody can tell which bot names exist. Nothing reaches the store.
func TestUnknownBotAnswersLikeAWrongKey(t *testing.T) {
	b := startLimitedBroker(t, server.Limits{}, "")
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
		req, _ := http.NewRequest(method, b.URL+"/api/v1"+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("WWW-Authenticate"), string(data)}
	}
	const wrongKey = "wrong-key-0123456789abcdef"
	before := b.snapshot()
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
			}{{"", noKey}, {wrongKey, wrong}, {keyA, wrong}} { // keyA: a real key, of another bot
				if got := send(r.method, "/bots/"+bot+r.path, c.key, r.body); got != c.want {
					t.Errorf("%s /bots/%s%s with key %.8q: %+v\nwant what bot alpha answers: %+v", r.method, bot, r.path, c.key, got, c.want)
				}
			}
		}
	}
	if b.snapshot() != before {
		t.Error("probing changed the store")
	}
}
