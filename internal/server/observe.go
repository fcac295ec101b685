package server

import (
	"context"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/internal/metrics"
)

// observe records a request in the HTTP metrics by its route pattern (never the raw path,
// which carries ids and would make a series per request), method and status.
func (s *Server) observe(r *http.Request, status int, took time.Duration) {
	s.metrics.ObserveRequest(s.routeNames.of(chi.RouteContext(r.Context())), r.Method, status, took)
}

// routeNames remembers chi's route pattern of each chain of matched patterns: chi joins the
// chain and rewrites its wildcards into a new string on every call, and a router has only as
// many chains as routes. Lookups take no lock: the map is replaced, never changed.
type routeNames struct {
	names atomic.Pointer[map[routeChain]string]
	mu    sync.Mutex // taken by the writers only
}

// routeChain is a chain of up to three matched patterns (a mounted router's route has two).
type routeChain struct {
	n       int
	a, b, c string
}

// maxRouteNames bounds the map; the broker's router has a few dozen routes.
const maxRouteNames = 256

// of is rctx.RoutePattern(), "" without a route context.
func (rn *routeNames) of(rctx *chi.Context) string {
	if rctx == nil {
		return ""
	}
	p := rctx.RoutePatterns
	if len(p) == 0 || len(p) > 3 {
		return rctx.RoutePattern()
	}
	k := routeChain{n: len(p), a: p[0]}
	if len(p) > 1 {
		k.b = p[1]
	}
	if len(p) > 2 {
		k.c = p[2]
	}
	if m := rn.names.Load(); m != nil {
		if name, ok := (*m)[k]; ok {
			return name
		}
	}
	name := rctx.RoutePattern()
	rn.mu.Lock()
	defer rn.mu.Unlock()
	m := map[routeChain]string{k: name}
	if old := rn.names.Load(); old != nil {
		if len(*old) >= maxRouteNames {
			return name
		}
		maps.Copy(m, *old)
	}
	rn.names.Store(&m)
	return name
}

// recordFlowDone notes that a flow request did its work, for instrumentFlow.
func recordFlowDone(ctx context.Context) {
	if o := flowOutcomeOf(ctx); o != nil {
		o.done = true
	}
}

// The kinds of flow requests instrumentFlow counts.
type flowKind int

const (
	flowPage     flowKind = iota // the connect page and its cancel: only failures count
	flowStart                    // a provider's button: started
	flowCallback                 // the provider's answer: completed
)

// instrumentFlow counts one flow request: started (a button sent the browser to the
// provider), completed (a callback linked the account) or failed with its reason. A panic
// counts as an internal failure before the recovery middleware answers it.
func (s *Server) instrumentFlow(kind flowKind, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r, out := withFlowOutcome(r)
		bot, provider := s.flowLabels(chi.URLParam(r, "bot"), chi.URLParam(r, "provider"))
		defer func() {
			if v := recover(); v != nil {
				s.metrics.FlowFailed(bot, provider, "internal")
				panic(v)
			}
		}()
		h(w, r)
		switch {
		case out.code != "":
			s.metrics.FlowFailed(bot, provider, out.code)
		case !out.done:
		case kind == flowStart:
			s.metrics.FlowStarted(bot, provider)
		case kind == flowCallback:
			s.metrics.FlowCompleted(bot, provider)
		}
	}
}

// flowLabels are the metric labels of a flow request: configured names only, so that
// requests for made-up bots cannot create series. The connect page has no provider: "".
func (s *Server) flowLabels(bot, provider string) (string, string) {
	bc := s.broker.Config().Bot(bot)
	if bc == nil {
		return metrics.Unknown, metrics.Unknown
	}
	if provider == "" {
		return bot, ""
	}
	if bc.Provider(provider) == nil {
		return bot, metrics.Unknown
	}
	return bot, provider
}
