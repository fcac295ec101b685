package httpapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/httpapi"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

const benchKey = "bench-key-0123456789abcdefghijklmnopqrstuvwxyz"

func BenchmarkBearerToken(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := httpapi.BearerToken("Bearer " + benchKey); !ok {
			b.Fatal("refused")
		}
	}
}

// benchAPI is the bot API on a real broker over an in-memory store with one bot.
func benchAPI(b *testing.B) (http.Handler, *broker.Broker) {
	b.Helper()
	yaml := "server:\n  public_url: http://127.0.0.1:1\nstorage:\n  dsn: ':memory:'\nbots:\n  benchbot:\n    api_keys: [\"" + benchKey + "\", \"second-key-abcdefghijklmnopqrstuvwxyz0123456789\"]\n" +
		"    providers:\n      github: { type: github, key: k, secret: s }\n"
	getenv := func(string) (string, bool) { return "", false }
	cfg, err := config.Parse("bench.yaml", []byte(yaml), config.LoadOptions{Getenv: getenv, Types: providers.Types()})
	if err != nil {
		b.Fatal(err)
	}
	reg, err := providers.NewRegistry(context.Background(), cfg, providers.Options{HTTPClient: &http.Client{Timeout: time.Second}})
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	keys, _, err := seal.GenerateKeys(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	br := broker.New(cfg, reg, st, keys, broker.Options{Logger: log})
	return httpapi.New(br, httpapi.Options{Logger: log}), br
}

// BenchmarkAuthenticateBot is the bearer check: a constant-time compare with each of the
// bot's keys.
func BenchmarkAuthenticateBot(b *testing.B) {
	_, br := benchAPI(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := br.AuthenticateBot("benchbot", benchKey); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRouter sends requests through the API's router and key check to the broker and
// store, answering without a stored identity (the store's read is BenchmarkIdentity in
// internal/store/sqlite; the whole path is cmd/oauthbroker-bench).
func BenchmarkRouter(b *testing.B) {
	h, _ := benchAPI(b)
	for _, c := range []struct {
		name, path, key string
		status          int
	}{
		{"credentials, no such identity", "/bots/benchbot/identities/12345/credentials", benchKey, http.StatusNotFound},
		{"identities of a user", "/bots/benchbot/identities?channel=slack&user=U1", benchKey, http.StatusOK},
		{"wrong key", "/bots/benchbot/identities/12345/credentials", "not-the-key", http.StatusUnauthorized},
		{"no such route", "/bots/benchbot/nothing", benchKey, http.StatusNotFound},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, c.path, nil)
			req.Header.Set("Authorization", "Bearer "+c.key)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != c.status {
					b.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
				}
			}
		})
	}
}
