package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

var completeLinkTests = []test{
	{"a new account becomes an identity with a linked event", func(t *testing.T, s store.Store) {
		l := createLink(t, s, newLink("a", "github"))
		in := newIdentity(l, "583231")
		now := t0.Add(time.Minute)
		got, created := completeLink(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: in, Now: now})
		if !created {
			t.Error("created = false for a new account")
		}
		if got.ID == 0 {
			t.Fatal("identity ID 0")
		}
		want := in
		want.ID, want.LinkedAt, want.UpdatedAt = got.ID, now, now
		checkIdentity(t, got, want)
		checkIdentity(t, getIdentity(t, s, got.ID), want)

		evs := events(t, s, got.ID)
		if len(evs) != 1 {
			t.Fatalf("events %+v, want one linked event", evs)
		}
		if e := evs[0]; e.ID == 0 || e.IdentityID != got.ID || e.Bot != bot || e.Kind != store.EventLinked ||
			e.Outcome != "ok" || !e.At.Equal(now) {
			t.Errorf("event %+v, want linked/ok for identity %d at %v", e, got.ID, now)
		}
	}},
	{"relinking the same account keeps its id and linked time and updates the rest", func(t *testing.T, s store.Store) {
		first, _ := linkAccount(t, s, account("github", "583231"), t0)

		again := account("github", "583231")
		again.Name, again.NickName, again.Email = "Ada King", "countess", "ada@king.example"
		again.Scopes = []string{"read:user", "repo", "gist"}
		again.AccessToken, again.RefreshToken = []byte("new-access"), []byte("new-refresh")
		again.ExpiresAt = t0.Add(3 * time.Hour)
		later := t0.Add(2 * time.Hour)
		got, created := linkAccount(t, s, again, later)

		if created {
			t.Error("created = true for an account linked before")
		}
		want := again
		want.ID, want.LinkedAt, want.UpdatedAt = first.ID, first.LinkedAt, later
		checkIdentity(t, got, want)
		checkIdentity(t, getIdentity(t, s, first.ID), want)
		if n := len(listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: channel, User: user})); n != 1 {
			t.Errorf("%d identities after a relink, want 1", n)
		}
		if kinds := eventKinds(events(t, s, first.ID)); !slices.Equal(kinds, []string{store.EventLinked, store.EventRelinked}) {
			t.Errorf("events %v, want [linked relinked]", kinds)
		}
	}},
	{"relinking keeps the status unless it was relink_required", func(t *testing.T, s store.Store) {
		for i, tc := range []struct{ old, fresh, want string }{
			{store.StatusActive, store.StatusPending, store.StatusActive},
			{store.StatusPending, store.StatusActive, store.StatusPending},
			{store.StatusRelinkRequired, store.StatusActive, store.StatusActive},
			{store.StatusRelinkRequired, store.StatusPending, store.StatusPending},
		} {
			in := account("github", string(rune('a'+i)))
			in.Status = tc.old
			first, _ := linkAccount(t, s, in, t0)
			in.Status = tc.fresh
			got, _ := linkAccount(t, s, in, t0.Add(time.Minute))
			if got.Status != tc.want || getIdentity(t, s, first.ID).Status != tc.want {
				t.Errorf("%s relinked as %s: status %q, want %q", tc.old, tc.fresh, got.Status, tc.want)
			}
		}
	}},
	{"a second account of the same provider is a second identity", func(t *testing.T, s store.Store) {
		a, _ := linkAccount(t, s, account("github", "583231"), t0)
		b, created := linkAccount(t, s, account("github", "9919"), t0.Add(time.Minute))
		if !created || b.ID == a.ID {
			t.Fatalf("second account: created=%v id=%d, want a new identity besides %d", created, b.ID, a.ID)
		}
		if n := len(listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: channel, User: user, Provider: "github"})); n != 2 {
			t.Errorf("%d github identities, want 2", n)
		}
	}},
	{"the same account for another chat user is another identity", func(t *testing.T, s store.Store) {
		in := account("github", "583231")
		a, _ := linkAccount(t, s, in, t0)
		in.User = "U999"
		b, created := linkAccount(t, s, in, t0)
		if !created || b.ID == a.ID {
			t.Fatalf("other user: created=%v id=%d, want a new identity besides %d", created, b.ID, a.ID)
		}
	}},
	{"an already used link is ErrLinkUsed and stores nothing", func(t *testing.T, s store.Store) {
		l := createLink(t, s, newLink("a", "github"))
		first, _ := completeLink(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: newIdentity(l, "1"), Now: t0})

		other := newIdentity(l, "2")
		other.Status = store.StatusPending
		_, err := s.CompleteLink(t.Context(), store.CompleteLinkParams{
			LinkID: l.ID, Identity: other, Now: t0.Add(time.Minute),
			Confirmation: &store.Confirmation{CodeHash: hash("code:123456"), ExpiresAt: t0.Add(10 * time.Minute)},
		})
		wantErr(t, "CompleteLink", err, store.ErrLinkUsed)

		ids := listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: channel, User: user})
		if len(ids) != 1 || ids[0].ID != first.ID {
			t.Fatalf("identities %+v, want only %d", ids, first.ID)
		}
		if kinds := eventKinds(events(t, s, first.ID)); !slices.Equal(kinds, []string{store.EventLinked}) {
			t.Errorf("events %v, want only the first link's", kinds)
		}
		_, err = s.Confirm(t.Context(), confirmParams(hash("code:123456"), t0.Add(2*time.Minute)))
		wantErr(t, "Confirm of a refused confirmation", err, store.ErrNotFound)
	}},
	{"an already used link leaves the account it linked untouched", func(t *testing.T, s store.Store) {
		l := createLink(t, s, newLink("a", "github"))
		in := newIdentity(l, "1")
		first, _ := completeLink(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: in, Now: t0})
		in.Name, in.AccessToken = "Mallory", []byte("other-access")
		_, err := s.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Identity: in, Now: t0.Add(time.Minute)})
		wantErr(t, "CompleteLink", err, store.ErrLinkUsed)
		checkIdentity(t, getIdentity(t, s, first.ID), first)
		if kinds := eventKinds(events(t, s, first.ID)); !slices.Equal(kinds, []string{store.EventLinked}) {
			t.Errorf("events %v, want [linked]", kinds)
		}
	}},
	{"an unknown link is not found", func(t *testing.T, s store.Store) {
		_, err := s.CompleteLink(t.Context(), store.CompleteLinkParams{
			LinkID: 4242, Identity: account("github", "1"), Now: t0,
		})
		wantErr(t, "CompleteLink", err, store.ErrNotFound)
		if ids := listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: channel, User: user}); len(ids) != 0 {
			t.Errorf("identities %+v after a failed CompleteLink", ids)
		}
	}},
	{"a confirmation is created for the identity", func(t *testing.T, s store.Store) {
		pending := linkPending(t, s, "1", "code:123456", t0)
		got, err := confirm(t, s, "code:123456", t0.Add(time.Minute))
		if err != nil {
			t.Fatalf("Confirm: %v", err)
		}
		if got.ID != pending.ID {
			t.Errorf("Confirm activated identity %d, want %d", got.ID, pending.ID)
		}
	}},
}

