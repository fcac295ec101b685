package admin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// hostileSandbox is a provider whose only account is named like an attack on the admin page.
func hostileSandbox(t *testing.T) (*sandbox.Server, string) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{
		Users: []sandbox.User{{ID: "666", Login: `nick"><img src=x onerror=alert(2)>`, Name: "<script>alert(1)</script>",
			Email: "evil@example.com"}},
		AutoApprove: "666",
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv.URL
}

// TestAdminPagesEscapeNamesAndShowNoSecret links an account named <script>alert(1)</script>
// for a chat user whose id is HTML too, then reads every admin page: each carries the headers,
// shows the names escaped, and none holds a token, a key, a secret or the link.
func TestAdminPagesEscapeNamesAndShowNoSecret(t *testing.T) {
	sb, sbURL := hostileSandbox(t)
	b := testenv.StartAdminBroker(t, sb, sbURL, "", app.Options{Getenv: testenv.AdminEnv(testenv.AdminPassword)})
	const chatUser = `<img src=x onerror=alert(3)>`
	link := b.Link("alpha", testenv.KeyA, "sandbox", "telegram", chatUser)
	if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), link); st != http.StatusOK {
		t.Fatalf("link: %d\n%s", st, page)
	}
	id := b.Identities("alpha", testenv.KeyA, "telegram", chatUser)[0].ID
	// Relink the same account, so the history has two lines.
	if st, _ := testenv.ConnectAll(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "sandbox", "telegram", chatUser)); st != http.StatusOK {
		t.Fatal("relink failed")
	}

	a := testenv.NewAdminBrowser(t, b.URL)
	login := a.Get("/admin/login")
	list := a.MustLogin()
	idPath := fmt.Sprintf("/admin/bots/alpha/identities/%d", id)
	pages := map[string]testenv.AdminPage{
		"login":         login,
		"list":          list,
		"search":        a.Get("/admin/?q=" + url.QueryEscape(chatUser)),
		"filter":        a.Get("/admin/?bot=alpha&provider=sandbox&status=active"),
		"identity":      a.Get(idPath),
		"unlink form":   a.Get(idPath + "/unlink"),
		"not found":     a.Get("/admin/bots/alpha/identities/999999"),
		"bad cursor":    a.Get("/admin/?older=x"),
		"no such page":  a.Get("/admin/nothing/here"),
		"wrong method":  a.Do(http.MethodDelete, "/admin/", nil),
		"wrong CSRF":    a.Post(idPath+"/unlink", url.Values{"csrf": {"x"}}),
		"list redirect": testenv.NewAdminBrowser(t, b.URL).Get("/admin/"),
	}
	unlinked := a.Post(idPath+"/unlink", url.Values{"csrf": {testenv.CSRFOf(t, pages["unlink form"].Body)}})
	pages["unlink"] = unlinked
	pages["history"] = a.Get(idPath + "?unlinked=1")

	for _, name := range []string{"list", "search", "filter", "identity", "unlink form"} {
		if !strings.Contains(pages[name].Body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the account name is not shown escaped:\n%s", name, pages[name].Body)
		}
		if !strings.Contains(pages[name].Body, "&lt;img src=x onerror=alert(3)&gt;") {
			t.Errorf("%s: the chat user id is not shown escaped", name)
		}
	}
	if got := testenv.RowIDs(pages["search"].Body); len(got) != 1 || got[0] != fmt.Sprint(id) {
		t.Errorf("search for the chat user id: rows %v, want [%d]", got, id)
	}
	if h := pages["history"].Body; !strings.Contains(h, "relinked") || !strings.Contains(h, "unlinked by an operator") {
		t.Errorf("history after unlink lacks relinked or unlinked by an operator:\n%s", h)
	}

	var secrets []string
	for _, g := range sb.Issued() {
		secrets = append(secrets, g.AccessToken, g.RefreshToken)
	}
	u, _ := url.Parse(link)
	secrets = append(secrets, u.Query().Get("link"), testenv.KeyA, "secret-a-0123456789", testenv.AdminPassword)
	adminURL, _ := url.Parse(b.URL + "/admin/")
	for _, c := range a.Client.Jar.Cookies(adminURL) {
		secrets = append(secrets, c.Value) // the session cookie, while it lived
	}
	for name, p := range pages {
		testenv.CheckAdminHeaders(t, name, p)
		for _, s := range secrets {
			if s != "" && strings.Contains(p.Body, s) {
				t.Errorf("%s: the page contains a secret (%d characters)", name, len(s))
			}
		}
		for _, raw := range []string{"<script>alert(1)", "<img src=x onerror"} {
			if strings.Contains(p.Body, raw) {
				t.Errorf("%s: %q reaches the page unescaped", name, raw)
			}
		}
	}
}

