package metrics

import (
	"net/http"
	"testing"
	"time"
)

// BenchmarkObserveRequest is what every HTTP request costs the metrics: its duration observed
// under its route, method and status, from both cores at once as under load.
func BenchmarkObserveRequest(b *testing.B) {
	m := New()
	routes := []string{"/api/v1/bots/{bot}/identities/{id}/credentials", "/api/v1/bots/{bot}/links", "/bots/{bot}/connect", "/bots/{bot}/{provider}/callback"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.ObserveRequest(routes[i%len(routes)], http.MethodGet, 200+i%2, time.Millisecond)
			i++
		}
	})
}
