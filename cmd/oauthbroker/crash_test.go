package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// issuingProvider is the sandbox in GitLab's shape (it issues refresh tokens) with a record
// of the tokens it issued for each authorization code, so a test can tell which tokens a
// given browser's flow must have stored.
type issuingProvider struct {
	sb  *sandbox.Server
	URL string

	mu     sync.Mutex
	byCode map[string]issuedTokens
	// slowToken delays the answer to code exchanges (the shutdown test's in-flight flow).
	slowToken atomic.Int64 // milliseconds
}

type issuedTokens struct{ access, refresh string }

func newIssuingProvider(t *testing.T) *issuingProvider {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Users: []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}}, AutoApprove: "1001"})
	if err != nil {
		t.Fatal(err)
	}
	p := &issuingProvider{sb: sb, byCode: map[string]issuedTokens{}}
	srv := httptest.NewServer(p)
	p.URL = srv.URL
	t.Cleanup(srv.Close)
	return p
}

func (p *issuingProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/oauth/token" {
		p.sb.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	if d := p.slowToken.Load(); d > 0 {
		time.Sleep(time.Duration(d) * time.Millisecond)
	}
	rec := httptest.NewRecorder()
	p.sb.ServeHTTP(rec, r)
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if form.Get("grant_type") == "authorization_code" && rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &tok) == nil {
		p.mu.Lock()
		p.byCode[form.Get("code")] = issuedTokens{tok.AccessToken, tok.RefreshToken}
		p.mu.Unlock()
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

func (p *issuingProvider) issued(code string) (issuedTokens, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tok, ok := p.byCode[code]
	return tok, ok
}

// brokerProcess is one `oauthbroker serve` process of the real binary.
type brokerProcess struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
	err  error // the exit status, once done is closed
}

func startBrokerProcess(t *testing.T, bin, cfgPath, base string) *brokerProcess {
	t.Helper()
	p := &brokerProcess{logs: &syncBuffer{}, done: make(chan struct{})}
	// Rate limits off: hundreds of flows come from one address on purpose. A short webhook
	// timeout: an event the killed process had claimed is free again 2s+5s after the kill.
	p.cmd = exec.Command(bin, "serve", "-config", cfgPath, "-log-format", "json", "-flow-rate-limit", "0", "-link-rate-limit", "0", "-webhook-timeout", "2s")
	p.cmd.Env = []string{}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("broker log (last 4 KB):\n%s", tail(p.logs.String(), 4096))
		}
	})
	waitHealthy(t, base)
	return p
}

func (p *brokerProcess) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(within):
		t.Fatalf("the broker did not exit within %v", within)
		return nil
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// crashConfig writes a providers.yaml for one broker on addr: bot alpha, provider gl at the
// issuing provider, webhooks to hookURL.
func crashConfig(t *testing.T, dir, addr, providerURL, hookURL string) string {
	t.Helper()
	path := filepath.Join(dir, "providers.yaml")
	writeFile(t, path, fmt.Sprintf(`server:
  public_url: http://%[1]s
  listen: %[1]s
  outbound_timeout: 5s
storage:
  dsn: %[2]s
bots:
  alpha:
    api_keys: [%[3]q]
    confirm: none
    webhook_url: %[4]s
    webhook_secret: %[5]s
    providers:
%[6]s`, addr, filepath.Join(dir, "broker.db"), keyA, hookURL, hookSecret, gitlabYAML(providerURL)))
	return path
}

// flowClient is one browser of the crash test: a cookie jar on a transport shared by all
// browsers, stopping at the redirect back to the broker's callback.
func flowClient(tr http.RoundTripper) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasSuffix(req.URL.Path, "/callback") {
				return http.ErrUseLastResponse
			}
			return nil
		}}
}

// crashFlow is what one browser saw.
type crashFlow struct {
	user   string
	code   string // the code the provider sent the browser back with; "" if it got no further
	linked bool   // the callback answered: linked, back to the connect page
}

