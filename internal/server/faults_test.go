package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/server"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// faultProxy stands between the broker and a provider: it passes requests through, or answers
// the paths it was told to break with a fault.
type faultProxy struct {
	URL    string
	target http.Handler
	mu     sync.Mutex
	faults map[string]http.HandlerFunc
	stop   chan struct{}
}

func newFaultProxy(t *testing.T, target http.Handler) *faultProxy {
	t.Helper()
	p := &faultProxy{target: target, faults: map[string]http.HandlerFunc{}, stop: make(chan struct{})}
	srv := httptest.NewServer(p)
	p.URL = srv.URL
	t.Cleanup(func() { close(p.stop); srv.Close() })
	return p
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	f := p.faults[r.URL.Path]
	p.mu.Unlock()
	if f != nil {
		f(w, r)
		return
	}
	p.target.ServeHTTP(w, r)
}

func (p *faultProxy) set(path string, f http.HandlerFunc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = map[string]http.HandlerFunc{path: f}
}

func (p *faultProxy) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = map[string]http.HandlerFunc{}
}

// The faults.

func answer(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func tooManyRequests(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "30")
	answer(http.StatusTooManyRequests, "application/json", `{"error":"slow_down","error_description":"rate limited"}`)(w, r)
}

// hang answers nothing until the client gives up (or the test ends).
func (p *faultProxy) hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-p.stop:
	}
}

func closeConnection(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// huge sends a 10 MB JSON answer.
func (p *faultProxy) huge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"access_token":"sbx_at_big","id":1001,"login":"`)
	chunk := bytes.Repeat([]byte("a"), 64<<10)
	for range 160 { // 10 MiB
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
	io.WriteString(w, `"}`)
}

// redirectLoop sends the client back to the same URL, forever.
func redirectLoop(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, r.URL.Path+"?again=1", http.StatusFound)
}

