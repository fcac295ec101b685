package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The admin pages in a real browser: Debian's Chromium, driven with chromedp against the real
// server. Accounts are linked in the same browser through the sandbox's consent page, then
// an operator logs in, looks, filters, searches, pages, unlinks and logs out.
//
// Without Chromium the test skips, saying how to install it; under CI=true (.ci/run installs
// Chromium) it fails instead, so CI cannot pass without running it.

// listRows is the identity ids of the list in the browser, in order.
func listRows(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return testenv.Eval[[]string](t, ctx, `Array.from(document.querySelectorAll('tbody tr[id^="identity-"]'), r => r.id.slice(9))`)
}

func TestAdminInARealBrowser(t *testing.T) {
	ctx := testenv.NewChrome(t)
	sb, sbURL := testenv.InteractiveSandbox(t)
	b := testenv.StartAdminBroker(t, sb, sbURL, "", app.Options{Getenv: testenv.AdminEnv(testenv.AdminPassword)})
	// Older synthetic rows (the benchmark's), so that the list has pages to walk.
	if err := b.App.Store.(*sqlite.Store).SeedIdentities(t.Context(), 70); err != nil {
		t.Fatal(err)
	}

	// Two chat users link their sandbox accounts in this browser, on the consent page.
	accounts := []struct{ channel, user, account, name string }{
		{"telegram", "tg-4242", "1001", "Ada Lovelace"},
		{"slack", "U-GRACE", "1002", "Grace Hopper"},
	}
	for _, a := range accounts {
		testenv.Step(t, ctx, "open the link of "+a.user, chromedp.Navigate(b.Link("alpha", testenv.KeyA, "sandbox", a.channel, a.user)))
		if st := testenv.NavigateBy(t, ctx, "connect the sandbox", `form[data-provider="sandbox"] button`); st != http.StatusOK {
			t.Fatalf("testenv.Consent page of %s: status %d", a.user, st)
		}
		testenv.Step(t, ctx, "choose "+a.name, chromedp.Click(chromedp.CSS(`input[name="user"][value="`+a.account+`"]`), chromedp.NodeVisible))
		if st := testenv.NavigateBy(t, ctx, "authorize", `button[value="authorize"]`); st != http.StatusOK {
			t.Fatalf("the connect page after %s's account: status %d", a.user, st)
		}
		if text := testenv.PageText(t, ctx); !strings.Contains(text, "All set") || !strings.Contains(text, a.name) {
			t.Fatalf("the connect page after %s's account:\n%s", a.user, text)
		}
	}
	ada := fmt.Sprint(b.Identities("alpha", testenv.KeyA, "telegram", "tg-4242")[0].ID)

	// The operator logs in and sees the two accounts on top, newest first.
	testenv.Step(t, ctx, "open the admin page", chromedp.Navigate(b.URL+"/admin/"), chromedp.WaitVisible(chromedp.ID("password")))
	if loc := testenv.Location(t, ctx); !strings.HasPrefix(loc, b.URL+"/admin/login") {
		t.Fatalf("the admin page without a session is %s, want the login form", loc)
	}
	testenv.Step(t, ctx, "type a wrong password", chromedp.SendKeys(chromedp.ID("password"), "not the password"))
	if st := testenv.NavigateBy(t, ctx, "log in wrongly", "#login"); st != http.StatusUnauthorized || !strings.Contains(testenv.PageText(t, ctx), "not the admin password") {
		t.Fatalf("wrong password: %d\n%s", st, testenv.PageText(t, ctx))
	}
	testenv.Step(t, ctx, "type the password", chromedp.SendKeys(chromedp.ID("password"), testenv.AdminPassword))
	if st := testenv.NavigateBy(t, ctx, "log in", "#login"); st != http.StatusOK {
		t.Fatalf("after login: status %d at %s", st, testenv.Location(t, ctx))
	}
	rows := listRows(t, ctx)
	text := testenv.PageText(t, ctx)
	if len(rows) != 50 || rows[1] != ada || !strings.Contains(text, "Grace Hopper") || !strings.Contains(text, "@ada") ||
		!strings.Contains(text, "72 linked identities") {
		t.Fatalf("list after login: rows %v\n%s", rows, text)
	}
	hover, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#identity-"+ada+" time"), "title"))
	if err != nil || !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`).MatchString(hover.Value) {
		t.Errorf("the linked time's hover text is %q (%v), want the exact time", hover.Value, err)
	}

	// A screenshot of the list, kept with the test's files.
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	testenv.CheckPNG(t, filepath.Join(t.TempDir(), "admin-list.png"), shot)

	// On a phone-sized screen nothing runs off the side.
	testenv.Step(t, ctx, "phone screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Reload())
	if overflow := testenv.Eval[int](t, ctx, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); overflow > 0 {
		t.Errorf("on a 390px screen the page is %dpx wider than the screen", overflow)
	}
	phone, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	testenv.CheckPNG(t, filepath.Join(t.TempDir(), "admin-list-phone.png"), phone)
	testenv.Step(t, ctx, "desktop screen", chromedp.EmulateReset(), chromedp.Reload())

	// Filter by provider: only the two real accounts are sandbox ones.
	testenv.Step(t, ctx, "choose provider sandbox", chromedp.SetValue(chromedp.ID("provider"), "sandbox"))
	testenv.NavigateBy(t, ctx, "filter", "#apply")
	if rows := listRows(t, ctx); len(rows) != 2 || rows[1] != ada {
		t.Errorf("provider sandbox: rows %v", rows)
	}

	// Search one user by chat user id.
	testenv.Step(t, ctx, "search", chromedp.Navigate(b.URL+"/admin/"), chromedp.SendKeys(chromedp.ID("q"), "tg-4242"))
	testenv.NavigateBy(t, ctx, "search", "#apply")
	if rows := listRows(t, ctx); len(rows) != 1 || rows[0] != ada || !strings.Contains(testenv.PageText(t, ctx), "Ada Lovelace") {
		t.Errorf("search tg-4242: rows %v", rows)
	}

	// Page forward, then back.
	testenv.Step(t, ctx, "first page", chromedp.Navigate(b.URL+"/admin/"))
	first := listRows(t, ctx)
	testenv.NavigateBy(t, ctx, "older", "#older")
	second := listRows(t, ctx)
	if len(first) != 50 || first[49] != "23" || len(second) != 22 || second[0] != "22" {
		t.Errorf("first page ends %v, second page %v; want 72…23, then 22…1", first[len(first)-1], second)
	}
	testenv.NavigateBy(t, ctx, "newer", "#newer")
	if back := listRows(t, ctx); strings.Join(back, ",") != strings.Join(first, ",") {
		t.Errorf("back on the first page: %v, was %v", back, first)
	}

	// Unlink Ada through the buttons: the identity page, the confirmation, the history.
	testenv.NavigateBy(t, ctx, "open Ada", chromedp.CSS("#identity-"+ada+" a.name"))
	testenv.NavigateBy(t, ctx, "Unlink…", "#unlink")
	if text := testenv.PageText(t, ctx); !strings.Contains(text, "Unlink this account?") || !strings.Contains(text, "tg-4242") {
		t.Fatalf("confirmation page:\n%s", text)
	}
	testenv.NavigateBy(t, ctx, "confirm the unlink", "#confirm-unlink")
	if text := testenv.PageText(t, ctx); !strings.Contains(text, "Unlinked.") || !strings.Contains(text, "unlinked by an operator") {
		t.Fatalf("after the unlink:\n%s", text)
	}
	if st := b.API("GET", "/bots/alpha/identities/"+ada+"/credentials", testenv.KeyA, nil, nil); st != http.StatusNotFound {
		t.Errorf("the bot API still answers %d for the unlinked identity, want 404", st)
	}

	// Log out; the list is refused afterwards.
	testenv.NavigateBy(t, ctx, "log out", "#logout")
	if text := testenv.PageText(t, ctx); !strings.Contains(text, "You are logged out") {
		t.Fatalf("after logout:\n%s", text)
	}
	testenv.Step(t, ctx, "the list again", chromedp.Navigate(b.URL+"/admin/"), chromedp.WaitVisible(chromedp.ID("password")))
	if loc := testenv.Location(t, ctx); !strings.HasPrefix(loc, b.URL+"/admin/login") {
		t.Errorf("after logout the list is at %s, want the login form", loc)
	}
}
