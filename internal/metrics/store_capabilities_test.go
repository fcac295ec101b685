package metrics

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

// TestAdminReadsAndJanitorWritesAreObserved: the operators' pages and the janitor use the
// wrapped store like the broker does, so their calls reach the real store through it and a
// failure counts as a store error of its own op.
func TestAdminReadsAndJanitorWritesAreObserved(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	m := New()
	observed := m.Store(st)
	now := time.Now()

	// Working calls reach the store and count nothing.
	if _, err := observed.ListIdentities(ctx, store.IdentityListQuery{Limit: 10}); err != nil {
		t.Fatalf("ListIdentities: %v", err)
	}
	if ok, err := observed.AcquireLease(ctx, "janitor", "me", now.Add(time.Minute), now); !ok || err != nil {
		t.Fatalf("AcquireLease: %v, %v", ok, err)
	}
	if n := testutil.CollectAndCount(m.storeErrors); n != 0 {
		t.Fatalf("%d store error series after calls that worked", n)
	}

	// A closed store fails every call: each is counted under its op.
	if err := observed.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	calls := map[string]func() error{
		"list_identities": func() error {
			_, err := observed.ListIdentities(ctx, store.IdentityListQuery{Limit: 10})
			return err
		},
		"identity_totals": func() error { _, err := observed.IdentityTotals(ctx); return err },
		"admin_session":   func() error { _, err := observed.AdminSession(ctx, []byte("h")); return err },
		"purge": func() error {
			_, err := observed.Purge(ctx, store.PurgeLinks, now, 10)
			return err
		},
		"acquire_lease": func() error {
			_, err := observed.AcquireLease(ctx, "janitor", "me", now.Add(time.Minute), now)
			return err
		},
		"release_lease":  func() error { return observed.ReleaseLease(ctx, "janitor", "me") },
		"schema_current": func() error { return observed.SchemaCurrent(ctx) },
	}
	for op, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s on a closed store: no error", op)
		}
		if got := testutil.ToFloat64(m.storeErrors.WithLabelValues(op)); got != 1 {
			t.Errorf("store_errors{op=%q} = %v, want 1", op, got)
		}
	}
}
