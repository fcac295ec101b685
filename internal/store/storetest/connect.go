package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// connectTests pin the links of the connect page: several providers, each linked once, the
// last one spending the link; one confirmation code for all of a link's identities; cancel;
// link.completed.

// linkOf is the identity the callback of link l's provider builds for account providerUserID.
func linkOf(l store.Link, provider, providerUserID string) store.Identity {
	in := newIdentity(l, providerUserID)
	in.Provider = provider
	return in
}

// linkedIdentities is the identities listed by a link.completed event, as "provider#id".
func linkedIdentities(e store.OutboxEvent) []string {
	out := make([]string, len(e.Identities))
	for i, li := range e.Identities {
		out[i] = fmt.Sprintf("%s#%d:%s:%s", li.Provider, li.ID, li.ProviderUserID, li.Status)
	}
	return out
}

var connectTests = []test{
	{"a link without providers is refused and a provider twice is a conflict", func(t *testing.T, s store.Store) {
		if _, err := s.CreateLink(t.Context(), newLink("none")); err == nil {
			t.Error("a link without providers was stored")
		}
		_, err := s.CreateLink(t.Context(), newLink("twice", "github", "github"))
		wantErr(t, "CreateLink", err, store.ErrConflict)
		for _, token := range []string{"none", "twice"} {
			_, err := s.LinkByTokenHash(t.Context(), hash("link:"+token))
			wantErr(t, "LinkByTokenHash of a refused link", err, store.ErrNotFound)
		}
	}},
	{"a link's providers read back in the order the bot gave them", func(t *testing.T, s store.Store) {
		l := createLink(t, s, newLink("ordered", "uber", "github", "twitter")) // not by name
		got, err := s.LinkByTokenHash(t.Context(), l.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		checkLink(t, got, l)
	}},
	{"each provider is linked once and the last one spends the link", func(t *testing.T, s store.Store) {
		l := createLink(t, s, newLink("two", "github", "twitter"))
		first := completeLinked(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: linkOf(l, "twitter", "tw-1"), Now: t0.Add(time.Minute)})
		if first.LinkComplete || !first.Created {
			t.Fatalf("first provider: %+v, want a new identity and the link still open", first)
		}
		got, err := s.LinkByTokenHash(t.Context(), l.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		want := l
		want.Providers[1].IdentityID, want.Providers[1].LinkedAt = first.Identity.ID, t0.Add(time.Minute)
		checkLink(t, got, want)

		// The same provider again (a second tab, another account) is refused and stores nothing.
		_, err = s.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Identity: linkOf(l, "twitter", "tw-2"), Now: t0.Add(2 * time.Minute)})
		wantErr(t, "CompleteLink of a linked provider", err, store.ErrLinkUsed)
		if ids := listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: channel, User: user}); len(ids) != 1 {
			t.Fatalf("identities %+v, want only the first", ids)
		}

		last := completeLinked(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: linkOf(l, "github", "gh-1"), Now: t0.Add(3 * time.Minute)})
		if !last.LinkComplete {
			t.Fatalf("last provider: %+v, want the link complete", last)
		}
		got, err = s.LinkByTokenHash(t.Context(), l.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		want.UsedAt = t0.Add(3 * time.Minute)
		want.Providers[0].IdentityID, want.Providers[0].LinkedAt = last.Identity.ID, t0.Add(3*time.Minute)
		checkLink(t, got, want)
		_, err = s.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Identity: linkOf(l, "github", "gh-2"), Now: t0.Add(4 * time.Minute)})
		wantErr(t, "CompleteLink of a spent link", err, store.ErrLinkUsed)
	}},
	{"a provider the link is not for is refused and stores nothing", func(t *testing.T, s store.Store) {
		l := createLink(t, s, newLink("gh", "github"))
		_, err := s.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Identity: linkOf(l, "twitter", "1"), Now: t0})
		if err == nil {
			t.Fatal("an identity of another provider completed the link")
		}
		if ids := listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: channel, User: user}); len(ids) != 0 {
			t.Errorf("identities %+v after a refused CompleteLink", ids)
		}
		if got, _ := s.LinkByTokenHash(t.Context(), l.TokenHash); !got.UsedAt.IsZero() || got.Providers[0].IdentityID != 0 {
			t.Errorf("link changed: %+v", got)
		}
	}},
	{"one code, made after the last provider, confirms every identity of the link", func(t *testing.T, s store.Store) {
		l := createLink(t, s, newLink("coded", "github", "twitter", "uber"))
		var ids []int64 // in callback order: uber, github, twitter
		for i, p := range []string{"uber", "github", "twitter"} {
			in := linkOf(l, p, "acct-"+p)
			in.Status = store.StatusPending
			// The broker makes a code at every callback; only the completing one's is kept.
			code := hash(fmt.Sprint("code:early-", i))
			if i == 2 {
				code = hash("code:424242")
			}
			got := completeLinked(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: in, Now: t0, Webhook: true,
				Confirmation: &store.Confirmation{CodeHash: code, ExpiresAt: t0.Add(confirmTTL)}})
			if got.LinkComplete != (i == 2) {
				t.Fatalf("callback %d (%s): LinkComplete %v", i, p, got.LinkComplete)
			}
			ids = append(ids, got.Identity.ID)
			if i == 1 {
				// Before the last provider no code exists: an early one matches nothing.
				_, err := confirm(t, s, "code:early-0", t0)
				wantErr(t, "Confirm before the link is complete", err, store.ErrNotFound)
			}
		}
		if slices.ContainsFunc(outbox(t, s, ""), func(e store.OutboxEvent) bool { return e.Type == store.WebhookLinkCompleted }) {
			t.Fatal("link.completed before the code was confirmed")
		}
		p := confirmParams(hash("code:424242"), t0.Add(time.Minute))
		p.Webhook = true
		got, err := s.Confirm(t.Context(), p)
		if err != nil {
			t.Fatalf("Confirm: %v", err)
		}
		// In the link's order: github, twitter, uber.
		want := []int64{ids[1], ids[2], ids[0]}
		var gotIDs []int64
		for _, id := range got {
			gotIDs = append(gotIDs, id.ID)
			if id.Status != store.StatusActive || getIdentity(t, s, id.ID).Status != store.StatusActive {
				t.Errorf("identity %d: status %q after the code", id.ID, id.Status)
			}
			if kinds := eventKinds(events(t, s, id.ID)); !slices.Equal(kinds, []string{store.EventLinked, store.EventConfirmed}) {
				t.Errorf("identity %d: events %v", id.ID, kinds)
			}
		}
		if !slices.Equal(gotIDs, want) {
			t.Fatalf("Confirm activated %v, want %v", gotIDs, want)
		}
		_, err = confirm(t, s, "code:424242", t0.Add(time.Minute))
		wantErr(t, "the code a second time", err, store.ErrNotFound)

		evs := outbox(t, s, "")
		lc := evs[len(evs)-1]
		wantList := []string{
			fmt.Sprintf("github#%d:acct-github:active", ids[1]), fmt.Sprintf("twitter#%d:acct-twitter:active", ids[2]),
			fmt.Sprintf("uber#%d:acct-uber:active", ids[0])}
		if lc.Type != store.WebhookLinkCompleted || lc.IdentityID != want[2] || lc.Channel != channel || lc.User != user ||
			lc.Provider != "" || !slices.Equal(linkedIdentities(lc), wantList) {
			t.Errorf("last event %+v (%v), want link.completed listing %v", lc, linkedIdentities(lc), wantList)
		}
	}},
	{"a wrong code counts against each confirmation of the link", func(t *testing.T, s store.Store) {
		l := createLink(t, s, newLink("guessed", "github", "twitter"))
		for _, p := range []string{"github", "twitter"} {
			in := linkOf(l, p, "1")
			in.Status = store.StatusPending
			completeLink(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: in, Now: t0,
				Confirmation: &store.Confirmation{CodeHash: hash("code:777777"), ExpiresAt: t0.Add(confirmTTL)}})
		}
		wrongCodes(t, s, maxAttempts, t0.Add(time.Minute))
		_, err := s.Confirm(t.Context(), confirmParams(hash("code:777777"), t0.Add(time.Minute)))
		wantErr(t, "the right code after MaxAttempts wrong ones", err, store.ErrNotFound)
	}},
	{"without a code, completing a link with Webhook enqueues link.completed listing its identities", func(t *testing.T, s store.Store) {
		earlier, _ := linkAccount(t, s, account("github", "gh-1"), t0) // relinked below: the same identity
		l := createLink(t, s, newLink("plain", "twitter", "github"))
		tw := completeLinked(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: linkOf(l, "twitter", "tw-1"), Now: t0, Webhook: true})
		gh := completeLinked(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: linkOf(l, "github", "gh-1"), Now: t0, Webhook: true})
		if tw.LinkComplete || !gh.LinkComplete || gh.Created || gh.Identity.ID != earlier.ID {
			t.Fatalf("twitter %+v, github %+v", tw, gh)
		}
		tid, gid := fmt.Sprint(tw.Identity.ID), fmt.Sprint(gh.Identity.ID)
		evs := outbox(t, s, "")
		if want := []string{"identity.linked#" + tid, "identity.relinked#" + gid, "link.completed#" + gid}; !slices.Equal(types(evs), want) {
			t.Fatalf("outbox %v, want %v", types(evs), want)
		}
		want := []string{"twitter#" + tid + ":tw-1:active", "github#" + gid + ":gh-1:active"}
		if got := linkedIdentities(evs[2]); !slices.Equal(got, want) {
			t.Errorf("link.completed lists %v, want %v", got, want)
		}
	}},
	{"a cancelled link is spent; what it linked stays", func(t *testing.T, s store.Store) {
		l := createLink(t, s, newLink("cancelled", "github", "twitter"))
		id, _ := completeLink(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: linkOf(l, "github", "1"), Now: t0})
		at := t0.Add(time.Minute)
		if err := s.CancelLink(t.Context(), l.ID, at); err != nil {
			t.Fatalf("CancelLink: %v", err)
		}
		got, err := s.LinkByTokenHash(t.Context(), l.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if !got.UsedAt.Equal(at) || !got.CancelledAt.Equal(at) {
			t.Errorf("cancelled link: used %v, cancelled %v; want both %v", got.UsedAt, got.CancelledAt, at)
		}
		wantErr(t, "a second CancelLink", s.CancelLink(t.Context(), l.ID, at), store.ErrLinkUsed)
		_, err = s.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Identity: linkOf(l, "twitter", "1"), Now: at})
		wantErr(t, "CompleteLink of a cancelled link", err, store.ErrLinkUsed)
		getIdentity(t, s, id.ID)
		wantErr(t, "CancelLink of an unknown link", s.CancelLink(t.Context(), 4242, at), store.ErrNotFound)

		done := createLink(t, s, newLink("done", "github"))
		completeLink(t, s, store.CompleteLinkParams{LinkID: done.ID, Identity: linkOf(done, "github", "1"), Now: t0})
		wantErr(t, "CancelLink of a complete link", s.CancelLink(t.Context(), done.ID, at), store.ErrLinkUsed)
		if got, _ := s.LinkByTokenHash(t.Context(), done.TokenHash); !got.CancelledAt.IsZero() {
			t.Errorf("a complete link reads as cancelled: %+v", got)
		}
	}},
	{fmt.Sprintf("CompleteLink: %d providers of one link completed at once spend it once", racers), func(t *testing.T, s store.Store) {
		providers := make([]string, racers)
		for i := range providers {
			providers[i] = fmt.Sprint("p", i)
		}
		l := createLink(t, s, newLink("raced", providers...))
		done := make([]store.Linked, racers)
		errs := race(racers, func(i int) error {
			var err error
			done[i], err = s.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Identity: linkOf(l, providers[i], "1"),
				Now: t0, Webhook: true})
			return err
		})
		completed := 0
		for i, err := range errs {
			if err != nil {
				t.Fatalf("racer %d: %v", i, err)
			}
			if done[i].LinkComplete {
				completed++
			}
		}
		if completed != 1 {
			t.Fatalf("%d racers completed the link, want exactly 1", completed)
		}
		n := 0
		for _, e := range outbox(t, s, "") {
			if e.Type == store.WebhookLinkCompleted {
				n++
				if len(e.Identities) != racers {
					t.Errorf("link.completed lists %d identities, want %d", len(e.Identities), racers)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d link.completed events, want 1", n)
		}
	}},
}

