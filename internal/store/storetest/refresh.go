package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// leaseFor is the lease end the suite's holders ask for: fifteen seconds, like a refresh call
// with its timeout and margin.
var leaseFor = 15 * time.Second

func acquire(t testing.TB, s store.Store, id int64, holder string, now time.Time) (store.Identity, store.RefreshLease) {
	t.Helper()
	got, lease, err := s.AcquireRefreshLease(t.Context(), bot, id, holder, now.Add(leaseFor), now)
	if err != nil {
		t.Fatalf("AcquireRefreshLease(%d, %s): %v", id, holder, err)
	}
	return got, lease
}

// storeRefreshedErr is StoreRefreshed's error, for writes whose result the test ignores.
func storeRefreshedErr(t testing.TB, s store.Store, p store.StoreRefreshedParams) error {
	_, err := s.StoreRefreshed(t.Context(), p)
	return err
}

func refreshed(id int64, holder string, now time.Time) store.StoreRefreshedParams {
	return store.StoreRefreshedParams{
		Bot: bot, IdentityID: id, Holder: holder,
		AccessToken: []byte("sealed-access-2"), RefreshToken: []byte("sealed-refresh-2"),
		ExpiresAt: now.Add(time.Hour), Now: now,
		Event: store.Event{Outcome: "ok", Detail: "refreshed", At: now},
	}
}

