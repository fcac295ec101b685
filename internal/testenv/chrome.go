package testenv

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Debian's Chromium, driven with chromedp against the real server, for the tests that need a
// real browser (the admin pages, the connect page). Without Chromium they skip, saying how to
// install it; under CI=true (.ci/run installs Chromium) they fail instead, so CI cannot pass
// without running them.

// Chromium finds the browser, or ends the test.
func Chromium(t testing.TB) string {
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

// NewChrome starts a headless Chromium with a fresh profile for the test. The flags keep it
// from reaching the network on its own (updates, sync, field trials).
func NewChrome(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t)),
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
	logs := &SyncBuffer{}
	ctx, cancelTab := chromedp.NewContext(ctx, chromedp.WithErrorf(func(f string, args ...any) { fmt.Fprintf(logs, f+"\n", args...) }))
	t.Cleanup(func() {
		cancelTab()
		if t.Failed() && logs.String() != "" {
			t.Logf("browser errors:\n%s", logs)
		}
	})
	return ctx
}

// Step runs browser actions and ends the test on the first failure, saying which Step failed.
func Step(t testing.TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// NavigateBy clicks sel and waits for the page it loads; it returns that page's status.
func NavigateBy(t testing.TB, ctx context.Context, what string, sel chromedp.CSS) int {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel, chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return int(resp.Status)
}

// Eval evaluates js in the page and returns its value.
func Eval[T any](t testing.TB, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// PageText is the text of the page in the browser.
func PageText(t testing.TB, ctx context.Context) string {
	t.Helper()
	return Eval[string](t, ctx, `document.body.innerText`)
}

// Location is the URL of the page in the browser.
func Location(t testing.TB, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// CheckPNG checks that shot is a PNG image with pixels, and keeps it at path; with
// OAUTHBROKER_SCREENSHOTS=DIR, also in DIR, to look at after the test.
func CheckPNG(t testing.TB, path string, shot []byte) {
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

// Screenshot is a PNG of the whole page.
func Screenshot(t testing.TB, ctx context.Context) []byte {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	return shot
}
