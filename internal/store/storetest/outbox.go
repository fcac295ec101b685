package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// outbox lists the outbox oldest first (state "" for every state).
func outbox(t testing.TB, s store.Store, state string) []store.OutboxEvent {
	t.Helper()
	evs, err := s.OutboxEvents(t.Context(), store.OutboxQuery{State: state, Limit: 500})
	if err != nil {
		t.Fatalf("OutboxEvents: %v", err)
	}
	slices.Reverse(evs)
	return evs
}

func claim(t testing.TB, s store.Store, holder string, now time.Time, limit int) []store.OutboxEvent {
	t.Helper()
	evs, err := s.ClaimDue(t.Context(), holder, now, now.Add(30*time.Second), limit)
	if err != nil {
		t.Fatalf("ClaimDue: %v", err)
	}
	return evs
}

func types(evs []store.OutboxEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%s#%d", e.Type, e.IdentityID)
	}
	return out
}

// linkNotified links in with a webhook, as the broker does for a bot with a webhook_url: the
// outbox gets identity.linked (or relinked) and, as the link had one provider, link.completed.
func linkNotified(t testing.TB, s store.Store, in store.Identity, now time.Time) store.Identity {
	t.Helper()
	l := newLink(fmt.Sprint(now.UnixNano(), in.ProviderUserID), in.Provider)
	l = createLink(t, s, l)
	got, _ := completeLink(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: in, Now: now, Webhook: true})
	return got
}

