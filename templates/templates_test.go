package templates

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEveryPageParses; each page's package renders it with its data (internal/admin's
// TestEveryAdminPageRenders, internal/server's TestConnectPage).
func TestEveryPageParses(t *testing.T) {
	p, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layouts {
		for name := range l.pages {
			if _, ok := p.byName[name]; !ok {
				t.Errorf("page %s is not parsed", name)
			}
		}
	}
}

func TestAFailedRenderSendsNoHalfPage(t *testing.T) {
	p, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := p.Render(rec, http.StatusOK, "admin_missing.html", nil); err == nil {
		t.Fatal("no error for a missing page")
	}
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "<html") || rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("%d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
	// A page whose data lacks what the template reads fails before anything is sent.
	rec = httptest.NewRecorder()
	if err := p.Render(rec, http.StatusOK, AdminList, struct{}{}); err == nil {
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
