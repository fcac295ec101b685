package main

import (
	"net/http"
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