// CheckMigratedLinks is what a backend's migration test asserts after its connect migration:
// before it, the test stored two links of bot b, chat user c/u, at token hashes {1} (github,
// scopes [repo], open) and {2} (twitter, used at 1.5 s). They read back with their provider,
// scopes and use; the used one's provider counts as linked then.
func CheckMigratedLinks(t testing.TB, s store.Store) {
	t.Helper()
	open, err := s.LinkByTokenHash(t.Context(), []byte{1})
	if err != nil {
		t.Fatal(err)
	}
	used, err := s.LinkByTokenHash(t.Context(), []byte{2})
	if err != nil {
		t.Fatal(err)
	}
	if len(open.Providers) != 1 || open.Providers[0].Provider != "github" || !slices.Equal(open.Providers[0].Scopes, []string{"repo"}) ||
		!open.Providers[0].LinkedAt.IsZero() || !open.UsedAt.IsZero() || open.UserLabel != "" {
		t.Errorf("open link after the migration: %+v", open)
	}
	if len(used.Providers) != 1 || used.Providers[0].Provider != "twitter" || used.Providers[0].LinkedAt.UnixMilli() != 1500 ||
		used.UsedAt.UnixMilli() != 1500 || !used.CancelledAt.IsZero() {
		t.Errorf("used link after the migration: %+v", used)
	}
}
