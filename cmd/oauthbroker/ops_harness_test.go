package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
)

// Helpers of the hardening tests (faults, limits, logs, metrics, crash): a broker with a
// chosen outbound timeout, and a goroutine leak check.

// startBrokerTimeout is startBrokerWith with server.outbound_timeout set to timeout (the
// fault tests use the shortest allowed, 1s, so a hanging provider costs one second).
func startBrokerTimeout(t *testing.T, timeout, botsYAML string, opts app.Options) *testBroker {
	t.Helper()
	return startBrokerServer(t, "  outbound_timeout: "+timeout+"\n", botsYAML, opts)
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
