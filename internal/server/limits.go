package server

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/clientlimit"
)

// Limits bound what one client address may get wrong in the browser flow and how fast one bot
// can make links (the admin login has its own limit, in package admin). The zero value limits
// nothing; DefaultLimits is what `serve` and `demo` run with. Limits are per process: behind a
// load balancer with N instances a client gets up to N times as much.
type Limits struct {
	// FlowPerClient is how many refused flow requests (an unknown, spent, cancelled or
	// expired link; a missing or wrong state; a button POST from another site or from a
	// browser that did not load the page) one client address may make per minute; past it,
	// every flow request of that address is refused until the allowance refills. A person
	// linking an account makes four flow requests (the connect page, its button, the callback
	// and the page it returns to), and none of them counts: they are gated by single-use links
	// already, and many people behind one address (an office or carrier NAT) sign in without
	// holding each other up. What it stops is guessing links, replaying callbacks and forging
	// the page's forms.
	FlowPerClient int
	// LinksPerBot is how many link-creating bot API calls (POST …/links and POST …/require)
	// one bot may make per minute (enforced by package httpapi after the key check).
	LinksPerBot int
	// TrustedProxies are the CIDR prefixes of reverse proxies in front of the broker (see
	// package clientlimit): the address every per-client limit counts against is the one they
	// forwarded. Without any, the TCP peer is the client and X-Forwarded-For is ignored.
	TrustedProxies []string
}

// DefaultLimits are generous for people and bots, and stop floods.
func DefaultLimits() Limits { return Limits{FlowPerClient: 120, LinksPerBot: 600} }

// Validate reports a TrustedProxies entry that is not a CIDR prefix.
func (l Limits) Validate() error { return clientlimit.ValidateProxies(l.TrustedProxies) }

// Limit names, as the oauthbroker_rate_limited_total metric labels them.
const (
	limitFlow  = "flow"
	limitLinks = "links"
)

// newFlowLimiter is the budget of refused flow requests per client address on the clock now
// (nil: time.Now); nil: no limit.
func newFlowLimiter(perMinute int, now func() time.Time) *clientlimit.Failures {
	if perMinute <= 0 {
		return nil
	}
	return clientlimit.NewFailures(perMinute, time.Minute/time.Duration(perMinute), now)
}

// refusedFlow reports whether a flow request that ended with this error code was a refusal
// the flow limit counts: a request that is not a real user's next step, as a link guesser, a
// callback replayer or a page forging the connect page's forms makes them. A spent link
// (complete or cancelled) counts only where it is refused: the browser that finished it sees
// its outcome, and a second click on a linked provider goes back to the page. A person
// cancelling at the provider, a provider failing and the per-link sign-in cap do not count.
func refusedFlow(code string) bool {
	switch code {
	case broker.CodeUnknownBot, broker.CodeUnknownProvider, broker.CodeLinkNotFound, broker.CodeLinkExpired,
		broker.CodeLinkUsed, broker.CodeFlowMissing, broker.CodeFlowInvalid, broker.CodeFlowExpired,
		codeCrossSite, codeNoPage:
		return true
	}
	return false
}

// limitFlow answers 429 with an error page to a client address that used up its allowance of
// refused flow requests, and counts each refusal (flowError records them) against it.
func (s *Server) limitFlow(next http.Handler) http.Handler {
	if s.flowLimiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := clientlimit.Key(r)
		attempt, wait, ok := s.flowLimiter.Begin(client)
		if !ok {
			s.metrics.RateLimited(limitFlow)
			s.log.WarnContext(r.Context(), "rate limit: too many refused flow requests from one client address",
				"request_id", requestIDFrom(r.Context()), "client", client, "path", r.URL.Path)
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			s.renderFlowError(w, r, flowErrorPage{
				Status: http.StatusTooManyRequests, Title: "Too many requests",
				Message:   "This address opened too many links that were not valid in a short time. Nothing was linked. Wait a minute, then open the link from the chat again.",
				RequestID: requestIDFrom(r.Context()),
			})
			return
		}
		r, out := withFlowOutcome(r)
		failed := true // a panic counts as a refusal: the attempt must end either way
		defer func() { attempt.End(failed) }()
		next.ServeHTTP(w, r)
		failed = refusedFlow(out.code)
	})
}

// flowOutcome is how a flow request ended: flowError fills in code (recordFlowError), and a
// handler that did its work (a provider started, a callback stored) sets done (recordFlowDone).
type flowOutcome struct {
	code string
	done bool
}

// withFlowOutcome gives the request a flowOutcome to fill in, or the one it already has (the
// flow limit and the flow metrics read the same one). It lives in the request's requestInfo,
// so behind the requestID middleware the request is not copied for it; a request without one
// gets one, without an id.
func withFlowOutcome(r *http.Request) (*http.Request, *flowOutcome) {
	ri, ok := r.Context().Value(requestIDKey).(*requestInfo)
	if !ok {
		ri = &requestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, ri))
	}
	ri.flowed = true
	return r, &ri.flow
}

// flowOutcomeOf returns the request's flowOutcome, or nil outside the flow routes.
func flowOutcomeOf(ctx context.Context) *flowOutcome {
	if ri, ok := ctx.Value(requestIDKey).(*requestInfo); ok && ri.flowed {
		return &ri.flow
	}
	return nil
}

// recordFlowError notes the broker error code a flow page shows, for the flow limit and
// instrumentFlow.
func recordFlowError(ctx context.Context, code string) {
	if o := flowOutcomeOf(ctx); o != nil {
		o.code = code
	}
}
