package server_test

import (
	"database/sql"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// twoBots runs bots alpha and bravo, each with its own sandbox app, on one auto-approving
// sandbox, with a test clock.
func twoBots(t *testing.T) (*testenv.Broker, *sandbox.Server, *testenv.Clock) {
	t.Helper()
	sb, sbURL := testenv.NewSandbox(t)
	clk := testenv.NewClock()
	b := testenv.Start(t, testenv.Config{
		Bots: []*testenv.BotConfig{
			testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").Provider("sandbox", "sandbox", "client-a", "secret-a-0123456789"),
			testenv.Bot("bravo").Key(testenv.KeyB).Confirm("none").Provider("sandbox", "sandbox", "client-b", "secret-b-0123456789"),
		},
		App: app.Options{SandboxURL: sbURL, Now: clk.Now},
	})
	testenv.AddSandboxClients(t, sb, b.URL)
	return b, sb, clk
}

func TestFlowAttacksChangeNothing(t *testing.T) {
	b, _, clk := twoBots(t)

	t.Run("link replayed after use", func(t *testing.T) {
		link := b.Link("alpha", testenv.KeyA, "sandbox", "c", "replay")
		if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), link); st != http.StatusOK {
			t.Fatalf("first use: %d\n%s", st, page)
		}
		b.Unchanged(t, http.StatusGone, "already used", func() (int, string) { return testenv.Visit(t, testenv.NewBrowser(t), link) })
		// The older link shape opens the same page, and answers the same.
		older := strings.Replace(link, "/connect?", "/sandbox/auth?", 1)
		b.Unchanged(t, http.StatusGone, "already used", func() (int, string) { return testenv.Visit(t, testenv.NewBrowser(t), older) })
	})

	t.Run("expired link", func(t *testing.T) {
		link := b.Link("alpha", testenv.KeyA, "sandbox", "c", "late")
		clk.Advance(11 * time.Minute)
		b.Unchanged(t, http.StatusGone, "expired", func() (int, string) { return testenv.Visit(t, testenv.NewBrowser(t), link) })
	})

	t.Run("bot A's link at bot B's route", func(t *testing.T) {
		link := b.Link("alpha", testenv.KeyA, "sandbox", "c", "cross")
		moved := strings.Replace(link, "/bots/alpha/", "/bots/bravo/", 1)
		b.Unchanged(t, http.StatusNotFound, "not valid", func() (int, string) { return testenv.Visit(t, testenv.NewBrowser(t), moved) })
	})

	t.Run("unknown bot and unknown provider", func(t *testing.T) {
		link := b.Link("alpha", testenv.KeyA, "sandbox", "c", "unknown")
		token := link[strings.Index(link, "?"):]
		for _, u := range []string{
			strings.Replace(link, "/bots/alpha/", "/bots/nosuchbot/", 1),
			b.URL + "/bots/nosuchbot/sandbox/auth" + token,
			b.URL + "/bots/alpha/github/auth" + token,  // a provider the bot does not have
			b.URL + "/bots/bravo/sandbox/auth" + token, // a provider of the bot, not of the link
			b.URL + "/bots/nosuchbot/sandbox/callback?code=x&state=y",
		} {
			b.Unchanged(t, http.StatusNotFound, "", func() (int, string) { return testenv.Visit(t, testenv.NewBrowser(t), u) })
		}
	})

	t.Run("garbage link token", func(t *testing.T) {
		b.Unchanged(t, http.StatusNotFound, "not valid", func() (int, string) {
			return testenv.Visit(t, testenv.NewBrowser(t), b.URL+"/bots/alpha/sandbox/auth?link=%00%27--")
		})
	})

	t.Run("callback without the flow cookie", func(t *testing.T) {
		cb := testenv.StopAtCallback(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "sandbox", "c", "nocookie"))
		b.Unchanged(t, http.StatusBadRequest, "did not start", func() (int, string) { return testenv.Visit(t, testenv.NewBrowser(t), cb) })
	})

	t.Run("state tampered", func(t *testing.T) {
		browser := testenv.NewBrowser(t)
		cb := testenv.StopAtCallback(t, browser, b.Link("alpha", testenv.KeyA, "sandbox", "c", "tamper"))
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("state", q.Get("state")+"x")
		u.RawQuery = q.Encode()
		b.Unchanged(t, http.StatusBadRequest, "does not belong", func() (int, string) { return testenv.Visit(t, browser, u.String()) })
	})

	t.Run("another browser's cookie (forwarded callback)", func(t *testing.T) {
		victim, attacker := testenv.NewBrowser(t), testenv.NewBrowser(t)
		// The attacker starts a flow of their own, so they hold a valid cookie, then
		// feeds the victim's callback to it (and the other way round).
		cbVictim := testenv.StopAtCallback(t, victim, b.Link("alpha", testenv.KeyA, "sandbox", "c", "victim"))
		cbAttacker := testenv.StopAtCallback(t, attacker, b.Link("alpha", testenv.KeyA, "sandbox", "c", "attacker"))
		b.Unchanged(t, http.StatusBadRequest, "does not belong", func() (int, string) { return testenv.Visit(t, attacker, cbVictim) })
		b.Unchanged(t, http.StatusBadRequest, "does not belong", func() (int, string) { return testenv.Visit(t, victim, cbAttacker) })
	})

	t.Run("callback replayed after success", func(t *testing.T) {
		browser := testenv.NewBrowser(t)
		cb := testenv.StopAtCallback(t, browser, b.Link("alpha", testenv.KeyA, "sandbox", "c", "twice"))
		// Keep a copy of the flow cookie to replay it after the broker cleared it.
		u, _ := url.Parse(b.URL + "/bots/alpha/sandbox/")
		saved := browser.Jar.Cookies(u)
		if st, page := testenv.Visit(t, browser, cb); st != http.StatusOK {
			t.Fatalf("first callback: %d\n%s", st, page)
		}
		browser.Jar.SetCookies(u, saved)
		b.Unchanged(t, http.StatusBadRequest, "already used", func() (int, string) { return testenv.Visit(t, browser, cb) })
	})

	t.Run("denied at the provider", func(t *testing.T) {
		browser := testenv.NewBrowser(t)
		link := b.Link("alpha", testenv.KeyA, "sandbox", "c", "denier")
		cb := testenv.StopAtCallback(t, browser, link)
		u, _ := url.Parse(cb)
		denied := u.Scheme + "://" + u.Host + u.Path + "?error=access_denied&error_description=%3Cb%3Ephish%3C%2Fb%3E&state=" + url.QueryEscape(u.Query().Get("state"))
		// Only the flow changes: it is spent, so it no longer counts against the link's cap.
		b.UnchangedExcept(t, []string{"flows"}, http.StatusForbidden, "You cancelled linking", func() (int, string) {
			status, page := testenv.Visit(t, browser, denied)
			if strings.Contains(page, "phish") {
				t.Errorf("the page shows the attacker's error_description:\n%s", page)
			}
			if !strings.Contains(page, `href="`+html.EscapeString(link)+`"`) {
				t.Errorf("the page does not lead back to the link's page:\n%s", page)
			}
			return status, page
		})
		if n := len(b.Identities("alpha", testenv.KeyA, "c", "denier")); n != 0 {
			t.Errorf("%d identities after a denial", n)
		}
		if n := openFlows(t, b, "denier"); n != 0 {
			t.Errorf("%d flows still open after the denial, want it spent", n)
		}
		// The browser's flow cookie is gone: the real callback cannot be used afterwards.
		b.Unchanged(t, http.StatusBadRequest, "", func() (int, string) { return testenv.Visit(t, browser, cb) })
		// The link is not spent: the user can change their mind.
		if st, page := testenv.ConnectAll(t, browser, link); st != http.StatusOK || !testenv.IsComplete(page) {
			t.Errorf("the link after a denial: %d\n%s", st, page)
		}
	})
}

