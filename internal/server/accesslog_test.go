package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/logbuf"
)

// TestAccessLogLine: one line per request through the real router, with exactly the fields
// and text slog's LogAttrs wrote — msg "http request", request_id (the X-Request-Id sent),
// method, path without the query, status, duration_ms — and no source; none when the level
// is above info. The request is counted once in the metrics, with the status it got.
func TestAccessLogLine(t *testing.T) {
	var text, js, quiet bytes.Buffer
	log := slog.New(fanOut{slog.NewTextHandler(&text, nil), slog.NewJSONHandler(&js, nil)})
	fs := newFuzzServer(t, func(d *Deps) { d.Logger = log })

	rec := httptest.NewRecorder()
	fs.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://broker.test/bots/a/connect?link=secret-token-in-query", nil))
	id := rec.Header().Get("X-Request-Id")
	if rec.Code != http.StatusNotFound || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
		t.Fatalf("status %d, request id %q", rec.Code, id)
	}
	want := regexp.MustCompile(`^time=\d{4}-\d\d-\d\dT\S+ level=INFO msg="http request" request_id=` + id +
		` method=GET path=/bots/a/connect status=404 duration_ms=\d+$`)
	var got []string
	for l := range strings.Lines(text.String()) {
		if strings.Contains(l, `msg="http request"`) {
			got = append(got, strings.TrimSuffix(l, "\n"))
		}
	}
	if len(got) != 1 || !want.MatchString(got[0]) {
		t.Fatalf("request lines %q, want one matching %s\nlog:\n%s", got, want, text.String())
	}
	var line map[string]any
	for l := range strings.Lines(js.String()) {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		if v["msg"] == "http request" {
			line = v
		}
	}
	keys := slices.Sorted(maps.Keys(line))
	if !slices.Equal(keys, []string{"duration_ms", "level", "method", "msg", "path", "request_id", "status", "time"}) ||
		line["request_id"] != id || line["status"] != float64(404) || line["level"] != "INFO" {
		t.Errorf("JSON request line %v", line)
	}
	if strings.Contains(text.String()+js.String(), "secret-token-in-query") {
		t.Error("the query is in the log")
	}
	warnOnly := newFuzzServer(t, func(d *Deps) {
		d.Logger = slog.New(slog.NewTextHandler(&quiet, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	warnOnly.srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "https://broker.test/healthz", nil))
	if quiet.Len() != 0 {
		t.Errorf("a warn-level logger wrote: %s", quiet.String())
	}

	metrics := httptest.NewRecorder()
	fs.srv.ServeHTTP(metrics, httptest.NewRequest(http.MethodGet, "https://broker.test/metrics", nil))
	body, _ := io.ReadAll(metrics.Body)
	if !strings.Contains(string(body), `oauthbroker_http_request_duration_seconds_count{method="GET",route="/bots/{bot}/connect",status="404"} 1`+"\n") {
		t.Errorf("the request is not counted once:\n%s", body)
	}
}

// fanOut hands each record to every handler that wants it.
type fanOut []slog.Handler

func (f fanOut) Enabled(ctx context.Context, l slog.Level) bool {
	return slices.ContainsFunc(f, func(h slog.Handler) bool { return h.Enabled(ctx, l) })
}

func (f fanOut) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r.Clone()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f fanOut) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(fanOut, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (f fanOut) WithGroup(name string) slog.Handler {
	out := make(fanOut, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}

// TestAccessLogLineThroughServesHandler: with serve's handler (logbuf's, text or JSON) the
// request line is built without slog's machinery; it must be the line slog writes, byte for
// byte, for a plain path and for one that needs quoting (which goes through slog).
func TestAccessLogLineThroughServesHandler(t *testing.T) {
	end := time.Date(2026, 12, 7, 6, 30, 1, 234_567_891, time.UTC)
	for _, f := range []logbuf.Format{logbuf.Text, logbuf.JSON} {
		for _, path := range []string{"/api/v1/bots/a/identities/17/credentials", `/bots/a b/"connect"`} {
			var fast, slow strings.Builder
			lw := logbuf.New(&fast, 1<<16, time.Hour)
			var plain slog.Handler = slog.NewTextHandler(&slow, nil)
			if f == logbuf.JSON {
				plain = slog.NewJSONHandler(&slow, nil)
			}
			for _, log := range []*slog.Logger{slog.New(logbuf.NewHandler(lw, f, slog.LevelInfo)), slog.New(plain)} {
				s := &Server{log: log}
				r := httptest.NewRequest(http.MethodGet, "https://broker.test/", nil)
				r.URL.Path = path
				r = r.WithContext(context.WithValue(r.Context(), requestIDKey, &requestInfo{id: [1]string{"00112233aabbccdd"}}))
				s.logRequest(r, http.StatusTeapot, end, 1500*time.Millisecond)
			}
			if err := lw.Close(); err != nil {
				t.Fatal(err)
			}
			if fast.String() != slow.String() || !strings.Contains(slow.String(), "00112233aabbccdd") {
				t.Errorf("format %d, path %q:\nserve's %q\nslog's  %q", f, path, fast.String(), slow.String())
			}
		}
	}
}

// TestMetricsRouteLabels: every request is counted under chi's pattern of its route, the
// first time (computed) and the times after (remembered), for a route of the mounted API, a
// flow route, one that matched nothing and one of the top router.
func TestMetricsRouteLabels(t *testing.T) {
	fs := newFuzzServer(t)
	requests := map[string]string{
		"/api/v1/bots/a/identities/17/credentials": "/api/v1/bots/{bot}/identities/{id}/credentials",
		"/bots/a/connect":                          "/bots/{bot}/connect",
		"/no/such/route":                           "unmatched",
		"/healthz":                                 "/healthz",
	}
	for range 3 {
		for path := range requests {
			r := httptest.NewRequest(http.MethodGet, "https://broker.test"+path, nil)
			r.Header.Set("Authorization", "Bearer key-0123456789abcdef")
			fs.srv.ServeHTTP(httptest.NewRecorder(), r)
		}
	}
	rec := httptest.NewRecorder()
	fs.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://broker.test/metrics", nil))
	body := rec.Body.String()
	for path, route := range requests {
		series := regexp.MustCompile(`oauthbroker_http_request_duration_seconds_count\{method="GET",route="` +
			regexp.QuoteMeta(route) + `",status="\d+"\} 3` + "\n")
		if !series.MatchString(body) {
			t.Errorf("%s: no series of 3 requests under route %q in\n%s", path, route, body)
		}
	}
}
