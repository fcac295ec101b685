// Package httpapi is the bot API: JSON over chi, bearer keys per bot, errors as RFC 9457
// problem+json with a stable `code`. It decodes, calls the broker and encodes; the rules live
// in the broker. It sees identities as broker.IdentityInfo, which has no token field, and
// does not import the store.
package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/httprate"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/proxy"
)

// Options are the bot API's settings; cmd and server build them.
type Options struct {
	Logger *slog.Logger
	// LinksPerBot is how many link-creating calls (POST …/links and …/require) one bot may
	// make per minute; 0: no limit.
	LinksPerBot int
	// OnRateLimited, when set, is told of every call the link limit refuses (for metrics).
	OnRateLimited func()
}

// API serves /api/v1.
type API struct {
	broker *broker.Broker
	log    *slog.Logger

	links         *httprate.RateLimiter // link-creating calls per bot; nil: no limit
	linksPerBot   int
	onRateLimited func()
}

// New returns the bot API handler, to be mounted at /api/v1.
func New(b *broker.Broker, o Options) http.Handler {
	a := &API{broker: b, log: o.Logger, linksPerBot: o.LinksPerBot, onRateLimited: o.OnRateLimited}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if o.LinksPerBot > 0 {
		a.links = httprate.NewRateLimiter(o.LinksPerBot, time.Minute)
	}
	r := chi.NewRouter()
	r.Get("/openapi.yaml", serveOpenAPI) // no key: the contract is public
	// The bot's routes in a group rather than a sub-router: every request then finds its route
	// in one walk of one tree instead of two, with one copy of the request fewer.
	r.Group(func(r chi.Router) {
		const bot = "/bots/{bot}"
		r.Use(a.requireBotKey)
		r.With(a.limitLinks).Post(bot+"/links", a.createLink)
		r.Post(bot+"/links/confirm", a.confirm)
		r.Get(bot+"/identities", a.listIdentities)
		r.Get(bot+"/identities/{id}/credentials", a.credentials)
		r.Delete(bot+"/identities/{id}", a.deleteIdentity)
		r.With(a.limitLinks).Post(bot+"/require", a.require)
		// The signing proxy (package proxy): the provider's API as the identity.
		proxied := proxy.New(b, proxy.Options{Logger: a.log, WriteError: a.writeError})
		for _, m := range proxy.Methods() {
			r.Method(m, bot+"/identities/{id}/proxy/*", proxied)
		}
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, http.StatusNotFound, "route_not_found", "no such API route; see /api/v1/openapi.yaml")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on this route")
	})
	return r
}

// requireBotKey lets a request through only with one of the route's bot's own keys. A bot
// that does not exist answers exactly like a wrong key (broker.AuthenticateBot), so bot names
// cannot be probed without a key.
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

// limitLinks refuses a bot's link-creating call with 429 rate_limited once the bot made more
// than LinksPerBot of them within a minute. It runs after requireBotKey, so only calls with a
// valid key of the bot count: nobody without the key can use up its allowance.
func (a *API) limitLinks(next http.Handler) http.Handler {
	if a.links == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bot := chi.URLParam(r, "bot")
		if a.links.OnLimit(w, r, bot) {
			if a.onRateLimited != nil {
				a.onRateLimited()
			}
			a.log.WarnContext(r.Context(), "rate limit: too many link requests from one bot", "bot", bot, "path", r.URL.Path)
			WriteProblem(w, http.StatusTooManyRequests, broker.CodeRateLimited, fmt.Sprintf(
				"bot %q asked for more than %d links in a minute; retry after %s seconds", bot, a.linksPerBot, w.Header().Get("Retry-After")))
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
