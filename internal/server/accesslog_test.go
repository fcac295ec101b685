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
