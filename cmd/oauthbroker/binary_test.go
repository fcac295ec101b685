package main

import (
	"database/sql"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// These tests run the real binary, as operators do: `go build` once (the Go build cache makes
// it a link step after the first run), then `oauthbroker serve` processes on loopback ports
// sharing one SQLite file and one key file.

func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "oauthbroker")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProcess is one `oauthbroker serve` process.
type serveProcess struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	URL  string
}

// writeServeConfig writes a providers.yaml for serve on addr with the database in dir.
func writeServeConfig(t *testing.T, dir, name, addr, botsYAML string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile(t, path, fmt.Sprintf("server:\n  public_url: http://%s\n  listen: %s\n  outbound_timeout: 5s\nstorage:\n  dsn: %s\nbots:\n%s",
		addr, addr, filepath.Join(dir, "broker.db"), botsYAML))
	return path
}

func startServe(t *testing.T, bin, cfgPath, addr string) *serveProcess {
	t.Helper()
	return startServeEnv(t, bin, cfgPath, addr, nil)
}

// startServeEnv is startServe with env as the process's whole environment.
func startServeEnv(t *testing.T, bin, cfgPath, addr string, env []string) *serveProcess {
	t.Helper()
	p := &serveProcess{cmd: exec.Command(bin, "serve", "-config", cfgPath), logs: &syncBuffer{}, URL: "http://" + addr}
	p.cmd.Env = append([]string{}, env...) // nothing from the test's environment, OAUTHBROKER_KEYS least of all
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("logs of %s:\n%s", p.URL, p.logs.String())
		}
	})
	waitHealthy(t, p.URL)
	return p
}

func (p *serveProcess) broker(t *testing.T) *testBroker { return remote(t, p.URL) }

func TestRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)

	// Two broker processes, one database: 200 reads of a token about to expire, half on
	// each, cause exactly one refresh at the provider, and all get the new token.
	t.Run("two processes refresh once", func(t *testing.T) {
		f := newTokenFake(t, true)
		f.FirstTTL.Store(30)
		dir := t.TempDir()
		addrA, addrB := testenv.FreeAddr(t), testenv.FreeAddr(t)
		f.Register(t, "http://"+addrA+"/bots/alpha/gl/callback", "http://"+addrB+"/bots/alpha/gl/callback")
		a := startServe(t, bin, writeServeConfig(t, dir, "a.yaml", addrA, glBot(f.URL, "")), addrA) // creates the key file
		b := startServe(t, bin, writeServeConfig(t, dir, "b.yaml", addrB, glBot(f.URL, "")), addrB)
		brokers := []*testBroker{a.broker(t), b.broker(t)}
		id := brokers[0].linkOne("alpha", keyA, "gl", "slack", "U1")

		readAllAtOnce(t, f, brokers, 200, id.ID)
	})

	// SIGKILL with webhook events pending: nothing in the outbox is lost; the next process
	// delivers every event, in order per identity.
	t.Run("webhooks survive SIGKILL", func(t *testing.T) {
		rc := newReceiver(t, hookSecret)
		rc.Down.Store(true)
		f := newTokenFake(t, false)
		dir := t.TempDir()
		addr := testenv.FreeAddr(t)
		f.Register(t, "http://"+addr+"/bots/alpha/gl/callback")
		cfg := writeServeConfig(t, dir, "p.yaml", addr, glBot(f.URL, fmt.Sprintf("    webhook_url: %s\n    webhook_secret: %s\n", rc.URL, hookSecret)))
		first := startServe(t, bin, cfg, addr)
		b := first.broker(t)
		ida := b.linkOne("alpha", keyA, "gl", "slack", "A")
		b.linkOne("alpha", keyA, "gl", "slack", "A") // relinked
		idb := b.linkOne("alpha", keyA, "gl", "slack", "B")
		b.api("DELETE", fmt.Sprintf("/bots/alpha/identities/%d", idb.ID), keyA, nil, nil)
		idc := b.linkOne("alpha", keyA, "gl", "slack", "C")
		// Kill while nothing is in flight: every identity's next event has failed at least once
		// and waits for its retry, and no claim is held (a claim of a killed process would hold
		// its event back until the claim expires, a legitimate but slow path).
		next := waitBackingOff(t, filepath.Join(dir, "broker.db"), 5*time.Second)
		if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = first.cmd.Wait()
		pending := outboxStates(t, filepath.Join(dir, "broker.db"))
		if pending[store.OutboxPending] != 9 {
			t.Fatalf("outbox after SIGKILL: %v, want 9 pending", pending)
		}

		rc.Down.Store(false)
		startServe(t, bin, cfg, addr)
		got := rc.WaitDeliveries(t, 9, time.Until(next)+10*time.Second)
		per := map[int64][]string{}
		seen := map[string]bool{}
		for _, d := range got {
			checkDelivery(t, d, d.Body.Type)
			per[d.IdentityID()] = append(per[d.IdentityID()], d.Body.Type)
			seen[d.Body.ID] = true
		}
		done := store.WebhookLinkCompleted
		for id, want := range map[int64][]string{
			ida.ID: {store.WebhookLinked, done, store.WebhookRelinked, done},
			idb.ID: {store.WebhookLinked, done, store.WebhookUnlinked},
			idc.ID: {store.WebhookLinked, done},
		} {
			if !slices.Equal(per[id], want) {
				t.Errorf("identity %d: %v, want %v", id, per[id], want)
			}
		}
		if len(seen) != 9 {
			t.Errorf("%d distinct event ids in %d deliveries", len(seen), len(got))
		}
	})
}

// waitBackingOff waits until the outbox's next events (the oldest pending one per identity)
// have all been tried, hold no claim, and are not due for at least 150 ms, and returns when
// the last of them is due.
func waitBackingOff(t testing.TB, dbPath string, within time.Duration) time.Time {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		now := time.Now().UnixMilli()
		var busy int
		var last sql.NullInt64
		err := db.QueryRow(`SELECT
			count(*) FILTER (WHERE attempts = 0 OR claimed_until > ? OR next_attempt_at <= ?), max(next_attempt_at)
			FROM webhook_outbox o WHERE state = 'pending' AND NOT EXISTS (SELECT 1 FROM webhook_outbox p
				WHERE p.state = 'pending' AND p.bot = o.bot AND p.identity_id = o.identity_id AND p.id < o.id)`,
			now, now+150).Scan(&busy, &last)
		if err == nil && busy == 0 && last.Valid {
			return time.UnixMilli(last.Int64)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the outbox never settled into back-off within %s", within)
	return time.Time{}
}

// outboxStates counts the outbox's events by state, read from the file.
func outboxStates(t testing.TB, dbPath string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT state, count(*) FROM webhook_outbox GROUP BY state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out
}
