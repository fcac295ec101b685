package server

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/logbuf"
)

type ctxKey int

const requestIDKey ctxKey = iota

// requestID gives every request an id, returned in X-Request-Id and shown on error pages, so
// a user's report can be matched with the log line. A caller's own id is not trusted: it
// could be used to forge log lines. The id needs to be unique and not chosen by the client,
// not secret: it comes from the runtime's per-thread ChaCha8 generator (math/rand/v2, seeded
// from the system's randomness), at less than half the cost of a crypto/rand read.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := &requestInfo{id: [1]string{newRequestID()}}
		w.Header()["X-Request-Id"] = ri.id[:]
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, ri)))
	})
}

// requestInfo is what the middleware keeps of a request in its context: its id and, on the
// flow routes, how the request ended. One context value and one copy of the request serve
// both, instead of a copy each.
type requestInfo struct {
	// id is the request's id, held as X-Request-Id's values so that the header shares this
	// allocation instead of a slice of its own; "" for a request that skipped requestID.
	id     [1]string
	flow   flowOutcome
	flowed bool // a flow route gave the request its flowOutcome (withFlowOutcome)
}

// newRequestID is 16 hex digits of a random 64-bit number.
func newRequestID() string {
	var n [8]byte
	var b [16]byte
	binary.BigEndian.PutUint64(n[:], rand.Uint64())
	hex.Encode(b[:], n[:])
	return string(b[:])
}

func requestIDFrom(ctx context.Context) string {
	if ri, ok := ctx.Value(requestIDKey).(*requestInfo); ok {
		return ri.id[0]
	}
	return ""
}

// statusRecorder notes the status a handler answered with, for the access log and the
// metrics (one recorder for both).
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

// accessLog writes one line per request and records it in the HTTP metrics (observe).
// The line has the path only, never the query: link tokens, codes, states and verifiers
// travel in query strings.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		end := time.Now()
		s.observe(r, rec.status, end.Sub(start))
		s.logRequest(r, rec.status, end, end.Sub(start))
	})
}

// logRequest writes the request's line: what s.log.LogAttrs writes. serve's handler builds it
// itself (logbuf.WritePlain) when every value is plain; any other goes through slog, without
// runtime.Callers (slog looks up the caller for every record, source wanted or not; the
// broker's handlers never add the source).
func (s *Server) logRequest(r *http.Request, status int, end time.Time, took time.Duration) {
	ctx := r.Context()
	h := s.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := [...]slog.Attr{slog.String("request_id", requestIDFrom(ctx)), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", status),
		slog.Int64("duration_ms", took.Milliseconds())}
	if logbuf.WritePlain(h, end, slog.LevelInfo, "http request", attrs[:]) {
		return
	}
	line := slog.NewRecord(end, slog.LevelInfo, "http request", 0)
	line.AddAttrs(attrs[:]...)
	_ = h.Handle(ctx, line)
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
