package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// fakeStore answers what the test tells it to; methods it does not override are nil and
// must not be reached.
type fakeStore struct {
	store.Store
	err     error
	changed bool
	claimed []store.OutboxEvent
}

func (f *fakeStore) StoreRefreshed(context.Context, store.StoreRefreshedParams) (store.Identity, error) {
	return store.Identity{}, f.err
}
func (f *fakeStore) ReleaseRefreshLease(context.Context, store.ReleaseRefreshParams) error {
	return f.err
}
func (f *fakeStore) MarkRelinkRequired(context.Context, store.RelinkRequiredParams) (store.Identity, bool, error) {
	return store.Identity{}, f.changed, f.err
}
func (f *fakeStore) ClaimDue(context.Context, string, time.Time, time.Time, int) ([]store.OutboxEvent, error) {
	return f.claimed, f.err
}
func (f *fakeStore) MarkDelivered(context.Context, int64, string, time.Time) error { return f.err }
func (f *fakeStore) MarkFailed(context.Context, int64, string, time.Time, string) error {
	return f.err
}
func (f *fakeStore) MarkDead(context.Context, int64, string, time.Time, string) error { return f.err }
func (f *fakeStore) Ping(context.Context) error                                       { return f.err }
func (f *fakeStore) Identity(context.Context, string, int64) (store.Identity, error) {
	return store.Identity{}, f.err
}