func TestTwitterDeniedAndTamperedToken(t *testing.T) {
	b, tw := testenv.StartTwitterBroker(t)

	t.Run("oauth_token is not the request token we obtained", func(t *testing.T) {
		browser := testenv.NewBrowser(t)
		cb := testenv.StopAtCallback(t, browser, b.Link("alpha", testenv.KeyA, "twitter", "c", "u"))
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("oauth_token", "attacker-request-token")
		u.RawQuery = q.Encode()
		b.Unchanged(t, http.StatusBadRequest, "does not belong", func() (int, string) { return testenv.Visit(t, browser, u.String()) })
	})
	t.Run("user cancels at twitter", func(t *testing.T) {
		tw.SetDeny(true)
		defer tw.SetDeny(false)
		browser := testenv.NewBrowser(t)
		cb := testenv.StopAtCallback(t, browser, b.Link("alpha", testenv.KeyA, "twitter", "c", "u2"))
		b.UnchangedExcept(t, []string{"flows"}, http.StatusForbidden, "You cancelled linking", func() (int, string) { return testenv.Visit(t, browser, cb) })
		if n := openFlows(t, b, "u2"); n != 0 {
			t.Errorf("%d flows still open after the denial, want it spent", n)
		}
	})
}

func TestBotAPIAuthAndInputAttacks(t *testing.T) {
	b, _, _ := twoBots(t)
	link := map[string]any{"provider": "sandbox", "channel": "c", "user": "u"}
	cases := []struct {
		name   string
		bot    string
		key    string
		body   any
		status int
		code   string
	}{
		{"no key", "alpha", "", link, http.StatusUnauthorized, "unauthorized"},
		{"wrong key", "alpha", "not-a-key-of-anybody-000", link, http.StatusUnauthorized, "unauthorized"},
		{"bot A's key on bot B", "bravo", testenv.KeyA, link, http.StatusUnauthorized, "unauthorized"},
		{"unknown bot", "nosuchbot", testenv.KeyA, link, http.StatusUnauthorized, "unauthorized"},
		{"unknown provider", "alpha", testenv.KeyA, map[string]any{"provider": "github", "channel": "c", "user": "u"}, http.StatusNotFound, "unknown_provider"},
		{"user with a control character", "alpha", testenv.KeyA, map[string]any{"provider": "sandbox", "channel": "c", "user": "bob\x00"}, http.StatusBadRequest, "invalid_request"},
		{"user with a newline", "alpha", testenv.KeyA, map[string]any{"provider": "sandbox", "channel": "c", "user": "bob\nadmin"}, http.StatusBadRequest, "invalid_request"},
		{"user over 256 bytes", "alpha", testenv.KeyA, map[string]any{"provider": "sandbox", "channel": "c", "user": strings.Repeat("é", 129)}, http.StatusBadRequest, "invalid_request"},
		{"empty user", "alpha", testenv.KeyA, map[string]any{"provider": "sandbox", "channel": "c", "user": ""}, http.StatusBadRequest, "invalid_request"},
		{"channel with a slash", "alpha", testenv.KeyA, map[string]any{"provider": "sandbox", "channel": "a/b", "user": "u"}, http.StatusBadRequest, "invalid_request"},
		{"unknown field", "alpha", testenv.KeyA, map[string]any{"provider": "sandbox", "channel": "c", "user": "u", "userId": "x"}, http.StatusBadRequest, "invalid_request"},
		{"redirect_url without redirect_origins", "alpha", testenv.KeyA, map[string]any{"provider": "sandbox", "channel": "c", "user": "u", "redirect_url": "https://evil.example/"}, http.StatusBadRequest, "redirect_url_not_allowed"},
		{"ttl too long", "alpha", testenv.KeyA, map[string]any{"provider": "sandbox", "channel": "c", "user": "u", "ttl_seconds": 999999}, http.StatusBadRequest, "invalid_request"},
		{"bad scope", "alpha", testenv.KeyA, map[string]any{"provider": "sandbox", "channel": "c", "user": "u", "scopes": []string{"a b"}}, http.StatusBadRequest, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b.Unchanged(t, c.status, "", func() (int, string) {
				var p testenv.ProblemBody
				st := b.API("POST", "/bots/"+c.bot+"/links", c.key, c.body, &p)
				if p.Code != c.code {
					t.Errorf("code %q, want %q (%s)", p.Code, c.code, p.Detail)
				}
				return st, p.Detail
			})
		})
	}

	t.Run("a key opens only its own bot's identities", func(t *testing.T) {
		if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "sandbox", "c", "owner")); st != http.StatusOK {
			t.Fatalf("%d %s", st, page)
		}
		id := b.Identities("alpha", testenv.KeyA, "c", "owner")[0].ID
		for _, req := range []struct{ method, path string }{
			{"GET", fmt.Sprintf("/bots/bravo/identities/%d/credentials", id)},
			{"DELETE", fmt.Sprintf("/bots/bravo/identities/%d", id)},
		} {
			b.Unchanged(t, http.StatusNotFound, "", func() (int, string) { return b.API(req.method, req.path, testenv.KeyB, nil, nil), "" })
			b.Unchanged(t, http.StatusUnauthorized, "", func() (int, string) { return b.API(req.method, req.path, testenv.KeyA, nil, nil), "" })
		}
	})
}

