package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
	"github.com/oauthbroker/oauthbroker/templates"
)

// fuzzServer is the real server for bot "a" with providers "sb" and "sb2" at an
// auto-approving sandbox, on an in-memory store.
type fuzzServer struct {
	srv     *Server
	broker  *broker.Broker
	store   store.Store
	sandbox *http.Client // follows the provider's redirects, stops at the callback
	users   atomic.Int64
}

// realServer is the real server for cfg on an in-memory store, with the providers of cfg
// (built with opts), fresh keys and the parsed pages; deps, when given, change its Deps
// (a benchmark's logger).
func realServer(t testing.TB, cfg *config.Config, opts providers.Options, deps ...func(*Deps)) (*Server, *broker.Broker, store.Store, *providers.Registry) {
	t.Helper()
	reg, err := providers.NewRegistry(t.Context(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, _, err := seal.GenerateKeys(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pages, err := templates.Parse()
	if err != nil {
		t.Fatal(err)
	}
	b := broker.New(cfg, reg, st, keys, broker.Options{Logger: slog.New(slog.DiscardHandler)})
	d := Deps{Broker: b, Pages: pages, Keys: keys}
	for _, f := range deps {
		f(&d)
	}
	return New(d), b, st, reg
}

func newFuzzServer(f testing.TB, deps ...func(*Deps)) *fuzzServer {
	sb, err := sandbox.New(sandbox.Options{Users: []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada"}}, AutoApprove: "1001"})
	if err != nil {
		f.Fatal(err)
	}
	sbSrv := httptest.NewServer(sb)
	f.Cleanup(sbSrv.Close)
	const public = "https://broker.test"
	cfg := &config.Config{
		Server: config.Server{PublicURL: public, OutboundTimeout: 2 * time.Second, LinkTTL: 10 * time.Minute, MaxLinkTTL: time.Hour},
		Bots: []*config.Bot{{Name: "a", APIKeys: []string{"key-0123456789abcdef"}, Confirm: config.ConfirmNone,
			Providers: []*config.Provider{{Name: "sb", Type: "sandbox"}, {Name: "sb2", Type: "sandbox"}}}},
	}
	srv, b, st, reg := realServer(f, cfg, providers.Options{HTTPClient: &http.Client{Timeout: 2 * time.Second}, SandboxURL: sbSrv.URL}, deps...)
	for _, c := range reg.SandboxClients() {
		if err := sb.AddClient(sandbox.Client{ID: c.ClientID, Secret: c.ClientSecret, RedirectURIs: []string{c.RedirectURI}}); err != nil {
			f.Fatal(err)
		}
	}
	return &fuzzServer{
		srv: srv, broker: b, store: st,
		sandbox: &http.Client{CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Host == "broker.test" {
				return http.ErrUseLastResponse
			}
			return nil
		}},
	}
}

// startFlow makes a link for a fresh chat user, opens its page, clicks the provider's button
// and lets the provider approve: it returns the user, the browser's flow cookie and the
// callback query the provider sent.
func (fs *fuzzServer) startFlow(t testing.TB) (string, *http.Cookie, url.Values) {
	t.Helper()
	user := fmt.Sprintf("fuzz-%d", fs.users.Add(1))
	link, err := fs.broker.CreateLink(t.Context(), broker.LinkRequest{Bot: "a", Providers: []broker.Requirement{{Provider: "sb"}}, Channel: "c", User: user})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	fs.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, link.URL, nil))
	page := rec.Result().Cookies()
	form := regexp.MustCompile(`name="form" value="([^"]+)"`).FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || len(page) != 1 || form == nil {
		t.Fatalf("connect page: %d, %d cookies\n%s", rec.Code, len(page), rec.Body)
	}
	token, _ := url.Parse(link.URL)
	click := httptest.NewRequest(http.MethodPost, "https://broker.test/bots/a/sb/auth",
		strings.NewReader(url.Values{"link": {token.Query().Get("link")}, "form": {form[1]}}.Encode()))
	click.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	click.Header.Set("Sec-Fetch-Site", "same-origin")
	click.AddCookie(page[0])
	rec = httptest.NewRecorder()
	fs.srv.ServeHTTP(rec, click)
	if rec.Code != http.StatusFound {
		t.Fatalf("auth: %d %s", rec.Code, rec.Body)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("auth set %d cookies", len(cookies))
	}
	resp, err := fs.sandbox.Get(rec.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || cb.Query().Get("code") == "" {
		t.Fatalf("the provider did not send the browser back: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return user, cookies[0], cb.Query()
}

// FuzzCallback feeds the callback arbitrary query strings and form bodies, with the real flow
// cookie, none, or a tampered one. "{code}" and "{state}" in the input stand for the values
// the provider really sent, so the fuzzer reaches every branch, success included. Whatever
// the input: the answer is one of the documented statuses — a page without a stack trace, or
// the 303 back to the connect page — an identity exists exactly when the answer was that 303,
// and nothing else is stored. A callback without the flow cookie, with a tampered one, or
// whose state (as net/http parses the request for the handler) is not the one the provider
// sent, or that does not parse, must be refused: 400, no identity, and the flow not consumed
// — the genuine callback with the genuine cookie still links the account afterwards.
// Seeds: testdata/fuzz/FuzzCallback. Run: go test -run '^$' -fuzz '^FuzzCallback$' ./internal/server/
func FuzzCallback(f *testing.F) {
	for _, s := range []struct {
		query, form string
		cookie      uint8
	}{
		{"code={code}&state={state}", "", 0},
		{"", "code={code}&state={state}", 0},
		{"code={code}&state={state}", "", 1},
		{"code={code}&state={state}", "", 2},
		{"code={code}&state=x{state}", "", 0},
		{"code={code}&state={state}&state=other", "", 0},
		{"code=&state={state}", "", 0},
		{"code={code}{code}&state={state}", "", 0},
		{"error=access_denied&state={state}", "", 0},
		{"error=server_error&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state={state}", "", 0},
		{"denied={state}", "", 0},
		{"oauth_token={state}&oauth_verifier={code}", "", 0},
		{"code={code}&state={state}", "code=other&state={state}", 0},
		{"%zz", "", 0},
		{"code={code}&state={state}", "%", 0},
	} {
		f.Add(s.query, s.form, s.cookie)
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, query, form string, cookieMode uint8) {
		user, cookie, sent := fs.startFlow(t)
		fill := strings.NewReplacer("{code}", url.QueryEscape(sent.Get("code")), "{state}", url.QueryEscape(sent.Get("state")))
		method, body := http.MethodGet, ""
		if form != "" {
			method, body = http.MethodPost, fill.Replace(form)
		}
		req := httptest.NewRequest(method, "https://broker.test/bots/a/sb/callback", strings.NewReader(body))
		req.URL.RawQuery = fill.Replace(query) // as sent, however malformed
		if form != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		switch cookieMode % 3 {
		case 0:
			req.AddCookie(cookie)
		case 2: // tampered: one character of the sealed value changed
			c := *cookie
			if v := []byte(c.Value); len(v) > 10 {
				v[len(v)/2] ^= 1
				c.Value = string(v)
			}
			req.AddCookie(&c)
		}
		// What the handler will read: the same request parsed by net/http.
		mirror := httptest.NewRequest(method, "https://broker.test/bots/a/sb/callback", strings.NewReader(body))
		mirror.URL.RawQuery = req.URL.RawQuery
		mirror.Header = req.Header.Clone()
		parseErr := mirror.ParseForm()
		mustRefuse := cookieMode%3 != 0 || parseErr != nil || mirror.Form.Get("state") != sent.Get("state")

		rec := httptest.NewRecorder()
		fs.srv.ServeHTTP(rec, req)

		switch rec.Code {
		case http.StatusSeeOther:
			if loc := rec.Header().Get("Location"); !strings.HasPrefix(loc, "https://broker.test/bots/a/connect?link=") {
				t.Fatalf("query %q form %q: 303 to %q", query, form, loc)
			}
		case http.StatusBadRequest, http.StatusForbidden, http.StatusGone, http.StatusBadGateway:
			page := rec.Body.String()
			if !strings.Contains(page, "</html>") || strings.Contains(page, "goroutine ") || strings.Contains(page, ".go:") {
				t.Fatalf("status %d: not a clean page:\n%s", rec.Code, page)
			}
		default:
			t.Fatalf("query %q form %q cookie %d: status %d\n%s", query, form, cookieMode%3, rec.Code, rec.Body)
		}
		ids, err := fs.store.Identities(t.Context(), store.IdentityQuery{Bot: "a", Channel: "c", User: user})
		if err != nil {
			t.Fatal(err)
		}
		if linked := len(ids) == 1; linked != (rec.Code == http.StatusSeeOther) || len(ids) > 1 {
			t.Fatalf("query %q form %q: status %d with %d identities", query, form, rec.Code, len(ids))
		}
		if !mustRefuse {
			return
		}
		if rec.Code != http.StatusBadRequest || len(ids) != 0 {
			t.Fatalf("query %q form %q cookie %d (state %q, parse error %v): status %d with %d identities, want a 400 refusal and none",
				query, form, cookieMode%3, mirror.Form.Get("state"), parseErr, rec.Code, len(ids))
		}
		genuine := httptest.NewRequest(http.MethodGet, "https://broker.test/bots/a/sb/callback?"+sent.Encode(), nil)
		genuine.AddCookie(cookie)
		rec = httptest.NewRecorder()
		fs.srv.ServeHTTP(rec, genuine)
		ids, err = fs.store.Identities(t.Context(), store.IdentityQuery{Bot: "a", Channel: "c", User: user})
		if rec.Code != http.StatusSeeOther || err != nil || len(ids) != 1 {
			t.Fatalf("query %q form %q cookie %d: after the refusal the genuine callback got %d with %d identities (%v): the refused one used the flow",
				query, form, cookieMode%3, rec.Code, len(ids), err)
		}
	})
}
