package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// newProxyCalls is the API proxy's counter. The status is reduced to its class, so a provider
// answering unusual codes cannot multiply the series.
func newProxyCalls() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oauthbroker_proxy_calls_total",
		Help: "Calls bots made through the API proxy, by bot, provider and the class of the status the bot received (2xx … 5xx; 502 and 504 include the provider being unreachable or slow).",
	}, []string{"bot", "provider", "status_class"})
}

// RecordProxyCall counts the call once the store has recorded it: like refreshes, the
// counter follows what was written. A call the store refuses (its identity was unlinked
// meanwhile) is not counted.
func (s *observedStore) RecordProxyCall(ctx context.Context, c store.ProxyCall) error {
	err := s.observe("record_proxy_call", s.next.RecordProxyCall(ctx, c))
	if err == nil {
		s.m.proxyCalls.WithLabelValues(c.Bot, c.Provider, statusClass(c.Status)).Inc()
	}
	return err
}

func (s *observedStore) ProxyUsage(ctx context.Context, bot string, id int64) (store.ProxyUsage, error) {
	out, err := s.next.ProxyUsage(ctx, bot, id)
	return out, s.observe("proxy_usage", err)
}

func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return string(rune('0'+status/100)) + "xx"
}
