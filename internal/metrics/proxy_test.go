package metrics

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// usageStore records proxy calls as the test says.
type usageStore struct {
	store.Store
	err error
}

func (u *usageStore) RecordProxyCall(context.Context, store.ProxyCall) error { return u.err }

func TestProxyCallsAreCountedByStatusClass(t *testing.T) {
	m := New()
	f := &usageStore{}
	st := m.Store(f)
	ctx := context.Background()
	for _, status := range []int{200, 201, 304, 401, 429, 502, 999} {
		st.RecordProxyCall(ctx, store.ProxyCall{Bot: "a", Provider: "twitter", Status: status})
	}
	f.err = fmt.Errorf("sqlite: %w", store.ErrNotFound) // unlinked meanwhile: recorded nowhere
	st.RecordProxyCall(ctx, store.ProxyCall{Bot: "a", Provider: "twitter", Status: 200})
	f.err = errors.New("disk full")
	st.RecordProxyCall(ctx, store.ProxyCall{Bot: "a", Provider: "twitter", Status: 200})

	for class, want := range map[string]float64{"2xx": 2, "3xx": 1, "4xx": 2, "5xx": 1, "other": 1} {
		if got := testutil.ToFloat64(m.proxyCalls.WithLabelValues("a", "twitter", class)); got != want {
			t.Errorf("proxy_calls{a,twitter,%s} = %v, want %v", class, got, want)
		}
	}
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("record_proxy_call")); got != 1 {
		t.Errorf("store errors of record_proxy_call = %v, want 1 (not found is an expected answer)", got)
	}
}
