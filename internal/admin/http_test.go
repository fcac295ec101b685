package admin_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/admin"
	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The admin pages over real HTTP against the real router, without a browser; the browser
// tests are in admin_browser_test.go.

func TestAdminWithoutAPasswordOnlySaysHowToSetOne(t *testing.T) {
	sb, sbURL := testenv.InteractiveSandbox(t)
	b := testenv.StartAdminBroker(t, sb, sbURL, "", app.Options{})
	a := testenv.NewAdminBrowser(t, b.URL)
	for _, c := range []struct{ method, path string }{
		{"GET", "/admin/"}, {"GET", "/admin"}, {"GET", "/admin/login"}, {"POST", "/admin/login"},
		{"GET", "/admin/bots/alpha/identities/1"}, {"POST", "/admin/bots/alpha/identities/1/unlink"}, {"GET", "/admin/nothing"},
	} {
		p := a.Do(c.method, c.path, url.Values{"password": {""}})
		if p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Body, "There is no default password") ||
			!strings.Contains(p.Body, "OAUTHBROKER_ADMIN_PASSWORD") || strings.Contains(p.Body, `type="password"`) {
			t.Errorf("%s %s: %d\n%s", c.method, c.path, p.Status, p.Body)
		}
		testenv.CheckAdminHeaders(t, c.method+" "+c.path, p)
		if len(p.Header.Values("Set-Cookie")) > 0 {
			t.Errorf("%s %s set a cookie", c.method, c.path)
		}
	}
}

func TestAdminLoginIsRateLimitedPerAddress(t *testing.T) {
	clk := testenv.NewClock()
	sb, sbURL := testenv.InteractiveSandbox(t)
	b := testenv.StartAdminBroker(t, sb, sbURL, "", app.Options{Getenv: testenv.AdminEnv(testenv.AdminPassword), Now: clk.Now})
	a := testenv.NewAdminBrowser(t, b.URL)

	p := a.Get("/admin/")
	if p.Status != http.StatusSeeOther || p.Location() != "/admin/login?next=%2Fadmin%2F" {
		t.Fatalf("list without a session: %d → %q", p.Status, p.Location())
	}
	for i := range admin.LoginBurst {
		p = a.Login(fmt.Sprintf("guess-%d", i))
		if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "That is not the admin password") || len(p.Header.Values("Set-Cookie")) > 0 {
			t.Fatalf("wrong password %d: %d\n%s", i+1, p.Status, p.Body)
		}
		testenv.CheckAdminHeaders(t, "wrong password", p)
	}
	for _, pw := range []string{"guess-again", testenv.AdminPassword} {
		p = a.Login(pw)
		if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") != "60" || !strings.Contains(p.Body, "Try again in 60 seconds") {
			t.Fatalf("attempt past the limit (%q): %d, Retry-After %q\n%s", pw, p.Status, p.Header.Get("Retry-After"), p.Body)
		}
		testenv.CheckAdminHeaders(t, "rate-limited", p)
	}
	if p := a.Get("/admin/"); p.Status != http.StatusSeeOther {
		t.Fatalf("a refused login opened the list: %d", p.Status)
	}

	// Another client address is not held up by this one's failures.
	other := testenv.NewAdminBrowser(t, b.URL).FromAddress("127.0.0.2")
	other.MustLogin()

	// The limit refills: one attempt per LoginRefill.
	clk.Advance(admin.LoginRefill)
	a.MustLogin()
	if logs := b.Logs.String(); strings.Contains(logs, testenv.AdminPassword) || strings.Contains(logs, "guess-") {
		t.Error("the log contains a tried password")
	}
}

func TestAdminSessionExpiresAndLogoutEndsIt(t *testing.T) {
	clk := testenv.NewClock()
	sb, sbURL := testenv.InteractiveSandbox(t)
	b := testenv.StartAdminBroker(t, sb, sbURL, "", app.Options{Getenv: testenv.AdminEnv(testenv.AdminPassword), Now: clk.Now})
	a := testenv.NewAdminBrowser(t, b.URL)

	login := a.Login(testenv.AdminPassword)
	cookies := login.Header.Values("Set-Cookie")
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
	list := a.Get("/admin/")
	if list.Status != http.StatusOK {
		t.Fatalf("list before the session ends: %d", list.Status)
	}
	clk.Advance(time.Second)
	if p := a.Get("/admin/"); p.Status != http.StatusSeeOther || !strings.Contains(p.Location(), "expired=1") {
		t.Fatalf("list after the session ended: %d → %q", p.Status, p.Location())
	}

	// Logout needs the CSRF token, deletes the session in the store and the cookie.
	list = a.MustLogin()
	stolen, _ := url.Parse(b.URL + "/admin/")
	copied := a.Client.Jar.Cookies(stolen)
	if p := a.Post("/admin/logout", url.Values{"csrf": {"forged"}}); p.Status != http.StatusForbidden {
		t.Errorf("logout with a wrong CSRF token: %d", p.Status)
	}
	if p := a.Get("/admin/"); p.Status != http.StatusOK {
		t.Fatalf("a refused logout ended the session: %d", p.Status)
	}
	p := a.Post("/admin/logout", url.Values{"csrf": {testenv.CSRFOf(t, list.Body)}})
	if p.Status != http.StatusSeeOther || p.Location() != "/admin/login?out=1" {
		t.Fatalf("logout: %d → %q", p.Status, p.Location())
	}
	testenv.CheckAdminHeaders(t, "logout", p)
	if out := a.Get("/admin/login?out=1"); !strings.Contains(out.Body, "You are logged out") {
		t.Errorf("the login page after logout:\n%s", out.Body)
	}
	if p := a.Get("/admin/"); p.Status != http.StatusSeeOther {
		t.Errorf("list after logout: %d", p.Status)
	}
	// A copy of the cookie taken before the logout is dead too: the store forgot the session.
	thief := testenv.NewAdminBrowser(t, b.URL)
	thief.Client.Jar.SetCookies(stolen, copied)
	if p := thief.Get("/admin/"); p.Status != http.StatusSeeOther {
		t.Errorf("list with a cookie copied before logout: %d", p.Status)
	}
}

func TestAdminPasswordHashFromProvidersYAML(t *testing.T) {
	const hash = testenv.AdminPasswordHash
	sb, sbURL := testenv.InteractiveSandbox(t)
	b := testenv.StartAdminBroker(t, sb, sbURL, "admin:\n  password_hash: '"+hash+"'\n", app.Options{})
	a := testenv.NewAdminBrowser(t, b.URL)
	if p := a.Login("not it"); p.Status != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", p.Status)
	}
	a.MustLogin()
}

func TestAdminRefusesBothAHashAndAPassword(t *testing.T) {
	_, err := adminPagesFor(t, "admin:\n  password_hash: '"+testenv.AdminPasswordHash+"'\n", testenv.AdminEnv("also set"))
	if err == nil || !strings.Contains(err.Error(), "keep one") {
		t.Fatalf("app.Open with both: %v", err)
	}
}

// adminPagesFor opens an app (without serving it) and returns app.Open's error.
func adminPagesFor(t *testing.T, extraYAML string, getenv func(string) (string, bool)) (*app.App, error) {
	t.Helper()
	cfgText := fmt.Sprintf("server:\n  public_url: http://127.0.0.1:1\nstorage:\n  dsn: %s/b.db\nbots:\n  alpha:\n    api_keys: [%q]\n    confirm: none\n    providers:\n      github: {type: github, key: k, secret: s}\n%s",
		t.TempDir(), testenv.KeyA, extraYAML)
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