// TestProviderFaults drives the callback against a provider that fails in every way the
// issue lists. Each fault must give the user the documented 502 page with a request id and
// no stack trace, store nothing (no identity, event or webhook; only the flow is spent, as
// it is consumed before the code goes to the provider), leave the link usable — the same
// link works once the provider behaves — answer within the outbound timeout, and leave no
// goroutine behind.
func TestProviderFaults(t *testing.T) {
	checkNoGoroutineLeaks(t)
	sb, sbURL := testenv.NewSandbox(t)
	proxy := newFaultProxy(t, sb)
	const tokenPath, profilePath = "/login/oauth/access_token", "/user"
	off := server.Limits{}
	b := startBrokerTimeout(t, "1s", fmt.Sprintf(`  alpha:
    api_keys: [%q]
    confirm: none
    providers:
      github:
        type: github
        key: gh-client
        secret: gh-secret-0123456789
        scopes: [read:user, user:email]
        endpoints:
          auth_url: %s/login/oauth/authorize
          token_url: %s%s
          profile_url: %s%s
          email_url: %s/user/emails
`, testenv.KeyA, sbURL, proxy.URL, tokenPath, proxy.URL, profilePath, proxy.URL), app.Options{Limits: &off})
	if err := sb.AddClient(sandbox.Client{ID: "gh-client", Secret: "gh-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/github/callback"}}); err != nil {
		t.Fatal(err)
	}
	const js = "application/json"
	for i, c := range []struct {
		name, path string
		fault      http.HandlerFunc
		wantLog    string // in the operator's log line of the failure
	}{
		{"token endpoint answers 500", tokenPath, answer(500, "text/html", "<h1>Internal Server Error</h1>"), ""},
		{"token endpoint answers 429 with Retry-After", tokenPath, tooManyRequests, ""},
		{"token endpoint hangs past the timeout", tokenPath, proxy.hang, ""},
		{"token endpoint closes the connection", tokenPath, closeConnection, ""},
		{"token endpoint sends malformed JSON", tokenPath, answer(200, js, `{"access_token":"sbx_at_cut","token_type":`), ""},
		{"token answer has no access token", tokenPath, answer(200, js, `{"token_type":"bearer","scope":"read:user"}`), ""},
		{"token answer is null", tokenPath, answer(200, js, `null`), ""},
		{"token endpoint refuses the code", tokenPath, answer(400, js, `{"error":"invalid_grant"}`), ""},
		{"token endpoint sends 10 MB", tokenPath, proxy.huge, "exchange failed: oauth2: cannot parse json"}, // x/oauth2 reads 1 MiB at most,
		{"token endpoint redirects in a loop", tokenPath, redirectLoop, ""},
		{"profile has null fields", profilePath, answer(200, js, `{"id":null,"login":null,"name":null,"email":null,"avatar_url":null}`), ""},
		{"profile has no fields", profilePath, answer(200, js, `{}`), ""},
		{"profile id has the wrong type", profilePath, answer(200, js, `{"id":"1001","login":"ada"}`), ""},
		{"profile is null", profilePath, answer(200, js, `null`), ""},
		{"profile endpoint answers 500", profilePath, answer(500, js, `{"message":"Server Error"}`), ""},
		{"profile endpoint answers 429", profilePath, tooManyRequests, ""},
		{"profile endpoint sends malformed JSON", profilePath, answer(200, js, `{"id":1001,"login":"ada"`), ""},
		{"profile endpoint sends 10 MB", profilePath, proxy.huge, "answer longer than 1048576 bytes"},
		{"profile endpoint closes the connection", profilePath, closeConnection, ""},
		{"profile endpoint redirects in a loop", profilePath, redirectLoop, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			user := fmt.Sprintf("fault-%d", i)
			link := b.Link("alpha", testenv.KeyA, "github", "c", user)
			browser := testenv.NewBrowser(t)
			cb := testenv.StopAtCallback(t, browser, link)
			flowsBefore := b.Count("flows")
			proxy.set(c.path, c.fault)
			b.UnchangedExcept(t, []string{"flows"}, http.StatusBadGateway, "did not complete the sign-in", func() (int, string) {
				start := time.Now()
				st, page, reqID := testenv.GetPage(t, browser, cb)
				if d := time.Since(start); d > 3*time.Second {
					t.Errorf("the error page took %v; outbound_timeout is 1s", d)
				}
				testenv.NoStackTrace(t, page)
				if reqID == "" || !strings.Contains(page, reqID) {
					t.Errorf("the page does not show its request id %q", reqID)
				}
				return st, page
			})
			proxy.clear()
			if c.wantLog != "" && !strings.Contains(b.Logs.String(), c.wantLog) {
				t.Errorf("the log does not say %q:\n%s", c.wantLog, b.Logs.String())
			}
			if b.Count("flows") != flowsBefore {
				t.Errorf("flows: %d, want %d (the failed flow is spent, not removed)", b.Count("flows"), flowsBefore)
			}
			// The link was not used up: once the provider behaves, the same link works.
			if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), link); st != http.StatusOK {
				t.Fatalf("the same link after the fault: %d\n%s", st, page)
			}
			if ids := b.Identities("alpha", testenv.KeyA, "c", user); len(ids) != 1 || ids[0].ProviderUserID != "1001" {
				t.Fatalf("identities after the retry: %+v", ids)
			}
		})
	}
}

