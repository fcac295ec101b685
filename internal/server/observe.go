package server

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/internal/metrics"
)

// observe records a request in the HTTP metrics by its route pattern (never the raw path,
// which carries ids and would make a series per request), method and status.
func (s *Server) observe(r *http.Request, status int, took time.Duration) {
	route := ""
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		route = rctx.RoutePattern()
	}
	s.metrics.ObserveRequest(route, r.Method, status, took)
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
