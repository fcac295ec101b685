package server

import (
	"crypto/subtle"
	"io/fs"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/internal/httpapi"
	"github.com/oauthbroker/oauthbroker/templates"
)

// routes lists every route of the broker in one place.
func (s *Server) routes(api, admin http.Handler, mount func(chi.Router)) chi.Router {
	r := chi.NewRouter()
	// accessLog sits outside recoverPanics, so a recovered panic is logged and counted as the
	// 500 it became.
	r.Use(s.requestID, s.clientAddr, s.accessLog, s.recoverPanics)

	// Operations.
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if !s.metricsElsewhere {
		r.Method(http.MethodGet, "/metrics", s.MetricsHandler())
	}
	r.Handle("/static/*", http.StripPrefix("/static/", staticFiles(templates.Static())))

	// Browser link flow (connect.go, flow.go): refused requests are limited per client
	// address. A GET only ever shows a page; a provider starts with a POST from the page.
	r.Group(func(r chi.Router) {
		r.Use(s.limitFlow)
		r.Get("/bots/{bot}/connect", s.instrumentFlow(flowPage, s.connectPage))
		r.Post("/bots/{bot}/connect", s.instrumentFlow(flowPage, s.cancel))
		r.Get("/bots/{bot}/{provider}/auth", s.instrumentFlow(flowPage, s.connectPage))
		r.Post("/bots/{bot}/{provider}/auth", s.instrumentFlow(flowStart, s.start))
		r.Get("/bots/{bot}/{provider}/callback", s.instrumentFlow(flowCallback, s.callback))
		r.Post("/bots/{bot}/{provider}/callback", s.instrumentFlow(flowCallback, s.callback))
	})

	// Bot API; it limits link creation per bot itself, after the key check.
	r.Mount("/api/v1", api)

	// Agents: the MCP endpoint, a face of the bot API (package mcpserver).
	r.Handle("/mcp", s.mcp)

	// Operators' pages.
	if admin != nil {
		r.Mount("/admin", admin)
	}

	if mount != nil {
		mount(r)
	}
	// A method chi does not know at all (not GET, POST, …) never reaches a sub-router, so the
	// API's own 405 cannot answer it: answer here, as problem+json under /api/.
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			httpapi.WriteProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", "this method is not allowed on this route")
			return
		}
		s.renderFlowError(w, r, flowErrorPage{
			Status: http.StatusMethodNotAllowed, Title: "Method not allowed", Message: "This address does not answer that kind of request.",
			RequestID: requestIDFrom(r.Context()),
		})
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.renderFlowError(w, r, flowErrorPage{
			Status: http.StatusNotFound, Title: "Not found", Message: "There is nothing at this address.",
			RequestID: requestIDFrom(r.Context()),
		})
	})
	return r
}

// MetricsHandler serves the Prometheus metrics, behind the metrics token when one is set. The
// metrics name every bot and provider: an operator keeps them off the public listener
// (server.metrics_listen) or behind the token (docs/DEPLOY.md).
func (s *Server) MetricsHandler() http.Handler {
	h := s.metrics.Handler()
	if s.metricsToken == "" {
		return h
	}
	want := []byte("Bearer " + s.metricsToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="oauthbroker metrics"`)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte("send Authorization: Bearer <server.metrics_token>\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.broker.Ready(r.Context()); err != nil {
		s.log.ErrorContext(r.Context(), "readyz: the store is unreachable or not migrated", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("store unreachable or not migrated\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// staticFiles serves the embedded CSS and script; they change only with the binary.
// Directory listings are refused.
func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
