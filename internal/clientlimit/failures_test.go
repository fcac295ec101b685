package clientlimit

import (
	"strconv"
	"testing"
	"time"
)

func TestFailures(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := NewFailures(3, time.Minute, func() time.Time { return now })
	attempt := func(key string, failed bool) (time.Duration, bool) {
		t.Helper()
		a, wait, ok := f.Begin(key)
		if ok {
			a.End(failed)
		}
		return wait, ok
	}
	// Successes never spend the budget.
	for i := range 100 {
		if _, ok := attempt("a", false); !ok {
			t.Fatalf("success %d refused", i+1)
		}
	}
	for i := range 3 {
		if _, ok := attempt("a", true); !ok {
			t.Fatalf("failure %d refused", i+1)
		}
	}
	if wait, ok := attempt("a", false); ok || wait != time.Minute {
		t.Fatalf("after the budget: ok %v, wait %v; want refused for a minute", ok, wait)
	}
	if _, ok := attempt("b", false); !ok {
		t.Error("another key is limited too")
	}
	now = now.Add(30 * time.Second)
	if wait, ok := attempt("a", false); ok || wait != 30*time.Second {
		t.Errorf("half a refill later: ok %v, wait %v", ok, wait)
	}
	now = now.Add(30 * time.Second)
	if _, ok := attempt("a", true); !ok {
		t.Error("a refill later: refused")
	}
	if _, ok := attempt("a", false); ok {
		t.Error("the refilled attempt failed, yet another is allowed")
	}
}

// Attempts in flight count as failures until they end, so a parallel burst cannot slip past.
func TestFailuresCountAttemptsInFlight(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := NewFailures(2, time.Minute, func() time.Time { return now })
	a1, _, ok1 := f.Begin("k")
	a2, _, ok2 := f.Begin("k")
	if !ok1 || !ok2 {
		t.Fatal("two attempts within a budget of two refused")
	}
	if _, _, ok := f.Begin("k"); ok {
		t.Fatal("a third parallel attempt passed a budget of two")
	}
	a1.End(false) // a success gives its place back
	a3, _, ok := f.Begin("k")
	if !ok {
		t.Fatal("an attempt after a success refused")
	}
	a2.End(true)
	a3.End(true)
	if _, _, ok := f.Begin("k"); ok {
		t.Error("two failures of a budget of two, yet another attempt is allowed")
	}
}

func TestFailuresForgetFullBudgets(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := NewFailures(3, time.Minute, func() time.Time { return now })
	for i := range maxClients + 10 {
		a, _, _ := f.Begin("client-" + strconv.Itoa(i))
		a.End(true)
		now = now.Add(time.Hour)
	}
	if len(f.clients) > maxClients {
		t.Errorf("%d keys kept, want at most %d", len(f.clients), maxClients)
	}
}
