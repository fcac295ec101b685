// Package httpapi is the bot API (SPEC §3.2): JSON over chi, bearer keys per bot, errors as
// RFC 9457 problem+json with a stable `code`. It decodes, calls the broker and encodes; the
// rules live in the broker.
package httpapi

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/proxy"
)

// API serves /api/v1.
type API struct {
	broker *broker.Broker
	log    *slog.Logger
}

// New returns the bot API handler, to be mounted at /api/v1.
func New(b *broker.Broker, log *slog.Logger) http.Handler {
	a := &API{broker: b, log: log}
	r := chi.NewRouter()
	r.Get("/openapi.yaml", serveOpenAPI) // no key: the contract is public
	r.Route("/bots/{bot}", func(r chi.Router) {
		r.Use(a.requireBotKey)
		r.Post("/links", a.createLink)
		r.Post("/links/confirm", a.confirm)
		r.Get("/identities", a.listIdentities)
		r.Get("/identities/{id}/credentials", a.credentials)
		r.Delete("/identities/{id}", a.deleteIdentity)
		r.Post("/require", a.require)
		// The signing proxy (package proxy): the provider's API as the identity.
		proxied := proxy.New(b, proxy.Options{Logger: log, WriteError: a.writeError})
		for _, m := range proxy.Methods() {
			r.Method(m, "/identities/{id}/proxy/*", proxied)
		}
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, "route_not_found", "no such API route; see /api/v1/openapi.yaml")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on this route")
	})
	return r
}

// requireBotKey lets a request through only with one of the route's bot's own keys.
func (a *API) requireBotKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := BearerToken(r.Header.Get("Authorization"))
		if err := a.broker.AuthenticateBot(chi.URLParam(r, "bot"), key); err != nil {
			if broker.ErrorCode(err) == broker.CodeUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="oauthbroker"`)
			}
			a.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// BearerToken extracts the token of an `Authorization: Bearer <token>` header (RFC 6750
// §2.1: the scheme is case-insensitive; the token is one b64token with no spaces).
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > 512 {
		return "", false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if c <= ' ' || c >= 0x7f {
			return "", false
		}
	}
	return token, true
}
