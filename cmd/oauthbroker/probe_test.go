package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/app"
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
		status, h, data := b.rawAPI(method, path, key, body)
		return answer{status, h.Get("Content-Type"), h.Get("WWW-Authenticate"), data}
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

// TestMetricsListenerAndToken: with server.metrics_listen, /metrics is served there and not
// on server.listen; with server.metrics_token, it answers only with that bearer token. Without
// either, serve warns at start.
func TestMetricsListenerAndToken(t *testing.T) {
	const token = "metrics-token-0123456789"
	get := func(u, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	serve := func(t *testing.T, serverYAML string) (stop func() string) {
		t.Helper()
		dir, addr := t.TempDir(), freeAddr(t)
		cfg := filepath.Join(dir, "providers.yaml")
		writeFile(t, cfg, fmt.Sprintf("server:\n  public_url: http://%s\n  listen: %s\n%sstorage:\n  dsn: %s\nbots:\n  alpha:\n    api_keys: [%q]\n    providers:\n      gh: {type: github, key: k, secret: s}\n",
			addr, addr, serverYAML, filepath.Join(dir, "b.db"), keyA))
		ctx, cancel := context.WithCancel(context.Background())
		stderr := &syncBuffer{}
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"serve", "-config", cfg}, func(string) (string, bool) { return "", false }, io.Discard, stderr)
		}()
		waitHealthy(t, "http://"+addr)
		return func() string {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			return stderr.String()
		}
	}

	t.Run("own listener", func(t *testing.T) {
		metricsAddr := freeAddr(t)
		stop := serve(t, "  metrics_listen: "+metricsAddr+"\n")
		if st, body := get("http://"+metricsAddr+"/metrics", ""); st != http.StatusOK || !strings.Contains(body, "oauthbroker_http_request_duration_seconds") {
			t.Errorf("/metrics on metrics_listen: %d\n%.300s", st, body)
		}
		if st, _ := get("http://"+metricsAddr+"/healthz", ""); st != http.StatusNotFound {
			t.Errorf("metrics_listen serves more than /metrics: /healthz %d", st)
		}
		logs := stop()
		if strings.Contains(logs, "/metrics answers anyone") {
			t.Errorf("warned although metrics_listen is set:\n%s", logs)
		}
	})
	t.Run("main listener has none", func(t *testing.T) {
		b := startBrokerServer(t, "  metrics_listen: 127.0.0.1:1\n", "  alpha:\n    api_keys: [\""+keyA+"\"]\n    providers:\n      gh: {type: github, key: k, secret: s}\n", app.Options{})
		if st, _ := get(b.URL+"/metrics", ""); st != http.StatusNotFound {
			t.Errorf("/metrics on server.listen with metrics_listen set: %d, want 404", st)
		}
	})
	t.Run("token", func(t *testing.T) {
		b := startBrokerServer(t, "  metrics_token: "+token+"\n", "  alpha:\n    api_keys: [\""+keyA+"\"]\n    providers:\n      gh: {type: github, key: k, secret: s}\n", app.Options{})
		for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Bearer " + token + "x", "bearer" + token, token, "Basic " + token} {
			st, body := get(b.URL+"/metrics", auth)
			if st != http.StatusUnauthorized || strings.Contains(body, "alpha") || strings.Contains(body, "oauthbroker_") {
				t.Errorf("/metrics with Authorization %q: %d\n%.200s", auth, st, body)
			}
		}
		if st, body := get(b.URL+"/metrics", "Bearer "+token); st != http.StatusOK || !strings.Contains(body, "oauthbroker_") {
			t.Errorf("/metrics with the token: %d\n%.200s", st, body)
		}
	})
	t.Run("neither warns", func(t *testing.T) {
		if logs := serve(t, "")(); !strings.Contains(logs, "set server.metrics_listen or server.metrics_token") {
			t.Errorf("no warning about an open /metrics:\n%s", logs)
		}
	})
}

// TestInvalidUTF8UserIsRefused: a chat user id with invalid UTF-8 bytes is refused with 400
// naming the field, instead of being stored with U+FFFD in their place (where the bot's later
// lookups by the original id would miss it). Nothing is stored, on any JSON route.
func TestInvalidUTF8UserIsRefused(t *testing.T) {
	b := startLimitedBroker(t, server.Limits{}, "    confirm: code\n")
	for _, c := range []struct{ route, body string }{
		{"/bots/alpha/links", "{\"provider\":\"sandbox\",\"channel\":\"c\",\"user\":\"bob\xff\"}"},
		{"/bots/alpha/links/confirm", "{\"channel\":\"c\",\"user\":\"bob\xff\",\"code\":\"123456\"}"},
		{"/bots/alpha/require", "{\"channel\":\"c\",\"user\":\"bob\xff\",\"providers\":[\"sandbox\"]}"},
	} {
		t.Run(c.route, func(t *testing.T) {
			b.Unchanged(t, http.StatusBadRequest, "field user is not valid UTF-8", func() (int, string) {
				status, _, body := b.rawAPI(http.MethodPost, c.route, keyA, c.body)
				if !strings.Contains(body, `"code":"invalid_request"`) {
					t.Errorf("answer: %s", body)
				}
				return status, body
			})
		})
	}
}
