package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// StartAdminBroker runs bot alpha with provider "sandbox" against sb (made by the caller, so
// it can choose the accounts), with opts (the admin password comes through opts.Getenv).
func StartAdminBroker(t testing.TB, sb *sandbox.Server, sbURL, extraYAML string, opts app.Options) *Broker {
	t.Helper()
	opts.SandboxURL = sbURL
	b := StartBrokerWith(t, fmt.Sprintf(`  alpha:
    api_keys: [%q]
    confirm: none
    providers:
      sandbox: {type: sandbox, key: client-a, secret: secret-a-0123456789}
%s`, KeyA, extraYAML), opts)
	if err := sb.AddClient(sandbox.Client{ID: "client-a", Secret: "secret-a-0123456789", Name: "alpha",
		RedirectURIs: []string{b.URL + "/bots/alpha/sandbox/callback"}}); err != nil {
		t.Fatal(err)
	}
	return b
}

// AdminBrowser is an operator's browser that does not follow redirects, so tests see them.
type AdminBrowser struct {
	T      testing.TB
	Base   string       // the broker's URL
	Client *http.Client // its cookie jar holds the session
	XFF    string       // X-Forwarded-For on every request, as a reverse proxy would add it
}

func NewAdminBrowser(t testing.TB, base string) *AdminBrowser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &AdminBrowser{T: t, Base: base, Client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// FromAddress makes the browser connect from another loopback address, as another client.
func (a *AdminBrowser) FromAddress(ip string) *AdminBrowser {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	a.Client.Transport = &http.Transport{DialContext: d.DialContext}
	return a
}

// AdminPage is an answer of the admin pages.
type AdminPage struct {
	Status int
	Body   string
	Header http.Header
}

func (p AdminPage) Location() string { return p.Header.Get("Location") }

func (a *AdminBrowser) Do(method, path string, form url.Values) AdminPage {
	a.T.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, a.Base+path, body)
	if err != nil {
		a.T.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if a.XFF != "" {
		req.Header.Set("X-Forwarded-For", a.XFF)
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		a.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return AdminPage{Status: resp.StatusCode, Body: string(data), Header: resp.Header}
}

func (a *AdminBrowser) Get(path string) AdminPage { return a.Do(http.MethodGet, path, nil) }

func (a *AdminBrowser) Post(path string, form url.Values) AdminPage {
	return a.Do(http.MethodPost, path, form)
}

func (a *AdminBrowser) Login(password string) AdminPage {
	a.T.Helper()
	return a.Post("/admin/login", url.Values{"password": {password}})
}

// MustLogin logs in and returns the list page.
func (a *AdminBrowser) MustLogin() AdminPage {
	a.T.Helper()
	if p := a.Login(AdminPassword); p.Status != http.StatusSeeOther || p.Location() != "/admin/" {
		a.T.Fatalf("login: %d → %q\n%s", p.Status, p.Location(), p.Body)
	}
	p := a.Get("/admin/")
	if p.Status != http.StatusOK {
		a.T.Fatalf("list after login: %d\n%s", p.Status, p.Body)
	}
	return p
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func CSRFOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field on the page:\n%s", body)
	}
	return m[1]
}

// CheckAdminHeaders checks what every admin response carries.
func CheckAdminHeaders(t testing.TB, what string, p AdminPage) {
	t.Helper()
	csp := p.Header.Get("Content-Security-Policy")
	for _, c := range []struct{ name, got, want string }{
		{"X-Frame-Options", p.Header.Get("X-Frame-Options"), "DENY"},
		{"Referrer-Policy", p.Header.Get("Referrer-Policy"), "no-referrer"},
		{"Cache-Control", p.Header.Get("Cache-Control"), "no-store"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s = %q, want %q", what, c.name, c.got, c.want)
		}
	}
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("%s: Content-Security-Policy %q", what, csp)
	}
	if strings.Contains(strings.ToLower(p.Body), "<script") {
		t.Errorf("%s: the page has a script element", what)
	}
}

var identityRow = regexp.MustCompile(`<tr id="identity-(\d+)">`)

// RowIDs are the identity ids an admin list page shows, in order.
func RowIDs(body string) []string {
	var ids []string
	for _, m := range identityRow.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}
