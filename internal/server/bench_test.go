package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/logbuf"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// BenchmarkServer sends browser requests through the real server (every middleware, the
// access log through serve's log buffer to io.Discard, the metrics, the page and flow
// cookies, the templates) to the broker on an in-memory store. The whole path with real
// sockets and a million identities is cmd/oauthbroker-bench.
func BenchmarkServer(b *testing.B) {
	lw := logbuf.New(io.Discard, logbuf.DefaultSize, logbuf.DefaultInterval)
	b.Cleanup(func() { lw.Close() })
	log := slog.New(logbuf.NewHandler(lw, logbuf.Text, slog.LevelInfo))
	fs := newFuzzServer(b, func(d *Deps) { d.Logger = log })
	newLink := func(b *testing.B) (string, string) {
		l, err := fs.broker.CreateLink(b.Context(), broker.LinkRequest{Bot: "a", Providers: []broker.Requirement{{Provider: "sb"}}, Channel: "c", User: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		u, _ := url.Parse(l.URL)
		return l.URL, u.Query().Get("link")
	}
	serve := func(b *testing.B, req *http.Request, status int) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		fs.srv.ServeHTTP(rec, req)
		if rec.Code != status {
			b.Fatalf("%s %s: %d, want %d\n%s", req.Method, req.URL, rec.Code, status, rec.Body)
		}
		return rec
	}
	linkURL, _ := newLink(b)
	first := serve(b, httptest.NewRequest(http.MethodGet, linkURL, nil), http.StatusOK)
	page := first.Result().Cookies()[0]
	pageState := fs.srv.readPage(func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, linkURL, nil)
		r.AddCookie(page)
		return r
	}())
	if pageState == nil {
		b.Fatal("the page cookie does not read back")
	}
	click := func(link string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "https://broker.test/bots/a/sb/auth",
			strings.NewReader(url.Values{"link": {link}, "form": {fs.srv.formToken(pageState, link)}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.AddCookie(page)
		return r
	}

	b.Run("healthz", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			serve(b, httptest.NewRequest(http.MethodGet, "https://broker.test/healthz", nil), http.StatusOK)
		}
	})
	b.Run("connect page, first visit", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			serve(b, httptest.NewRequest(http.MethodGet, linkURL, nil), http.StatusOK)
		}
	})
	b.Run("connect page, its cookie", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodGet, linkURL, nil)
			r.AddCookie(page)
			serve(b, r, http.StatusOK)
		}
	})
	// A fresh link per start (a link allows a few open flows only): its creation, a store
	// write, is timed too.
	b.Run("link and start", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			_, link := newLink(b)
			serve(b, click(link), http.StatusFound)
		}
	})
	// The provider's answer with the flow cookie but another state: the cookie is opened, the
	// flow checked and refused with the error page; the flow stays open.
	_, link := newLink(b)
	var flow *http.Cookie
	for _, c := range serve(b, click(link), http.StatusFound).Result().Cookies() {
		if c.Name == flowCookie {
			flow = c
		}
	}
	if flow == nil || !regexp.MustCompile(`^[A-Za-z0-9_=-]+$`).MatchString(flow.Value) {
		b.Fatalf("no flow cookie: %v", flow)
	}
	b.Run("callback, wrong state", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodGet, "https://broker.test/bots/a/sb/callback?code=x&state=not-the-state", nil)
			r.AddCookie(flow)
			serve(b, r, http.StatusBadRequest)
		}
	})

	// A whole link flow of one browser: the link (a store write), its page, the provider's
	// button, the fake provider's approval (served in this process: its CPU counts too), the
	// callback and the page it sends the browser to.
	b.Run("whole flow", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			_, flow, sent := fs.startFlow(b)
			cb := httptest.NewRequest(http.MethodGet, "https://broker.test/bots/a/sb/callback?"+sent.Encode(), nil)
			cb.AddCookie(flow)
			done := serve(b, cb, http.StatusSeeOther)
			r := httptest.NewRequest(http.MethodGet, done.Header().Get("Location"), nil)
			for _, c := range done.Result().Cookies() {
				if c.Name == pageCookie {
					r.AddCookie(c)
				}
			}
			serve(b, r, http.StatusOK)
		}
	})

	// The bot API through the same middleware: a link created (its store write timed too) and
	// the credentials of an identity a real flow linked.
	api := func(method, path, body string) *http.Request {
		r := httptest.NewRequest(method, "https://broker.test/api/v1/bots/a"+path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer key-0123456789abcdef")
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		return r
	}
	b.Run("POST links", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			serve(b, api(http.MethodPost, "/links", `{"provider":"sb","channel":"c","user":"bench"}`), http.StatusCreated)
		}
	})
	user, cookie, sent := fs.startFlow(b)
	cb := httptest.NewRequest(http.MethodGet, "https://broker.test/bots/a/sb/callback?"+sent.Encode(), nil)
	cb.AddCookie(cookie)
	serve(b, cb, http.StatusSeeOther)
	ids, err := fs.store.Identities(b.Context(), store.IdentityQuery{Bot: "a", Channel: "c", User: user})
	if err != nil || len(ids) != 1 {
		b.Fatalf("the flow linked %d identities (%v)", len(ids), err)
	}
	credentials := "/identities/" + strconv.FormatInt(ids[0].ID, 10) + "/credentials"
	b.Run("credentials", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			serve(b, api(http.MethodGet, credentials, ""), http.StatusOK)
		}
	})
}

// reportCPU reports the process's CPU time (user and system, every goroutine: the handler's,
// the garbage collector's, the fake provider's) per op as cpu-ns/op, and the allocations:
// on a shared, busy machine the CPU a request costs varies less than its wall time. Call as
// defer reportCPU(b)() before the loop.
func reportCPU(b *testing.B) func() {
	b.ReportAllocs()
	before := cpuTime(b)
	return func() {
		b.ReportMetric(float64(cpuTime(b)-before)/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
