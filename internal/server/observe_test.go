package server

import (
	"fmt"
	"testing"

	"github.com/go-chi/chi/v5"
)

// TestRouteNamesStayBounded: the remembered route labels are chi's own for every chain,
// whether remembered, computed past the bound, or too long to remember; and the map stops
// growing at its bound, whatever a router (or a bug in one) produces.
func TestRouteNamesStayBounded(t *testing.T) {
	var rn routeNames
	if got := rn.of(nil); got != "" {
		t.Errorf("no route context: %q", got)
	}
	chains := [][]string{{"/*"}, {"/api/v1/*", "/bots/{bot}/links"}, {"/a/*", "/b/*", "/c/{id}"}, {"/a/*", "/b/*", "/c/*", "/d"}}
	for i := range 2 * maxRouteNames {
		chains = append(chains, []string{"/api/v1/*", fmt.Sprintf("/r%d/{id}", i)})
	}
	for range 2 {
		for _, p := range chains {
			rctx := chi.NewRouteContext()
			rctx.RoutePatterns = p
			if got, want := rn.of(rctx), rctx.RoutePattern(); got != want {
				t.Fatalf("%q: %q, want chi's %q", p, got, want)
			}
		}
	}
	if n := len(*rn.names.Load()); n > maxRouteNames {
		t.Errorf("%d route names remembered, bound %d", n, maxRouteNames)
	}
}
