package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/templates"
)

// TestEveryAdminPageRenders: each admin page's data renders a whole page through its
// template, escaped, under a CSP without script.
func TestEveryAdminPageRenders(t *testing.T) {
	pages, err := templates.Parse()
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{pages: pages}
	row := identityRow{ID: 7, URL: "/admin/bots/b/identities/7", Bot: "b", Display: "<b>x</b>", Status: statusBadge{Label: "active", Class: "ok"}}
	for name, render := range map[string]func(http.ResponseWriter) error{
		"list": func(w http.ResponseWriter) error {
			return h.renderList(w, listPage{Rows: []identityRow{row}})
		},
		"identity": func(w http.ResponseWriter) error {
			return h.renderIdentity(w, 200, identityPage{Linked: true, Identity: row})
		},
		"unlink": func(w http.ResponseWriter) error { return h.renderUnlink(w, unlinkPage{Identity: row}) },
		"login":  func(w http.ResponseWriter) error { return h.renderLogin(w, 200, loginPage{Error: "e"}) },
		"setup":  func(w http.ResponseWriter) error { return h.renderSetup(w, setupPage{}) },
		"error":  func(w http.ResponseWriter) error { return h.renderFailure(w, failurePage{Status: 404, Title: "t"}) },
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
