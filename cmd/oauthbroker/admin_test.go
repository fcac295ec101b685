package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/admin"
	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// The admin pages over real HTTP against the real router, without a browser; the browser
// tests are in admin_browser_test.go.

// startAdminBroker runs bot alpha with provider "sandbox" against sb (made by the caller, so
// it can choose the accounts), with opts (the admin password comes through opts.Getenv).
func startAdminBroker(t *testing.T, sb *sandbox.Server, sbURL, extraYAML string, opts app.Options) *testBroker {
	t.Helper()
	opts.SandboxURL = sbURL
	b := startBrokerWith(t, fmt.Sprintf(`  alpha:
    api_keys: [%q]
    confirm: none
    providers:
      sandbox: {type: sandbox, key: client-a, secret: secret-a-0123456789}
%s`, keyA, extraYAML), opts)
	if err := sb.AddClient(sandbox.Client{ID: "client-a", Secret: "secret-a-0123456789", Name: "alpha",
		RedirectURIs: []string{b.URL + "/bots/alpha/sandbox/callback"}}); err != nil {
		t.Fatal(err)
	}
	return b
}

// adminBrowser is an operator's browser that does not follow redirects, so tests see them.
type adminBrowser struct {
	t    *testing.T
	base string
	c    *http.Client
	xff  string // X-Forwarded-For on every request, as a reverse proxy would add it
}

func newAdminBrowser(t *testing.T, base string) *adminBrowser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &adminBrowser{t: t, base: base, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// fromAddress makes the browser connect from another loopback address, as another client.
func (a *adminBrowser) fromAddress(ip string) *adminBrowser {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	a.c.Transport = &http.Transport{DialContext: d.DialContext}
	return a
}

type adminPage struct {
	status int
	body   string
	header http.Header
}

func (p adminPage) location() string { return p.header.Get("Location") }

func (a *adminBrowser) do(method, path string, form url.Values) adminPage {
	a.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if a.xff != "" {
		req.Header.Set("X-Forwarded-For", a.xff)
	}
	resp, err := a.c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return adminPage{status: resp.StatusCode, body: string(data), header: resp.Header}
}

func (a *adminBrowser) get(path string) adminPage { return a.do(http.MethodGet, path, nil) }
func (a *adminBrowser) post(path string, form url.Values) adminPage {
	return a.do(http.MethodPost, path, form)
}

func (a *adminBrowser) login(password string) adminPage {
	a.t.Helper()
	return a.post("/admin/login", url.Values{"password": {password}})
}

// mustLogin logs in and returns the list page.
func (a *adminBrowser) mustLogin() adminPage {
	a.t.Helper()
	if p := a.login(adminPassword); p.status != http.StatusSeeOther || p.location() != "/admin/" {
		a.t.Fatalf("login: %d → %q\n%s", p.status, p.location(), p.body)
	}
	p := a.get("/admin/")
	if p.status != http.StatusOK {
		a.t.Fatalf("list after login: %d\n%s", p.status, p.body)
	}
	return p
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field on the page:\n%s", body)
	}
	return m[1]
}

// checkAdminHeaders checks what every admin response carries.
func checkAdminHeaders(t *testing.T, what string, p adminPage) {
	t.Helper()
	csp := p.header.Get("Content-Security-Policy")
	for _, c := range []struct{ name, got, want string }{
		{"X-Frame-Options", p.header.Get("X-Frame-Options"), "DENY"},
		{"Referrer-Policy", p.header.Get("Referrer-Policy"), "no-referrer"},
		{"Cache-Control", p.header.Get("Cache-Control"), "no-store"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s = %q, want %q", what, c.name, c.got, c.want)
		}
	}
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("%s: Content-Security-Policy %q", what, csp)
	}
	if strings.Contains(strings.ToLower(p.body), "<script") {
		t.Errorf("%s: the page has a script element", what)
	}
}

func TestAdminWithoutAPasswordOnlySaysHowToSetOne(t *testing.T) {
	sb, sbURL := interactiveSandbox(t)
	b := startAdminBroker(t, sb, sbURL, "", app.Options{})
	a := newAdminBrowser(t, b.URL)
	for _, c := range []struct{ method, path string }{
		{"GET", "/admin/"}, {"GET", "/admin"}, {"GET", "/admin/login"}, {"POST", "/admin/login"},
		{"GET", "/admin/bots/alpha/identities/1"}, {"POST", "/admin/bots/alpha/identities/1/unlink"}, {"GET", "/admin/nothing"},
	} {
		p := a.do(c.method, c.path, url.Values{"password": {""}})
		if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "There is no default password") ||
			!strings.Contains(p.body, "OAUTHBROKER_ADMIN_PASSWORD") || strings.Contains(p.body, `type="password"`) {
			t.Errorf("%s %s: %d\n%s", c.method, c.path, p.status, p.body)
		}
		checkAdminHeaders(t, c.method+" "+c.path, p)
		if len(p.header.Values("Set-Cookie")) > 0 {
			t.Errorf("%s %s set a cookie", c.method, c.path)
		}
	}
}

