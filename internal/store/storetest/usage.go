package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// usageTests pin store.UsageStore: the API proxy's per-identity call counts.
var usageTests = []test{
	{"calls count, and the latest call's time and status win", func(t *testing.T, s store.Store) {
		id, _ := linkAccount(t, s, account("twitter", "1"), t0)
		if u := proxyUsage(t, s, bot, id.ID); u != (store.ProxyUsage{}) {
			t.Fatalf("an identity never proxied has usage %+v", u)
		}
		record(t, s, store.ProxyCall{Bot: bot, IdentityID: id.ID, Provider: "twitter", Status: 200, At: t0.Add(time.Minute)})
		record(t, s, store.ProxyCall{Bot: bot, IdentityID: id.ID, Provider: "twitter", Status: 429, At: t0.Add(3 * time.Minute)})
		// A call that started earlier and finished last must not move "last" back.
		record(t, s, store.ProxyCall{Bot: bot, IdentityID: id.ID, Provider: "twitter", Status: 500, At: t0.Add(2 * time.Minute)})
		want := store.ProxyUsage{Calls: 3, LastUsedAt: t0.Add(3 * time.Minute), LastStatus: 429}
		if u := proxyUsage(t, s, bot, id.ID); u != want {
			t.Errorf("usage %+v, want %+v", u, want)
		}
	}},
	{"usage is the bot's own", func(t *testing.T, s store.Store) {
		id, _ := linkAccount(t, s, account("github", "1"), t0)
		err := s.RecordProxyCall(t.Context(), store.ProxyCall{Bot: "otherbot", IdentityID: id.ID, Provider: "github", Status: 200, At: t0})
		wantErr(t, "RecordProxyCall of another bot's identity", err, store.ErrNotFound)
		err = s.RecordProxyCall(t.Context(), store.ProxyCall{Bot: bot, IdentityID: id.ID + 1000, Provider: "github", Status: 200, At: t0})
		wantErr(t, "RecordProxyCall of an unknown identity", err, store.ErrNotFound)
		record(t, s, store.ProxyCall{Bot: bot, IdentityID: id.ID, Provider: "github", Status: 200, At: t0})
		if u := proxyUsage(t, s, "otherbot", id.ID); u != (store.ProxyUsage{}) {
			t.Errorf("another bot reads usage %+v", u)
		}
		if u := proxyUsage(t, s, bot, id.ID); u.Calls != 1 {
			t.Errorf("usage %+v after one call and two refused ones, want 1 call", u)
		}
	}},
	{"a relink keeps the usage, an unlink deletes it", func(t *testing.T, s store.Store) {
		in := account("github", "1")
		id, _ := linkAccount(t, s, in, t0)
		record(t, s, store.ProxyCall{Bot: bot, IdentityID: id.ID, Provider: "github", Status: 201, At: t0.Add(time.Minute)})
		again, created := linkAccount(t, s, in, t0.Add(time.Hour))
		if created || again.ID != id.ID {
			t.Fatalf("the relink made identity %d (created %v), want %d", again.ID, created, id.ID)
		}
		if u := proxyUsage(t, s, bot, id.ID); u.Calls != 1 || u.LastStatus != 201 {
			t.Errorf("after the relink: %+v, want the call kept", u)
		}
		if err := s.DeleteIdentity(t.Context(), bot, id.ID, store.Event{Kind: store.EventUnlinked, At: t0.Add(2 * time.Hour)}); err != nil {
			t.Fatalf("DeleteIdentity: %v", err)
		}
		if u := proxyUsage(t, s, bot, id.ID); u != (store.ProxyUsage{}) {
			t.Errorf("after the unlink: %+v, want none", u)
		}
		err := s.RecordProxyCall(t.Context(), store.ProxyCall{Bot: bot, IdentityID: id.ID, Provider: "github", Status: 200, At: t0.Add(3 * time.Hour)})
		wantErr(t, "RecordProxyCall after the unlink", err, store.ErrNotFound)
	}},
	{"concurrent calls all count", func(t *testing.T, s store.Store) {
		id, _ := linkAccount(t, s, account("github", "1"), t0)
		const n = 50
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c := store.ProxyCall{Bot: bot, IdentityID: id.ID, Provider: "github", Status: 200, At: t0.Add(time.Duration(i) * time.Millisecond)}
				if err := s.RecordProxyCall(t.Context(), c); err != nil {
					t.Errorf("RecordProxyCall: %v", err)
				}
			})
		}
		wg.Wait()
		if u := proxyUsage(t, s, bot, id.ID); u.Calls != n || !u.LastUsedAt.Equal(t0.Add((n-1)*time.Millisecond)) {
			t.Errorf("usage %+v, want %d calls, the last at t0+%dms", u, n, n-1)
		}
	}},
}

func record(t testing.TB, s store.Store, c store.ProxyCall) {
	t.Helper()
	if err := s.RecordProxyCall(t.Context(), c); err != nil {
		t.Fatalf("RecordProxyCall(%+v): %v", c, err)
	}
}

func proxyUsage(t testing.TB, s store.Store, bot string, id int64) store.ProxyUsage {
	t.Helper()
	u, err := s.ProxyUsage(t.Context(), bot, id)
	if err != nil {
		t.Fatalf("ProxyUsage(%s, %d): %v", bot, id, err)
	}
	return u
}
