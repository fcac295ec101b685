// Package metrics is oauthbroker's Prometheus instrumentation, served at /metrics.
//
// Every Metrics has a registry of its own, never prometheus.DefaultRegisterer: two brokers in
// one process (as in the tests) keep their counts apart, and no imported library can add
// series behind the operator's back.
//
// Label values are bounded: the HTTP edge passes route patterns (never raw paths), bot and
// provider names it has checked against the configuration, and broker error codes; the store
// decorator labels with the bot of a stored record. Nothing a client sends can create a new
// series. No label or value ever holds a token, a secret or a chat user id.
//
// The package imports store (Store wraps one) and nothing of the broker, HTTP routing or goth.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Unknown is the bot or provider label of a request naming one that is not configured.
const Unknown = "(unknown)"

// Metrics holds oauthbroker's collectors. It is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	flowsStarted   *prometheus.CounterVec
	flowsCompleted *prometheus.CounterVec
	flowsFailed    *prometheus.CounterVec
	requests       *prometheus.HistogramVec
	rateLimited    *prometheus.CounterVec
	panics         prometheus.Counter
	refreshes      *prometheus.CounterVec
	deliveries     *prometheus.CounterVec
	storeErrors    *prometheus.CounterVec
	proxyCalls     *prometheus.CounterVec // proxy.go
	mcpToolCalls   *prometheus.CounterVec // mcp.go
	janitor        janitorMetrics         // janitor.go

	// requests' children by their labels, as every request looks one up (cache.go).
	requestsBy children[requestLabels, prometheus.Observer]
}

// requestLabels are a request's labels before the status is formatted.
type requestLabels struct {
	route, method string
	status        int
}

// requestBuckets reach past the slowest legitimate request: a callback makes two provider calls
// of up to server.outbound_timeout (10s by default) each.
var requestBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New makes the collectors on a fresh registry, with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		flowsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthbroker_flows_started_total",
			Help: "Link flows sent on to the provider (a provider's button on the connect page, answered with a redirect).",
		}, []string{"bot", "provider"}),
		flowsCompleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthbroker_flows_completed_total",
			Help: "Link flows whose callback linked the account: an identity was linked or relinked.",
		}, []string{"bot", "provider"}),
		flowsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthbroker_flows_failed_total",
			Help: "Link flow requests (connect page, button or callback) that ended on an error page, by error code.",
		}, []string{"bot", "provider", "reason"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "oauthbroker_http_request_duration_seconds",
			Help:    "HTTP requests by route pattern, method and status (bot API routes start with /api/v1), and how long they took.",
			Buckets: requestBuckets,
		}, []string{"route", "method", "status"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthbroker_rate_limited_total",
			Help: "Requests refused with 429 by a rate limit: flow (a client address past its allowance of refused flow requests) or links (link creation per bot).",
		}, []string{"limit"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "oauthbroker_http_panics_total",
			Help: "Handler panics recovered into a 500 page.",
		}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthbroker_token_refreshes_total",
			Help: "Token refreshes at a provider by outcome: refreshed, invalid_grant (the identity needs relinking), upstream_error, timeout, superseded (a relink or another holder won).",
		}, []string{"bot", "outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthbroker_webhook_deliveries_total",
			Help: "Webhook delivery attempts by outcome: delivered, failed (will be retried), dead (given up).",
		}, []string{"bot", "outcome"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthbroker_store_errors_total",
			Help: "Store operations that failed for a reason other than an expected answer (not found, conflict, used, expired, lease lost).",
		}, []string{"op"}),
		proxyCalls:   newProxyCalls(),
		mcpToolCalls: newMCPToolCalls(),
		janitor:      newJanitorMetrics(),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		m.flowsStarted, m.flowsCompleted, m.flowsFailed, m.requests, m.rateLimited, m.panics,
		m.refreshes, m.deliveries, m.storeErrors, m.proxyCalls, m.mcpToolCalls,
	)
	m.reg.MustRegister(m.janitor.collectors()...)
	return m
}

// Handler serves the registry in the Prometheus text (or OpenMetrics) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Gatherer exposes the registry, for tests that read one value.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// FlowStarted counts a provider's button that redirected the browser to the provider.
func (m *Metrics) FlowStarted(bot, provider string) {
	m.flowsStarted.WithLabelValues(bot, provider).Inc()
}

// FlowCompleted counts a callback that linked the account.
func (m *Metrics) FlowCompleted(bot, provider string) {
	m.flowsCompleted.WithLabelValues(bot, provider).Inc()
}

// FlowFailed counts a connect page, button or callback request that showed an error page;
// reason is the error code.
func (m *Metrics) FlowFailed(bot, provider, reason string) {
	m.flowsFailed.WithLabelValues(bot, provider, reason).Inc()
}

// ObserveRequest records one HTTP request. route is the matched pattern ("" when nothing
// matched); method is reduced to the standard ones so a client cannot invent label values.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	k := requestLabels{route: route, method: normalMethod(method), status: status}
	m.requestsBy.get(k, func() prometheus.Observer {
		return m.requests.WithLabelValues(k.route, k.method, strconv.Itoa(k.status))
	}).Observe(d.Seconds())
}

// RateLimited counts a request a rate limit refused.
func (m *Metrics) RateLimited(limit string) { m.rateLimited.WithLabelValues(limit).Inc() }

// Panic counts a recovered handler panic.
func (m *Metrics) Panic() { m.panics.Inc() }

func normalMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}