func TestAdminLoginIsRateLimitedPerAddress(t *testing.T) {
	clk := newClock()
	sb, sbURL := interactiveSandbox(t)
	b := startAdminBroker(t, sb, sbURL, "", app.Options{Getenv: adminEnv(adminPassword), Now: clk.Now})
	a := newAdminBrowser(t, b.URL)

	p := a.get("/admin/")
	if p.status != http.StatusSeeOther || p.location() != "/admin/login?next=%2Fadmin%2F" {
		t.Fatalf("list without a session: %d → %q", p.status, p.location())
	}
	for i := range admin.LoginBurst {
		p = a.login(fmt.Sprintf("guess-%d", i))
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "That is not the admin password") || len(p.header.Values("Set-Cookie")) > 0 {
			t.Fatalf("wrong password %d: %d\n%s", i+1, p.status, p.body)
		}
		checkAdminHeaders(t, "wrong password", p)
	}
	for _, pw := range []string{"guess-again", adminPassword} {
		p = a.login(pw)
		if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") != "60" || !strings.Contains(p.body, "Try again in 60 seconds") {
			t.Fatalf("attempt past the limit (%q): %d, Retry-After %q\n%s", pw, p.status, p.header.Get("Retry-After"), p.body)
		}
		checkAdminHeaders(t, "rate-limited", p)
	}
	if p := a.get("/admin/"); p.status != http.StatusSeeOther {
		t.Fatalf("a refused login opened the list: %d", p.status)
	}

	// Another client address is not held up by this one's failures.
	other := newAdminBrowser(t, b.URL).fromAddress("127.0.0.2")
	other.mustLogin()

	// The limit refills: one attempt per LoginRefill.
	clk.Advance(admin.LoginRefill)
	a.mustLogin()
	if logs := b.logs.String(); strings.Contains(logs, adminPassword) || strings.Contains(logs, "guess-") {
		t.Error("the log contains a tried password")
	}
}

func TestAdminSessionExpiresAndLogoutEndsIt(t *testing.T) {
	clk := newClock()
	sb, sbURL := interactiveSandbox(t)
	b := startAdminBroker(t, sb, sbURL, "", app.Options{Getenv: adminEnv(adminPassword), Now: clk.Now})
	a := newAdminBrowser(t, b.URL)

	login := a.login(adminPassword)
	cookies := login.header.Values("Set-Cookie")
	if len(cookies) != 1 {
		t.Fatalf("login set cookies %q", cookies)
	}
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/admin", "Max-Age=28800"} {
		if !strings.Contains(cookies[0], attr) {
			t.Errorf("session cookie %q lacks %s", cookies[0], attr)
		}
	}
	if strings.Contains(cookies[0], "Secure") {
		t.Errorf("session cookie %q is Secure on an http public_url: the browser would drop it", cookies[0])
	}

	// The session ends at SessionTTL however busy it was.
	clk.Advance(admin.SessionTTL - time.Second)
	list := a.get("/admin/")
	if list.status != http.StatusOK {
		t.Fatalf("list before the session ends: %d", list.status)
	}
	clk.Advance(time.Second)
	if p := a.get("/admin/"); p.status != http.StatusSeeOther || !strings.Contains(p.location(), "expired=1") {
		t.Fatalf("list after the session ended: %d → %q", p.status, p.location())
	}

	// Logout needs the CSRF token, deletes the session in the store and the cookie.
	list = a.mustLogin()
	stolen, _ := url.Parse(b.URL + "/admin/")
	copied := a.c.Jar.Cookies(stolen)
	if p := a.post("/admin/logout", url.Values{"csrf": {"forged"}}); p.status != http.StatusForbidden {
		t.Errorf("logout with a wrong CSRF token: %d", p.status)
	}
	if p := a.get("/admin/"); p.status != http.StatusOK {
		t.Fatalf("a refused logout ended the session: %d", p.status)
	}
	p := a.post("/admin/logout", url.Values{"csrf": {csrfOf(t, list.body)}})
	if p.status != http.StatusSeeOther || p.location() != "/admin/login?out=1" {
		t.Fatalf("logout: %d → %q", p.status, p.location())
	}
	checkAdminHeaders(t, "logout", p)
	if out := a.get("/admin/login?out=1"); !strings.Contains(out.body, "You are logged out") {
		t.Errorf("the login page after logout:\n%s", out.body)
	}
	if p := a.get("/admin/"); p.status != http.StatusSeeOther {
		t.Errorf("list after logout: %d", p.status)
	}
	// A copy of the cookie taken before the logout is dead too: the store forgot the session.
	thief := newAdminBrowser(t, b.URL)
	thief.c.Jar.SetCookies(stolen, copied)
	if p := thief.get("/admin/"); p.status != http.StatusSeeOther {
		t.Errorf("list with a cookie copied before logout: %d", p.status)
	}
}

