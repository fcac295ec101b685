// Package server composes oauthbroker's HTTP surface: the browser link flow, the bot API,
// the MCP endpoint for agents, health, readiness and metrics endpoints and static files, with
// the middleware every request passes through (request id, client address, logging, metrics,
// rate limits, panic recovery).
// It holds no business rules: those are in broker.
package server

import (
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/clientlimit"
	"github.com/oauthbroker/oauthbroker/internal/httpapi"
	"github.com/oauthbroker/oauthbroker/internal/mcpserver"
	"github.com/oauthbroker/oauthbroker/internal/metrics"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/templates"
)

// Deps are what the server needs; cmd builds them.
type Deps struct {
	Broker *broker.Broker
	Pages  *templates.Pages
	Keys   seal.Keys
	Logger *slog.Logger
	// Admin, when set, serves the operators' pages under /admin/.
	Admin http.Handler
	// Mount, when set, adds routes beside the broker's (the demo mounts its sandbox provider
	// here; `serve` never does).
	Mount func(chi.Router)
	// Metrics, when set, is served at /metrics and counts requests and flows; nil: a fresh
	// one (cmd passes the one its store decorator counts into).
	Metrics *metrics.Metrics
	// Limits are the rate limits; the zero value limits nothing (cmd passes DefaultLimits or
	// the operator's flags).
	Limits Limits
	// MetricsToken, when set, is the bearer token /metrics asks for (server.metrics_token).
	MetricsToken string
	// Now is the clock of the flow limit (nil: time.Now); tests move it.
	Now func() time.Time
	// MetricsElsewhere leaves /metrics off this handler: cmd serves MetricsHandler on a
	// listener of its own (server.metrics_listen).
	MetricsElsewhere bool
}

// Server is the broker's root http.Handler.
type Server struct {
	broker  *broker.Broker
	pages   *templates.Pages
	log     *slog.Logger
	cookies *sessions.CookieStore // flow cookies
	secure  bool
	router  chi.Router
	mcp     http.Handler // /mcp (package mcpserver)

	// The connect page (pagecookie.go): its cookie's codecs, the key of its forms' tokens,
	// the origin its POSTs must come from, and how long its cookie lives.
	pageCodecs   []securecookie.Codec
	formKey      []byte
	publicOrigin string
	pageMaxAge   int
	recent       recentPages // the page a callback left, for the view it redirects to (recent.go)

	metrics          *metrics.Metrics
	routeNames       routeNames // the metrics' route labels (observe.go)
	metricsToken     string
	metricsElsewhere bool
	clientAddr       func(http.Handler) http.Handler // resolves the client address (package clientlimit)
	flowLimiter      *clientlimit.Failures           // nil: no flow limit
}

// New builds the handler with every route (see routes.go).
func New(d Deps) *Server {
	s := &Server{broker: d.Broker, pages: d.Pages, log: d.Logger, metrics: d.Metrics,
		metricsToken: d.MetricsToken, metricsElsewhere: d.MetricsElsewhere,
		clientAddr: clientlimit.Resolver(d.Limits.TrustedProxies), flowLimiter: newFlowLimiter(d.Limits.FlowPerClient, d.Now)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	cfg := d.Broker.Config()
	s.secure = isHTTPS(cfg.Server.PublicURL)
	s.cookies = newFlowCookieStore(d.Keys, s.secure)
	// The page cookie lives as long as the longest link, so a page opened early still works.
	s.pageMaxAge = int(max(cfg.Server.MaxLinkTTL, time.Hour).Seconds())
	s.pageCodecs = securecookie.CodecsFromPairs(d.Keys.CookieHashKey, d.Keys.CookieBlockKey)
	for _, c := range s.pageCodecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(s.pageMaxAge)
		}
	}
	useCookieSerializer(s.pageCodecs)
	s.formKey = d.Keys.MACKey
	if u, err := url.Parse(cfg.Server.PublicURL); err == nil {
		s.publicOrigin = broker.Origin(u)
	}
	api := httpapi.New(d.Broker, httpapi.Options{Logger: s.log, LinksPerBot: d.Limits.LinksPerBot,
		OnRateLimited: func() { s.metrics.RateLimited(limitLinks) }})
	s.mcp = mcpserver.New(mcpserver.Options{Broker: d.Broker, API: api, Logger: s.log, Metrics: s.metrics})
	s.router = s.routes(api, d.Admin, d.Mount)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

func isHTTPS(publicURL string) bool {
	return len(publicURL) >= 8 && publicURL[:8] == "https://"
}
