package server

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSameOrigin: a POST counts as coming from the broker's own page only with Sec-Fetch-Site
// same-origin, or, from a browser that does not send Sec-Fetch-Site, with the public URL's
// exact origin. What a page on another site can make a browser send never passes.
func TestSameOrigin(t *testing.T) {
	s := &Server{publicOrigin: "https://broker.test"}
	for _, c := range []struct {
		site, origin string
		ok           bool
	}{
		{"same-origin", "https://broker.test", true},
		{"same-origin", "", true},
		{"", "https://broker.test", true}, // Safari before 16.4
		{"cross-site", "https://broker.test", false},
		{"same-site", "https://broker.test", false},
		{"none", "", false},
		{"", "https://evil.example", false},
		{"", "https://broker.test:444", false},
		{"", "http://broker.test", false},
		{"", "https://broker.test.evil.example", false},
		{"", "null", false},
		{"", "", false},
	} {
		t.Run(fmt.Sprintf("site=%q origin=%q", c.site, c.origin), func(t *testing.T) {
			r := httptest.NewRequest("POST", "https://broker.test/bots/a/p/auth", nil)
			if c.site != "" {
				r.Header.Set("Sec-Fetch-Site", c.site)
			}
			if c.origin != "" {
				r.Header.Set("Origin", c.origin)
			}
			if got := s.sameOrigin(r); got != c.ok {
				t.Errorf("sameOrigin = %v, want %v", got, c.ok)
			}
		})
	}
}

// TestPageStateRecords: a link's record gathers its accounts and keeps its code; the cookie
// remembers the newest maxDoneLinks links only, so it stays small.
func TestPageStateRecords(t *testing.T) {
	p := newPageState()
	if len(p.Browser) != 43 || newPageState().Browser == p.Browser {
		t.Fatalf("browser id %q", p.Browser)
	}
	p.record(1, "rides", "Ada @ada", "")
	p.record(1, "social", "Ada", "123456")
	p.record(1, "", "", "")
	d := p.done(1)
	if d == nil || d.Accounts["rides"] != "Ada @ada" || d.Accounts["social"] != "Ada" || d.Code != "123456" || len(p.Done) != 1 {
		t.Fatalf("record of link 1: %+v", p.Done)
	}
	for link := int64(2); link <= maxDoneLinks+1; link++ {
		p.record(link, "rides", "x", "")
	}
	if len(p.Done) != maxDoneLinks || p.done(1) != nil || p.done(maxDoneLinks+1) == nil {
		t.Errorf("after %d more links: %+v", maxDoneLinks, p.Done)
	}
}

// TestPageCookieIsSetAgainOnlyWhenItWouldNotLast: the connect page sets its cookie when the
// cookie would expire before the link (and a flow at its end) does, and only then.
func TestPageCookieIsSetAgainOnlyWhenItWouldNotLast(t *testing.T) {
	s := &Server{pageMaxAge: 3600}
	p := newPageState()
	now := time.Now()
	if s.lastsUntil(p, now) {
		t.Error("a cookie never set lasts")
	}
	p.Saved = now.Unix()
	if !s.lastsUntil(p, now.Add(50*time.Minute)) || s.lastsUntil(p, now.Add(61*time.Minute)) {
		t.Errorf("a cookie set now, of an hour: lasts 50 min %v, 61 min %v", s.lastsUntil(p, now.Add(50*time.Minute)), s.lastsUntil(p, now.Add(61*time.Minute)))
	}
}