var refreshTests = []test{
	{"a free lease is acquired once and reported held to others", func(t *testing.T, s store.Store) {
		in, _ := linkAccount(t, s, account("gitlab", "1"), t0)
		got, lease := acquire(t, s, in.ID, "h1", t0)
		if !lease.Acquired || lease.TakenOver || !lease.Until.Equal(t0.Add(leaseFor)) || got.ID != in.ID || !sealedEqual(got.RefreshToken, in.RefreshToken) {
			t.Fatalf("first acquire: %+v, identity %+v", lease, got)
		}
		_, lease = acquire(t, s, in.ID, "h2", t0.Add(time.Second))
		if lease.Acquired || !lease.Until.Equal(t0.Add(leaseFor)) {
			t.Fatalf("second holder: %+v, want the lease held until %v", lease, t0.Add(leaseFor))
		}
		_, state, err := s.RefreshState(t.Context(), bot, in.ID, t0.Add(time.Second))
		if err != nil || state.Acquired || !state.Until.Equal(t0.Add(leaseFor)) {
			t.Fatalf("RefreshState: %+v, %v", state, err)
		}
	}},
	{"a lease whose holder died is taken over after it expires", func(t *testing.T, s store.Store) {
		in, _ := linkAccount(t, s, account("gitlab", "1"), t0)
		acquire(t, s, in.ID, "died", t0)
		later := t0.Add(leaseFor)
		if _, state, _ := s.RefreshState(t.Context(), bot, in.ID, later); !state.Until.IsZero() {
			t.Errorf("an expired lease reads as held until %v", state.Until)
		}
		if _, lease := acquire(t, s, in.ID, "next", later); !lease.Acquired || !lease.TakenOver {
			t.Fatalf("expired lease not taken over: %+v", lease)
		}
		_, err := s.StoreRefreshed(t.Context(), refreshed(in.ID, "died", later))
		wantErr(t, "StoreRefreshed by the dead holder", err, store.ErrLeaseLost)
		if err := s.ReleaseRefreshLease(t.Context(), store.ReleaseRefreshParams{Bot: bot, IdentityID: in.ID, Holder: "next"}); err != nil {
			t.Fatal(err)
		}
		if _, lease := acquire(t, s, in.ID, "after", later); !lease.Acquired || lease.TakenOver {
			t.Fatalf("a released lease reads as taken over: %+v", lease)
		}
	}},
	{"a refresh that outlived its lease still stores the tokens the provider rotated", func(t *testing.T, s store.Store) {
		// h1 asks the provider, which spends the stored refresh token; h1's lease runs out
		// before the answer is written and h2 takes it over. Nothing newer than h1's answer
		// exists, so it is stored, and h2 (about to present the spent token) loses the lease.
		in, _ := linkAccount(t, s, account("gitlab", "1"), t0)
		read, _ := acquire(t, s, in.ID, "h1", t0)
		later := t0.Add(leaseFor)
		if _, lease := acquire(t, s, in.ID, "h2", later); !lease.Acquired {
			t.Fatalf("h2: %+v, want the lease", lease)
		} else if !lease.TakenOver {
			t.Errorf("h2: %+v, want it marked taken over", lease)
		}
		late := refreshed(in.ID, "h1", later)
		late.PrevAccessToken, late.PrevRefreshToken = read.AccessToken, read.RefreshToken
		got, err := s.StoreRefreshed(t.Context(), late)
		if err != nil {
			t.Fatalf("StoreRefreshed by the holder that outlived its lease: %v", err)
		}
		want := in
		want.AccessToken, want.RefreshToken, want.ExpiresAt, want.UpdatedAt = late.AccessToken, late.RefreshToken, later.Add(time.Hour), later
		checkIdentity(t, got, want)

		// h2's lease ended with that write: whatever h2 learns from the spent token is dropped.
		wantErr(t, "StoreRefreshed by h2", storeRefreshedErr(t, s, refreshed(in.ID, "h2", later)), store.ErrLeaseLost)
		_, _, err = s.MarkRelinkRequired(t.Context(), store.RelinkRequiredParams{Bot: bot, IdentityID: in.ID, Holder: "h2",
			Event: store.Event{Outcome: "invalid_grant", At: later, Webhook: true}})
		wantErr(t, "MarkRelinkRequired by h2", err, store.ErrLeaseLost)
		err = s.ReleaseRefreshLease(t.Context(), store.ReleaseRefreshParams{Bot: bot, IdentityID: in.ID, Holder: "h2", RetryAt: later.Add(time.Minute)})
		wantErr(t, "ReleaseRefreshLease by h2", err, store.ErrLeaseLost)
		checkIdentity(t, getIdentity(t, s, in.ID), want)
		if kinds := eventKinds(events(t, s, in.ID)); !slices.Equal(kinds, []string{store.EventLinked, store.EventRefreshed}) {
			t.Errorf("events %v", kinds)
		}
		if evs := outbox(t, s, ""); len(evs) != 0 {
			t.Errorf("outbox %+v, want empty", evs)
		}
		if _, lease := acquire(t, s, in.ID, "next", later); !lease.Acquired || lease.TakenOver {
			t.Errorf("lease after the late write: %+v, want free", lease)
		}
	}},
	{"a refresh that outlived its lease loses to anything written meanwhile", func(t *testing.T, s store.Store) {
		for i, meanwhile := range []struct {
			name string
			do   func(t *testing.T, in store.Identity, at time.Time)
		}{
			{"the new holder stored a refresh", func(t *testing.T, in store.Identity, at time.Time) {
				p := refreshed(in.ID, "h2", at)
				p.AccessToken, p.RefreshToken = []byte("sealed-access-3"), []byte("sealed-refresh-3")
				if err := storeRefreshedErr(t, s, p); err != nil {
					t.Fatal(err)
				}
			}},
			{"the new holder stored a refresh that kept the refresh token", func(t *testing.T, in store.Identity, at time.Time) {
				p := refreshed(in.ID, "h2", at)
				p.AccessToken, p.RefreshToken = []byte("sealed-access-3"), nil
				if err := storeRefreshedErr(t, s, p); err != nil {
					t.Fatal(err)
				}
			}},
			{"the user linked the account again", func(t *testing.T, in store.Identity, at time.Time) {
				again := in
				again.AccessToken, again.RefreshToken = []byte("relinked-access"), []byte("relinked-refresh")
				linkAccount(t, s, again, at)
			}},
			{"the provider refused the new holder", func(t *testing.T, in store.Identity, at time.Time) {
				_, _, err := s.MarkRelinkRequired(t.Context(), store.RelinkRequiredParams{Bot: bot, IdentityID: in.ID, Holder: "h2",
					Event: store.Event{Outcome: "invalid_grant", At: at}})
				if err != nil {
					t.Fatal(err)
				}
			}},
			{"key rotation re-encrypted the tokens", func(t *testing.T, in store.Identity, at time.Time) {
				vs, err := s.SealedBatch(t.Context(), in.ID-1, 1)
				if err != nil || len(vs) != 1 || vs[0].IdentityID != in.ID {
					t.Fatalf("SealedBatch: %+v, %v", vs, err)
				}
				next := vs[0]
				next.AccessToken, next.RefreshToken = []byte("resealed-access"), []byte("resealed-refresh")
				if err := s.ReplaceSealed(t.Context(), vs[0], next); err != nil {
					t.Fatal(err)
				}
			}},
		} {
			t.Run(meanwhile.name, func(t *testing.T) {
				in, _ := linkAccount(t, s, account("gitlab", fmt.Sprint(i)), t0)
				read, _ := acquire(t, s, in.ID, "h1", t0)
				later := t0.Add(leaseFor)
				acquire(t, s, in.ID, "h2", later)
				meanwhile.do(t, in, later)
				before, kinds := getIdentity(t, s, in.ID), eventKinds(events(t, s, in.ID))

				late := refreshed(in.ID, "h1", later.Add(time.Second))
				late.PrevAccessToken, late.PrevRefreshToken = read.AccessToken, read.RefreshToken
				wantErr(t, "StoreRefreshed by the holder that outlived its lease", storeRefreshedErr(t, s, late), store.ErrLeaseLost)
				checkIdentity(t, getIdentity(t, s, in.ID), before)
				if after := eventKinds(events(t, s, in.ID)); !slices.Equal(after, kinds) {
					t.Errorf("events %v, want %v", after, kinds)
				}
			})
		}
	}},
	{fmt.Sprintf("of %d racers exactly one holds the lease, a free one or one that ran out", racers), func(t *testing.T, s store.Store) {
		in, _ := linkAccount(t, s, account("gitlab", "1"), t0)
		for round, now := range []time.Time{t0, t0.Add(leaseFor)} { // the second round takes over the first's winner
			won := make([]store.RefreshLease, racers)
			errs := race(racers, func(i int) error {
				_, lease, err := s.AcquireRefreshLease(t.Context(), bot, in.ID, fmt.Sprint("racer-", round, "-", i), now.Add(leaseFor), now)
				won[i] = lease
				return err
			})
			n := 0
			for i, err := range errs {
				if err != nil {
					t.Errorf("round %d, racer %d: %v", round, i, err)
				}
				if won[i].Acquired {
					n++
					if won[i].TakenOver != (round == 1) {
						t.Errorf("round %d: the winner's lease %+v", round, won[i])
					}
				}
			}
			if n != 1 {
				t.Fatalf("round %d: %d racers hold the lease, want 1", round, n)
			}
		}
	}},
	{"StoreRefreshed writes tokens, expiry and event and frees the lease", func(t *testing.T, s store.Store) {
		in, _ := linkAccount(t, s, account("gitlab", "1"), t0)
		now := t0.Add(59 * time.Minute)
		acquire(t, s, in.ID, "h", now)
		got, err := s.StoreRefreshed(t.Context(), refreshed(in.ID, "h", now))
		if err != nil {
			t.Fatal(err)
		}
		want := in
		want.AccessToken, want.RefreshToken, want.ExpiresAt, want.UpdatedAt = []byte("sealed-access-2"), []byte("sealed-refresh-2"), now.Add(time.Hour), now
		checkIdentity(t, got, want)
		checkIdentity(t, getIdentity(t, s, in.ID), want)
		if kinds := eventKinds(events(t, s, in.ID)); !slices.Equal(kinds, []string{store.EventLinked, store.EventRefreshed}) {
			t.Errorf("events %v", kinds)
		}
		if _, lease := acquire(t, s, in.ID, "next", now); !lease.Acquired {
			t.Error("lease still held after StoreRefreshed")
		}
	}},
	{"StoreRefreshed without a new refresh token keeps the stored one", func(t *testing.T, s store.Store) {
		in, _ := linkAccount(t, s, account("gitlab", "1"), t0)
		acquire(t, s, in.ID, "h", t0)
		p := refreshed(in.ID, "h", t0)
		p.RefreshToken = nil
		got, err := s.StoreRefreshed(t.Context(), p)
		if err != nil || !sealedEqual(got.RefreshToken, in.RefreshToken) || !sealedEqual(got.AccessToken, p.AccessToken) {
			t.Fatalf("got %+v, %v; want the old refresh token and the new access token", got, err)
		}
	}},
	{"a relink during a refresh makes the refresh lose its lease", func(t *testing.T, s store.Store) {
		in, _ := linkAccount(t, s, account("gitlab", "1"), t0)
		acquire(t, s, in.ID, "h", t0)
		again := account("gitlab", "1")
		again.AccessToken = []byte("relinked-access")
		linkAccount(t, s, again, t0.Add(time.Second))
		_, err := s.StoreRefreshed(t.Context(), refreshed(in.ID, "h", t0.Add(2*time.Second)))
		wantErr(t, "StoreRefreshed after a relink", err, store.ErrLeaseLost)
		if got := getIdentity(t, s, in.ID); string(got.AccessToken) != "relinked-access" {
			t.Errorf("access token %q, want the relinked one", got.AccessToken)
		}
	}},
	{"a release with a back-off keeps others out until it passes", func(t *testing.T, s store.Store) {
		in, _ := linkAccount(t, s, account("gitlab", "1"), t0)
		acquire(t, s, in.ID, "h", t0)
		err := s.ReleaseRefreshLease(t.Context(), store.ReleaseRefreshParams{Bot: bot, IdentityID: in.ID, Holder: "h",
			RetryAt: t0.Add(10 * time.Second),
			Event:   &store.Event{Kind: store.EventRefreshFailed, Outcome: "upstream_error", Detail: "HTTP 500", At: t0}})
		if err != nil {
			t.Fatal(err)
		}
		_, lease := acquire(t, s, in.ID, "h2", t0.Add(5*time.Second))
		if lease.Acquired || !lease.RetryAt.Equal(t0.Add(10*time.Second)) || !lease.Until.IsZero() {
			t.Fatalf("during the back-off: %+v", lease)
		}
		if _, lease := acquire(t, s, in.ID, "h2", t0.Add(10*time.Second)); !lease.Acquired {
			t.Fatalf("after the back-off: %+v", lease)
		}
		if kinds := eventKinds(events(t, s, in.ID)); !slices.Equal(kinds, []string{store.EventLinked, store.EventRefreshFailed}) {
			t.Errorf("events %v", kinds)
		}
		err = s.ReleaseRefreshLease(t.Context(), store.ReleaseRefreshParams{Bot: bot, IdentityID: in.ID, Holder: "h"})
		wantErr(t, "release by a former holder", err, store.ErrLeaseLost)
	}},
	{"MarkRelinkRequired changes an active identity once, with event and webhook", func(t *testing.T, s store.Store) {
		in, _ := linkAccount(t, s, account("gitlab", "1"), t0)
		acquire(t, s, in.ID, "h", t0)
		p := store.RelinkRequiredParams{Bot: bot, IdentityID: in.ID, Holder: "h",
			Event: store.Event{Outcome: "invalid_grant", Detail: "refused", At: t0.Add(time.Second), Webhook: true}}
		got, changed, err := s.MarkRelinkRequired(t.Context(), p)
		if err != nil || !changed || got.Status != store.StatusRelinkRequired || !got.UpdatedAt.Equal(t0.Add(time.Second)) {
			t.Fatalf("first: %+v %v %v", got, changed, err)
		}
		_, _, err = s.MarkRelinkRequired(t.Context(), p)
		wantErr(t, "again with the released lease", err, store.ErrLeaseLost)
		p.Holder = ""
		if _, changed, err := s.MarkRelinkRequired(t.Context(), p); err != nil || changed {
			t.Fatalf("again without a holder: changed %v, %v", changed, err)
		}
		if kinds := eventKinds(events(t, s, in.ID)); !slices.Equal(kinds, []string{store.EventLinked, store.EventRelinkRequired}) {
			t.Errorf("events %v", kinds)
		}
		evs := outbox(t, s, "")
		if len(evs) != 1 || evs[0].Type != store.WebhookRelinkRequired || evs[0].Reason != "invalid_grant" || evs[0].Status != store.StatusRelinkRequired {
			t.Errorf("outbox %+v", evs)
		}
		// A relink brings the identity back and clears the refresh state.
		back, _ := linkAccount(t, s, account("gitlab", "1"), t0.Add(time.Minute))
		if back.Status != store.StatusActive {
			t.Errorf("status after relink %q", back.Status)
		}
	}},
	{"lease methods of an unknown identity", func(t *testing.T, s store.Store) {
		_, _, err := s.AcquireRefreshLease(t.Context(), bot, 404, "h", t0.Add(leaseFor), t0)
		wantErr(t, "AcquireRefreshLease", err, store.ErrNotFound)
		_, _, err = s.RefreshState(t.Context(), bot, 404, t0)
		wantErr(t, "RefreshState", err, store.ErrNotFound)
		in, _ := linkAccount(t, s, account("gitlab", "1"), t0)
		_, _, err = s.AcquireRefreshLease(t.Context(), "otherbot", in.ID, "h", t0.Add(leaseFor), t0)
		wantErr(t, "AcquireRefreshLease of another bot", err, store.ErrNotFound)
		_, _, err = s.MarkRelinkRequired(t.Context(), store.RelinkRequiredParams{Bot: "otherbot", IdentityID: in.ID, Event: store.Event{At: t0}})
		wantErr(t, "MarkRelinkRequired of another bot", err, store.ErrNotFound)
	}},
}