func TestRefreshOutcomesAreCountedFromTheWrites(t *testing.T) {
	m := New()
	f := &fakeStore{}
	st := m.Store(f)
	ctx := context.Background()
	failed := func(outcome string) *store.Event {
		return &store.Event{Kind: store.EventRefreshFailed, Outcome: outcome}
	}

	st.StoreRefreshed(ctx, store.StoreRefreshedParams{Bot: "a"})
	st.ReleaseRefreshLease(ctx, store.ReleaseRefreshParams{Bot: "a", Event: failed("timeout")})
	st.ReleaseRefreshLease(ctx, store.ReleaseRefreshParams{Bot: "a", Event: failed("upstream_error")})
	st.ReleaseRefreshLease(ctx, store.ReleaseRefreshParams{Bot: "a", Event: failed("something new")})
	st.ReleaseRefreshLease(ctx, store.ReleaseRefreshParams{Bot: "a", Event: failed("superseded")}) // refused after a takeover
	st.ReleaseRefreshLease(ctx, store.ReleaseRefreshParams{Bot: "a"})                              // no refresh happened
	st.MarkRelinkRequired(ctx, store.RelinkRequiredParams{Bot: "a", Holder: "h"})
	st.MarkRelinkRequired(ctx, store.RelinkRequiredParams{Bot: "a"}) // expired, no refresh: not counted
	f.err = fmt.Errorf("sqlite: %w", store.ErrLeaseLost)
	st.StoreRefreshed(ctx, store.StoreRefreshedParams{Bot: "b"})
	st.MarkRelinkRequired(ctx, store.RelinkRequiredParams{Bot: "b", Holder: "h"})

	for _, c := range []struct {
		bot, outcome string
		want         float64
	}{
		{"a", "refreshed", 1}, {"a", "timeout", 1}, {"a", "upstream_error", 2}, {"a", "invalid_grant", 1}, {"a", "superseded", 1},
		{"b", "superseded", 2}, {"b", "refreshed", 0},
	} {
		if got := testutil.ToFloat64(m.refreshes.WithLabelValues(c.bot, c.outcome)); got != c.want {
			t.Errorf("refreshes{%s,%s} = %v, want %v", c.bot, c.outcome, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.storeErrors); n != 0 {
		t.Errorf("a lost lease counted as a store error")
	}
}

func TestWebhookDeliveriesAreCountedPerBot(t *testing.T) {
	m := New()
	f := &fakeStore{claimed: []store.OutboxEvent{{ID: 1, Bot: "a"}, {ID: 2, Bot: "a"}, {ID: 3, Bot: "b"}, {ID: 4, Bot: "b"}}}
	st := m.Store(f)
	ctx := context.Background()
	st.ClaimDue(ctx, "h", time.Now(), time.Now(), 10)
	st.MarkDelivered(ctx, 1, "h", time.Now())
	st.MarkFailed(ctx, 2, "h", time.Now(), "503")
	st.MarkDead(ctx, 3, "h", time.Now(), "gone")
	f.err = store.ErrLeaseLost // another deliverer took event 4 over: it counts the outcome
	st.MarkDelivered(ctx, 4, "h", time.Now())
	f.err = nil
	st.MarkDelivered(ctx, 99, "h", time.Now()) // claimed by another process of this binary's lifetime

	for _, c := range []struct {
		bot, outcome string
		want         float64
	}{
		{"a", "delivered", 1}, {"a", "failed", 1}, {"b", "dead", 1}, {"b", "delivered", 0}, {Unknown, "delivered", 1},
	} {
		if got := testutil.ToFloat64(m.deliveries.WithLabelValues(c.bot, c.outcome)); got != c.want {
			t.Errorf("deliveries{%s,%s} = %v, want %v", c.bot, c.outcome, got, c.want)
		}
	}
	if n := len(st.(*observedStore).claimed); n != 0 {
		t.Errorf("%d claims still remembered after their outcomes", n)
	}
}

func TestStoreErrorsLeaveOutExpectedAnswers(t *testing.T) {
	m := New()
	f := &fakeStore{}
	st := m.Store(f)
	ctx := context.Background()
	for _, err := range []error{
		fmt.Errorf("sqlite: identity 7: %w", store.ErrNotFound), context.Canceled,
		fmt.Errorf("wrapped: %w", context.DeadlineExceeded),
	} {
		f.err = err
		if _, got := st.Identity(ctx, "a", 7); !errors.Is(got, err) && got != err {
			t.Errorf("the error did not pass through: %v", got)
		}
	}
	f.err = errors.New("sqlite: disk I/O error")
	st.Ping(ctx)
	st.Ping(ctx)
	st.Identity(ctx, "a", 7)
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("ping")); got != 2 {
		t.Errorf("store_errors{ping} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("identity")); got != 1 {
		t.Errorf("store_errors{identity} = %v, want 1", got)
	}
}

// TestLabelsAreBounded: what a client chooses (methods, unmatched paths) cannot mint series.
func TestLabelsAreBounded(t *testing.T) {
	m := New()
	for i := range 50 {
		m.ObserveRequest("", fmt.Sprintf("M%d", i), 404, time.Millisecond)
	}
	m.ObserveRequest("/api/v1/bots/{bot}/links", http.MethodPost, 201, time.Millisecond)
	if n := testutil.CollectAndCount(m.requests); n != 2 {
		t.Errorf("%d request series, want 2 (unmatched/other/404 and the route)", n)
	}
	if got := testutil.CollectAndCount(m.requests, "oauthbroker_http_request_duration_seconds"); got != 2 {
		t.Errorf("series: %d", got)
	}
}

// TestOwnRegistry: two Metrics in one process do not collide, and nothing lands in the
// global registry.
func TestOwnRegistry(t *testing.T) {
	a, b := New(), New()
	a.FlowStarted("x", "y")
	if testutil.ToFloat64(b.flowsStarted.WithLabelValues("x", "y")) != 0 {
		t.Error("two Metrics share a counter")
	}
	fams, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "oauthbroker_") {
			t.Errorf("%s is in the global registry", f.GetName())
		}
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `oauthbroker_flows_started_total{bot="x",provider="y"} 1`) ||
		!strings.Contains(rec.Body.String(), "go_goroutines") {
		t.Errorf("/metrics:\n%s", rec.Body)
	}
}

// TestRequestsAreCountedPerRouteMethodAndStatus: each request lands in the series of its own
// route, method and status, however often each was seen before.
func TestRequestsAreCountedPerRouteMethodAndStatus(t *testing.T) {
	m := New()
	want := map[string]int{}
	for i := range 30 {
		route := []string{"/bots/{bot}/connect", "/api/v1/bots/{bot}/links", ""}[i%3]
		method := []string{http.MethodGet, http.MethodPost}[i%2]
		status := []int{200, 201, 404, 500}[i%4]
		m.ObserveRequest(route, method, status, time.Millisecond)
		if route == "" {
			route = "unmatched"
		}
		want[fmt.Sprintf("%s %s %d", route, method, status)]++
	}
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range fams {
		if f.GetName() != "oauthbroker_http_request_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range s.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			got[l["route"]+" "+l["method"]+" "+l["status"]] = int(s.GetHistogram().GetSampleCount())
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("series and counts:\n got %v\nwant %v", got, want)
	}
}
