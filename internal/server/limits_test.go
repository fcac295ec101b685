package server_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/server"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestFlowRateLimitPerClientAddress: one address gets FlowPerClient refused auth and callback
// requests a minute (links that do not exist, callbacks without a flow), then a 429 page with
// Retry-After; another address is not affected, nor is the bot API, and a forged
// X-Forwarded-For changes nothing unless the peer is a trusted proxy.
func TestFlowRateLimitPerClientAddress(t *testing.T) {
	b := testenv.StartLimitedBroker(t, server.Limits{FlowPerClient: 4}, "")
	auth := b.URL + "/bots/alpha/sandbox/auth?link=not-a-link"
	local, other := testenv.FromAddress("127.0.0.1"), testenv.FromAddress("127.0.0.2")
	if resp, err := other.Get(b.URL + "/healthz"); err != nil {
		t.Skipf("this host cannot connect from 127.0.0.2 (Linux routes all of 127/8 to loopback): %v", err)
	} else {
		resp.Body.Close()
	}
	for i := range 4 {
		if resp, _ := testenv.GetWithXFF(t, local, auth, ""); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("request %d: %d, want 404 (unknown link, within the limit)", i+1, resp.StatusCode)
		}
	}
	for _, xff := range []string{"", "198.51.100.7", "127.0.0.2"} {
		resp, page := testenv.GetWithXFF(t, local, auth, xff)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("over the limit (X-Forwarded-For %q): %d, want 429", xff, resp.StatusCode)
		}
		testenv.MustContain(t, page, "Too many requests")
		testenv.MustContain(t, page, resp.Header.Get("X-Request-Id"))
		if resp.Header.Get("Retry-After") == "" || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("429 page headers: %v", resp.Header)
		}
	}
	// The callback shares the allowance.
	if resp, _ := testenv.GetWithXFF(t, local, b.URL+"/bots/alpha/sandbox/callback?code=x&state=y", ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("callback over the limit: %d, want 429", resp.StatusCode)
	}
	if resp, _ := testenv.GetWithXFF(t, other, auth, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another client address: %d, want 404", resp.StatusCode)
	}
	b.Link("alpha", testenv.KeyA, "sandbox", "c", "u") // the bot API has its own limit
	if n := testenv.MetricValue(t, b, "oauthbroker_rate_limited_total", map[string]string{"limit": "flow"}); n != 4 {
		t.Errorf("oauthbroker_rate_limited_total{limit=flow} = %v, want 4", n)
	}

	t.Run("behind a trusted proxy", func(t *testing.T) {
		b := testenv.StartLimitedBroker(t, server.Limits{FlowPerClient: 2, TrustedProxies: []string{"127.0.0.1/32"}}, "")
		auth := b.URL + "/bots/alpha/sandbox/auth?link=not-a-link"
		proxy := testenv.FromAddress("127.0.0.1")
		for _, xff := range []string{"203.0.113.1", "203.0.113.1"} {
			if resp, _ := testenv.GetWithXFF(t, proxy, auth, xff); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("client %s within its limit: %d", xff, resp.StatusCode)
			}
		}
		if resp, _ := testenv.GetWithXFF(t, proxy, auth, "203.0.113.1"); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("client 203.0.113.1 over its limit: %d, want 429", resp.StatusCode)
		}
		// The right-most untrusted address is the client: what it put further left is not believed.
		if resp, _ := testenv.GetWithXFF(t, proxy, auth, "10.9.9.9, 203.0.113.1"); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("a forged hop left of the client: %d, want 429", resp.StatusCode)
		}
		if resp, _ := testenv.GetWithXFF(t, proxy, auth, "203.0.113.2"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("another client behind the proxy: %d, want 404", resp.StatusCode)
		}
		// A peer that is not a trusted proxy is the client, whatever its header says.
		untrusted := testenv.FromAddress("127.0.0.2")
		for range 2 {
			testenv.GetWithXFF(t, untrusted, auth, "203.0.113.3")
		}
		if resp, _ := testenv.GetWithXFF(t, untrusted, auth, "203.0.113.4"); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("an untrusted peer changing its X-Forwarded-For: %d, want 429", resp.StatusCode)
		}
	})
}

