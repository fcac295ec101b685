package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

// The admin pages in a real browser: Debian's Chromium, driven with chromedp against the real
// server. Accounts are linked in the same browser through the sandbox's consent page, then
// an operator logs in, looks, filters, searches, pages, unlinks and logs out.
//
// Without Chromium the test skips, saying how to install it; under CI=true (.ci/run installs
// Chromium) it fails instead, so CI cannot pass without running it.

// chromium finds the browser, or ends the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is not installed, and CI must run the browser tests: apt-get install -y chromium")
	}
	t.Skip("Chromium is not installed; to run the browser tests: apt-get install -y chromium")
	return ""
}

// newChrome starts a headless Chromium with a fresh profile for the test. The flags keep it
// from reaching the network on its own (updates, sync, field trials).
func newChrome(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // root in a container has no user namespace for the sandbox
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	logs := &syncBuffer{}
	ctx, cancelTab := chromedp.NewContext(ctx, chromedp.WithErrorf(func(f string, args ...any) { fmt.Fprintf(logs, f+"\n", args...) }))
	t.Cleanup(func() {
		cancelTab()
		if t.Failed() && logs.String() != "" {
			t.Logf("browser errors:\n%s", logs)
		}
	})
	return ctx
}

// step runs browser actions and ends the test on the first failure, saying which step failed.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// navigateBy clicks sel and waits for the page it loads; it returns that page's status.
func navigateBy(t *testing.T, ctx context.Context, what string, sel chromedp.CSS) int {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel, chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return int(resp.Status)
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// listRows is the identity ids of the list in the browser, in order.
func listRows(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return eval[[]string](t, ctx, `Array.from(document.querySelectorAll('tbody tr[id^="identity-"]'), r => r.id.slice(9))`)
}

func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return eval[string](t, ctx, `document.body.innerText`)
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestAdminInARealBrowser(t *testing.T) {
	ctx := newChrome(t)
	sb, sbURL := interactiveSandbox(t)
	b := startAdminBroker(t, sb, sbURL, "", app.Options{Getenv: adminEnv(adminPassword)})
	// Older synthetic rows (the benchmark's), so that the list has pages to walk.
	if err := b.app.Store.(*sqlite.Store).SeedIdentities(t.Context(), 70); err != nil {
		t.Fatal(err)
	}

	// Two chat users link their sandbox accounts in this browser, on the consent page.
	accounts := []struct{ channel, user, account, name string }{
		{"telegram", "tg-4242", "1001", "Ada Lovelace"},
		{"slack", "U-GRACE", "1002", "Grace Hopper"},
	}
	for _, a := range accounts {
		step(t, ctx, "open the link of "+a.user, chromedp.Navigate(b.link("alpha", keyA, "sandbox", a.channel, a.user)))
		if st := navigateBy(t, ctx, "connect the sandbox", `form[data-provider="sandbox"] button`); st != http.StatusOK {
			t.Fatalf("consent page of %s: status %d", a.user, st)
		}
		step(t, ctx, "choose "+a.name, chromedp.Click(chromedp.CSS(`input[name="user"][value="`+a.account+`"]`), chromedp.NodeVisible))
		if st := navigateBy(t, ctx, "authorize", `button[value="authorize"]`); st != http.StatusOK {
			t.Fatalf("the connect page after %s's account: status %d", a.user, st)
		}
		if text := pageText(t, ctx); !strings.Contains(text, "All set") || !strings.Contains(text, a.name) {
			t.Fatalf("the connect page after %s's account:\n%s", a.user, text)
		}
	}
	ada := fmt.Sprint(b.identities("alpha", keyA, "telegram", "tg-4242")[0].ID)

	// The operator logs in and sees the two accounts on top, newest first.
	step(t, ctx, "open the admin page", chromedp.Navigate(b.URL+"/admin/"), chromedp.WaitVisible(chromedp.ID("password")))
	if loc := location(t, ctx); !strings.HasPrefix(loc, b.URL+"/admin/login") {
		t.Fatalf("the admin page without a session is %s, want the login form", loc)
	}
	step(t, ctx, "type a wrong password", chromedp.SendKeys(chromedp.ID("password"), "not the password"))
	if st := navigateBy(t, ctx, "log in wrongly", "#login"); st != http.StatusUnauthorized || !strings.Contains(pageText(t, ctx), "not the admin password") {
		t.Fatalf("wrong password: %d\n%s", st, pageText(t, ctx))
	}
	step(t, ctx, "type the password", chromedp.SendKeys(chromedp.ID("password"), adminPassword))
	if st := navigateBy(t, ctx, "log in", "#login"); st != http.StatusOK {
		t.Fatalf("after login: status %d at %s", st, location(t, ctx))
	}
	rows := listRows(t, ctx)
	text := pageText(t, ctx)
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
	checkPNG(t, filepath.Join(t.TempDir(), "admin-list.png"), shot)

	// On a phone-sized screen nothing runs off the side.
	step(t, ctx, "phone screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Reload())
	if overflow := eval[int](t, ctx, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); overflow > 0 {
		t.Errorf("on a 390px screen the page is %dpx wider than the screen", overflow)
	}
	phone, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, filepath.Join(t.TempDir(), "admin-list-phone.png"), phone)
	step(t, ctx, "desktop screen", chromedp.EmulateReset(), chromedp.Reload())

	// Filter by provider: only the two real accounts are sandbox ones.
	step(t, ctx, "choose provider sandbox", chromedp.SetValue(chromedp.ID("provider"), "sandbox"))
	navigateBy(t, ctx, "filter", "#apply")
	if rows := listRows(t, ctx); len(rows) != 2 || rows[1] != ada {
		t.Errorf("provider sandbox: rows %v", rows)
	}

	// Search one user by chat user id.
	step(t, ctx, "search", chromedp.Navigate(b.URL+"/admin/"), chromedp.SendKeys(chromedp.ID("q"), "tg-4242"))
	navigateBy(t, ctx, "search", "#apply")
	if rows := listRows(t, ctx); len(rows) != 1 || rows[0] != ada || !strings.Contains(pageText(t, ctx), "Ada Lovelace") {
		t.Errorf("search tg-4242: rows %v", rows)
	}

	// Page forward, then back.
	step(t, ctx, "first page", chromedp.Navigate(b.URL+"/admin/"))
	first := listRows(t, ctx)
	navigateBy(t, ctx, "older", "#older")
	second := listRows(t, ctx)
	if len(first) != 50 || first[49] != "23" || len(second) != 22 || second[0] != "22" {
		t.Errorf("first page ends %v, second page %v; want 72…23, then 22…1", first[len(first)-1], second)
	}
	navigateBy(t, ctx, "newer", "#newer")
	if back := listRows(t, ctx); strings.Join(back, ",") != strings.Join(first, ",") {
		t.Errorf("back on the first page: %v, was %v", back, first)
	}

	// Unlink Ada through the buttons: the identity page, the confirmation, the history.
	navigateBy(t, ctx, "open Ada", chromedp.CSS("#identity-"+ada+" a.name"))
	navigateBy(t, ctx, "Unlink…", "#unlink")
	if text := pageText(t, ctx); !strings.Contains(text, "Unlink this account?") || !strings.Contains(text, "tg-4242") {
		t.Fatalf("confirmation page:\n%s", text)
	}
	navigateBy(t, ctx, "confirm the unlink", "#confirm-unlink")
	if text := pageText(t, ctx); !strings.Contains(text, "Unlinked.") || !strings.Contains(text, "unlinked by an operator") {
		t.Fatalf("after the unlink:\n%s", text)
	}
	if st := b.api("GET", "/bots/alpha/identities/"+ada+"/credentials", keyA, nil, nil); st != http.StatusNotFound {
		t.Errorf("the bot API still answers %d for the unlinked identity, want 404", st)
	}

	// Log out; the list is refused afterwards.
	navigateBy(t, ctx, "log out", "#logout")
	if text := pageText(t, ctx); !strings.Contains(text, "You are logged out") {
		t.Fatalf("after logout:\n%s", text)
	}
	step(t, ctx, "the list again", chromedp.Navigate(b.URL+"/admin/"), chromedp.WaitVisible(chromedp.ID("password")))
	if loc := location(t, ctx); !strings.HasPrefix(loc, b.URL+"/admin/login") {
		t.Errorf("after logout the list is at %s, want the login form", loc)
	}
}

// checkPNG checks that shot is a PNG image with pixels, and keeps it at path; with
// OAUTHBROKER_SCREENSHOTS=DIR, also in DIR, to look at after the test.
func checkPNG(t *testing.T, path string, shot []byte) {
	t.Helper()
	if err := os.WriteFile(path, shot, 0o600); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("OAUTHBROKER_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)), shot, 0o644); err != nil {
			t.Error(err)
		}
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil || img.Bounds().Dx() < 300 || img.Bounds().Dy() < 300 {
		t.Fatalf("screenshot %s is not a full PNG page (%d bytes): %v", path, len(shot), err)
	}
	t.Logf("screenshot: %s (%dx%d, %d bytes)", path, img.Bounds().Dx(), img.Bounds().Dy(), len(shot))
}