func TestAdminPasswordHashFromProvidersYAML(t *testing.T) {
	const hash = adminPasswordHash
	sb, sbURL := interactiveSandbox(t)
	b := startAdminBroker(t, sb, sbURL, "admin:\n  password_hash: '"+hash+"'\n", app.Options{})
	a := newAdminBrowser(t, b.URL)
	if p := a.login("not it"); p.status != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", p.status)
	}
	a.mustLogin()
}

func TestAdminRefusesBothAHashAndAPassword(t *testing.T) {
	_, err := adminPagesFor(t, "admin:\n  password_hash: '"+adminPasswordHash+"'\n", adminEnv("also set"))
	if err == nil || !strings.Contains(err.Error(), "keep one") {
		t.Fatalf("app.Open with both: %v", err)
	}
}

// adminPagesFor opens an app (without serving it) and returns app.Open's error.
func adminPagesFor(t *testing.T, extraYAML string, getenv func(string) (string, bool)) (*app.App, error) {
	t.Helper()
	cfgText := fmt.Sprintf("server:\n  public_url: http://127.0.0.1:1\nstorage:\n  dsn: %s/b.db\nbots:\n  alpha:\n    api_keys: [%q]\n    confirm: none\n    providers:\n      github: {type: github, key: k, secret: s}\n%s",
		t.TempDir(), keyA, extraYAML)
	cfg, err := config.Parse("test.yaml", []byte(cfgText), config.LoadOptions{Getenv: func(string) (string, bool) { return "", false }, Types: providers.Types()})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, app.Options{Getenv: getenv, Log: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Cleanup(func() { a.Store.Close() })
	}
	return a, err
}

// TestDemoAdminAsANewUser is the admin pages tried as a new user would: run demo,
// link an account, open the printed admin URL, log in with the printed password, find the
// identity by its user id and unlink it.
func TestDemoAdminAsANewUser(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "-listen", "127.0.0.1:0"}, func(string) (string, bool) { return "", false }, stdout, stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo returned %v", err)
		}
	}()

	linkURL := waitFor(t, stdout, regexp.MustCompile(`http://127\.0\.0\.1:\d+/bots/demo/connect\?link=[A-Za-z0-9_-]+`))
	adminURL := waitFor(t, stdout, regexp.MustCompile(`http://127\.0\.0\.1:\d+/admin/`))
	password := strings.TrimPrefix(waitFor(t, stdout, regexp.MustCompile(`password: \S+`)), "password: ")
	if st, page := openLink(t, newBrowser(t), linkURL, "1001", "authorize"); st != http.StatusOK {
		t.Fatalf("after Authorize: %d\n%s", st, page)
	}
	waitFor(t, stdout, regexp.MustCompile(`Linked: identity 1 `))

	base := strings.TrimSuffix(adminURL, "/admin/")
	a := newAdminBrowser(t, base)
	if p := a.get("/admin/"); p.status != http.StatusSeeOther {
		t.Fatalf("the admin URL before login: %d", p.status)
	}
	if p := a.login(password); p.status != http.StatusSeeOther {
		t.Fatalf("login with the printed password: %d\n%s", p.status, p.body)
	}
	found := a.get("/admin/?q=alice")
	if rows := rowIDs(found.body); len(rows) != 1 || rows[0] != "1" || !strings.Contains(found.body, "Ada Lovelace") {
		t.Fatalf("search alice: rows %v\n%s", rows, found.body)
	}
	form := a.get("/admin/bots/demo/identities/1/unlink")
	if p := a.post("/admin/bots/demo/identities/1/unlink", url.Values{"csrf": {csrfOf(t, form.body)}}); p.status != http.StatusSeeOther {
		t.Fatalf("unlink: %d\n%s", p.status, p.body)
	}
	if rows := rowIDs(a.get("/admin/?q=alice").body); len(rows) != 0 {
		t.Errorf("alice is still listed: %v", rows)
	}
	if strings.Contains(stderr.String(), password) {
		t.Error("the demo logged the admin password")
	}
}
