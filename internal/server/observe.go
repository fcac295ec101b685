package server

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/internal/metrics"
)

// observe records every request in the HTTP metrics by its route pattern (never the raw
// path, which carries ids and would make a series per request), method and status.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := ""
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			route = rctx.RoutePattern()
		}
		s.metrics.ObserveRequest(route, r.Method, rec.status, time.Since(start))
	})
}

// flowOutcome is how a flow request ended; flowError fills it in.
type flowOutcome struct{ code string }

type flowOutcomeKey struct{}

// recordFlowError notes the broker error code a flow page shows, for instrumentFlow.
func recordFlowError(ctx context.Context, code string) {
	if o, ok := ctx.Value(flowOutcomeKey{}).(*flowOutcome); ok {
		o.code = code
	}
}

// instrumentFlow counts one auth or callback request: started (auth redirected to the
// provider), completed (callback showed the success page) or failed with its reason. A
// panic counts as an internal failure before the recovery middleware answers it.
func (s *Server) instrumentFlow(callback bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out := &flowOutcome{}
		bot, provider := s.flowLabels(chi.URLParam(r, "bot"), chi.URLParam(r, "provider"))
		defer func() {
			if v := recover(); v != nil {
				s.metrics.FlowFailed(bot, provider, "internal")
				panic(v)
			}
		}()
		h(w, r.WithContext(context.WithValue(r.Context(), flowOutcomeKey{}, out)))
		switch {
		case out.code != "":
			s.metrics.FlowFailed(bot, provider, out.code)
		case callback:
			s.metrics.FlowCompleted(bot, provider)
		default:
			s.metrics.FlowStarted(bot, provider)
		}
	}
}

// flowLabels are the metric labels of a flow request: configured names only, so that
// requests for made-up bots cannot create series.
func (s *Server) flowLabels(bot, provider string) (string, string) {
	bc := s.broker.Config().Bot(bot)
	if bc == nil {
		return metrics.Unknown, metrics.Unknown
	}
	if bc.Provider(provider) == nil {
		return bot, metrics.Unknown
	}
	return bot, provider
}
