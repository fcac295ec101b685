package broker_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestRefreshOnceUnderConcurrentReads: 200 bots' reads arrive together on a token about to
// expire. The provider sees exactly one refresh, and every read answers the new token.
func TestRefreshOnceUnderConcurrentReads(t *testing.T) {
	f := testenv.NewTokenFake(t, true)
	f.FirstTTL.Store(30) // expires within RefreshAhead: the first read must refresh
	b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").Gitlab(f.URL)}})
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	id := b.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U1")

	const readers = 200
	tokens := make([]string, readers)
	statuses := make([]int, readers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			<-start
			st, c, _, _ := b.CredentialsRaw("alpha", testenv.KeyA, id.ID)
			statuses[i], tokens[i] = st, c.AccessToken
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d reads in %s", readers, time.Since(began))

	if n := f.RefreshCalls.Load(); n != 1 {
		t.Fatalf("the provider saw %d refreshes, want exactly 1", n)
	}
	fresh := f.LastGrant(t)
	if fresh.GrantType != "refresh_token" {
		t.Fatalf("last grant %+v, want the refresh", fresh)
	}
	for i := range readers {
		if statuses[i] != http.StatusOK || tokens[i] != fresh.AccessToken {
			t.Fatalf("read %d: status %d, token %.12s…, want 200 and the refreshed token %.12s…", i, statuses[i], tokens[i], fresh.AccessToken)
		}
	}
	if r := f.Stats().Rejected; len(r) != 0 {
		t.Errorf("the provider rejected requests: %v", r)
	}
}

// TestRefreshRotationIsStored: a rotated refresh token is stored with its access token, and
// the old one is never presented again (the sandbox would take that for token theft and
// revoke the whole grant, which would fail the next refresh).
func TestRefreshRotationIsStored(t *testing.T) {
	clk := testenv.NewClock()
	f := testenv.NewTokenFake(t, true)
	b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").Gitlab(f.URL)}, App: app.Options{Now: clk.Now}})
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	id := b.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U1")
	first := f.LastGrant(t)

	if c := b.Credentials("alpha", testenv.KeyA, id.ID); c.AccessToken != first.AccessToken || f.RefreshCalls.Load() != 0 {
		t.Fatalf("a token valid for an hour was refreshed (%d refreshes)", f.RefreshCalls.Load())
	}
	for round := 1; round <= 3; round++ {
		clk.Advance(59*time.Minute + 30*time.Second) // 30 s before expiry: within RefreshAhead
		c := b.Credentials("alpha", testenv.KeyA, id.ID)
		g := f.LastGrant(t)
		if f.RefreshCalls.Load() != int64(round) || c.AccessToken != g.AccessToken {
			t.Fatalf("round %d: %d refreshes, token %.12s…, want the new %.12s…", round, f.RefreshCalls.Load(), c.AccessToken, g.AccessToken)
		}
		if c.ExpiresAt == nil {
			t.Fatalf("round %d: no expiry", round)
		}
		if exp, _ := time.Parse(time.RFC3339Nano, *c.ExpiresAt); exp.Sub(clk.Now()) < 59*time.Minute {
			t.Errorf("round %d: expires_at %s is not an hour after the refresh (%s)", round, *c.ExpiresAt, clk.Now())
		}
	}
	grants := f.Issued()
	for i := 1; i < len(grants); i++ {
		if grants[i].RefreshToken == grants[i-1].RefreshToken {
			t.Errorf("grant %d kept the refresh token: rotation is off?", i)
		}
	}
	if r := f.Stats().Rejected; len(r) != 0 {
		t.Fatalf("the provider rejected requests (an old refresh token reused?): %v", r)
	}
	evs, err := b.App.Store.Events(t.Context(), "alpha", id.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	if want := []string{"linked", "refreshed", "refreshed", "refreshed"}; !slices.Equal(kinds, want) {
		t.Errorf("history %v, want %v", kinds, want)
	}
}

// TestInvalidGrantMeansRelinkRequired: the provider refuses the refresh token. The identity
// becomes relink_required (once), credentials answer 409, the bot hears of it by webhook,
// require hands out a link, and linking again brings the identity back.
func TestInvalidGrantMeansRelinkRequired(t *testing.T) {
	f := testenv.NewTokenFake(t, false)
	f.FirstTTL.Store(30)
	rc := testenv.NewReceiver(t, "hook-secret-0123456789")
	b := testenv.Start(t, testenv.Config{
		Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").Webhook(rc.URL, rc.Secret).Gitlab(f.URL)},
		App:  app.Options{Webhooks: testenv.FastWebhooks},
	})
	b.RunBackground()
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	id := b.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U1")
	f.RefreshMode.Store(testenv.RefreshInvalidGrant)

	for range 3 {
		st, _, p, _ := b.CredentialsRaw("alpha", testenv.KeyA, id.ID)
		if st != http.StatusConflict || p.Code != "relink_required" {
			t.Fatalf("credentials: %d %+v, want 409 relink_required", st, p)
		}
	}
	if n := f.RefreshCalls.Load(); n != 1 {
		t.Errorf("%d refresh attempts, want 1: a refused grant is not asked again", n)
	}
	if ids := b.Identities("alpha", testenv.KeyA, "slack", "U1"); ids[0].Status != store.StatusRelinkRequired {
		t.Errorf("status %q", ids[0].Status)
	}
	got := rc.WaitDeliveries(t, 3, 5*time.Second)
	testenv.CheckDelivery(t, got[0], store.WebhookLinked)
	testenv.CheckDelivery(t, got[1], store.WebhookLinkCompleted)
	testenv.CheckDelivery(t, got[2], store.WebhookRelinkRequired)
	if r := got[2].Body; r.Reason != "invalid_grant" || r.Identity == nil || r.Identity.ID != id.ID || r.Identity.Status != store.StatusRelinkRequired {
		t.Errorf("relink_required event %+v", r)
	}

	var req testenv.RequireBody
	if st := b.API("POST", "/bots/alpha/require", testenv.KeyA, map[string]any{"channel": "slack", "user": "U1", "providers": []string{"gl"}}, &req); st != http.StatusOK {
		t.Fatalf("require: %d", st)
	}
	if req.Ready || len(req.Missing) != 1 || req.Missing[0].Reason != "relink_required" || req.Missing[0].URL == "" {
		t.Fatalf("require %+v, want a link with reason relink_required", req)
	}
	f.RefreshMode.Store(testenv.RefreshOK)
	f.FirstTTL.Store(0)
	if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), req.Missing[0].URL); st != http.StatusOK {
		t.Fatalf("relink: %d %s", st, page)
	}
	if c := b.Credentials("alpha", testenv.KeyA, id.ID); c.AccessToken != f.LastGrant(t).AccessToken {
		t.Error("after relinking, credentials are not the new token")
	}
	testenv.CheckDelivery(t, rc.WaitDeliveries(t, 4, 5*time.Second)[3], store.WebhookRelinked)
}