// TestPagesCarrySecurityHeaders: every HTML page the flow serves forbids inline script,
// framing, referrers and caching; the connect page sends no referrer to other sites but keeps
// its own origin on its POSTs (same-origin), and lets its forms lead to a provider.
func TestPagesCarrySecurityHeaders(t *testing.T) {
	b, _, _ := twoBots(t)
	for _, u := range []string{
		b.URL + "/bots/alpha/sandbox/auth?link=nope",          // error page
		b.URL + "/bots/alpha/sandbox/callback?code=x&state=y", // error page
		b.URL + "/no/such/page",                               // not found
	} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", u, csp)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
			if h.Get(k) != want {
				t.Errorf("%s: %s = %q, want %q", u, k, h.Get(k), want)
			}
		}
		if h.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", u)
		}
	}
	// The connect page, before and after its provider.
	browser := testenv.NewBrowser(t)
	link := b.Link("alpha", testenv.KeyA, "sandbox", "c", "headers")
	for i := range 2 {
		resp, err := browser.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := resp.Header
		if csp := h.Get("Content-Security-Policy"); resp.StatusCode != http.StatusOK || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "same-origin" ||
			!strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("connect page %d: %d %v", i, resp.StatusCode, h)
		}
		if i == 0 {
			// The button's answer sends the browser to the provider without a referrer.
			resp := testenv.Submit(t, noFollow(browser), testenv.FormFor(t, string(page), "sandbox"))
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("the button's redirect: %d %v", resp.StatusCode, resp.Header)
			}
			if st, _ := testenv.Visit(t, browser, resp.Header.Get("Location")); st != http.StatusOK {
				t.Fatalf("the flow: %d", st)
			}
		}
	}
}

