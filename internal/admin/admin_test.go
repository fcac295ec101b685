package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSessionCookieIsSecureOnHTTPS(t *testing.T) {
	for _, tc := range []struct {
		publicURL string
		secure    bool
	}{{"https://broker.example", true}, {"http://127.0.0.1:8080", false}} {
		f := newFixture(t, tc.publicURL, "")
		c := f.login(t)
		if c.Secure != tc.secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != Prefix {
			t.Errorf("%s: cookie %+v", tc.publicURL, c)
		}
	}
}

func TestNewRefusesAmbiguousOrBrokenCredentials(t *testing.T) {
	for _, tc := range []struct{ hash, password, want string }{
		{"$2a$04$se3r595aqMxEKjmrxv5YkeNJrrFc.TnlE7S3rJNig4XM4LgJzD7UK", "too", "keep one"},
		{"not-bcrypt", "", "not a bcrypt hash"},
		{"$2a$04$se3r595aqMxEKjmrxv5YkeNJrrFc.TnlE7S3rJNig4XM4LgJzD7UK", "", "cost 4, below 10"},
	} {
		if _, err := newCredential(tc.hash, tc.password, []byte("k")); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("newCredential(%q, %q): %v, want %q", tc.hash, tc.password, err, tc.want)
		}
	}
	if c, err := newCredential("", "", []byte("k")); c != nil || err != nil {
		t.Errorf("no credential: %v, %v", c, err)
	}
}

// A session opened with one password stops working when the password changes.
func TestChangingThePasswordEndsSessions(t *testing.T) {
	f := newFixture(t, "http://127.0.0.1", "")
	cookie := f.login(t)
	get := func() int {
		req := httptest.NewRequest(http.MethodGet, "/admin/", nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		f.serve(rec, req)
		return rec.Code
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("list with the session: %d", code)
	}
	var err error
	if f.h.cred, err = newCredential("", "a new password", f.h.key); err != nil {
		t.Fatal(err)
	}
	if code := get(); code != http.StatusSeeOther {
		t.Errorf("list after the password changed: %d, want a redirect to the login", code)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "/admin/",
		"/admin/":                     "/admin/",
		"/admin/?bot=a&q=x":           "/admin/?bot=a&q=x",
		"/admin/bots/a/identities/3":  "/admin/bots/a/identities/3",
		"https://evil.example/admin/": "/admin/",
		"//evil.example/admin/":       "/admin/",
		"/\\evil.example/admin/":      "/admin/",
		"/admin/../elsewhere":         "/admin/",
		"/admin/login":                "/admin/",
		"javascript:alert(1)":         "/admin/",
		"/adminx/":                    "/admin/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRelative(t *testing.T) {
	now := time.Date(2031, 3, 14, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		0: "just now", -59 * time.Second: "just now", -5 * time.Minute: "5 min ago", 5 * time.Minute: "in 5 min",
		-3 * time.Hour: "3 h ago", 47 * time.Hour: "in 47 h", -72 * time.Hour: "3 days ago", -90 * 24 * time.Hour: "14 Dec 2030",
	} {
		if got := relative(now, now.Add(d)); got != want {
			t.Errorf("relative(%v) = %q, want %q", d, got, want)
		}
	}
	if w := when(now, time.Time{}); !w.Zero {
		t.Error("the zero time is not Zero")
	}
	if e := expiry(now, now); !e.Expired {
		t.Error("a token expiring now is not expired")
	}
	if got := initials("ada  lovelace king"); got != "AL" {
		t.Errorf("initials = %q", got)
	}
	if got := initials("<script>"); got != "?" {
		t.Errorf("initials of no letter = %q", got)
	}
}