// runCrashFlow links user through the browser flow as far as the broker lets it.
func runCrashFlow(tr http.RoundTripper, base, user string) crashFlow {
	f := crashFlow{user: user}
	c := flowClient(tr)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/bots/alpha/links",
		strings.NewReader(fmt.Sprintf(`{"provider":"gl","channel":"crash","user":%q}`, user)))
	req.Header.Set("Authorization", "Bearer "+keyA)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return f
	}
	var l linkBody
	json.NewDecoder(resp.Body).Decode(&l)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return f
	}
	resp, err = c.Get(l.URL)
	if err != nil {
		return f
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	forms := connectForms(string(page))
	if resp.StatusCode != http.StatusOK || len(forms) == 0 || forms[0].Provider != "gl" {
		return f
	}
	req, _ = http.NewRequest(http.MethodPost, forms[0].Action, strings.NewReader(forms[0].Fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", base)
	resp, err = c.Do(req)
	if err != nil {
		return f
	}
	resp.Body.Close()
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasSuffix(cb.Path, "/callback") {
		return f
	}
	f.code = cb.Query().Get("code")
	// The callback's answer, not the page it leads to: a flow is linked when the callback
	// sends the browser back to the connect page.
	stop := *c
	stop.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = stop.Get(cb.String())
	if err != nil {
		return f
	}
	resp.Body.Close()
	f.linked = resp.StatusCode == http.StatusSeeOther && strings.Contains(resp.Header.Get("Location"), "/bots/alpha/connect?link=")
	return f
}

// TestCrashAndShutdownOfTheRealBinary: SIGKILL in the middle of hundreds of flows loses
// nothing that was confirmed and leaves nothing half-written; SIGTERM lets an in-flight flow
// finish and closes the store cleanly.
func TestCrashAndShutdownOfTheRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)

	t.Run("SIGKILL during 320 concurrent flows", func(t *testing.T) {
		const flows, killAfter = 320, 100
		prov := newIssuingProvider(t)
		hooks := newReceiver(t, hookSecret)
		hooks.Down.Store(true) // the bot's endpoint is down until the restart: every event waits in the outbox
		dir := t.TempDir()
		addr := testenv.FreeAddr(t)
		base := "http://" + addr
		if err := prov.sb.AddClient(sandbox.Client{ID: "gl-client", Secret: "gl-secret-0123456789", RedirectURIs: []string{base + "/bots/alpha/gl/callback"}}); err != nil {
			t.Fatal(err)
		}
		cfg := crashConfig(t, dir, addr, prov.URL, hooks.URL)
		first := startBrokerProcess(t, bin, cfg, base)

		tr := &http.Transport{MaxIdleConnsPerHost: flows, MaxConnsPerHost: 0}
		t.Cleanup(tr.CloseIdleConnections)
		results := make([]crashFlow, flows)
		var linked atomic.Int64
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range flows {
			wg.Go(func() {
				<-start
				results[i] = runCrashFlow(tr, base, fmt.Sprintf("user-%03d", i))
				if results[i].linked {
					linked.Add(1)
				}
			})
		}
		began := time.Now()
		close(start)
		for linked.Load() < killAfter && time.Since(began) < 15*time.Second {
			time.Sleep(time.Millisecond)
		}
		if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killedAt := time.Since(began)
		first.wait(t, 5*time.Second)
		wg.Wait()
		var served, interrupted int
		for _, f := range results {
			switch {
			case f.linked:
				served++
			case f.code != "":
				interrupted++ // reached the provider; its callback died with the broker
			}
		}
		t.Logf("killed after %v with %d callbacks answered, %d flows past the provider without one, %d not that far", killedAt, served, interrupted, flows-served-interrupted)
		if served < killAfter || served == flows {
			t.Fatalf("%d of %d flows linked: the kill did not land in the middle", served, flows)
		}

		second := startBrokerProcess(t, bin, cfg, base)
		dbPath := filepath.Join(dir, "broker.db")
		checkIntegrity(t, dbPath)
		keys, created, err := seal.LoadOrCreateKeyFile(filepath.Join(dir, config.DefaultKeysFileName), time.Now())
		if err != nil || created {
			t.Fatalf("the broker's key file: %v (created by the test: %v)", err, created)
		}
		rows := readIdentityRows(t, dbPath)
		byUser := map[string][]storedIdentity{}
		for _, r := range rows {
			byUser[r.user] = append(byUser[r.user], r)
		}
		b := remote(t, base)
		for _, f := range results {
			got := byUser[f.user]
			if len(got) > 1 {
				t.Errorf("%s: %d identities, want at most 1", f.user, len(got))
				continue
			}
			if len(got) == 0 {
				if f.linked {
					t.Errorf("%s: the callback said linked, but there is no identity after the restart", f.user)
				}
				continue
			}
			// An identity may exist for a flow whose page the kill swallowed; either way its
			// tokens are exactly the ones the provider issued for this browser's code.
			r := got[0]
			want, ok := prov.issued(f.code)
			if !ok {
				t.Errorf("%s: an identity, but the provider issued no tokens for its code", f.user)
				continue
			}
			access := openToken(t, keys, r, "access_token", r.access)
			refresh := openToken(t, keys, r, "refresh_token", r.refresh)
			if access != want.access || refresh != want.refresh {
				t.Errorf("%s: stored tokens %.12s…/%.12s…, issued %.12s…/%.12s…", f.user, access, refresh, want.access, want.refresh)
			}
			if r.linkedEvents != 1 || r.outboxLinked != 1 || !r.linkUsed || r.status != store.StatusActive {
				t.Errorf("%s: a partial row: %d linked events, %d outbox events, link used %v, status %q", f.user, r.linkedEvents, r.outboxLinked, r.linkUsed, r.status)
			}
			if f.linked {
				if c := b.credentials("alpha", keyA, r.id); c.AccessToken != want.access {
					t.Errorf("%s: the restarted broker hands out %.12s…, issued %.12s…", f.user, c.AccessToken, want.access)
				}
			}
		}
		if n := usedLinksWithoutIdentity(t, dbPath); n != 0 {
			t.Errorf("%d links are marked used without an identity", n)
		}

		t.Logf("after the restart: %d identities (%d callbacks answered); %d delivery attempts before the kill, all refused",
			len(rows), served, hooks.Attempts.Load())

		// The bot's endpoint is back: the restarted process delivers every identity's
		// identity.linked event, including those the killed one had claimed.
		hooks.Down.Store(false)
		restarted := time.Now()
		deadline := restarted.Add(20 * time.Second)
		for {
			missing := 0
			delivered := map[int64]bool{}
			for _, d := range hooks.Deliveries() {
				if d.Body.Type == store.WebhookLinked && d.Signature {
					delivered[d.IdentityID()] = true
				}
			}
			for _, r := range rows {
				if !delivered[r.id] {
					missing++
				}
			}
			if missing == 0 {
				t.Logf("all events delivered %v after the restart", time.Since(restarted).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d identity.linked events not delivered after the restart", missing, len(rows))
			}
			time.Sleep(20 * time.Millisecond)
		}

		// SIGTERM: a clean stop that leaves a checkpointed, intact database.
		if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := second.wait(t, 20*time.Second); err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
		checkCleanlyClosed(t, dbPath, second.logs.String())
	})

	t.Run("SIGTERM lets an in-flight flow finish", func(t *testing.T) {
		prov := newIssuingProvider(t)
		hooks := newReceiver(t, hookSecret)
		dir := t.TempDir()
		addr := testenv.FreeAddr(t)
		base := "http://" + addr
		if err := prov.sb.AddClient(sandbox.Client{ID: "gl-client", Secret: "gl-secret-0123456789", RedirectURIs: []string{base + "/bots/alpha/gl/callback"}}); err != nil {
			t.Fatal(err)
		}
		p := startBrokerProcess(t, bin, crashConfig(t, dir, addr, prov.URL, hooks.URL), base)
		prov.slowToken.Store(1500) // the exchange takes 1.5 s
		done := make(chan crashFlow, 1)
		go func() { done <- runCrashFlow(http.DefaultTransport, base, "slow-user") }()
		// Wait until the callback is at the provider, then ask the broker to stop.
		deadline := time.Now().Add(5 * time.Second)
		for prov.sb.Stats().Authorizations == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		// It stops accepting: new connections are refused while the flow is still running.
		refused := false
		for deadline := time.Now().Add(time.Second); !refused && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(base + "/healthz")
			if err != nil {
				refused = true
			} else {
				resp.Body.Close()
			}
		}
		if !refused {
			t.Error("the broker still accepted new requests a second after SIGTERM")
		}
		select {
		case f := <-done:
			t.Fatalf("the flow ended before the broker stopped accepting: %+v", f)
		default:
		}
		f := <-done
		if !f.linked {
			t.Fatalf("the in-flight flow did not finish: %+v", f)
		}
		if err := p.wait(t, 20*time.Second); err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
		dbPath := filepath.Join(dir, "broker.db")
		if rows := readIdentityRows(t, dbPath); len(rows) != 1 || rows[0].user != "slow-user" {
			t.Fatalf("identities after the stop: %+v", rows)
		}
		checkCleanlyClosed(t, dbPath, p.logs.String())
	})
}

