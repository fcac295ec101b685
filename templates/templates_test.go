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
