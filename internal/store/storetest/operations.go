package storetest

import (
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// operationsTests pin store.OperationsStore: the open-flow count behind the per-user cap, and
// the schema check behind /readyz.
var operationsTests = []test{
	{"open flows count only the user's live, unconsumed flows", func(t *testing.T, s store.Store) {
		count := func(bot, channel, user string, now time.Time) int {
			t.Helper()
			n, err := s.CountOpenFlows(t.Context(), bot, channel, user, now)
			if err != nil {
				t.Fatalf("CountOpenFlows: %v", err)
			}
			return n
		}
		if n := count(bot, channel, user, t0); n != 0 {
			t.Fatalf("empty store: %d open flows", n)
		}
		// Three flows of the suite's user (newFlow: expiring at t0+5m), one of them consumed.
		consumed, _ := newFlow(t, s, "consumed")
		newFlow(t, s, "open-1")
		newFlow(t, s, "open-2")
		if _, err := s.ConsumeFlow(t.Context(), consumed.StateHash, t0.Add(time.Minute)); err != nil {
			t.Fatalf("ConsumeFlow: %v", err)
		}
		// Two flows on one link count twice: each is a started sign-in.
		l := createLink(t, s, newLink("two-flows", "twitter"))
		for _, st := range []string{"tw-1", "tw-2"} {
			if err := s.CreateFlow(t.Context(), store.Flow{StateHash: hash(st), LinkID: l.ID, CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}); err != nil {
				t.Fatalf("CreateFlow: %v", err)
			}
		}
		// Flows of another user, channel and bot do not count.
		for i, other := range []store.Link{
			{Bot: bot, Channel: channel, User: "someone-else"},
			{Bot: bot, Channel: "telegram", User: user},
			{Bot: "otherbot", Channel: channel, User: user},
		} {
			other.TokenHash, other.Provider = hash("other-link-"+string(rune('a'+i))), "github"
			other.CreatedAt, other.ExpiresAt = t0, t0.Add(10*time.Minute)
			ol := createLink(t, s, other)
			if err := s.CreateFlow(t.Context(), store.Flow{StateHash: hash("other-" + string(rune('a'+i))), LinkID: ol.ID, CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}); err != nil {
				t.Fatalf("CreateFlow: %v", err)
			}
		}
		if n := count(bot, channel, user, t0.Add(time.Minute)); n != 4 {
			t.Errorf("at t0+1m: %d open flows, want 4 (two on github links, two on one twitter link)", n)
		}
		// Something expires when now >= ExpiresAt.
		if n := count(bot, channel, user, t0.Add(5*time.Minute)); n != 2 {
			t.Errorf("at t0+5m: %d open flows, want 2 (the github flows expired)", n)
		}
		if n := count(bot, channel, user, t0.Add(10*time.Minute)); n != 0 {
			t.Errorf("at t0+10m: %d open flows, want 0", n)
		}
		if n := count(bot, channel, "someone-else", t0); n != 1 {
			t.Errorf("the other user: %d open flows, want 1", n)
		}
	}},
	{"a freshly migrated store's schema is current", func(t *testing.T, s store.Store) {
		if err := s.SchemaCurrent(t.Context()); err != nil {
			t.Fatalf("SchemaCurrent: %v", err)
		}
	}},
}
