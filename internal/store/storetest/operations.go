package storetest

import (
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// operationsTests pin store.OperationsStore: the open-flow count behind the per-link cap, and
// the schema check behind /readyz.
var operationsTests = []test{
	{"open flows count only the link's live, unconsumed flows", func(t *testing.T, s store.Store) {
		count := func(linkID int64, now time.Time) int {
			t.Helper()
			n, err := s.CountOpenFlows(t.Context(), linkID, now)
			if err != nil {
				t.Fatalf("CountOpenFlows: %v", err)
			}
			return n
		}
		l := createLink(t, s, newLink("counted", "github", "twitter"))
		if n := count(l.ID, t0); n != 0 {
			t.Fatalf("a fresh link: %d open flows", n)
		}
		flow := func(link int64, state string, expires time.Time) store.Flow {
			t.Helper()
			f := store.Flow{StateHash: hash(state), LinkID: link, CreatedAt: t0, ExpiresAt: expires}
			if err := s.CreateFlow(t.Context(), f); err != nil {
				t.Fatalf("CreateFlow: %v", err)
			}
			return f
		}
		// Four flows of the link (for either of its providers), one of them consumed; each
		// started flow counts, two in one browser included.
		consumed := flow(l.ID, "consumed", t0.Add(5*time.Minute))
		flow(l.ID, "open-1", t0.Add(5*time.Minute))
		flow(l.ID, "open-2", t0.Add(10*time.Minute))
		flow(l.ID, "open-3", t0.Add(10*time.Minute))
		if _, err := s.ConsumeFlow(t.Context(), consumed.StateHash, t0.Add(time.Minute)); err != nil {
			t.Fatalf("ConsumeFlow: %v", err)
		}
		// The same chat user's other link: its flows are its own.
		other := createLink(t, s, newLink("other", "github"))
		flow(other.ID, "other-1", t0.Add(10*time.Minute))
		if n := count(l.ID, t0.Add(time.Minute)); n != 3 {
			t.Errorf("at t0+1m: %d open flows, want 3", n)
		}
		// Something expires when now >= ExpiresAt.
		if n := count(l.ID, t0.Add(5*time.Minute)); n != 2 {
			t.Errorf("at t0+5m: %d open flows, want 2", n)
		}
		if n := count(l.ID, t0.Add(10*time.Minute)); n != 0 {
			t.Errorf("at t0+10m: %d open flows, want 0", n)
		}
		if n := count(other.ID, t0); n != 1 {
			t.Errorf("the other link: %d open flows, want 1", n)
		}
	}},
	{"a freshly migrated store's schema is current", func(t *testing.T, s store.Store) {
		if err := s.SchemaCurrent(t.Context()); err != nil {
			t.Fatalf("SchemaCurrent: %v", err)
		}
	}},
}
