package server

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/templates"
)

// routes lists every route of the broker in one place.
func (s *Server) routes(api, admin http.Handler, mount func(chi.Router)) chi.Router {
	r := chi.NewRouter()
	r.Use(s.requestID, s.logRequests, s.recoverPanics)

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Handle("/static/*", http.StripPrefix("/static/", staticFiles(templates.Static())))

	// Browser link flow (SPEC §3.1).
	r.Get("/bots/{bot}/{provider}/auth", s.auth)
	r.Get("/bots/{bot}/{provider}/callback", s.callback)
	r.Post("/bots/{bot}/{provider}/callback", s.callback)

	// Bot API (SPEC §3.2).
	r.Mount("/api/v1", api)

	// Operators' pages (SPEC §3.3).
	if admin != nil {
		r.Mount("/admin", admin)
	}

	if mount != nil {
		mount(r)
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.pages.RenderFlowError(w, templates.FlowError{
			Status: http.StatusNotFound, Title: "Not found", Message: "There is nothing at this address.",
			RequestID: requestIDFrom(r.Context()),
		})
	})
	return r
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.broker.Ready(r.Context()); err != nil {
		s.log.ErrorContext(r.Context(), "readyz: store unreachable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("store unreachable\n"))
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