// storedIdentity is one identity as the file holds it, with what must come with it.
type storedIdentity struct {
	id                          int64
	user, provider, providerUID string
	status                      string
	access, refresh             []byte
	linkedEvents, outboxLinked  int
	linkUsed                    bool
}

// openDB opens the file read-only, as an operator would. Close it before the broker stops:
// SQLite checkpoints and removes the WAL only when its last connection closes.
func openDB(t *testing.T, dbPath string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func readIdentityRows(t *testing.T, dbPath string) []storedIdentity {
	t.Helper()
	db := openDB(t, dbPath)
	defer db.Close()
	rows, err := db.Query(`SELECT i.id, i.user_id, i.provider, i.provider_user_id, i.status, i.access_token, i.refresh_token,
		(SELECT count(*) FROM identity_events e WHERE e.identity_id = i.id AND e.kind = 'linked'),
		(SELECT count(*) FROM webhook_outbox o WHERE o.identity_id = i.id AND o.type = 'identity.linked'),
		EXISTS (SELECT 1 FROM links l WHERE l.bot = i.bot AND l.channel = i.channel AND l.user_id = i.user_id AND l.used_at IS NOT NULL)
		FROM identities i WHERE i.bot = 'alpha' ORDER BY i.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []storedIdentity
	for rows.Next() {
		var r storedIdentity
		if err := rows.Scan(&r.id, &r.user, &r.provider, &r.providerUID, &r.status, &r.access, &r.refresh, &r.linkedEvents, &r.outboxLinked, &r.linkUsed); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func usedLinksWithoutIdentity(t *testing.T, dbPath string) int {
	t.Helper()
	var n int
	db := openDB(t, dbPath)
	defer db.Close()
	// A provider marked linked without its identity, or a link spent (not cancelled) with a
	// provider not linked: either would be a half-written completion.
	err := db.QueryRow(`SELECT
		(SELECT count(*) FROM link_providers lp WHERE lp.linked_at IS NOT NULL AND NOT EXISTS
			(SELECT 1 FROM identities i WHERE i.id = lp.identity_id)) +
		(SELECT count(*) FROM links l WHERE l.used_at IS NOT NULL AND l.cancelled_at IS NULL AND EXISTS
			(SELECT 1 FROM link_providers lp WHERE lp.link_id = l.id AND lp.linked_at IS NULL))`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func checkIntegrity(t *testing.T, dbPath string) {
	t.Helper()
	var res string
	db := openDB(t, dbPath)
	defer db.Close()
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("PRAGMA integrity_check: %q, %v", res, err)
	}
}

// checkCleanlyClosed: the process said it stopped, the WAL was checkpointed into the database
// when the store closed, and the file is intact.
func checkCleanlyClosed(t *testing.T, dbPath, logs string) {
	t.Helper()
	for _, want := range []string{"shutting down", `"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not say %s:\n%s", want, tail(logs, 2048))
		}
	}
	if fi, err := os.Stat(dbPath + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("the WAL holds %d bytes after a clean stop: the store was not closed", fi.Size())
	}
	checkIntegrity(t, dbPath)
}

// openToken opens a sealed token as the broker does (seal.TokenAAD: the identity's natural key
// and the field), so the test reads what is stored, not what the API says.
func openToken(t *testing.T, keys seal.Keys, r storedIdentity, field string, sealed []byte) string {
	t.Helper()
	plain, err := keys.Ring.Open(sealed, seal.TokenAAD("alpha", "crash", r.user, r.provider, r.providerUID, field))
	if err != nil {
		t.Errorf("%s: %s does not open: %v", r.user, field, err)
	}
	return string(plain)
}
