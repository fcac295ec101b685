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
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

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
		dir, addr := t.TempDir(), testenv.FreeAddr(t)
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
		metricsAddr := testenv.FreeAddr(t)
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
