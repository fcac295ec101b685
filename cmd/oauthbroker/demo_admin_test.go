package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestDemoAdminAsANewUser is the admin pages tried as a new user would: run demo,
// link an account, open the printed admin URL, log in with the printed password, find the
// identity by its user id and unlink it.
func TestDemoAdminAsANewUser(t *testing.T) {
	stdout, stderr := startDemo(t)

	linkURL := waitFor(t, stdout, regexp.MustCompile(`http://127\.0\.0\.1:\d+/bots/demo/connect\?link=[A-Za-z0-9_-]+`))
	adminURL := waitFor(t, stdout, regexp.MustCompile(`http://127\.0\.0\.1:\d+/admin/`))
	password := strings.TrimPrefix(waitFor(t, stdout, regexp.MustCompile(`password: \S+`)), "password: ")
	if st, page := testenv.OpenLink(t, testenv.NewBrowser(t), linkURL, "1001", "authorize"); st != http.StatusOK {
		t.Fatalf("after Authorize: %d\n%s", st, page)
	}
	waitFor(t, stdout, regexp.MustCompile(`Linked: identity 1 `))

	base := strings.TrimSuffix(adminURL, "/admin/")
	a := testenv.NewAdminBrowser(t, base)
	if p := a.Get("/admin/"); p.Status != http.StatusSeeOther {
		t.Fatalf("the admin URL before login: %d", p.Status)
	}
	if p := a.Login(password); p.Status != http.StatusSeeOther {
		t.Fatalf("login with the printed password: %d\n%s", p.Status, p.Body)
	}
	found := a.Get("/admin/?q=alice")
	if rows := testenv.RowIDs(found.Body); len(rows) != 1 || rows[0] != "1" || !strings.Contains(found.Body, "Ada Lovelace") {
		t.Fatalf("search alice: rows %v\n%s", rows, found.Body)
	}
	form := a.Get("/admin/bots/demo/identities/1/unlink")
	if p := a.Post("/admin/bots/demo/identities/1/unlink", url.Values{"csrf": {testenv.CSRFOf(t, form.Body)}}); p.Status != http.StatusSeeOther {
		t.Fatalf("unlink: %d\n%s", p.Status, p.Body)
	}
	if rows := testenv.RowIDs(a.Get("/admin/?q=alice").Body); len(rows) != 0 {
		t.Errorf("alice is still listed: %v", rows)
	}
	if strings.Contains(stderr.String(), password) {
		t.Error("the demo logged the admin password")
	}
}
