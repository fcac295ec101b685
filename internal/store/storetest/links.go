package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

func checkLink(t testing.TB, got, want store.Link) {
	t.Helper()
	if got.ID != want.ID || !bytes.Equal(got.TokenHash, want.TokenHash) || got.Bot != want.Bot ||
		got.Channel != want.Channel || got.User != want.User || got.UserLabel != want.UserLabel ||
		!slices.EqualFunc(got.Providers, want.Providers, sameLinkProvider) || got.RedirectURL != want.RedirectURL ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) || !got.UsedAt.Equal(want.UsedAt) ||
		!got.CancelledAt.Equal(want.CancelledAt) {
		t.Fatalf("link\n got %+v\nwant %+v", got, want)
	}
}

func sameLinkProvider(a, b store.LinkProvider) bool {
	return a.Provider == b.Provider && slices.Equal(a.Scopes, b.Scopes) && a.IdentityID == b.IdentityID && a.LinkedAt.Equal(b.LinkedAt)
}

var linkTests = []test{
	{"create returns the link with an id and it reads back by token hash", func(t *testing.T, s store.Store) {
		want := newLink("a", "github", "twitter")
		want.Providers[0].Scopes = []string{"repo", "read:org"}
		want.Providers[1].Scopes = nil
		want.UserLabel = "Ada (@ada) ✓"
		want.RedirectURL = "https://bot.example/done?x=1"
		got := createLink(t, s, want)
		if got.ID == 0 {
			t.Fatal("CreateLink returned ID 0")
		}
		want.ID = got.ID
		checkLink(t, got, want)
		read, err := s.LinkByTokenHash(t.Context(), want.TokenHash)
		if err != nil {
			t.Fatalf("LinkByTokenHash: %v", err)
		}
		checkLink(t, read, want)
	}},
	{"each link gets its own id", func(t *testing.T, s store.Store) {
		a := createLink(t, s, newLink("a", "github"))
		b := createLink(t, s, newLink("b", "github"))
		if a.ID == b.ID {
			t.Fatalf("two links share ID %d", a.ID)
		}
	}},
	{"unknown token hash is not found", func(t *testing.T, s store.Store) {
		createLink(t, s, newLink("a", "github"))
		_, err := s.LinkByTokenHash(t.Context(), hash("link:nope"))
		wantErr(t, "LinkByTokenHash", err, store.ErrNotFound)
	}},
	{"a token hash already stored is a conflict", func(t *testing.T, s store.Store) {
		createLink(t, s, newLink("a", "github"))
		other := newLink("a", "twitter") // same token, different everything else
		_, err := s.CreateLink(t.Context(), other)
		wantErr(t, "CreateLink", err, store.ErrConflict)
	}},
	{"a used link still reads back, with the time it was used", func(t *testing.T, s store.Store) {
		l := createLink(t, s, newLink("a", "github"))
		now := t0.Add(2 * time.Minute)
		id, _ := completeLink(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: newIdentity(l, "1"), Now: now})
		got, err := s.LinkByTokenHash(t.Context(), l.TokenHash)
		if err != nil {
			t.Fatalf("LinkByTokenHash: %v", err)
		}
		l.UsedAt = now
		l.Providers[0].IdentityID, l.Providers[0].LinkedAt = id.ID, now
		checkLink(t, got, l)
	}},
	{"an expired link still reads back: the caller decides", func(t *testing.T, s store.Store) {
		l := newLink("a", "github")
		l.CreatedAt, l.ExpiresAt = t0.Add(-time.Hour), t0.Add(-50*time.Minute)
		l = createLink(t, s, l)
		got, err := s.LinkByTokenHash(t.Context(), l.TokenHash)
		if err != nil {
			t.Fatalf("LinkByTokenHash: %v", err)
		}
		checkLink(t, got, l)
	}},
}

// newFlow creates a link and a flow for it that expires at t0+5m.
func newFlow(t testing.TB, s store.Store, state string) (store.Flow, store.Link) {
	t.Helper()
	l := createLink(t, s, newLink("for-"+state, "github"))
	f := store.Flow{StateHash: hash("state:" + state), LinkID: l.ID, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
	if err := s.CreateFlow(t.Context(), f); err != nil {
		t.Fatalf("CreateFlow: %v", err)
	}
	return f, l
}

var flowTests = []test{
	{"consume returns the flow's link", func(t *testing.T, s store.Store) {
		f, l := newFlow(t, s, "a")
		got, err := s.ConsumeFlow(t.Context(), f.StateHash, t0.Add(time.Minute))
		if err != nil {
			t.Fatalf("ConsumeFlow: %v", err)
		}
		checkLink(t, got, l)
	}},
	{"a second consume is ErrFlowConsumed", func(t *testing.T, s store.Store) {
		f, _ := newFlow(t, s, "a")
		if _, err := s.ConsumeFlow(t.Context(), f.StateHash, t0.Add(time.Minute)); err != nil {
			t.Fatalf("first ConsumeFlow: %v", err)
		}
		_, err := s.ConsumeFlow(t.Context(), f.StateHash, t0.Add(time.Minute))
		wantErr(t, "second ConsumeFlow", err, store.ErrFlowConsumed)
	}},
	{"a consumed flow stays consumed after its expiry", func(t *testing.T, s store.Store) {
		f, _ := newFlow(t, s, "a")
		if _, err := s.ConsumeFlow(t.Context(), f.StateHash, t0.Add(time.Minute)); err != nil {
			t.Fatalf("first ConsumeFlow: %v", err)
		}
		_, err := s.ConsumeFlow(t.Context(), f.StateHash, f.ExpiresAt.Add(time.Hour))
		wantErr(t, "ConsumeFlow after expiry", err, store.ErrFlowConsumed)
	}},
	{"unknown state is not found", func(t *testing.T, s store.Store) {
		newFlow(t, s, "a")
		_, err := s.ConsumeFlow(t.Context(), hash("state:nope"), t0)
		wantErr(t, "ConsumeFlow", err, store.ErrNotFound)
	}},
	{"a flow is live until a millisecond before its expiry", func(t *testing.T, s store.Store) {
		f, _ := newFlow(t, s, "a")
		if _, err := s.ConsumeFlow(t.Context(), f.StateHash, f.ExpiresAt.Add(-time.Millisecond)); err != nil {
			t.Fatalf("ConsumeFlow: %v", err)
		}
	}},
	{"a flow expires at its ExpiresAt and is not consumed by trying", func(t *testing.T, s store.Store) {
		f, _ := newFlow(t, s, "a")
		for _, now := range []time.Time{f.ExpiresAt, f.ExpiresAt.Add(time.Hour)} {
			_, err := s.ConsumeFlow(t.Context(), f.StateHash, now)
			wantErr(t, "ConsumeFlow at "+now.String(), err, store.ErrExpired)
		}
	}},
	{"a state hash already stored is a conflict", func(t *testing.T, s store.Store) {
		f, _ := newFlow(t, s, "a")
		err := s.CreateFlow(t.Context(), f)
		wantErr(t, "CreateFlow", err, store.ErrConflict)
	}},
	{"a flow for an unknown link is not found", func(t *testing.T, s store.Store) {
		err := s.CreateFlow(t.Context(), store.Flow{StateHash: hash("state:a"), LinkID: 4242, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)})
		wantErr(t, "CreateFlow", err, store.ErrNotFound)
	}},
}
