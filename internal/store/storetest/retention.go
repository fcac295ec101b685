package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Retention (store.RetentionStore): purging what was spent or expired before a cutoff, and
// the lease one janitor at a time holds.

func purge(t testing.TB, s store.Store, table string, before time.Time, limit int) int64 {
	t.Helper()
	n, err := s.Purge(t.Context(), table, before, limit)
	if err != nil {
		t.Fatalf("Purge(%s): %v", table, err)
	}
	return n
}

// purgeAll purges table in batches of limit until a batch is empty, and returns every
// batch's count.
func purgeAll(t testing.TB, s store.Store, table string, before time.Time, limit int) []int64 {
	t.Helper()
	var batches []int64
	for range 100 {
		n := purge(t, s, table, before, limit)
		batches = append(batches, n)
		if n == 0 {
			return batches
		}
	}
	t.Fatalf("Purge(%s) never ran dry: %v", table, batches)
	return nil
}

// checkPurgedLinks checks that the gone links are purged and the kept ones are not.
func checkPurgedLinks(t testing.TB, s store.Store, gone, kept []store.Link) {
	t.Helper()
	for _, l := range gone {
		_, err := s.LinkByTokenHash(t.Context(), l.TokenHash)
		wantErr(t, "a purged link", err, store.ErrNotFound)
	}
	for _, l := range kept {
		if _, err := s.LinkByTokenHash(t.Context(), l.TokenHash); err != nil {
			t.Errorf("a link not past the cutoff is gone: %v", err)
		}
	}
}