// TestLinkRateLimitPerBot: a bot gets LinksPerBot link-creating calls a minute — links of one
// provider or of several, and require, which answers a connect_url — then 429 problem+json
// with Retry-After; other bots and other routes, confirm included, are not affected, and
// calls without the bot's key neither count nor are limited.
func TestLinkRateLimitPerBot(t *testing.T) {
	b := testenv.StartLimitedBroker(t, server.Limits{LinksPerBot: 3}, "    confirm: code\n")
	body := map[string]any{"provider": "sandbox", "channel": "c", "user": "u"}
	for range 5 { // someone without the key cannot use up bot alpha's allowance
		if st := b.API("POST", "/bots/alpha/links", "wrong-key-0123456789abcdef", body, nil); st != http.StatusUnauthorized {
			t.Fatalf("wrong key: %d", st)
		}
	}
	if st := b.API("POST", "/bots/alpha/links", testenv.KeyA, body, nil); st != http.StatusCreated {
		t.Fatalf("a link of one provider: %d", st)
	}
	var several testenv.LinkBody
	if st := b.API("POST", "/bots/alpha/links", testenv.KeyA, map[string]any{"providers": []any{map[string]any{"provider": "sandbox"}},
		"channel": "c", "user": "ada", "user_label": "Ada"}, &several); st != http.StatusCreated {
		t.Fatalf("a link in the providers form: %d", st)
	}
	var req struct {
		ConnectURL string `json:"connect_url"`
	}
	if st := b.API("POST", "/bots/alpha/require", testenv.KeyA, map[string]any{"channel": "c", "user": "u", "providers": []string{"sandbox"}}, &req); st != http.StatusOK || req.ConnectURL == "" {
		t.Fatalf("require within the limit: %d %+v", st, req)
	}
	links := b.Count("links")
	for _, c := range []struct{ route, body string }{
		{"links", `{"provider":"sandbox","channel":"c","user":"u"}`},
		{"links", `{"providers":["sandbox"],"channel":"c","user":"u","user_label":"Ada"}`},
		{"require", `{"channel":"c","user":"u","providers":["sandbox"]}`},
	} {
		// Through http.DefaultClient, so TestMain checks the 429 against the OpenAPI document.
		req, _ := http.NewRequest(http.MethodPost, b.URL+"/api/v1/bots/alpha/"+c.route, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+testenv.KeyA)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p testenv.ProblemBody
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || p.Code != "rate_limited" || resp.Header.Get("Content-Type") != "application/problem+json" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s over the limit: %d %+v %v", c.route, c.body, resp.StatusCode, p, resp.Header)
		}
	}
	if b.Count("links") != links {
		t.Errorf("a refused call stored a link")
	}
	// Confirming makes no link: the bot confirms the code of a link it made within the limit.
	_, page := testenv.ConnectAll(t, testenv.NewBrowser(t), several.URL)
	code := regexp.MustCompile(`id="code">(\d{6})<`).FindStringSubmatch(page)
	if code == nil {
		t.Fatalf("no code on the page:\n%s", page)
	}
	if st := b.API("POST", "/bots/alpha/links/confirm", testenv.KeyA, map[string]string{"channel": "c", "user": "ada", "code": code[1]}, nil); st != http.StatusOK {
		t.Errorf("confirm past the link limit: %d, want 200", st)
	}
	if st := b.API("GET", "/bots/alpha/identities?channel=c&user=u", testenv.KeyA, nil, nil); st != http.StatusOK {
		t.Errorf("reading identities is not limited: %d", st)
	}
	if st := b.API("POST", "/bots/bravo/links", testenv.KeyB, body, nil); st != http.StatusCreated {
		t.Errorf("bot bravo has its own allowance: %d", st)
	}
}

// TestOpenFlowsCapPerLink: one link can have broker.MaxOpenFlows sign-ins started and not
// finished; the next click gets a 429 page and stores nothing. The same chat user's other
// link is not affected, and a flow the user cancelled at the provider no longer counts.
func TestOpenFlowsCapPerLink(t *testing.T) {
	b := testenv.StartLimitedBroker(t, server.Limits{}, "")
	link := b.Link("alpha", testenv.KeyA, "sandbox", "c", "u")
	type started struct {
		browser  *http.Client
		callback string
	}
	var flows []started
	for range 10 { // broker.MaxOpenFlows
		browser := testenv.NewBrowser(t)
		flows = append(flows, started{browser, testenv.StopAtCallback(t, browser, link)})
	}
	clickOnce := func() (int, string) {
		browser := testenv.NewBrowser(t)
		_, page := testenv.Visit(t, browser, link)
		resp := testenv.Submit(t, noFollow(browser), testenv.FormFor(t, page, "sandbox"))
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	b.Unchanged(t, http.StatusTooManyRequests, "Too many sign-ins started", clickOnce)
	if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "sandbox", "c", "u")); st != http.StatusOK || !testenv.IsComplete(page) {
		t.Fatalf("the same user's other link: %d\n%s", st, page)
	}
	// One of the ten says no at the provider: its flow is spent and makes room for one more.
	cb, _ := url.Parse(flows[0].callback)
	denied := cb.Scheme + "://" + cb.Host + cb.Path + "?error=access_denied&state=" + url.QueryEscape(cb.Query().Get("state"))
	if st, page := testenv.Visit(t, flows[0].browser, denied); st != http.StatusForbidden {
		t.Fatalf("denying one flow: %d\n%s", st, page)
	}
	if st, _ := clickOnce(); st != http.StatusFound {
		t.Fatalf("after one flow was cancelled: %d, want 302 to the provider", st)
	}
	b.Unchanged(t, http.StatusTooManyRequests, "Too many sign-ins started", clickOnce)
}