// TestProviderFailuresGiveA502Page: a provider answering null profile fields (goth's own
// twitter provider panics on those) or hanging past the timeout gives the user a clean 502
// page and shows no stack trace. Nothing is stored: no identity, no event, and the link
// stays unused so the user can start again. Only the flow is spent — it was consumed before
// the code went to the provider, so one code is never exchanged twice.
func TestProviderFailuresGiveA502Page(t *testing.T) {
	t.Run("null profile fields", func(t *testing.T) {
		tw := providertest.NewTwitter(t, map[string]string{"ck-alpha": "cs-alpha-secret"})
		tw.SetNullFields("id_str", "name", "screen_name")
		b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
			Provider("twitter", "twitter", "ck-alpha", "cs-alpha-secret", testenv.At(tw.Endpoints()))}})
		browser := testenv.NewBrowser(t)
		link := b.Link("alpha", testenv.KeyA, "twitter", "c", "u")
		cb := testenv.StopAtCallback(t, browser, link)
		b.UnchangedExcept(t, []string{"flows"}, http.StatusBadGateway, "did not complete the sign-in", func() (int, string) {
			st, page := testenv.Visit(t, browser, cb)
			if strings.Contains(page, "goroutine") || strings.Contains(page, ".go:") {
				t.Errorf("the page shows a stack trace:\n%s", page)
			}
			return st, page
		})
		// The link was not spent: once the provider behaves, the user's retry works.
		tw.SetNullFields()
		if st, page := testenv.ConnectAll(t, browser, link); st != http.StatusOK {
			t.Errorf("retrying the link: %d\n%s", st, page)
		}
	})

	t.Run("token endpoint hangs past the timeout", func(t *testing.T) {
		sb, sbURL := testenv.NewSandbox(t)
		release := make(chan struct{})
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(func() { close(release); hang.Close() })
		b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
			Provider("github", "github", "gh-client", "gh-secret-0123456789", testenv.At(config.Endpoints{
				AuthURL: sbURL + "/login/oauth/authorize", TokenURL: hang.URL + "/token", ProfileURL: sbURL + "/user"}))}})
		if err := sb.AddClient(sandbox.Client{ID: "gh-client", Secret: "gh-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/github/callback"}}); err != nil {
			t.Fatal(err)
		}
		browser := testenv.NewBrowser(t)
		cb := testenv.StopAtCallback(t, browser, b.Link("alpha", testenv.KeyA, "github", "c", "u"))
		start := time.Now()
		b.UnchangedExcept(t, []string{"flows"}, http.StatusBadGateway, "", func() (int, string) { return testenv.Visit(t, browser, cb) })
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("the callback took %v; outbound_timeout is 5s", d)
		}
	})
}

// openFlows counts the flows of a chat user's links that were not consumed.
func openFlows(t *testing.T, b *testenv.Broker, user string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+b.DBPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM flows f JOIN links l ON l.id = f.link_id WHERE l.user_id = ? AND f.consumed_at IS NULL`, user).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// noFollow is the browser, stopping at the first redirect.
func noFollow(browser *http.Client) *http.Client {
	c := *browser
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}