var retentionTests = []test{
	{"links and flows spent or expired before the cutoff go, in batches; the rest and every identity stay", func(t *testing.T, s store.Store) {
		cutoff := t0
		mk := func(token string, expires, used time.Time) store.Link {
			l := newLink(token, "github")
			l.CreatedAt, l.ExpiresAt, l.UsedAt = cutoff.Add(-24*time.Hour), expires, used
			return createLink(t, s, l)
		}
		expired := mk("expired", cutoff.Add(-time.Millisecond), time.Time{})
		used := mk("used", cutoff.Add(time.Hour), cutoff.Add(-time.Millisecond))
		open := mk("open", cutoff.Add(time.Hour), time.Time{})
		usedAtCutoff := mk("used-at-cutoff", cutoff.Add(time.Hour), cutoff)
		linked, _ := linkAccount(t, s, account("github", "kept-1"), cutoff.Add(-48*time.Hour)) // its link is spent long ago

		flow := func(state string, l store.Link, created, expires time.Time) {
			if err := s.CreateFlow(t.Context(), store.Flow{StateHash: hash(state), LinkID: l.ID, CreatedAt: created, ExpiresAt: expires}); err != nil {
				t.Fatalf("CreateFlow %s: %v", state, err)
			}
		}
		flow("expired", open, cutoff.Add(-time.Hour), cutoff.Add(-time.Millisecond))
		flow("consumed", open, cutoff.Add(-time.Minute), cutoff.Add(time.Hour))
		if _, err := s.ConsumeFlow(t.Context(), hash("consumed"), cutoff.Add(-time.Millisecond)); err != nil {
			t.Fatalf("ConsumeFlow: %v", err)
		}
		flow("live", open, cutoff, cutoff.Add(time.Hour))
		flow("of-an-expired-link", expired, cutoff.Add(-time.Minute), cutoff.Add(time.Hour))

		if got := purgeAll(t, s, store.PurgeFlows, cutoff, 1); fmt.Sprint(got) != "[1 1 0]" {
			t.Errorf("flow batches %v, want [1 1 0]", got)
		}
		if got := purgeAll(t, s, store.PurgeLinks, cutoff, 2); fmt.Sprint(got) != "[2 1 0]" {
			t.Errorf("link batches %v, want [2 1 0] (expired, used, and the linked account's)", got)
		}
		checkPurgedLinks(t, s, []store.Link{expired, used}, []store.Link{open, usedAtCutoff})
		// The flow of the expired link went with it; the live flow stays usable.
		_, err := s.ConsumeFlow(t.Context(), hash("of-an-expired-link"), cutoff)
		wantErr(t, "the flow of a purged link", err, store.ErrNotFound)
		_, err = s.ConsumeFlow(t.Context(), hash("expired"), cutoff)
		wantErr(t, "a purged flow", err, store.ErrNotFound)
		if _, err := s.ConsumeFlow(t.Context(), hash("live"), cutoff); err != nil {
			t.Errorf("the live flow: %v", err)
		}
		// Identities and their history are never purged.
		getIdentity(t, s, linked.ID)
		if evs, err := s.Events(t.Context(), bot, linked.ID); err != nil || len(evs) != 1 {
			t.Errorf("history of an identity whose link was purged: %v %v", evs, err)
		}
	}},
	{"confirmations and admin sessions expired before the cutoff go; live ones stay", func(t *testing.T, s store.Store) {
		linkPending(t, s, "old", "111111", t0.Add(-time.Hour))    // its code expired 50 minutes ago
		linkPending(t, s, "live", "222222", t0.Add(-time.Minute)) // its code is good for 9 more
		if got := purgeAll(t, s, store.PurgeConfirmations, t0, 10); fmt.Sprint(got) != "[1 0]" {
			t.Errorf("confirmation batches %v, want [1 0]", got)
		}
		if _, err := confirm(t, s, "222222", t0); err != nil {
			t.Errorf("the live confirmation: %v", err)
		}

		a := s.(store.AdminStore)
		// (A login deletes the sessions expired at its own time: the old one is created last.)
		createSession(t, a, adminSession("live", t0.Add(-4*time.Hour), 5*time.Hour))
		createSession(t, a, adminSession("old", t0.Add(-3*time.Hour), time.Hour))
		if got := purgeAll(t, s, store.PurgeAdminSessions, t0, 10); fmt.Sprint(got) != "[1 0]" {
			t.Errorf("admin session batches %v, want [1 0]", got)
		}
		_, err := a.AdminSession(t.Context(), hash("session:old"))
		wantErr(t, "a purged session", err, store.ErrNotFound)
		if _, err := a.AdminSession(t.Context(), hash("session:live")); err != nil {
			t.Errorf("the live session: %v", err)
		}
	}},
	{"purging an unknown table, or without a limit, is an error", func(t *testing.T, s store.Store) {
		for _, c := range []struct {
			table string
			limit int
		}{{"identities", 10}, {"identity_events", 10}, {"webhook_outbox", 10}, {"", 10}, {store.PurgeLinks, 0}} {
			if _, err := s.Purge(t.Context(), c.table, t0, c.limit); err == nil {
				t.Errorf("Purge(%q, limit %d) succeeded", c.table, c.limit)
			}
		}
	}},
	{"a lease is held by one holder until it is released or its time passes", func(t *testing.T, s store.Store) {
		acquire := func(holder string, until, now time.Time) bool {
			t.Helper()
			ok, err := s.AcquireLease(t.Context(), "janitor", holder, until, now)
			if err != nil {
				t.Fatalf("AcquireLease(%s): %v", holder, err)
			}
			return ok
		}
		if !acquire("a", t0.Add(time.Minute), t0) {
			t.Fatal("a free lease was refused")
		}
		if acquire("b", t0.Add(time.Minute), t0.Add(30*time.Second)) {
			t.Fatal("b took a's live lease")
		}
		if !acquire("a", t0.Add(2*time.Minute), t0.Add(30*time.Second)) {
			t.Fatal("a could not renew its own lease")
		}
		if acquire("b", t0.Add(3*time.Minute), t0.Add(time.Minute+59*time.Second)) {
			t.Fatal("b took the lease before its renewed time passed")
		}
		if ok, err := s.AcquireLease(t.Context(), "other", "b", t0.Add(time.Minute), t0); err != nil || !ok {
			t.Fatalf("another lease name is separate: %v %v", ok, err)
		}
		if !acquire("b", t0.Add(3*time.Minute), t0.Add(2*time.Minute)) {
			t.Fatal("b could not take a lease whose time had passed")
		}
		if err := s.ReleaseLease(t.Context(), "janitor", "a"); err != nil { // a lost it: not an error, changes nothing
			t.Fatalf("ReleaseLease by a former holder: %v", err)
		}
		if acquire("a", t0.Add(3*time.Minute), t0.Add(2*time.Minute)) {
			t.Fatal("a's release of a lease it no longer held freed b's")
		}
		if err := s.ReleaseLease(t.Context(), "janitor", "b"); err != nil {
			t.Fatalf("ReleaseLease: %v", err)
		}
		if !acquire("a", t0.Add(3*time.Minute), t0.Add(2*time.Minute)) {
			t.Fatal("a released lease could not be taken")
		}
	}},
	{"of many racers for a free lease, exactly one gets it", func(t *testing.T, s store.Store) {
		const racers = 16
		var wg sync.WaitGroup
		won := make(chan string, racers)
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				holder := fmt.Sprintf("racer-%d", i)
				ok, err := s.AcquireLease(t.Context(), "janitor", holder, t0.Add(time.Minute), t0)
				if err != nil {
					t.Errorf("AcquireLease(%s): %v", holder, err)
				}
				if ok {
					won <- holder
				}
			}()
		}
		wg.Wait()
		close(won)
		if n := len(won); n != 1 {
			t.Errorf("%d racers hold the lease, want 1", n)
		}
	}},
}

