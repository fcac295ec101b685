package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// lockedBuffer is serve's standard error as the tests read it while serve writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeAccessLogIsBufferedAndNeverLost runs serve with its default log buffer and a
// one-second flush interval: request lines come out within the interval while it runs, and
// the lines of requests answered just before the stop are all written by the time serve
// returns, each once, whole, before the "stopped" line.
func TestServeAccessLogIsBufferedAndNeverLost(t *testing.T) {
	dir := t.TempDir()
	addr := testenv.FreeAddr(t)
	cfgPath := filepath.Join(dir, "providers.yaml")
	cfg := fmt.Sprintf(`server:
  public_url: http://%s
  listen: %s
storage:
  dsn: %s
bots:
  alpha:
    api_keys: ["alpha-key-0123456789abcdefghijklmnopqrstuvwxyz"]
    providers:
      twitter:
        type: twitter
        key: ck-alpha
        secret: cs-alpha-secret
`, addr, addr, filepath.Join(dir, "broker.db"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-config", cfgPath, "-log-flush", "1s"},
			func(string) (string, bool) { return "", false }, &stdout, &stderr)
	}()
	base := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never answered /healthz:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	get := func(n int) []string {
		ids := make([]string, n)
		for i := range ids {
			resp, err := http.Get(base + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			ids[i] = resp.Header.Get("X-Request-Id")
			if ids[i] == "" {
				t.Fatal("no X-Request-Id")
			}
		}
		return ids
	}

	// While serving: the interval writes the lines out.
	first := get(50)
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), "request_id="+first[len(first)-1]) {
		if time.Now().After(deadline) {
			t.Fatalf("the last request's line was not written within 5 s of a 1 s flush interval:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Stopped right after answering: nothing lost.
	last := get(200)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	logs := stderr.String()
	stopped := strings.Index(logs, `msg=stopped`)
	if stopped < 0 || !strings.HasSuffix(logs, "\n") {
		t.Fatalf("no stopped line, or a partial last line:\n%s", logs)
	}
	for _, id := range append(first, last...) {
		line := "request_id=" + id + " method=GET path=/healthz status=200 "
		if n := strings.Count(logs, line); n != 1 {
			t.Fatalf("request %s: %d whole lines, want 1:\n%s", id, n, logs)
		}
		if strings.Index(logs, line) > stopped {
			t.Fatalf("request %s logged after the stopped line", id)
		}
	}
}