var identityTests = []test{
	{"IdentityTokens reads the keys, status and tokens and leaves the profile zero", func(t *testing.T, s store.Store) {
		in := account("twitter", "1")
		in.AccessTokenSecret = []byte("sealed-secret-1")
		in.TokenType = "oauth1"
		stored, _ := linkAccount(t, s, in, t0)
		got, err := s.IdentityTokens(t.Context(), bot, stored.ID)
		if err != nil {
			t.Fatalf("IdentityTokens: %v", err)
		}
		want := store.Identity{
			ID: stored.ID, Bot: stored.Bot, Channel: stored.Channel, User: stored.User,
			Provider: stored.Provider, ProviderUserID: stored.ProviderUserID, Status: stored.Status,
			AccessToken: stored.AccessToken, AccessTokenSecret: stored.AccessTokenSecret,
			RefreshToken: stored.RefreshToken, TokenType: stored.TokenType, ExpiresAt: stored.ExpiresAt,
		}
		checkIdentity(t, got, want)

		// A token the provider never issued stays absent, and no expiry stays zero.
		bare := account("github", "2")
		bare.RefreshToken, bare.ExpiresAt = nil, time.Time{}
		stored, _ = linkAccount(t, s, bare, t0)
		if got, err = s.IdentityTokens(t.Context(), bot, stored.ID); err != nil {
			t.Fatalf("IdentityTokens: %v", err)
		}
		if got.RefreshToken != nil || got.AccessTokenSecret != nil || !got.ExpiresAt.IsZero() {
			t.Errorf("IdentityTokens of an identity without refresh token, secret and expiry: %q, %q, %v",
				got.RefreshToken, got.AccessTokenSecret, got.ExpiresAt)
		}
	}},
	{"IdentityTokens follows the status", func(t *testing.T, s store.Store) {
		pending := linkPending(t, s, "1", "code:123456", t0)
		got, err := s.IdentityTokens(t.Context(), bot, pending.ID)
		if err != nil {
			t.Fatalf("IdentityTokens: %v", err)
		}
		if got.Status != store.StatusPending {
			t.Errorf("IdentityTokens status %q, want %q", got.Status, store.StatusPending)
		}
	}},
	{"IdentityTokens of another bot's identity or of an unknown id is not found", func(t *testing.T, s store.Store) {
		id, _ := linkAccount(t, s, account("github", "1"), t0)
		_, err := s.IdentityTokens(t.Context(), "otherbot", id.ID)
		wantErr(t, "IdentityTokens", err, store.ErrNotFound)
		_, err = s.IdentityTokens(t.Context(), bot, 4242)
		wantErr(t, "IdentityTokens", err, store.ErrNotFound)
	}},
	{"an identity of another bot is not found", func(t *testing.T, s store.Store) {
		id, _ := linkAccount(t, s, account("github", "1"), t0)
		_, err := s.Identity(t.Context(), "otherbot", id.ID)
		wantErr(t, "Identity", err, store.ErrNotFound)
	}},
	{"an unknown identity is not found", func(t *testing.T, s store.Store) {
		_, err := s.Identity(t.Context(), bot, 4242)
		wantErr(t, "Identity", err, store.ErrNotFound)
	}},
	{"a chat user's identities are listed oldest first, and only theirs", func(t *testing.T, s store.Store) {
		var want []int64
		for i, provider := range []string{"twitter", "github", "uber"} {
			id, _ := linkAccount(t, s, account(provider, "1"), t0.Add(time.Duration(i)*time.Minute))
			want = append(want, id.ID)
		}
		for _, other := range []store.Identity{
			{Bot: "otherbot", Channel: channel, User: user},
			{Bot: bot, Channel: "discord", User: user},
			{Bot: bot, Channel: channel, User: "U999"},
		} {
			in := account("github", "1")
			in.Bot, in.Channel, in.User = other.Bot, other.Channel, other.User
			linkAccount(t, s, in, t0)
		}
		var got []int64
		for _, id := range listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: channel, User: user}) {
			got = append(got, id.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("identities %v, want %v", got, want)
		}
	}},
	{"identities filter by provider", func(t *testing.T, s store.Store) {
		linkAccount(t, s, account("twitter", "1"), t0)
		gh, _ := linkAccount(t, s, account("github", "1"), t0)
		got := listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: channel, User: user, Provider: "github"})
		if len(got) != 1 || got[0].ID != gh.ID {
			t.Errorf("github identities %+v, want only %d", got, gh.ID)
		}
	}},
	{"a chat user without identities has none", func(t *testing.T, s store.Store) {
		if got := listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: channel, User: user}); len(got) != 0 {
			t.Errorf("identities %+v, want none", got)
		}
	}},
	{"events of another bot's identity are empty", func(t *testing.T, s store.Store) {
		id, _ := linkAccount(t, s, account("github", "1"), t0)
		got, err := s.Events(t.Context(), "otherbot", id.ID)
		if err != nil || len(got) != 0 {
			t.Errorf("Events(otherbot) = %+v, %v; want none", got, err)
		}
	}},
}

