package broker

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

// lifecycleBroker is a broker on an in-memory store with bot "b": a GitHub provider (no
// refresh) and a Spotify one (no revocation). No test here reaches a network.
func lifecycleBroker(t *testing.T, now func() time.Time) *Broker {
	t.Helper()
	cfg := &config.Config{
		Server: config.Server{PublicURL: "https://broker.test", OutboundTimeout: time.Second, LinkTTL: 10 * time.Minute, MaxLinkTTL: time.Hour},
		Bots: []*config.Bot{{Name: "b", APIKeys: []string{"key-0123456789abcdef"}, WebhookURL: "https://bot.test/hook", WebhookSecret: "hook-secret-0123456789",
			Providers: []*config.Provider{
				{Name: "gh", Type: "github", Key: "k", Secret: "s"},
				{Name: "sp", Type: "spotify", Key: "k", Secret: "s"},
			}}},
	}
	reg, err := providers.NewRegistry(t.Context(), cfg, providers.Options{HTTPClient: &http.Client{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, _, err := seal.GenerateKeys(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, reg, st, keys, Options{Now: now})
}

// storeIdentity links an account of provider directly in the store, tokens sealed as the
// callback seals them.
func storeIdentity(t *testing.T, b *Broker, provider string, expiresAt time.Time, refresh string) store.Identity {
	t.Helper()
	id := store.Identity{Bot: "b", Channel: "slack", User: "U1", Provider: provider, ProviderUserID: "42",
		Status: store.StatusActive, TokenType: "bearer", ExpiresAt: expiresAt}
	var err error
	if id.AccessToken, err = b.sealToken(id, "access_token", "at-"+provider); err != nil {
		t.Fatal(err)
	}
	if id.RefreshToken, err = b.sealToken(id, "refresh_token", refresh); err != nil {
		t.Fatal(err)
	}
	now := b.now()
	l, err := b.store.CreateLink(t.Context(), store.Link{TokenHash: tokenKey(randomToken(8)), Bot: "b",
		Providers: []store.LinkProvider{{Provider: provider}}, Channel: "slack", User: "U1", CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.store.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Identity: id, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return got.Identity
}

func TestExpiredTokenThatCannotBeRefreshed(t *testing.T) {
	now := time.Date(2031, 3, 14, 15, 0, 0, 0, time.UTC)
	b := lifecycleBroker(t, func() time.Time { return now })

	soon := storeIdentity(t, b, "gh", now.Add(30*time.Second), "")
	if c, err := b.Credentials(t.Context(), "b", soon.ID); err != nil || c.AccessToken != "at-gh" {
		t.Fatalf("a token 30 s from expiry that cannot be refreshed: %+v, %v; want it as it is", c, err)
	}

	now = now.Add(time.Minute)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() { _, errs[i] = b.Credentials(context.Background(), "b", soon.ID) })
	}
	wg.Wait()
	for i, err := range errs {
		if ErrorCode(err) != CodeRelinkRequired {
			t.Fatalf("read %d of an expired token: %v, want relink_required", i, err)
		}
	}
	evs, _ := b.store.Events(t.Context(), "b", soon.ID)
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind+"/"+e.Outcome)
	}
	if want := []string{"linked/ok", "relink_required/expired"}; !slices.Equal(kinds, want) {
		t.Errorf("history %v, want %v: one transition however many readers", kinds, want)
	}
	out, _ := b.store.OutboxEvents(t.Context(), store.OutboxQuery{Limit: 10})
	if len(out) != 1 || out[0].Type != store.WebhookRelinkRequired || out[0].Reason != "expired" {
		t.Errorf("outbox %+v, want one identity.relink_required", out)
	}
}

func TestUnlinkOfAProviderWithoutRevocation(t *testing.T) {
	b := lifecycleBroker(t, time.Now)
	id := storeIdentity(t, b, "sp", time.Now().Add(time.Hour), "rt-sp")
	if err := b.Unlink(t.Context(), "b", id.ID); err != nil {
		t.Fatal(err)
	}
	evs, _ := b.store.Events(t.Context(), "b", id.ID)
	last := evs[len(evs)-1]
	if last.Kind != store.EventUnlinked || last.Outcome != RevokeUnsupported || !strings.Contains(last.Detail, "offers no revocation") {
		t.Fatalf("event %+v", last)
	}
	if err := b.Unlink(t.Context(), "b", id.ID); ErrorCode(err) != CodeNotFound {
		t.Fatalf("second unlink: %v", err)
	}
}

func TestFallbackNeverHandsOutAnExpiredToken(t *testing.T) {
	now := time.Date(2031, 3, 14, 15, 0, 0, 0, time.UTC)
	b := lifecycleBroker(t, func() time.Time { return now })
	valid := store.Identity{ID: 1, ExpiresAt: now.Add(time.Millisecond)}
	if got, err := b.fallback(valid, time.Hour); err != nil || got.ID != 1 {
		t.Fatalf("still valid: %v", err)
	}
	for retryIn, want := range map[time.Duration]time.Duration{0: time.Second, 1500 * time.Millisecond: 2 * time.Second, 5 * time.Second: 5 * time.Second} {
		_, err := b.fallback(store.Identity{ID: 1, ExpiresAt: now}, retryIn)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeRefreshUnavailable || e.RetryAfter != want {
			t.Errorf("expired, retry in %s: %v, want refresh_unavailable after %s", retryIn, err, want)
		}
	}
}

func TestExpiryFollowsTheBrokersClock(t *testing.T) {
	later := time.Now().Add(100 * time.Hour)
	b := lifecycleBroker(t, func() time.Time { return later })
	got := b.expiry(time.Now().Add(time.Hour))
	if d := got.Sub(later); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("an hour-long token expires %s after the broker's now, want about an hour", d)
	}
	if !b.expiry(time.Time{}).IsZero() {
		t.Fatal("no expiry became one")
	}
	for _, tc := range []struct {
		left      time.Duration
		soon, exp bool
	}{{time.Hour, false, false}, {61 * time.Second, false, false}, {60 * time.Second, true, false}, {time.Millisecond, true, false}, {0, true, true}} {
		id := store.Identity{ExpiresAt: later.Add(tc.left)}
		if expiresSoon(id, later) != tc.soon || expired(id, later) != tc.exp {
			t.Errorf("%s left: soon %v expired %v", tc.left, expiresSoon(id, later), expired(id, later))
		}
	}
}
