package admin

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/templates"
)

// routes lists every admin route, relative to Prefix.
func (h *Handler) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(headers)
	r.NotFound(h.notFound)
	r.MethodNotAllowed(h.methodNotAllowed)

	if h.cred == nil {
		// No password: every address explains how to set one, and nothing else is served.
		r.HandleFunc("/*", h.setup)
		return r
	}
	r.Get("/", h.authed(h.list))
	r.Get("/login", h.loginForm)
	r.Post("/login", h.login)
	r.Post("/logout", h.authed(h.logout))
	r.Get("/bots/{bot}/identities/{id}", h.authed(h.identity))
	r.Get("/bots/{bot}/identities/{id}/unlink", h.authed(h.unlinkForm))
	r.Post("/bots/{bot}/identities/{id}/unlink", h.authed(h.unlink))
	return r
}

// headers puts the admin headers on every response, redirects and errors included: no
// framing, no referrer, no caching, no script.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		templates.SetAdminHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}
