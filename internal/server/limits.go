package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"

	"github.com/oauthbroker/oauthbroker/internal/httpapi"
	"github.com/oauthbroker/oauthbroker/templates"
)

// Limits bound how fast one client address can drive the browser flow and one bot can make
// links (the admin login has its own limit, in package admin). The zero value limits nothing;
// DefaultLimits is what `serve` and `demo` run with. Limits are per process: behind a load
// balancer with N instances a client gets up to N times as much.
type Limits struct {
	// FlowPerClient is how many /auth and /callback requests one client address may make per
	// minute. A person linking an account makes two.
	FlowPerClient int
	// LinksPerBot is how many link-creating bot API calls (POST …/links and POST …/require)
	// one bot may make per minute. Only calls with a valid key of that bot count, so nobody
	// without the key can use up a bot's allowance.
	LinksPerBot int
	// TrustedProxies are the CIDR prefixes of reverse proxies in front of the broker. A request
	// from one of them is attributed to the right-most address in X-Forwarded-For that is not a
	// trusted proxy; without any, the TCP peer is the client and X-Forwarded-For is ignored (a
	// client could write anything there).
	TrustedProxies []string
}

// DefaultLimits are generous for people and bots, and stop floods.
func DefaultLimits() Limits { return Limits{FlowPerClient: 120, LinksPerBot: 600} }

// Validate reports a TrustedProxies entry that is not a CIDR prefix.
func (l Limits) Validate() error {
	for _, p := range l.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			return fmt.Errorf("trusted proxy %q is not a CIDR prefix such as 10.0.0.0/8 or 127.0.0.1/32", p)
		}
	}
	return nil
}

// Limit names, as the oauthbroker_rate_limited_total metric labels them.
const (
	limitFlow  = "flow"
	limitLinks = "links"
)

// limiters are one server's rate limiters; nil fields are off. Counters live in memory.
type limiters struct {
	clientIP func(http.Handler) http.Handler
	flow     *httprate.RateLimiter
	links    *httprate.RateLimiter
}

func newLimiters(l Limits) limiters {
	out := limiters{clientIP: middleware.ClientIPFromRemoteAddr}
	if len(l.TrustedProxies) > 0 {
		out.clientIP = middleware.ClientIPFromXFF(l.TrustedProxies...)
	}
	if l.FlowPerClient > 0 {
		out.flow = httprate.NewRateLimiter(l.FlowPerClient, time.Minute)
	}
	if l.LinksPerBot > 0 {
		out.links = httprate.NewRateLimiter(l.LinksPerBot, time.Minute)
	}
	return out
}

// clientKey is the rate-limit key of the request's client: its address (an IPv6 client by its
// /64, which one client typically controls whole).
func clientKey(r *http.Request) string {
	ip := middleware.GetClientIP(r.Context())
	if ip == "" {
		return "unknown" // a peer the resolver could not read: they share one allowance
	}
	return httprate.CanonicalizeIP(ip)
}

// limitFlow answers 429 with an error page once a client address made more than
// Limits.FlowPerClient flow requests within a minute.
func (s *Server) limitFlow(next http.Handler) http.Handler {
	if s.limiters.flow == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.limiters.flow.OnLimit(w, r, clientKey(r)) {
			s.metrics.RateLimited(limitFlow)
			s.log.WarnContext(r.Context(), "rate limit: too many flow requests from one client address",
				"request_id", requestIDFrom(r.Context()), "client", clientKey(r), "path", r.URL.Path)
			s.pages.RenderFlowError(w, templates.FlowError{
				Status: http.StatusTooManyRequests, Title: "Too many requests",
				Message:   "This address opened too many sign-in pages in a short time. Nothing was linked. Wait a minute, then open the link from the chat again.",
				RequestID: requestIDFrom(r.Context()),
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitLinks answers 429 problem+json once a bot made more than Limits.LinksPerBot
// link-creating calls within a minute. Requests without a valid key of the bot pass untouched
// (the API refuses them) and are not counted.
func (s *Server) limitLinks(next http.Handler) http.Handler {
	if s.limiters.links == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bot, ok := linkCreatingBot(r)
		if ok {
			key, _ := httpapi.BearerToken(r.Header.Get("Authorization"))
			if s.broker.AuthenticateBot(bot, key) == nil && s.limiters.links.OnLimit(w, r, bot) {
				s.metrics.RateLimited(limitLinks)
				s.log.WarnContext(r.Context(), "rate limit: too many link requests from one bot",
					"request_id", requestIDFrom(r.Context()), "bot", bot, "path", r.URL.Path)
				writeRateLimited(w, fmt.Sprintf("bot %q asked for more than %d links in a minute; retry after %s seconds",
					bot, s.limitsConfig.LinksPerBot, w.Header().Get("Retry-After")))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// linkCreatingBot returns the bot of POST /api/v1/bots/{bot}/links or …/require: the two
// routes that make links.
func linkCreatingBot(r *http.Request) (string, bool) {
	if r.Method != http.MethodPost {
		return "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/bots/")
	if !ok {
		return "", false
	}
	bot, route, ok := strings.Cut(rest, "/")
	if !ok || bot == "" || (route != "links" && route != "require") {
		return "", false
	}
	return bot, true
}

// writeRateLimited answers 429 like the bot API's errors.
func writeRateLimited(w http.ResponseWriter, detail string) {
	writeProblem(w, http.StatusTooManyRequests, "rate_limited", detail)
}

// writeProblem answers like the bot API (RFC 9457 problem+json with a stable code), for the
// answers the server gives on the API's behalf.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":   "https://oauthbroker.dev/problems/" + code,
		"title":  http.StatusText(status),
		"status": status,
		"detail": detail,
		"code":   code,
	})
}
