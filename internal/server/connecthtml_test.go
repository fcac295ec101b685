package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/templates"
)

// awkwardPageStrings are what a bot, a provider or a configuration may put on the page: every
// character html/template escapes, NUL, invalid UTF-8, multi-byte runes.
var awkwardPageStrings = []string{
	"", "plain", `Ada "<img src=x onerror=alert(1)>"`, "it's a+b & c", "nul\x00byte", "bad\xffutf8\xc3",
	"héllo 日本 🎉", "<script>alert(1)</script>", "&amp; &#34;", "line\nbreak\ttab",
}

// awkwardURLs are values in the page's two URL attributes: schemes html/template refuses,
// characters it percent-encodes, escapes it keeps and the ones it does not.
var awkwardURLs = []string{
	"", "https://broker.test/bots/b/rides/auth", "https://bot.example/done?a=1&b=2+3#top", "javascript:alert(1)",
	"JavaScript:alert(1)", " javascript:x", "data:text/html,<b>x</b>", "mailto:ada@example.com", "HTTP://X/Y",
	"/relative/path?q='1'", "//evil.example/x", "https://x.example/a b\"c<d>e%zz%4", "%41%4", "a%4g%", "https://ü.example/ä?x=日本",
	"https://x.example/\x00\xff", "?a=!$*,;:@[]~-._", "x:y/z", "a/b:c", "ftp://x.example/",
}

// TestConnectPageMatchesTemplate: the connect page the server builds by hand is, byte for
// byte, what templates/connect.html renders, in every state of the page and with awkward
// values in each field.
func TestConnectPageMatchesTemplate(t *testing.T) {
	p, err := templates.Parse()
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Date(2026, 12, 6, 20, 15, 59, 123, time.FixedZone("x", 3600))
	n := 0
	for _, state := range []struct{ complete, cancelled bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		for _, confirm := range []bool{false, true} {
			for _, code := range []string{"", "042137"} {
				for i, s := range awkwardPageStrings {
					for j, u := range awkwardURLs {
						if j%3 != i%3 && u != "" { // every pair of string and URL is not needed
							continue
						}
						label := s
						if i%2 == 1 {
							label = ""
						}
						v := connectPage{
							BotName: "Bot " + s, UserLabel: label, UserID: "U" + s, Channel: "slack" + s,
							Link: "tok" + s, FormToken: "ft" + s, CancelAction: u, Complete: state.complete, Cancelled: state.cancelled,
							Confirm: confirm, Code: code, CodeMinutes: 10, RedirectURL: u, ExpiresAt: expires, RequestID: s,
						}
						for k := range 3 {
							v.Providers = append(v.Providers, connectProvider{Name: "p" + s, Title: "Title " + s,
								Linked: k == 1 || (k == 2 && i%2 == 0), Account: []string{"", s, "Ada @ada"}[k], Action: u})
							compareConnectPage(t, p, v)
							n++
						}
					}
				}
			}
		}
	}
	t.Logf("%d pages compared", n)
}

func compareConnectPage(t *testing.T, p *templates.Pages, v connectPage) {
	t.Helper()
	want := httptest.NewRecorder()
	if err := p.Render(want, http.StatusOK, templates.Connect, v); err != nil {
		t.Fatal(err)
	}
	got := httptest.NewRecorder()
	if err := p.Write(got, http.StatusOK, templates.Connect, appendConnectPage(nil, &v)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		g, w := got.Body.Bytes(), want.Body.Bytes()
		i := 0
		for i < len(g) && i < len(w) && g[i] == w[i] {
			i++
		}
		t.Fatalf("the built page differs from the template's at byte %d:\n built …%q\n  tmpl …%q\nfor %+v", i,
			g[max(0, i-40):min(len(g), i+80)], w[max(0, i-40):min(len(w), i+80)], v)
	}
	for k, vs := range want.Header() {
		if got.Header().Get(k) != vs[0] || len(got.Header()[k]) != len(vs) {
			t.Fatalf("header %s: %q, the template's %q", k, got.Header()[k], vs)
		}
	}
	if len(got.Header()) != len(want.Header()) || got.Code != want.Code {
		t.Fatalf("headers %v (%d), the template's %v (%d)", got.Header(), got.Code, want.Header(), want.Code)
	}
}

// FuzzConnectPage: whatever the values, the built page is the template's.
// Run: go test -run '^$' -fuzz '^FuzzConnectPage$' ./internal/server/
func FuzzConnectPage(f *testing.F) {
	for i, s := range awkwardPageStrings {
		f.Add(s, awkwardURLs[i], uint8(i))
	}
	p, err := templates.Parse()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s, u string, flags uint8) {
		v := connectPage{
			BotName: s, UserLabel: s, UserID: s, Channel: s, Link: s, FormToken: s, CancelAction: u,
			Complete: flags&1 != 0, Cancelled: flags&2 != 0, Confirm: flags&4 != 0, RedirectURL: u, RequestID: s,
			CodeMinutes: int(flags), ExpiresAt: time.Unix(int64(len(s))*1e6, 0),
			Providers: []connectProvider{{Name: s, Title: s, Linked: flags&8 != 0, Account: s, Action: u}},
		}
		if flags&16 != 0 {
			v.UserLabel = ""
		}
		if flags&32 != 0 {
			v.Code = s
		}
		if flags&64 != 0 {
			v.Providers = append(v.Providers, connectProvider{Name: u, Title: u, Linked: flags&128 != 0, Account: u, Action: s})
		}
		compareConnectPage(t, p, v)
	})
}