var outboxTests = []test{
	{"an unlinked identity's id is never given to another account", func(t *testing.T, s store.Store) {
		a, _ := linkAccount(t, s, account("github", "1"), t0)
		b, _ := linkAccount(t, s, account("github", "2"), t0)
		if err := s.DeleteIdentity(t.Context(), bot, b.ID, store.Event{At: t0}); err != nil {
			t.Fatal(err)
		}
		c, _ := linkAccount(t, s, account("github", "3"), t0)
		if c.ID == a.ID || c.ID == b.ID {
			t.Fatalf("ids %d, %d, then %d: an id was reused", a.ID, b.ID, c.ID)
		}
		if kinds := eventKinds(events(t, s, c.ID)); !slices.Equal(kinds, []string{store.EventLinked}) {
			t.Errorf("the new identity's history %v holds another account's events", kinds)
		}
	}},
	{"every change with Webhook enqueues its event in order; without it none", func(t *testing.T, s store.Store) {
		quiet, _ := linkAccount(t, s, account("github", "0"), t0)
		a := linkNotified(t, s, account("github", "1"), t0.Add(time.Second))
		linkNotified(t, s, account("github", "1"), t0.Add(2*time.Second))
		pending := account("github", "2")
		pending.Status = store.StatusPending
		l := createLink(t, s, newLink("p", "github"))
		b, _ := completeLink(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: pending, Now: t0.Add(3 * time.Second), Webhook: true,
			Confirmation: &store.Confirmation{CodeHash: hash("code:1"), ExpiresAt: t0.Add(time.Hour)}})
		p := confirmParams(hash("code:1"), t0.Add(4*time.Second))
		p.Webhook = true
		if _, err := s.Confirm(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteIdentity(t.Context(), bot, a.ID, store.Event{Outcome: "revoked", At: t0.Add(5 * time.Second), Webhook: true}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteIdentity(t.Context(), bot, quiet.ID, store.Event{At: t0.Add(6 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		evs := outbox(t, s, "")
		ida, idb := fmt.Sprint(a.ID), fmt.Sprint(b.ID)
		want := []string{"identity.linked#" + ida, "link.completed#" + ida, "identity.relinked#" + ida, "link.completed#" + ida,
			"identity.linked#" + idb, "identity.confirmed#" + idb, "link.completed#" + idb, "identity.unlinked#" + ida}
		if got := types(evs); !slices.Equal(got, want) {
			t.Fatalf("outbox %v, want %v", got, want)
		}
		e := evs[0]
		if !strings.HasPrefix(e.EventID, "evt_") || e.Bot != bot || e.Channel != channel || e.User != user || e.Provider != "github" ||
			e.ProviderUserID != "1" || e.Status != store.StatusActive || e.State != store.OutboxPending || e.Attempts != 0 ||
			!e.CreatedAt.Equal(t0.Add(time.Second)) || !e.NextAttemptAt.Equal(e.CreatedAt) {
			t.Errorf("first event %+v", e)
		}
		if evs[4].Status != store.StatusPending || evs[5].Status != store.StatusActive {
			t.Errorf("statuses %q, %q: want pending at link, active at confirm", evs[4].Status, evs[5].Status)
		}
		ids := map[string]bool{}
		for _, e := range evs {
			ids[e.EventID] = true
		}
		if len(ids) != len(evs) {
			t.Error("event ids repeat")
		}
	}},
	{"a failed change enqueues nothing", func(t *testing.T, s store.Store) {
		l := createLink(t, s, newLink("a", "github"))
		completeLink(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: newIdentity(l, "1"), Now: t0, Webhook: true})
		_, err := s.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Identity: newIdentity(l, "2"), Now: t0, Webhook: true})
		wantErr(t, "CompleteLink of a used link", err, store.ErrLinkUsed)
		err = s.DeleteIdentity(t.Context(), bot, 404, store.Event{At: t0, Webhook: true})
		wantErr(t, "DeleteIdentity of nothing", err, store.ErrNotFound)
		if n := len(outbox(t, s, "")); n != 2 {
			t.Fatalf("%d events, want only the first link's two", n)
		}
	}},
	{"ClaimDue keeps one identity's events in order and skips claimed and future ones", func(t *testing.T, s store.Store) {
		a := linkNotified(t, s, account("github", "1"), t0)
		linkNotified(t, s, account("github", "1"), t0.Add(time.Second)) // a's third and fourth events
		b := linkNotified(t, s, account("github", "2"), t0.Add(2*time.Second))
		ida, idb := fmt.Sprint(a.ID), fmt.Sprint(b.ID)
		got := claim(t, s, "w1", t0.Add(time.Minute), 10)
		if want := []string{"identity.linked#" + ida, "identity.linked#" + idb}; !slices.Equal(types(got), want) {
			t.Fatalf("first claim %v, want %v", types(got), want)
		}
		if again := claim(t, s, "w2", t0.Add(time.Minute), 10); len(again) != 0 {
			t.Fatalf("claimed twice: %v", types(again))
		}
		// a's first event fails and backs off: its next ones must wait behind it; b's next one
		// follows its delivered first.
		if err := s.MarkFailed(t.Context(), got[0].ID, "w1", t0.Add(2*time.Minute), "HTTP 500"); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkDelivered(t.Context(), got[1].ID, "w1", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		bNext := claim(t, s, "w2", t0.Add(time.Minute), 10)
		if want := []string{"link.completed#" + idb}; !slices.Equal(types(bNext), want) {
			t.Fatalf("during a's back-off: %v, want %v", types(bNext), want)
		}
		if err := s.MarkDelivered(t.Context(), bNext[0].ID, "w2", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if again := claim(t, s, "w2", t0.Add(time.Minute), 10); len(again) != 0 {
			t.Fatalf("claimed during the back-off or out of order: %v", types(again))
		}
		retry := claim(t, s, "w2", t0.Add(2*time.Minute), 10)
		if len(retry) != 1 || retry[0].ID != got[0].ID || retry[0].Attempts != 1 || retry[0].LastError != "HTTP 500" {
			t.Fatalf("retry %+v", retry)
		}
		err := s.MarkDelivered(t.Context(), retry[0].ID, "w1", t0.Add(2*time.Minute))
		wantErr(t, "MarkDelivered by a former holder", err, store.ErrLeaseLost)
		if err := s.MarkDead(t.Context(), retry[0].ID, "w2", t0.Add(2*time.Minute), "gave up"); err != nil {
			t.Fatal(err)
		}
		// Dead is final, and no longer holds the identity's next event back.
		next := claim(t, s, "w2", t0.Add(2*time.Minute), 10)
		if want := []string{"link.completed#" + ida}; !slices.Equal(types(next), want) {
			t.Fatalf("after the dead event: %v, want %v", types(next), want)
		}
		dead := outbox(t, s, store.OutboxDead)
		if len(dead) != 1 || dead[0].Attempts != 2 || dead[0].LastError != "gave up" {
			t.Errorf("dead %+v", dead)
		}
		delivered := outbox(t, s, store.OutboxDelivered)
		if len(delivered) != 2 || delivered[0].ID != got[1].ID || !delivered[0].DeliveredAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("delivered %+v", delivered)
		}
	}},
	{"a claim whose holder died is taken over after it expires", func(t *testing.T, s store.Store) {
		linkNotified(t, s, account("github", "1"), t0)
		if got := claim(t, s, "died", t0, 1); len(got) != 1 {
			t.Fatal("nothing to claim")
		}
		if got := claim(t, s, "next", t0.Add(29*time.Second), 1); len(got) != 0 {
			t.Fatal("claimed while the first claim was live")
		}
		if got := claim(t, s, "next", t0.Add(30*time.Second), 1); len(got) != 1 {
			t.Fatal("an expired claim was not taken over")
		}
	}},
	{fmt.Sprintf("%d racing claimers claim every event once", racers), func(t *testing.T, s store.Store) {
		for i := range 20 {
			linkNotified(t, s, account("github", fmt.Sprint(i)), t0)
		}
		claimed := make([][]store.OutboxEvent, racers)
		errs := race(racers, func(i int) error {
			var err error
			claimed[i], err = s.ClaimDue(t.Context(), fmt.Sprint("w", i), t0, t0.Add(time.Minute), 3)
			return err
		})
		seen := map[int64]bool{}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("claimer %d: %v", i, err)
			}
			for _, e := range claimed[i] {
				if seen[e.ID] {
					t.Errorf("event %d claimed twice", e.ID)
				}
				seen[e.ID] = true
			}
		}
		if len(seen) != 20 {
			t.Errorf("%d events claimed, want 20", len(seen))
		}
	}},
	{"OutboxEvents filters and pages; PruneOutbox drops old delivered events only", func(t *testing.T, s store.Store) {
		for i := range 3 {
			linkNotified(t, s, account("github", fmt.Sprint(i)), t0)
		}
		all := outbox(t, s, "") // each link: identity.linked, link.completed
		got := claim(t, s, "w", t0, 3)
		if err := s.MarkDelivered(t.Context(), got[0].ID, "w", t0); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkDead(t.Context(), got[1].ID, "w", t0, "gave up"); err != nil {
			t.Fatal(err)
		}
		page, err := s.OutboxEvents(t.Context(), store.OutboxQuery{Limit: 2})
		if err != nil || len(all) != 6 || len(page) != 2 || page[0].ID != all[5].ID || page[1].ID != all[4].ID {
			t.Fatalf("first page %+v, %v", page, err)
		}
		rest, err := s.OutboxEvents(t.Context(), store.OutboxQuery{BeforeID: page[1].ID, Limit: 2})
		if err != nil || len(rest) != 2 || rest[0].ID != all[3].ID || rest[1].ID != all[2].ID {
			t.Fatalf("second page %+v, %v", rest, err)
		}
		if dead := outbox(t, s, store.OutboxDead); len(dead) != 1 || dead[0].ID != got[1].ID {
			t.Fatalf("dead %+v", dead)
		}
		if other, _ := s.OutboxEvents(t.Context(), store.OutboxQuery{Bot: "otherbot", Limit: 10}); len(other) != 0 {
			t.Errorf("another bot's events: %+v", other)
		}
		if _, err := s.OutboxEvents(t.Context(), store.OutboxQuery{Limit: 0}); err == nil {
			t.Error("limit 0 accepted")
		}
		n, err := s.PruneOutbox(t.Context(), t0)
		if err != nil || n != 0 {
			t.Fatalf("prune before the delivery: %d, %v", n, err)
		}
		n, err = s.PruneOutbox(t.Context(), t0.Add(time.Millisecond))
		if err != nil || n != 1 {
			t.Fatalf("prune: %d, %v", n, err)
		}
		if left := outbox(t, s, ""); len(left) != 5 {
			t.Errorf("left %+v", left)
		}
	}},
}
