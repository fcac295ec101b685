package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/server"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
	"github.com/oauthbroker/oauthbroker/internal/webhook"
)

// hookSecret is bot alpha's webhook secret here: the logs must never show it.
const hookSecret = "hook-secret-0123456789"

// secretRecorder stands in front of the sandbox and keeps every secret that crosses it: the
// code, verifier and client secret the broker sends, and every token the provider answers.
type secretRecorder struct {
	target http.Handler
	mu     sync.Mutex
	seen   map[string]bool
	// fault, when set, answers the token endpoint instead of the sandbox.
	fault http.HandlerFunc
}

var secretFields = map[string]bool{
	"code": true, "code_verifier": true, "client_secret": true, "access_token": true,
	"refresh_token": true, "id_token": true, "token": true,
}

func (s *secretRecorder) add(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[v] = true
}

func (s *secretRecorder) secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for v := range s.seen {
		out = append(out, v)
	}
	return out
}

func (s *secretRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	for k, vs := range form {
		for _, v := range vs {
			if secretFields[k] {
				s.add(v)
			}
		}
	}
	if user, pass, ok := r.BasicAuth(); ok {
		s.add(user + ":" + pass)
		s.add(pass)
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		s.add(tok)
	}
	if s.fault != nil && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/token") {
		s.fault(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.target.ServeHTTP(rec, r)
	var answer map[string]any
	if json.Unmarshal(rec.Body.Bytes(), &answer) == nil {
		for k, v := range answer {
			if str, ok := v.(string); ok && secretFields[k] {
				s.add(str)
			}
		}
	}
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// TestNoSecretInAnyLogLine runs, with debug logging in both formats, everything that handles
// a secret: an OpenID Connect flow with PKCE and its confirmation code, a Twitter OAuth 1.0a
// flow, credential reads, a refresh, a webhook delivery, an unlink that revokes, and failing
// flows whose provider echoes the code, the client secret and the tokens in its error answers
// and redirects. Then no issued or exchanged value — link token, state, code, verifier, client
// secret, API key, access, refresh and ID token, OAuth 1.0a token secret and verifier,
// confirmation code, cookie, webhook secret or signature, key-file key — appears in any log
// line, plain or URL-encoded.
func TestNoSecretInAnyLogLine(t *testing.T) {
	var textLog, jsonLog testenv.SyncBuffer
	log := slog.New(slog.NewMultiHandler(
		slog.NewTextHandler(&textLog, &slog.HandlerOptions{Level: slog.LevelDebug}),
		slog.NewJSONHandler(&jsonLog, &slog.HandlerOptions{Level: slog.LevelDebug}),
	))
	sb, err := sandbox.New(sandbox.Options{Users: []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}}, AutoApprove: "1001"})
	if err != nil {
		t.Fatal(err)
	}
	rec := &secretRecorder{target: sb, seen: map[string]bool{}}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	tw := providertest.NewTwitter(t, map[string]string{"ck-alpha": "cs-alpha-secret-0123"})
	hooks := testenv.NewReceiver(t, hookSecret)
	clk := testenv.NewClock()
	off := server.Limits{}
	b := testenv.Start(t, testenv.Config{
		Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("code").Webhook(hooks.URL, hookSecret).
			Provider("sso", "openid-connect", "oidc-client", "oidc-secret-0123456789",
				testenv.DiscoveryURL(srv.URL+"/.well-known/openid-configuration"), testenv.Scopes("openid", "email", "profile")).
			Provider("twitter", "twitter", "ck-alpha", "cs-alpha-secret-0123", testenv.At(tw.Endpoints()))},
		App: app.Options{Log: log, Now: clk.Now, Webhooks: testenv.FastWebhooks, Limits: &off},
	})
	b.RunBackground()
	if err := sb.AddClient(sandbox.Client{ID: "oidc-client", Secret: "oidc-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/sso/callback"}}); err != nil {
		t.Fatal(err)
	}
	secrets := []string{testenv.KeyA, "oidc-secret-0123456789", "cs-alpha-secret-0123", hookSecret}
	var codes []string // six-digit confirmation codes: matched as whole words
	brokerURL, _ := url.Parse(b.URL)

	// linkVia runs one flow to its end and keeps every secret it can see on the way.
	linkVia := func(provider, user string) (int, string) {
		browser := testenv.NewBrowser(t)
		link := b.Link("alpha", testenv.KeyA, provider, "c", user)
		secrets = append(secrets, strings.SplitN(link, "link=", 2)[1])
		cb := testenv.StopAtCallback(t, browser, link)
		u, _ := url.Parse(cb)
		for _, k := range []string{"state", "code", "oauth_token", "oauth_verifier"} {
			if v := u.Query().Get(k); v != "" {
				secrets = append(secrets, v)
			}
		}
		for _, c := range browser.Jar.Cookies(&url.URL{Scheme: "http", Host: brokerURL.Host, Path: "/bots/alpha/" + provider + "/"}) {
			secrets = append(secrets, c.Value)
		}
		st, page := testenv.Visit(t, browser, cb)
		if m := regexp.MustCompile(`\b(\d{6})\b`).FindStringSubmatch(page); m != nil && st == http.StatusOK {
			codes = append(codes, m[1])
			if st := b.API("POST", "/bots/alpha/links/confirm", testenv.KeyA, map[string]string{"channel": "c", "user": user, "code": m[1]}, nil); st != http.StatusOK {
				t.Fatalf("confirm: %d", st)
			}
		}
		return st, page
	}

	// The good paths.
	if st, page := linkVia("sso", "oidc-user"); st != http.StatusOK {
		t.Fatalf("openid-connect flow: %d\n%s", st, page)
	}
	if st, page := linkVia("twitter", "tw-user"); st != http.StatusOK {
		t.Fatalf("twitter flow: %d\n%s", st, page)
	}
	for _, c := range tw.Issued() {
		secrets = append(secrets, c.Token, c.Secret)
	}
	// A wrong confirmation code is logged as a wrong attempt, never as its digits.
	b.API("POST", "/bots/alpha/links/confirm", testenv.KeyA, map[string]string{"channel": "c", "user": "oidc-user", "code": "424242"}, nil)
	codes = append(codes, "424242")
	ids := b.Identities("alpha", testenv.KeyA, "c", "oidc-user")
	twIDs := b.Identities("alpha", testenv.KeyA, "c", "tw-user")
	b.Credentials("alpha", testenv.KeyA, ids[0].ID)
	b.Credentials("alpha", testenv.KeyA, twIDs[0].ID)
	clk.Advance(59*time.Minute + 30*time.Second) // the OIDC token is about to expire: the next read refreshes
	b.Credentials("alpha", testenv.KeyA, ids[0].ID)
	if sb.Stats().Refreshes != 1 {
		t.Fatalf("refreshes: %d, want 1", sb.Stats().Refreshes)
	}
	hooks.WaitDeliveries(t, 2, 5*time.Second)

	// The failing paths: a provider that quotes what it got in its errors.
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			user, pass, _ := r.BasicAuth()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"code %s with verifier %s for %s:%s%s is bad"}`,
				r.Form.Get("code"), r.Form.Get("code_verifier"), user, pass, r.Form.Get("client_secret"))
		}
	}
	for i, fault := range []http.HandlerFunc{
		echo(http.StatusBadRequest),
		echo(http.StatusInternalServerError),
		func(w http.ResponseWriter, r *http.Request) { // a redirect that carries the code in its URL
			r.ParseForm()
			http.Redirect(w, r, "http://127.0.0.1:1/stolen?code="+url.QueryEscape(r.Form.Get("code"))+"&v="+url.QueryEscape(r.Form.Get("code_verifier")), http.StatusFound)
		},
		func(w http.ResponseWriter, r *http.Request) { // tokens issued, then a malformed answer around them
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"sbx_at_leakcheck_0123456789","refresh_token":"sbx_rt_leakcheck_0123456789","id_token":"not.a.jwt",`)
		},
	} {
		rec.fault = fault
		if st, _ := linkVia("sso", fmt.Sprintf("failing-%d", i)); st != http.StatusBadGateway {
			t.Errorf("failing flow %d: %d, want 502", i, st)
		}
		rec.fault = nil
	}
	secrets = append(secrets, "sbx_at_leakcheck_0123456789", "sbx_rt_leakcheck_0123456789")
	// An unlink revokes the token at the provider.
	if st := b.API("DELETE", fmt.Sprintf("/bots/alpha/identities/%d", ids[0].ID), testenv.KeyA, nil, nil); st != http.StatusNoContent {
		t.Fatalf("unlink: %d", st)
	}
	hooks.WaitDeliveries(t, 3, 5*time.Second)
	for _, d := range hooks.Deliveries() {
		secrets = append(secrets, strings.TrimPrefix(d.Header.Get(webhook.HeaderSignature), "sha256="))
	}
	secrets = append(secrets, rec.secrets()...)
	var keyFile map[string]any
	if data, err := os.ReadFile(b.App.Cfg.Storage.KeysFile); err == nil && json.Unmarshal(data, &keyFile) == nil {
		secrets = append(secrets, stringsIn(keyFile)...)
	}

	if len(secrets) < 30 || len(codes) < 3 {
		t.Fatalf("collected only %d secrets and %d codes: the test did not see the flows", len(secrets), len(codes))
	}
	logs := map[string]string{"text": textLog.String(), "json": jsonLog.String()}
	if !strings.Contains(logs["text"], "flow: completing at provider failed") || !strings.Contains(logs["text"], "refresh: token refreshed") {
		t.Fatalf("the log lacks the lines this test is about:\n%s", logs["text"])
	}
	for format, text := range logs {
		for _, s := range secrets {
			if len(s) < 8 {
				continue
			}
			for _, form := range []string{s, url.QueryEscape(s)} {
				if strings.Contains(text, form) {
					t.Errorf("the %s log contains a secret %.6s… (%d bytes):\n%s", format, form, len(form), linesWith(text, form))
				}
			}
		}
		for _, c := range codes {
			if regexp.MustCompile(`\b` + c + `\b`).MatchString(text) {
				t.Errorf("the %s log contains the confirmation code %s:\n%s", format, c, linesWith(text, c))
			}
		}
	}
	for i, line := range strings.Split(strings.TrimSpace(logs["json"]), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("json log line %d is not JSON: %v\n%s", i+1, err, line)
		}
	}
}