// TestJSONBodyLimits: every JSON route of the bot API refuses a body over 64 KiB with 400
// before doing anything, and the callback refuses a form over 64 KiB.
func TestJSONBodyLimits(t *testing.T) {
	b := testenv.StartLimitedBroker(t, server.Limits{}, "    confirm: code\n")
	big := strings.Repeat("a", 100<<10)
	for _, route := range []string{"/bots/alpha/links", "/bots/alpha/links/confirm", "/bots/alpha/require"} {
		t.Run(route, func(t *testing.T) {
			b.Unchanged(t, http.StatusBadRequest, "larger than 64 KiB", func() (int, string) {
				var p testenv.ProblemBody
				st := b.API("POST", route, testenv.KeyA, map[string]any{"channel": "c", "user": big}, &p)
				return st, p.Detail
			})
		})
	}
	t.Run("callback form", func(t *testing.T) {
		b.Unchanged(t, http.StatusBadRequest, "malformed", func() (int, string) {
			resp, err := http.Post(b.URL+"/bots/alpha/sandbox/callback", "application/x-www-form-urlencoded", strings.NewReader("code=x&state="+big))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			page, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(page)
		})
	})
}

// TestHTTPServerTimeouts: the server `serve` runs bounds every phase of a request, so a slow
// client cannot hold a connection (slowloris), and the write deadline leaves room for a
// callback's two provider calls.
func TestHTTPServerTimeouts(t *testing.T) {
	cfg := &config.Config{Server: config.Server{OutboundTimeout: 10 * time.Second}}
	srv := app.HTTPServer(http.NotFoundHandler(), cfg)
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if d <= 0 || d > 5*time.Minute {
			t.Errorf("%s = %v, want a bound", name, d)
		}
	}
	if srv.ReadHeaderTimeout > 15*time.Second {
		t.Errorf("ReadHeaderTimeout %v lets slow headers hold connections", srv.ReadHeaderTimeout)
	}
	if srv.WriteTimeout <= 2*cfg.Server.OutboundTimeout {
		t.Errorf("WriteTimeout %v cannot fit a callback's two provider calls of %v", srv.WriteTimeout, cfg.Server.OutboundTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes = %d", srv.MaxHeaderBytes)
	}
}

// TestRedirectURLAttacksThroughTheAPI feeds the open-redirect corpus of the validator's unit
// test to the real API: every "deny" URL is refused with redirect_url_not_allowed and stores
// nothing; every "allow" URL makes a link that sends the browser there once linked.
func TestRedirectURLAttacksThroughTheAPI(t *testing.T) {
	b := testenv.StartLimitedBroker(t, server.Limits{}, "    redirect_origins: [https://bot.example, http://localhost:3978]\n")
	f, err := os.Open("../../internal/broker/testdata/redirect_urls.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unescape := strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\\`, `\`)
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		verdict, raw, _ := strings.Cut(line, " ")
		raw = unescape.Replace(raw)
		n++
		body := map[string]any{"provider": "sandbox", "channel": "c", "user": "redirect", "redirect_url": raw}
		if verdict == "deny" {
			b.Unchanged(t, http.StatusBadRequest, "", func() (int, string) {
				var p testenv.ProblemBody
				st := b.API("POST", "/bots/alpha/links", testenv.KeyA, body, &p)
				if p.Code != "redirect_url_not_allowed" {
					t.Errorf("%q: code %q", raw, p.Code)
				}
				return st, p.Detail
			})
			continue
		}
		var l testenv.LinkBody
		if st := b.API("POST", "/bots/alpha/links", testenv.KeyA, body, &l); st != http.StatusCreated {
			t.Errorf("%q refused: %d", raw, st)
		}
	}
	if n < 40 {
		t.Fatalf("read %d corpus lines", n)
	}
	// An allowed redirect is where the browser goes once the link's providers are linked.
	browser := testenv.NewBrowser(t)
	browser.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "bot.example" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	var l testenv.LinkBody
	b.API("POST", "/bots/alpha/links", testenv.KeyA, map[string]any{"provider": "sandbox", "channel": "c", "user": "r2", "redirect_url": "https://bot.example/linked?x=1"}, &l)
	_, page := testenv.Visit(t, browser, l.URL)
	resp := testenv.Submit(t, browser, testenv.FormFor(t, page, "sandbox"))
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://bot.example/linked?x=1" {
		t.Errorf("success: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
