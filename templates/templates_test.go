package templates

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEveryPageParsesAndRenders(t *testing.T) {
	p, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layouts {
		for _, name := range l.pages {
			if p.byName[name] == nil {
				t.Errorf("page %s is not parsed", name)
			}
		}
	}
	row := AdminIdentityRow{ID: 7, URL: "/admin/bots/b/identities/7", Bot: "b", Display: "<b>x</b>", Status: AdminStatus{Label: "active", Class: "ok"}}
	for name, render := range map[string]func(http.ResponseWriter) error{
		"list": func(w http.ResponseWriter) error {
			return p.RenderAdminList(w, AdminList{Rows: []AdminIdentityRow{row}})
		},
		"identity": func(w http.ResponseWriter) error {
			return p.RenderAdminIdentity(w, 200, AdminIdentity{Linked: true, Identity: row})
		},
		"unlink": func(w http.ResponseWriter) error { return p.RenderAdminUnlink(w, AdminUnlink{Identity: row}) },
		"login":  func(w http.ResponseWriter) error { return p.RenderAdminLogin(w, 200, AdminLogin{Error: "e"}) },
		"setup":  func(w http.ResponseWriter) error { return p.RenderAdminSetup(w, AdminSetup{}) },
		"error":  func(w http.ResponseWriter) error { return p.RenderAdminError(w, AdminError{Status: 404, Title: "t"}) },
	} {
		rec := httptest.NewRecorder()
		if err := render(rec); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		body := rec.Body.String()
		if !strings.HasPrefix(body, "<!doctype html>") || !strings.HasSuffix(strings.TrimSpace(body), "</html>") {
			t.Errorf("%s: not a whole page:\n%s", name, body)
		}
		if strings.Contains(body, "<b>x</b>") {
			t.Errorf("%s: a value reached the page unescaped", name)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: CSP %q allows script", name, csp)
		}
	}
}

func TestAFailedRenderSendsNoHalfPage(t *testing.T) {
	p, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := p.execute(rec, http.StatusOK, "admin_missing.html", "admin", SetAdminHeaders, nil); err == nil {
		t.Fatal("no error for a missing page")
	}
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "<html") || rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("%d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
	// A page whose data lacks what the template reads fails before anything is sent.
	rec = httptest.NewRecorder()
	if err := p.execute(rec, http.StatusOK, "admin_list.html", "admin", SetAdminHeaders, struct{}{}); err == nil {
		t.Fatal("no error for the wrong data")
	}
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "<html") {
		t.Errorf("wrong data: %d %q", rec.Code, rec.Body.String())
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1000000: "1,000,000", -12345: "-12,345"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestConnectPage: the connect page's markers (docs/INTEGRATION.md), what a person reads on
// it, escaping of what bots and providers supply, and its two header changes.
func TestConnectPage(t *testing.T) {
	p, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	open := Connect{
		BotName: "Ride <Bot>", UserLabel: `Ada "<img src=x>"`, UserID: "U1", Channel: "slack",
		Providers: []ConnectProvider{
			{Name: "rides", Title: "Rides", Linked: true, Account: "<b>ada</b>", Action: "https://broker.test/bots/b/rides/auth"},
			{Name: "social", Title: "Social", Action: "https://broker.test/bots/b/social/auth"},
		},
		Link: "tok\"en", FormToken: "ft", CancelAction: "https://broker.test/bots/b/connect", Confirm: true, CodeMinutes: 10,
	}
	rec := httptest.NewRecorder()
	p.RenderConnect(rec, open)
	page := rec.Body.String()
	for _, want := range []string{
		`data-connect="open"`, `<li data-provider="rides" data-state="linked">`, `<li data-provider="social" data-state="not_linked">`,
		`<form method="post" action="https://broker.test/bots/b/social/auth" data-provider="social">`,
		`value="tok&#34;en"`, `Ride &lt;Bot&gt;`, `Ada &#34;&lt;img src=x&gt;&#34;`, `&lt;b&gt;ada&lt;/b&gt;`, "This is not me",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the open page lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, `data-provider="rides">`) {
		t.Error("a linked provider still has a button")
	}
	h := rec.Header()
	if csp := h.Get("Content-Security-Policy"); h.Get("Referrer-Policy") != "same-origin" || !strings.Contains(csp, "form-action 'self' https:") ||
		strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", h)
	}

	done := open
	done.Complete, done.Code, done.RedirectURL = true, "042137", "https://bot.example/done"
	done.Providers = []ConnectProvider{{Name: "rides", Title: "Rides", Linked: true}, {Name: "social", Title: "Social", Linked: true}}
	rec = httptest.NewRecorder()
	p.RenderConnect(rec, done)
	page = rec.Body.String()
	for _, want := range []string{`data-connect="complete"`, `<p class="code" id="code">042137</p>`, `href="https://bot.example/done"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the complete page lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<form") {
		t.Errorf("the complete page has a form:\n%s", page)
	}
}
