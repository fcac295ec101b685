package testenv

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// GetPage GETs u in browser and returns the status, the page and the X-Request-Id header.
func GetPage(t testing.TB, browser *http.Client, u string) (int, string, string) {
	t.Helper()
	resp, err := browser.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header.Get("X-Request-Id")
}

// NoStackTrace fails if an answer shows anything of a Go panic or stack.
func NoStackTrace(t testing.TB, page string) {
	t.Helper()
	for _, s := range []string{"goroutine ", ".go:", "panic", "runtime."} {
		if strings.Contains(page, s) {
			t.Errorf("the answer shows %q (a stack trace?):\n%s", s, page)
		}
	}
}
