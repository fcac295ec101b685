package server_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestConnectPageInARealBrowser: a combined action's one link, as a person goes through it
// in Chromium (internal/testenv/chrome.go has the browser's setup): require answers one
// connect_url for two providers; the page links both in one visit, one button with the
// keyboard and one with a click; every page is reloaded and Back is pressed, and none of it
// is an error; the address bar never keeps a code or a state; the code the page shows is
// confirmed through the bot API. Screenshots at desktop and phone width go to the test's
// temp dir.
func TestConnectPageInARealBrowser(t *testing.T) {
	ctx := testenv.NewChrome(t)
	b, sb := connectBroker(t, "") // confirm: the default, code
	var req struct {
		Ready      bool                        `json:"ready"`
		ConnectURL string                      `json:"connect_url"`
		Missing    []struct{ Provider string } `json:"missing"`
	}
	if st := b.API("POST", "/bots/alpha/require", testenv.KeyA, map[string]any{"channel": "telegram", "user": "4242",
		"user_label": "Ada (@ada)", "providers": []string{"rides", "social"}}, &req); st != http.StatusOK || req.Ready || len(req.Missing) != 2 {
		t.Fatalf("require: %d %+v", st, req)
	}
	shots := t.TempDir()

	load := func(what string, actions ...chromedp.Action[chromedp.Void]) string {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, actions...)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if resp.Status != http.StatusOK {
			t.Fatalf("%s: status %d", what, resp.Status)
		}
		if loc := testenv.Location(t, ctx); loc != req.ConnectURL {
			t.Fatalf("%s: the address bar shows %s, want the link's page", what, loc)
		}
		return testenv.Eval[string](t, ctx, `document.documentElement.outerHTML`)
	}
	state := func(page string) string {
		return fmt.Sprintf("%s rides=%s social=%s", regexp.MustCompile(`data-connect="(\w+)"`).FindStringSubmatch(page)[1],
			testenv.ProviderState(page, "rides"), testenv.ProviderState(page, "social"))
	}
	expect := func(what, page, want string) {
		t.Helper()
		if got := state(page); got != want {
			t.Fatalf("%s: %s, want %s\n%s", what, got, want, testenv.PageText(t, ctx))
		}
	}

	page := load("open the link", chromedp.Navigate(req.ConnectURL))
	expect("the link's page", page, "open rides=not_linked social=not_linked")
	text := testenv.PageText(t, ctx)
	if !strings.Contains(text, "Ride Bot asks to connect these accounts for Ada (@ada)") || sb.Requests.Load() != 0 {
		t.Fatalf("the page (and %d provider requests):\n%s", sb.Requests.Load(), text)
	}
	if n := testenv.Eval[int](t, ctx, `document.scripts.length`); n != 0 {
		t.Errorf("the page runs %d scripts; it must work without any", n)
	}
	testenv.CheckPNG(t, filepath.Join(shots, "connect-desktop.png"), testenv.Screenshot(t, ctx))
	expect("reloaded", load("reload the link's page", chromedp.Reload()), "open rides=not_linked social=not_linked")

	// The first account with the keyboard: the button takes the focus and Enter.
	page = load("Enter on Connect Rides",
		chromedp.Focus(chromedp.CSS(`form[data-provider="rides"] button`), chromedp.NodeVisible), chromedp.KeyEvent("\r"))
	expect("after rides", page, "open rides=linked social=not_linked")
	if !strings.Contains(testenv.PageText(t, ctx), "Linked as Ada Lovelace @ada") {
		t.Errorf("the page does not name the account:\n%s", testenv.PageText(t, ctx))
	}
	expect("reloaded after rides", load("reload after rides", chromedp.Reload()), "open rides=linked social=not_linked")

	page = load("testenv.Click Connect Social", chromedp.Click(chromedp.CSS(`form[data-provider="social"] button`), chromedp.NodeVisible))
	expect("after social", page, "complete rides=linked social=linked")
	code := regexp.MustCompile(`id="code">(\d{6})<`).FindStringSubmatch(page)
	if code == nil || !strings.Contains(testenv.PageText(t, ctx), "type the code in the chat") {
		t.Fatalf("no code on the complete page:\n%s", testenv.PageText(t, ctx))
	}
	for i, a := range []struct {
		what   string
		action chromedp.Action[chromedp.Void]
	}{{"reload the complete page", chromedp.Reload()}, {"Back", chromedp.NavigateBack()}, {"reload after Back", chromedp.Reload()}} {
		page := load(a.what, a.action)
		expect(a.what, page, "complete rides=linked social=linked")
		if again := regexp.MustCompile(`id="code">(\d{6})<`).FindStringSubmatch(page); again == nil || again[1] != code[1] {
			t.Errorf("%d %s: the code is %v, want %s still", i, a.what, again, code[1])
		}
	}

	// At a phone's width the page fits without scrolling sideways.
	testenv.Step(t, ctx, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	if w := testenv.Eval[bool](t, ctx, `document.documentElement.scrollWidth <= window.innerWidth`); !w {
		t.Error("the page is wider than a phone's screen")
	}
	testenv.CheckPNG(t, filepath.Join(shots, "connect-phone-complete.png"), testenv.Screenshot(t, ctx))
	l := twoProviderLink(b, "phone")
	testenv.Step(t, ctx, "open another link at phone width", chromedp.Navigate(l))
	if w := testenv.Eval[bool](t, ctx, `document.documentElement.scrollWidth <= window.innerWidth`); !w {
		t.Error("the open page is wider than a phone's screen")
	}
	testenv.CheckPNG(t, filepath.Join(shots, "connect-phone.png"), testenv.Screenshot(t, ctx))
	t.Logf("screenshots in %s", shots)

	// The bot confirms the code the chat user typed: both accounts become usable.
	var out struct {
		Identities []testenv.IdentityBody `json:"identities"`
	}
	if st := b.API("POST", "/bots/alpha/links/confirm", testenv.KeyA, map[string]string{"channel": "telegram", "user": "4242", "code": code[1]}, &out); st != http.StatusOK ||
		len(out.Identities) != 2 || out.Identities[0].Status != "active" || out.Identities[1].Status != "active" {
		t.Fatalf("confirm: %d %+v", st, out)
	}
}
