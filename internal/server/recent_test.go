package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/broker"
)

// TestPageAfterTheCallbackShowsWhatTheCallbackLeft: the connect page the callback sends its
// browser to is the view the callback left, without a read of the link; only that one view
// of that browser. Here the link is cancelled elsewhere between the callback and the page:
// the first view still shows the link as the callback left it (provider sb linked, sb2's
// button), the reload reads the link and shows it cancelled, and another browser never gets
// the callback's view.
func TestPageAfterTheCallbackShowsWhatTheCallbackLeft(t *testing.T) {
	fs := newFuzzServer(t)
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		fs.srv.ServeHTTP(rec, r)
		return rec
	}
	link, err := fs.broker.CreateLink(t.Context(), broker.LinkRequest{Bot: "a", Providers: []broker.Requirement{{Provider: "sb"}, {Provider: "sb2"}},
		Channel: "c", User: "recent"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link.URL)
	token := u.Query().Get("link")
	rec := serve(httptest.NewRequest(http.MethodGet, link.URL, nil))
	form := regexp.MustCompile(`name="form" value="([^"]+)"`).FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || len(rec.Result().Cookies()) != 1 || form == nil {
		t.Fatalf("connect page: %d\n%s", rec.Code, rec.Body)
	}
	page := rec.Result().Cookies()[0]
	click := httptest.NewRequest(http.MethodPost, "https://broker.test/bots/a/sb/auth",
		strings.NewReader(url.Values{"link": {token}, "form": {form[1]}}.Encode()))
	click.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	click.Header.Set("Sec-Fetch-Site", "same-origin")
	click.AddCookie(page)
	rec = serve(click)
	if rec.Code != http.StatusFound || len(rec.Result().Cookies()) != 1 {
		t.Fatalf("start: %d\n%s", rec.Code, rec.Body)
	}
	flow := rec.Result().Cookies()[0]
	resp, err := fs.sandbox.Get(rec.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb := httptest.NewRequest(http.MethodGet, resp.Header.Get("Location"), nil)
	cb.AddCookie(flow)
	cb.AddCookie(page)
	rec = serve(cb)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != link.URL {
		t.Fatalf("callback: %d to %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == pageCookie {
			page = c
		}
	}
	if _, err := fs.broker.CancelLink(t.Context(), "a", token); err != nil {
		t.Fatal(err)
	}

	view := func(target string, cookie *http.Cookie) (int, string) {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		rec := serve(r)
		return rec.Code, rec.Body.String()
	}
	// Another browser, with a page cookie of its own and without one: the link as stored, spent.
	other, err := fs.broker.CreateLink(t.Context(), broker.LinkRequest{Bot: "a", Providers: []broker.Requirement{{Provider: "sb"}},
		Channel: "c", User: "other"})
	if err != nil {
		t.Fatal(err)
	}
	otherPage := serve(httptest.NewRequest(http.MethodGet, other.URL, nil)).Result().Cookies()[0]
	for _, c := range []*http.Cookie{otherPage, nil} {
		if status, body := view(link.URL, c); status != http.StatusGone {
			t.Errorf("another browser (cookie %v): %d, want 410\n%s", c != nil, status, body)
		}
	}
	status, body := view(link.URL, page)
	if status != http.StatusOK || !strings.Contains(body, `data-connect="open"`) ||
		!strings.Contains(body, `<li data-provider="sb" data-state="linked">`) || !strings.Contains(body, `<form method="post" action="https://broker.test/bots/a/sb2/auth"`) {
		t.Errorf("the page after the callback: %d, want the callback's view (sb linked, sb2 open)\n%s", status, body)
	}
	if status, body := view(link.URL, page); status != http.StatusOK || !strings.Contains(body, `data-connect="cancelled"`) ||
		!strings.Contains(body, `<li data-provider="sb" data-state="linked">`) {
		t.Errorf("the reload: %d, want the link as stored, cancelled\n%s", status, body)
	}
}