// CheckPurgedLinksLeaveNothing is what a backend's test asserts, on a new store, about purging
// links; count answers a `SELECT count(*) …` on the backend's own tables. A purged link takes
// everything that belongs to it — its providers (link_providers), its flows and its
// confirmation codes — so no row is left pointing at it (which needs the database's foreign
// keys enforced on the connection Purge writes through). A cancelled link goes like a used
// one, since cancelling spends it. The accounts linked through a purged link stay.
func CheckPurgedLinksLeaveNothing(t *testing.T, s store.Store, count func(query string) int) {
	t.Helper()
	cutoff := t0
	long := cutoff.Add(-2 * time.Hour) // before the cutoff
	mk := func(token string, providers ...string) store.Link {
		l := newLink(token, providers...)
		l.CreatedAt, l.ExpiresAt = long.Add(-time.Minute), cutoff.Add(time.Hour) // not expired: spending is what counts
		return createLink(t, s, l)
	}
	cancel := func(l store.Link, at time.Time) {
		if err := s.CancelLink(t.Context(), l.ID, at); err != nil {
			t.Fatalf("CancelLink: %v", err)
		}
	}
	// Spent long ago: both providers linked, one code for the two accounts.
	done := mk("purge-done", "github", "twitter")
	code := &store.Confirmation{CodeHash: hash("code:purged"), ExpiresAt: long.Add(confirmTTL)}
	for _, p := range []string{"github", "twitter"} {
		in := linkOf(done, p, p+"-purged")
		in.Status = store.StatusPending
		completeLinked(t, s, store.CompleteLinkParams{LinkID: done.ID, Identity: in, Now: long, Confirmation: code})
	}
	// Cancelled long ago, with a sign-in started on it that neither expired nor ended: it goes
	// with its link only.
	cancelled := mk("purge-cancelled", "github")
	if err := s.CreateFlow(t.Context(), store.Flow{StateHash: hash("purge-cancelled"), LinkID: cancelled.ID,
		CreatedAt: long.Add(-time.Minute), ExpiresAt: cutoff.Add(time.Hour)}); err != nil {
		t.Fatalf("CreateFlow: %v", err)
	}
	cancel(cancelled, long)
	// Kept: a link cancelled at the cutoff, not before it, and an open one.
	keptCancelled := mk("kept-cancelled", "github")
	cancel(keptCancelled, cutoff)
	open := mk("kept-open", "github", "twitter")

	if got := purgeAll(t, s, store.PurgeLinks, cutoff, 10); fmt.Sprint(got) != "[2 0]" {
		t.Errorf("link batches %v, want [2 0] (the spent and the cancelled link)", got)
	}
	checkPurgedLinks(t, s, []store.Link{done, cancelled}, []store.Link{keptCancelled, open})
	for table, q := range map[string]string{
		"link_providers": `SELECT count(*) FROM link_providers WHERE link_id NOT IN (SELECT id FROM links)`,
		"flows":          `SELECT count(*) FROM flows WHERE link_id NOT IN (SELECT id FROM links)`,
		"confirmations":  `SELECT count(*) FROM confirmations WHERE link_id IS NOT NULL AND link_id NOT IN (SELECT id FROM links)`,
	} {
		if n := count(q); n != 0 {
			t.Errorf("%d rows of %s point at a purged link", n, table)
		}
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM link_providers`: 3, // the kept links'
		`SELECT count(*) FROM flows`:          0,
		`SELECT count(*) FROM confirmations`:  0,
	} {
		if n := count(q); n != want {
			t.Errorf("%s: %d, want %d", q, n, want)
		}
	}
	ids := listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: channel, User: user})
	if len(ids) != 2 || ids[0].Status != store.StatusPending || ids[1].Status != store.StatusPending {
		t.Errorf("the accounts linked through the purged link: %+v, want both kept, pending", ids)
	}
}