// TestAdminUnlinkNeedsTheSessionsCSRFToken: an unlink POST without the token, with a wrong
// one or with another session's is refused with 403 and changes nothing; with it, the
// identity is gone from the bot API, and the history says an operator did it.
func TestAdminUnlinkNeedsTheSessionsCSRFToken(t *testing.T) {
	sb, sbURL := testenv.InteractiveSandbox(t)
	b := testenv.StartAdminBroker(t, sb, sbURL, "", app.Options{Getenv: testenv.AdminEnv(testenv.AdminPassword)})
	if st, page := testenv.OpenLink(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "sandbox", "slack", "U1"), "1001", "authorize"); st != http.StatusOK {
		t.Fatalf("%d %s", st, page)
	}
	id := b.Identities("alpha", testenv.KeyA, "slack", "U1")[0].ID
	path := fmt.Sprintf("/admin/bots/alpha/identities/%d", id)

	a, other := testenv.NewAdminBrowser(t, b.URL), testenv.NewAdminBrowser(t, b.URL)
	a.MustLogin()
	form := a.Get(path + "/unlink")
	if form.Status != http.StatusOK || !strings.Contains(form.Body, "Unlink this account?") {
		t.Fatalf("unlink form: %d\n%s", form.Status, form.Body)
	}
	otherCSRF := testenv.CSRFOf(t, other.MustLogin().Body)

	before := b.Snapshot()
	for name, f := range map[string]url.Values{
		"no token":              {},
		"empty token":           {"csrf": {""}},
		"wrong token":           {"csrf": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
		"another session token": {"csrf": {otherCSRF}},
	} {
		if p := a.Post(path+"/unlink", f); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Nothing was changed") {
			t.Errorf("%s: %d\n%s", name, p.Status, p.Body)
		}
	}
	// Without a session at all, the form leads to the login page and changes nothing either.
	if p := testenv.NewAdminBrowser(t, b.URL).Post(path+"/unlink", url.Values{"csrf": {testenv.CSRFOf(t, form.Body)}}); p.Status != http.StatusSeeOther ||
		!strings.HasPrefix(p.Location(), "/admin/login") {
		t.Errorf("unlink without a session: %d → %q", p.Status, p.Location())
	}
	if b.Snapshot() != before {
		t.Fatal("a refused unlink changed the store")
	}
	if st := b.API("GET", fmt.Sprintf("/bots/alpha/identities/%d/credentials", id), testenv.KeyA, nil, nil); st != http.StatusOK {
		t.Fatalf("credentials after refused unlinks: %d", st)
	}

	p := a.Post(path+"/unlink", url.Values{"csrf": {testenv.CSRFOf(t, form.Body)}})
	if p.Status != http.StatusSeeOther || p.Location() != path+"?unlinked=1" {
		t.Fatalf("unlink: %d → %q\n%s", p.Status, p.Location(), p.Body)
	}
	if st := b.API("GET", fmt.Sprintf("/bots/alpha/identities/%d/credentials", id), testenv.KeyA, nil, nil); st != http.StatusNotFound {
		t.Errorf("credentials after the unlink: %d, want 404", st)
	}
	if ids := b.Identities("alpha", testenv.KeyA, "slack", "U1"); len(ids) != 0 {
		t.Errorf("the bot still lists %+v", ids)
	}
	gone := a.Get(path + "?unlinked=1")
	if gone.Status != http.StatusGone || !strings.Contains(gone.Body, "Unlinked.") || !strings.Contains(gone.Body, "unlinked by an operator") {
		t.Errorf("identity page after unlink: %d\n%s", gone.Status, gone.Body)
	}
	if again := a.Post(path+"/unlink", url.Values{"csrf": {testenv.CSRFOf(t, form.Body)}}); again.Status != http.StatusNotFound {
		t.Errorf("unlinking again: %d", again.Status)
	}
	if f := a.Get(path + "/unlink"); f.Status != http.StatusSeeOther || f.Location() != path {
		t.Errorf("unlink form of an unlinked identity: %d → %q", f.Status, f.Location())
	}
	if list := a.Get("/admin/"); len(testenv.RowIDs(list.Body)) != 0 || !strings.Contains(list.Body, "0 linked identities") {
		t.Errorf("the list after the unlink:\n%s", list.Body)
	}
}