var deleteTests = []test{
	{"delete removes the identity and records the event", func(t *testing.T, s store.Store) {
		id, _ := linkAccount(t, s, account("github", "1"), t0)
		at := t0.Add(time.Hour)
		err := s.DeleteIdentity(t.Context(), bot, id.ID, store.Event{
			Kind: store.EventUnlinked, Outcome: "revoked", Detail: "revoked at github", At: at,
		})
		if err != nil {
			t.Fatalf("DeleteIdentity: %v", err)
		}
		_, err = s.Identity(t.Context(), bot, id.ID)
		wantErr(t, "Identity after delete", err, store.ErrNotFound)

		// The history outlives the identity.
		evs := events(t, s, id.ID)
		if kinds := eventKinds(evs); !slices.Equal(kinds, []string{store.EventLinked, store.EventUnlinked}) {
			t.Fatalf("events %v, want [linked unlinked]", kinds)
		}
		if e := evs[1]; e.IdentityID != id.ID || e.Bot != bot || e.Outcome != "revoked" ||
			e.Detail != "revoked at github" || !e.At.Equal(at) {
			t.Errorf("unlinked event %+v", e)
		}
	}},
	{"delete of another bot's identity is not found and keeps it", func(t *testing.T, s store.Store) {
		id, _ := linkAccount(t, s, account("github", "1"), t0)
		err := s.DeleteIdentity(t.Context(), "otherbot", id.ID, store.Event{Kind: store.EventUnlinked, Outcome: "ok", At: t0})
		wantErr(t, "DeleteIdentity", err, store.ErrNotFound)
		getIdentity(t, s, id.ID)
		if kinds := eventKinds(events(t, s, id.ID)); !slices.Equal(kinds, []string{store.EventLinked}) {
			t.Errorf("events %v, want [linked]", kinds)
		}
	}},
	{"delete of an unknown identity is not found and records nothing", func(t *testing.T, s store.Store) {
		err := s.DeleteIdentity(t.Context(), bot, 4242, store.Event{Kind: store.EventUnlinked, Outcome: "ok", At: t0})
		wantErr(t, "DeleteIdentity", err, store.ErrNotFound)
		if evs := events(t, s, 4242); len(evs) != 0 {
			t.Errorf("events %+v, want none", evs)
		}
	}},
	{"delete removes the identity's pending confirmation", func(t *testing.T, s store.Store) {
		id := linkPending(t, s, "1", "code:123456", t0)
		if err := s.DeleteIdentity(t.Context(), bot, id.ID, store.Event{Kind: store.EventUnlinked, Outcome: "ok", At: t0}); err != nil {
			t.Fatalf("DeleteIdentity: %v", err)
		}
		_, err := s.Confirm(t.Context(), confirmParams(hash("code:123456"), t0.Add(time.Minute)))
		wantErr(t, "Confirm after delete", err, store.ErrNotFound)
	}},
}