// TestTransientRefreshFailures: a refresh that fails with a 500 or gets no answer changes
// nothing stored; a read gets the old token while it is valid, and 503 with Retry-After once
// it has expired; the provider is not asked again until the back-off has passed.
func TestTransientRefreshFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode int32
	}{{"500", testenv.RefreshServerError}, {"timeout", testenv.RefreshHang}} {
		t.Run(tc.name, func(t *testing.T) {
			clk := testenv.NewClock()
			f := testenv.NewTokenFake(t, true)
			f.FirstTTL.Store(30)
			b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").Gitlab(f.URL)}, App: app.Options{Now: clk.Now, RefreshWait: 300 * time.Millisecond}})
			f.Register(t, b.URL+"/bots/alpha/gl/callback")
			id := b.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U1")
			first := f.LastGrant(t)
			before := tokenColumns(t, b.DBPath, id.ID)
			f.RefreshMode.Store(tc.mode)

			// Still valid for 30 s: the old token, twice, with one attempt at the provider.
			for range 2 {
				if st, c, p, _ := b.CredentialsRaw("alpha", testenv.KeyA, id.ID); st != http.StatusOK || c.AccessToken != first.AccessToken {
					t.Fatalf("valid token, refresh failing: %d %+v", st, p)
				}
			}
			if n := f.RefreshCalls.Load(); n != 1 {
				t.Errorf("%d refresh attempts during the back-off, want 1", n)
			}

			// Expired: never handed out.
			clk.Advance(31 * time.Second)
			st, _, p, retry := b.CredentialsRaw("alpha", testenv.KeyA, id.ID)
			if secs, err := strconv.Atoi(retry); st != http.StatusServiceUnavailable || p.Code != "refresh_unavailable" || err != nil || secs < 1 {
				t.Fatalf("expired token, refresh failing: %d %+v Retry-After %q, want 503 refresh_unavailable with Retry-After", st, p, retry)
			}
			if after := tokenColumns(t, b.DBPath, id.ID); after != before {
				t.Errorf("a failed refresh changed the stored token:\n%s\n%s", before, after)
			}

			// The provider recovers; after the back-off the next read refreshes.
			f.RefreshMode.Store(testenv.RefreshOK)
			clk.Advance(10 * time.Second)
			if st, c, p, _ := b.CredentialsRaw("alpha", testenv.KeyA, id.ID); st != http.StatusOK || c.AccessToken != f.LastGrant(t).AccessToken || c.AccessToken == first.AccessToken {
				t.Fatalf("after recovery: %d %+v", st, p)
			}
			if r := f.Stats().Rejected; len(r) != 0 {
				t.Errorf("the provider rejected requests: %v", r)
			}
		})
	}
}

// tokenColumns is an identity's stored token material, read from the file.
func tokenColumns(t testing.TB, dbPath string, id int64) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var access, refresh []byte
	var expires sql.NullInt64
	if err := db.QueryRow(`SELECT access_token, refresh_token, expires_at FROM identities WHERE id = ?`, id).Scan(&access, &refresh, &expires); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x %x %v", access, refresh, expires)
}