// TestTwitterRequestTokenFault: OAuth 1.0a asks the provider already when the user clicks
// the provider's button (for a request token). When that fails the user gets the 502 page
// there, no flow is stored and the link stays usable.
func TestTwitterRequestTokenFault(t *testing.T) {
	checkNoGoroutineLeaks(t)
	tw := providertest.NewTwitter(t, map[string]string{"ck-alpha": "cs-alpha-secret"})
	twURL, _ := url.Parse(tw.URL())
	// Without a fault the proxy passes requests on as the host the broker signed them for
	// (the fake verifies OAuth 1.0a signatures over that URL).
	proxy := newFaultProxy(t, &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(twURL)
		pr.Out.Header.Set("X-Forwarded-Host", pr.In.Host)
		pr.Out.Header.Set("X-Forwarded-Proto", "http")
	}})
	ep := tw.Endpoints()
	ep.RequestTokenURL = proxy.URL + "/oauth/request_token"
	off := server.Limits{}
	b := startBrokerTimeout(t, "1s", fmt.Sprintf(`  alpha:
    api_keys: [%q]
    confirm: none
    providers:
      twitter:
        type: twitter
        key: ck-alpha
        secret: cs-alpha-secret
%s`, testenv.KeyA, testenv.EndpointsYAML(ep, "        ")), app.Options{Limits: &off})
	link := b.Link("alpha", testenv.KeyA, "twitter", "c", "u")
	for _, fault := range []http.HandlerFunc{
		answer(500, "text/html", "<h1>Over capacity</h1>"),
		answer(200, "application/x-www-form-urlencoded", "oauth_callback_confirmed=true"), // no token
		answer(200, "application/x-www-form-urlencoded", "oauth_token=&oauth_token_secret="),
		proxy.hang,
		closeConnection,
		proxy.huge,
	} {
		proxy.set("/oauth/request_token", fault)
		b.Unchanged(t, http.StatusBadGateway, "did not answer as expected", func() (int, string) {
			browser := testenv.NewBrowser(t)
			_, page := testenv.Visit(t, browser, link)
			st, page := testenv.Click(t, browser, page, "twitter")
			testenv.NoStackTrace(t, page)
			return st, page
		})
	}
	proxy.clear()
	if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), link); st != http.StatusOK {
		t.Fatalf("the same link once Twitter answers: %d\n%s", st, page)
	}
}

// TestSlackOkFalse: Slack reports failure as 200 {"ok": false}, which goth does not check.
// Whether the token endpoint or the profile says it, the user gets the 502 page and nothing
// is stored. Slack's URLs are fixed, so its hosts go to the sandbox through a rewriting
// http.DefaultTransport: this test must not run in parallel.
func TestSlackOkFalse(t *testing.T) {
	checkNoGoroutineLeaks(t)
	sb, sbURL := testenv.NewSandbox(t)
	for i, c := range []struct{ name, host, path, body string }{
		{"token endpoint", "slack.com", "/api/oauth.access", `{"ok":false,"error":"invalid_code"}`},
		{"profile (auth.test)", "slack.com", "/api/auth.test", `{"ok":false,"error":"invalid_auth"}`},
		{"profile (users.info)", "slack.com", "/api/users.info", `{"ok":false,"error":"user_not_found"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			rules := append([]providertest.Rewrite{providertest.Canned(t, c.host, c.path, http.StatusOK, c.body)},
				providertest.SandboxRewrites("slack-classic", sbURL)...)
			providertest.NewRewriteTransport(rules...).Install(t)
			off := server.Limits{}
			client := fmt.Sprintf("slack-client-%d", i)
			b := startBrokerTimeout(t, "1s", fmt.Sprintf(`  alpha:
    api_keys: [%q]
    confirm: none
    providers:
      slack: {type: slack-classic, key: %s, secret: slack-secret-0123456789}
`, testenv.KeyA, client), app.Options{Limits: &off})
			if err := sb.AddClient(sandbox.Client{ID: client, Secret: "slack-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/slack/callback"}}); err != nil {
				t.Fatal(err)
			}
			browser := testenv.NewBrowser(t)
			cb := testenv.StopAtCallback(t, browser, b.Link("alpha", testenv.KeyA, "slack", "c", "u"))
			b.UnchangedExcept(t, []string{"flows"}, http.StatusBadGateway, "did not complete the sign-in", func() (int, string) {
				st, page, _ := testenv.GetPage(t, browser, cb)
				testenv.NoStackTrace(t, page)
				return st, page
			})
		})
	}
}

// The fault tests start brokers with a chosen outbound timeout, and check that nothing leaks.

// startBrokerTimeout is testenv.StartBrokerWith with server.outbound_timeout set to timeout (the
// fault tests use the shortest allowed, 1s, so a hanging provider costs one second).
func startBrokerTimeout(t *testing.T, timeout, botsYAML string, opts app.Options) *testenv.Broker {
	t.Helper()
	return testenv.StartBrokerServer(t, "  outbound_timeout: "+timeout+"\n", botsYAML, opts)
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

// closeIdleConnections closes the idle connections of rt, or of the transport it wraps.
func closeIdleConnections(rt http.RoundTripper) {
	switch tr := rt.(type) {
	case *http.Transport:
		tr.CloseIdleConnections()
	case *providertest.RewriteTransport:
		closeIdleConnections(tr.Base)
	}
}
