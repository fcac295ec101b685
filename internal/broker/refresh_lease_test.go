package broker_test

import (
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestRefreshThatOutlivesItsLease: a refresh whose lease runs out while the provider answers
// is taken over by the next read (here the broker's clock jumps past the lease; in production
// an instance whose clock runs ahead of the others', or a store write held up past the lease's
// margin). The provider rotates the refresh token for the first holder and refuses the second
// holder's copy, without revoking the grant. Whichever answer the broker learns first, and
// even when key rotation re-encrypted the identity in between, the rotated token is stored,
// no read is told to relink, and the next refresh presents the rotated token.
func TestRefreshThatOutlivesItsLease(t *testing.T) {
	for _, tc := range []struct {
		name         string
		refusalFirst bool // the second holder learns of the refusal before the first stores
		reseal       bool // the tokens are re-encrypted under a new key meanwhile
	}{
		{name: "the first holder stores first"},
		{name: "the refusal comes first", refusalFirst: true},
		{name: "key rotation re-encrypts in between", reseal: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := testenv.NewClock()
			f := testenv.NewTokenFake(t, true)
			f.ForgiveReuse.Store(true)
			b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").Gitlab(f.URL)}, App: app.Options{Now: clk.Now}})
			f.Register(t, b.URL+"/bots/alpha/gl/callback")
			id := b.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U1").ID
			linked := f.LastGrant(t)
			holds := make(chan testenv.HeldRefresh)
			f.Holds.Store(&holds)

			clk.Advance(59*time.Minute + 30*time.Second) // within RefreshAhead of the expiry
			first := readLater(b, id)
			h1 := nextHeld(t, holds)
			rotated := f.LastGrant(t) // the provider's answer to the first holder
			// Past the first holder's lease (15 s), not yet past the access token's expiry.
			clk.Advance(16 * time.Second)
			second := readLater(b, id)
			h2 := nextHeld(t, holds)
			if h1.Presented != linked.RefreshToken || h1.Status != http.StatusOK || rotated.RefreshToken == linked.RefreshToken ||
				h2.Presented != linked.RefreshToken || h2.Status != http.StatusBadRequest {
				t.Fatalf("the provider saw %+v then %+v; want the linked refresh token twice, rotated, then refused", h1, h2)
			}

			if tc.reseal {
				keysPath := filepath.Join(filepath.Dir(b.DBPath), "oauthbroker.keys.json")
				if _, err := seal.AddPrimaryKey(keysPath, time.Now()); err != nil {
					t.Fatal(err)
				}
				ring, err := testenv.ReadRing(keysPath)
				if err != nil {
					t.Fatal(err)
				}
				stats, err := broker.Reseal(t.Context(), b.App.Store, ring, 10)
				if err != nil || stats.Resealed != 2 {
					t.Fatalf("re-encryption: %+v, %v; want the access and refresh token re-encrypted", stats, err)
				}
			}

			want := map[string]string{"first": rotated.AccessToken, "second": rotated.AccessToken}
			if tc.refusalFirst {
				close(h2.Release)
				// The refusal may be the first holder's doing: not trusted yet, and the
				// stored token is still valid.
				want["second"] = linked.AccessToken
				checkRead(t, "second", <-second, want["second"])
				close(h1.Release)
				checkRead(t, "first", <-first, want["first"])
			} else {
				close(h1.Release)
				checkRead(t, "first", <-first, want["first"])
				close(h2.Release)
				checkRead(t, "second", <-second, want["second"])
			}

			// The next refresh presents the rotated token, and the grant lives on.
			clk.Advance(59*time.Minute + 30*time.Second)
			third := readLater(b, id)
			h3 := nextHeld(t, holds)
			close(h3.Release)
			if h3.Presented != rotated.RefreshToken || h3.Status != http.StatusOK {
				t.Fatalf("next refresh: %+v, want the rotated refresh token accepted", h3)
			}
			checkRead(t, "after", <-third, f.LastGrant(t).AccessToken)
			if ids := b.Identities("alpha", testenv.KeyA, "slack", "U1"); len(ids) != 1 || ids[0].Status != store.StatusActive {
				t.Errorf("identities %+v, want one, active", ids)
			}
			wantKinds := []string{store.EventLinked, store.EventRefreshed, store.EventRefreshed}
			if tc.refusalFirst {
				wantKinds = slices.Insert(wantKinds, 1, store.EventRefreshFailed)
			}
			evs, err := b.App.Store.Events(t.Context(), "alpha", id)
			if kinds := testenv.EventKinds(evs); err != nil || !slices.Equal(kinds, wantKinds) {
				t.Errorf("history %v, want %v", kinds, wantKinds)
			}
			if r := f.Stats().Rejected; len(r) != 0 {
				t.Errorf("the provider rejected requests: %v", r)
			}
		})
	}
}

// credentialsRead is what a credentials read answered.
type credentialsRead struct {
	status  int
	token   string
	problem testenv.ProblemBody
}

// readLater reads an identity's credentials in the background.
func readLater(b *testenv.Broker, id int64) <-chan credentialsRead {
	done := make(chan credentialsRead, 1)
	go func() {
		st, c, p, _ := b.CredentialsRaw("alpha", testenv.KeyA, id)
		done <- credentialsRead{st, c.AccessToken, p}
	}()
	return done
}

func checkRead(t *testing.T, which string, got credentialsRead, token string) {
	t.Helper()
	if got.status != http.StatusOK || got.token != token {
		t.Fatalf("%s read: %d %+v, token %.12s…; want 200 and %.12s…", which, got.status, got.problem, got.token, token)
	}
}

// nextHeld waits for the next refresh answer the fake holds.
func nextHeld(t *testing.T, holds chan testenv.HeldRefresh) testenv.HeldRefresh {
	t.Helper()
	select {
	case h := <-holds:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no refresh reached the provider")
		return testenv.HeldRefresh{}
	}
}