// stringsIn returns every string inside a decoded JSON value.
func stringsIn(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, stringsIn(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, stringsIn(e)...)
		}
		return out
	}
	return nil
}

func linesWith(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRequestIDTiesPageHeaderAndLogLine: every answer carries an X-Request-Id; an error page
// shows it; and the one log line of that request has it, with the path but not the query
// (which carries the link token).
func TestRequestIDTiesPageHeaderAndLogLine(t *testing.T) {
	var jsonLog testenv.SyncBuffer
	b := testenv.Start(t, testenv.Config{
		Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").Provider("gh", "github", "k", "s-0123456789")},
		App:  app.Options{Log: slog.New(slog.NewJSONHandler(&jsonLog, nil))},
	})
	token := strings.Repeat("x", 43)
	st, page, id := testenv.GetPage(t, testenv.NewBrowser(t), b.URL+"/bots/alpha/gh/auth?link="+token)
	if st != http.StatusNotFound || id == "" || !strings.Contains(page, id) {
		t.Fatalf("status %d, request id %q, page:\n%s", st, id, page)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(jsonLog.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		if v["request_id"] == id && v["msg"] == "http request" {
			lines = append(lines, v)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d request lines with id %s:\n%s", len(lines), id, jsonLog.String())
	}
	l := lines[0]
	if l["path"] != "/bots/alpha/gh/auth" || l["status"] != float64(404) || l["method"] != "GET" || l["duration_ms"] == nil {
		t.Errorf("request line %v", l)
	}
	if strings.Contains(jsonLog.String(), token) {
		t.Error("the log contains the link token from the query")
	}
	// Every answer has one, and ids differ.
	_, _, id2 := testenv.GetPage(t, testenv.NewBrowser(t), b.URL+"/healthz")
	if id2 == "" || id2 == id {
		t.Errorf("request ids %q, %q", id, id2)
	}
}
