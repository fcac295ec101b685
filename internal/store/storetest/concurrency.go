package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// racers is how many goroutines race for one single-use thing.
const racers = 50

// race runs fn in n goroutines released at once and returns their errors by index.
func race(n int, fn func(i int) error) []error {
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner fails unless exactly one of errs is nil and every other one is loser.
func oneWinner(t testing.TB, op string, errs []error, loser error) (winner int) {
	t.Helper()
	winner = -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("%s: racers %d and %d both succeeded", op, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, loser):
			t.Errorf("%s: racer %d: error %v, want %v", op, i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no racer succeeded", op)
	}
	return winner
}

var concurrencyTests = []test{
	{fmt.Sprintf("CreateLink: %d links made at once each get the id they read back by, beside failing ones", racers), func(t *testing.T, s store.Store) {
		// Writes made together may share a transaction (SQLite's writer loop runs them in one),
		// and every third racer repeats an earlier racer's token, so some of them fail among
		// the others: each link made must still come back with its own row's id.
		links := make([]store.Link, racers)
		errs := race(racers, func(i int) error {
			token := fmt.Sprint("together-", i)
			if i%3 == 2 {
				token = fmt.Sprint("together-", i-1)
			}
			l, err := s.CreateLink(t.Context(), newLink(token, "github"))
			links[i] = l
			return err
		})
		made := map[int64]int{}
		for i, err := range errs {
			if err != nil {
				if i%3 == 0 || !errors.Is(err, store.ErrConflict) {
					t.Fatalf("racer %d: %v", i, err)
				}
				continue
			}
			if other, ok := made[links[i].ID]; ok {
				t.Fatalf("racers %d and %d got the same link id %d", other, i, links[i].ID)
			}
			made[links[i].ID] = i
			read, err := s.LinkByTokenHash(t.Context(), links[i].TokenHash)
			if err != nil {
				t.Fatalf("racer %d: LinkByTokenHash: %v", i, err)
			}
			if read.ID != links[i].ID {
				t.Fatalf("racer %d: CreateLink returned id %d, the link reads back as %d", i, links[i].ID, read.ID)
			}
		}
		if want := racers - racers/3; len(made) != want {
			t.Fatalf("%d links made, want %d (one of each pair sharing a token)", len(made), want)
		}
	}},
	{fmt.Sprintf("ConsumeFlow: one of %d racers wins", racers), func(t *testing.T, s store.Store) {
		f, _ := newFlow(t, s, "a")
		errs := race(racers, func(int) error {
			_, err := s.ConsumeFlow(t.Context(), f.StateHash, t0.Add(time.Minute))
			return err
		})
		oneWinner(t, "ConsumeFlow", errs, store.ErrFlowConsumed)
	}},
	{fmt.Sprintf("IdentityTokens: %d reads at once each get their own answer", racers), func(t *testing.T, s store.Store) {
		// A store may answer reads made together with one query (PostgreSQL's does). Each read
		// must still get its own identity, whole and in bytes of its own; another bot's
		// identity and an unknown id stay not found, whatever is read beside them.
		ids := make([]store.Identity, 10)
		for i := range ids {
			ids[i], _ = linkAccount(t, s, account("github", fmt.Sprint("together-", i)), t0)
		}
		unknown := ids[len(ids)-1].ID + 1000
		got := make([]store.Identity, racers)
		errs := race(racers, func(i int) error {
			var err error
			switch i % 5 {
			case 3:
				_, err = s.IdentityTokens(t.Context(), "otherbot", ids[i%len(ids)].ID)
			case 4:
				_, err = s.IdentityTokens(t.Context(), bot, unknown)
			default:
				got[i], err = s.IdentityTokens(t.Context(), bot, ids[i%len(ids)].ID)
			}
			return err
		})
		for i, err := range errs {
			if i%5 >= 3 {
				wantErr(t, fmt.Sprint("racer ", i, ": IdentityTokens of another bot's identity or an unknown id"), err, store.ErrNotFound)
				continue
			}
			if err != nil {
				t.Fatalf("racer %d: IdentityTokens: %v", i, err)
			}
		}
		for i := range got {
			if i%5 < 3 {
				got[i].AccessToken[0] ^= 0xff // each caller's bytes are its own to change
			}
		}
		for i := range got {
			if i%5 >= 3 {
				continue
			}
			got[i].AccessToken[0] ^= 0xff
			stored := ids[i%len(ids)]
			checkIdentity(t, got[i], store.Identity{
				ID: stored.ID, Bot: stored.Bot, Channel: stored.Channel, User: stored.User,
				Provider: stored.Provider, ProviderUserID: stored.ProviderUserID, Status: stored.Status,
				AccessToken: stored.AccessToken, RefreshToken: stored.RefreshToken,
				TokenType: stored.TokenType, ExpiresAt: stored.ExpiresAt,
			})
		}
	}},
	{fmt.Sprintf("CompleteLink: one of %d racers wins and one identity exists", racers), func(t *testing.T, s store.Store) {
		l := createLink(t, s, newLink("a", "github"))
		ids := make([]store.Identity, racers)
		errs := race(racers, func(i int) error {
			// Each racer brings another account, so a second winner would show as a second identity.
			got, err := s.CompleteLink(t.Context(), store.CompleteLinkParams{
				LinkID: l.ID, Identity: newIdentity(l, fmt.Sprint(i)), Now: t0.Add(time.Minute),
			})
			ids[i] = got.Identity
			return err
		})
		w := oneWinner(t, "CompleteLink", errs, store.ErrLinkUsed)
		got := listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: channel, User: user})
		if len(got) != 1 || got[0].ID != ids[w].ID || got[0].ProviderUserID != fmt.Sprint(w) {
			t.Fatalf("identities %+v, want only the winner's (racer %d, identity %d)", got, w, ids[w].ID)
		}
		if kinds := eventKinds(events(t, s, ids[w].ID)); !slices.Equal(kinds, []string{store.EventLinked}) {
			t.Errorf("events %v, want [linked]", kinds)
		}
	}},
	{fmt.Sprintf("CompleteLink: %d links of one account completing at once make one identity", racers), func(t *testing.T, s store.Store) {
		// Each racer is a different link (say, on another broker instance) bringing back the
		// same account: the account is linked once and relinked by the others, never a
		// conflict and never a second identity.
		ids := make([]store.Identity, racers)
		errs := race(racers, func(i int) error {
			l, err := s.CreateLink(t.Context(), newLink(fmt.Sprint("same-account-", i), "github"))
			if err != nil {
				return err
			}
			got, err := s.CompleteLink(t.Context(), store.CompleteLinkParams{
				LinkID: l.ID, Identity: newIdentity(l, "583231"), Now: t0.Add(time.Minute),
			})
			ids[i] = got.Identity
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("racer %d: %v", i, err)
			}
			if ids[i].ID != ids[0].ID {
				t.Fatalf("racers %d and 0 got identities %d and %d", i, ids[i].ID, ids[0].ID)
			}
		}
		if got := listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: channel, User: user}); len(got) != 1 {
			t.Fatalf("%d identities, want 1", len(got))
		}
		kinds := eventKinds(events(t, s, ids[0].ID))
		if len(kinds) != racers || kinds[0] != store.EventLinked || slices.Contains(kinds[1:], store.EventLinked) {
			t.Errorf("events %v, want one linked and %d relinked", kinds, racers-1)
		}
	}},
	{fmt.Sprintf("Confirm: one of %d racers with the right code wins", racers), func(t *testing.T, s store.Store) {
		linkPending(t, s, "1", "code:123456", t0)
		errs := race(racers, func(int) error {
			_, err := confirm(t, s, "code:123456", t0.Add(time.Minute))
			return err
		})
		oneWinner(t, "Confirm", errs, store.ErrNotFound)
	}},
	{fmt.Sprintf("Confirm: %d racing wrong codes are all counted", racers), func(t *testing.T, s store.Store) {
		linkPending(t, s, "1", "code:123456", t0)
		p := confirmParams(hash("code:wrong"), t0.Add(time.Minute))
		p.MaxAttempts = racers
		errs := race(racers, func(int) error {
			_, err := s.Confirm(t.Context(), p)
			return err
		})
		for i, err := range errs {
			wantErr(t, fmt.Sprintf("racer %d", i), err, store.ErrWrongCode)
		}
		// A lost update would leave the confirmation live.
		p.CodeHash = hash("code:123456")
		_, err := s.Confirm(t.Context(), p)
		wantErr(t, "Confirm after the race", err, store.ErrNotFound)
	}},
}