// TestAdminListFiltersAndPages drives the list's query string over HTTP on synthetic rows
// (SeedIdentities, the benchmark's rows) and one real identity.
func TestAdminListFiltersAndPages(t *testing.T) {
	sb, sbURL := testenv.InteractiveSandbox(t)
	b := testenv.StartAdminBroker(t, sb, sbURL, "", app.Options{Getenv: testenv.AdminEnv(testenv.AdminPassword)})
	if err := b.App.Store.(*sqlite.Store).SeedIdentities(t.Context(), 120); err != nil {
		t.Fatal(err)
	}
	if st, page := testenv.OpenLink(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "sandbox", "slack", "U-REAL"), "1002", "authorize"); st != http.StatusOK {
		t.Fatalf("%d %s", st, page)
	}
	a := testenv.NewAdminBrowser(t, b.URL)
	first := a.MustLogin()
	ids := testenv.RowIDs(first.Body)
	if len(ids) != 50 || ids[0] != "121" || !strings.Contains(first.Body, "121 linked identities") {
		t.Fatalf("first page: %d rows starting %v", len(ids), ids[:min(3, len(ids))])
	}
	if strings.Contains(first.Body, `id="newer"`) || !strings.Contains(first.Body, `id="older"`) {
		t.Error("the first page offers newer, or no older, rows")
	}
	older := regexp.MustCompile(`id="older" href="([^"]+)"`).FindStringSubmatch(first.Body)
	second := a.Get(strings.ReplaceAll(older[1], "&amp;", "&"))
	if got := testenv.RowIDs(second.Body); len(got) != 50 || got[0] != "71" {
		t.Fatalf("second page starts %v", got[:min(3, len(got))])
	}
	newer := regexp.MustCompile(`id="newer" href="([^"]+)"`).FindStringSubmatch(second.Body)
	if back := a.Get(strings.ReplaceAll(newer[1], "&amp;", "&")); strings.Join(testenv.RowIDs(back.Body), ",") != strings.Join(ids, ",") {
		t.Errorf("back from the second page: %v", testenv.RowIDs(back.Body))
	}

	for _, c := range []struct {
		query string
		want  func(body string) bool
	}{
		{"provider=sandbox", func(body string) bool { return strings.Join(testenv.RowIDs(body), ",") == "121" }},
		{"q=Grace+Hopper", func(body string) bool { return len(testenv.RowIDs(body)) >= 1 && testenv.RowIDs(body)[0] == "121" }},
		{"q=U-REAL&bot=alpha", func(body string) bool { return strings.Join(testenv.RowIDs(body), ",") == "121" }},
		{"bot=alpha&status=pending", func(body string) bool {
			return len(testenv.RowIDs(body)) == 0 && strings.Contains(body, "No identity matches")
		}},
		{"status=relink_required", func(body string) bool {
			return len(testenv.RowIDs(body)) > 0 && strings.Count(body, `class="badge err">relink required`) == len(testenv.RowIDs(body))
		}},
	} {
		p := a.Get("/admin/?" + c.query)
		if p.Status != http.StatusOK || !c.want(p.Body) {
			t.Errorf("?%s: %d, rows %v", c.query, p.Status, testenv.RowIDs(p.Body))
		}
	}
	for _, bad := range []string{"older=0", "older=x", "newer=-1", "older=5&newer=9", "q=" + strings.Repeat("x", 300)} {
		if p := a.Get("/admin/?" + bad); p.Status != http.StatusBadRequest {
			t.Errorf("?%s: %d, want 400", bad, p.Status)
		}
	}
}

// TestAdminPagesLoadNoThirdPartyImage: a linked account's avatar URL (which its owner
// controls, and could use as a tracking pixel) never reaches an admin page: the pages show
// initials, have no image from anywhere but the broker, and their CSP allows none.
func TestAdminPagesLoadNoThirdPartyImage(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{
		Users: []sandbox.User{{ID: "77", Login: "tracker", Name: "Ada Lovelace", Email: "ada@example.com",
			AvatarURL: "https://tracker.example/pixel.png?who=ada"}},
		AutoApprove: "77",
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	b := testenv.StartAdminBroker(t, sb, srv.URL, "", app.Options{Getenv: testenv.AdminEnv(testenv.AdminPassword)})
	if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "sandbox", "c", "u")); st != http.StatusOK || !testenv.IsComplete(page) {
		t.Fatalf("link: %d\n%s", st, page)
	}
	ids := b.Identities("alpha", testenv.KeyA, "c", "u")
	var stored struct {
		Identities []struct {
			AvatarURL string `json:"avatar_url"`
		} `json:"identities"`
	}
	b.API("GET", "/bots/alpha/identities?channel=c&user=u", testenv.KeyA, nil, &stored)
	if len(stored.Identities) != 1 || stored.Identities[0].AvatarURL == "" {
		t.Fatalf("the provider's avatar URL was not stored (the test would prove nothing): %+v", stored)
	}

	a := testenv.NewAdminBrowser(t, b.URL)
	list := a.MustLogin()
	identity := a.Get(fmt.Sprintf("/admin/bots/alpha/identities/%d", ids[0].ID))
	img := regexp.MustCompile(`(?i)<img[^>]*\ssrc\s*=\s*["']?([^"'\s>]+)`)
	for name, p := range map[string]testenv.AdminPage{"list": list, "identity": identity} {
		if p.Status != http.StatusOK || !strings.Contains(p.Body, ">AL</span>") {
			t.Errorf("%s: %d, no initials in place of the avatar\n%s", name, p.Status, p.Body)
		}
		if strings.Contains(p.Body, "tracker.example") {
			t.Errorf("%s: the page names the avatar's host", name)
		}
		for _, m := range img.FindAllStringSubmatch(p.Body, -1) {
			if !strings.HasPrefix(m[1], "/") || strings.HasPrefix(m[1], "//") {
				t.Errorf("%s: image from %q", name, m[1])
			}
		}
		csp := p.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "img-src 'self' data:;") || strings.Contains(csp, "https:") || strings.Contains(csp, "*") {
			t.Errorf("%s: Content-Security-Policy %q lets images come from elsewhere", name, csp)
		}
	}
}
