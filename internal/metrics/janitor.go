package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// janitorMetrics are the retention janitor's (package janitor): what it deleted, how its runs
// ended, and when one last succeeded, so an alert can fire when purging stops.
type janitorMetrics struct {
	purged      *prometheus.CounterVec
	runs        *prometheus.CounterVec
	lastSuccess prometheus.Gauge
}

func newJanitorMetrics() janitorMetrics {
	return janitorMetrics{
		purged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthbroker_janitor_rows_purged_total",
			Help: "Rows the retention janitor deleted, by table (links, flows, confirmations, admin_sessions); what a link takes with it (its providers, flows and codes) is not counted.",
		}, []string{"table"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthbroker_janitor_runs_total",
			Help: "Retention janitor runs by outcome: purged, skipped (another instance held the lease), failed (a store error, the lease lost, or cut short by shutdown).",
		}, []string{"outcome"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "oauthbroker_janitor_last_success_timestamp_seconds",
			Help: "When a retention janitor run of this instance last ended with every table purged (Unix time; 0: never).",
		}),
	}
}

func (j janitorMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{j.purged, j.runs, j.lastSuccess}
}

// JanitorPurged counts rows the janitor deleted from table.
func (m *Metrics) JanitorPurged(table string, n int64) {
	m.janitor.purged.WithLabelValues(table).Add(float64(n))
}

// JanitorRun counts a janitor run; a purged one is the last success.
func (m *Metrics) JanitorRun(outcome string, at time.Time) {
	m.janitor.runs.WithLabelValues(outcome).Inc()
	if outcome == "purged" {
		m.janitor.lastSuccess.Set(float64(at.UnixMilli()) / 1000)
	}
}
