package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

type ctxKey int

const requestIDKey ctxKey = iota

// requestID gives every request an id, returned in X-Request-Id and shown on error pages, so
// a user's report can be matched with the log line. A caller's own id is not trusted: it
// could be used to forge log lines.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logRequests writes one line per request. It logs the path only, never the query: link
// tokens, codes, states and verifiers travel in query strings.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		// LogAttrs: the same line as InfoContext with key-value pairs, without boxing each
		// value into an interface first.
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("request_id", requestIDFrom(r.Context())), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", rec.status),
			slog.Int64("duration_ms", time.Since(start).Milliseconds()))
	})
}

// recoverPanics turns a panic into a plain 500 page. The stack goes to the log (it holds
// code locations, not values); the panic value does not, as it may quote a token.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.metrics.Panic()
				s.log.ErrorContext(r.Context(), "http: handler panicked", "request_id", requestIDFrom(r.Context()),
					"path", r.URL.Path, "stack", string(debug.Stack()))
				s.renderFlowError(w, r, flowErrorPage{
					Status: http.StatusInternalServerError, Title: "Something went wrong",
					Message: "The broker hit an internal error. Nothing was changed.", RequestID: requestIDFrom(r.Context()),
				})
			}
		}()
		next.ServeHTTP(w, r)
	})
}
