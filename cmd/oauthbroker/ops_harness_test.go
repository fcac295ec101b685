package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
)

// Helpers of the hardening tests (faults, limits, logs, metrics, crash): a broker with a
// chosen outbound timeout, and a goroutine leak check.

// startBrokerTimeout is startBrokerWith with server.outbound_timeout set to timeout (the
// fault tests use the shortest allowed, 1s, so a hanging provider costs one second).
func startBrokerTimeout(t *testing.T, timeout, botsYAML string, opts appOptions) *testBroker {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + srv.Listener.Addr().String()
	dbPath := filepath.Join(t.TempDir(), "broker.db")
	yaml := fmt.Sprintf("server:\n  public_url: %s\n  outbound_timeout: %s\nstorage:\n  dsn: %s\nbots:\n%s", publicURL, timeout, dbPath, botsYAML)
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.LoadOptions{Getenv: func(string) (string, bool) { return "", false }, Types: providers.Types()})
	if err != nil {
		t.Fatalf("config:\n%v\n--- yaml:\n%s", err, yaml)
	}
	logs := &syncBuffer{}
	if opts.log == nil {
		opts.log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.getenv == nil {
		opts.getenv = func(string) (string, bool) { return "", false }
	}
	a, err := openApp(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("openApp: %v", err)
	}
	srv.Config.Handler = a.handler
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		a.store.Close()
	})
	return &testBroker{t: t, URL: publicURL, app: a, dbPath: dbPath, logs: logs}
}

// checkNoGoroutineLeaks fails the test if goroutines started during it are still running
// once it and all its cleanups are done. Call it first, so that its cleanup runs last.
// Idle keep-alive connections are closed first: they are pooled, not leaked.
func checkNoGoroutineLeaks(t *testing.T) {
	t.Helper()
	baseline := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		closeIdleConnections(http.DefaultTransport)
		if err := goleak.Find(baseline); err != nil {
			t.Errorf("goroutines leaked:\n%v", err)
		}
	})
}

func closeIdleConnections(rt http.RoundTripper) {
	switch tr := rt.(type) {
	case *http.Transport:
		tr.CloseIdleConnections()
	case *providertest.RewriteTransport:
		closeIdleConnections(tr.Base)
	}
}

// getPage GETs u in browser and returns the status, the page and the X-Request-Id header.
func getPage(t *testing.T, browser *http.Client, u string) (int, string, string) {
	t.Helper()
	resp, err := browser.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header.Get("X-Request-Id")
}

// noStackTrace fails if an answer shows anything of a Go panic or stack.
func noStackTrace(t *testing.T, page string) {
	t.Helper()
	for _, s := range []string{"goroutine ", ".go:", "panic", "runtime."} {
		if strings.Contains(page, s) {
			t.Errorf("the answer shows %q (a stack trace?):\n%s", s, page)
		}
	}
}
