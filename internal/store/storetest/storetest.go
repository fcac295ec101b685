// Package storetest is the conformance suite every store.Store implementation passes: each
// method, its documented errors, the single-use rules under concurrency and the exact
// round-trip of what the broker stores.
//
// It imports only package store; a backend's own tests call Run.
package storetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Run exercises every store.Store method against a fresh store from newStore for each
// subtest. newStore must return an empty store and arrange its Close with t.Cleanup.
// Subtests run one after another, so a backend may reuse one database between them.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Links", linkTests},
		{"Flows", flowTests},
		{"CompleteLink", completeLinkTests},
		{"Connect", connectTests}, // connect.go: links of several providers, one code, cancel
		{"Identities", identityTests},
		{"DeleteIdentity", deleteTests},
		{"Confirm", confirmTests},
		{"Concurrency", concurrencyTests},
		{"RoundTrip", roundTripTests},
		{"Admin", adminTests},                // store.AdminStore: admin.go
		{"AdminSessions", adminSessionTests}, // admin_sessions.go
		{"RefreshLease", refreshTests},
		{"Outbox", outboxTests},
		{"Sealed", sealedTests},
		{"Operations", operationsTests}, // operations.go: abuse limits and readiness
		{"Usage", usageTests},           // usage.go: the API proxy's call counts
		{"Retention", retentionTests},   // retention.go: purging and the janitor's lease
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
			}
		})
	}
	t.Run("Ping", func(t *testing.T) {
		if err := newStore(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}

type test struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// t0 is the suite's "now": a millisecond-precise instant, so stores may truncate below that.
var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 535_000_000, time.UTC)

const (
	bot     = "supportbot"
	channel = "slack"
	user    = "U024BE7LH"
)

// hash stands in for the SHA-256 the broker stores of tokens, states and codes.
func hash(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// newLink is an unused link of the suite's chat user for the providers (each asking for
// read:user), valid for ten minutes.
func newLink(token string, providers ...string) store.Link {
	l := store.Link{
		TokenHash: hash("link:" + token),
		Bot:       bot, Channel: channel, User: user,
		CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
	}
	for _, p := range providers {
		l.Providers = append(l.Providers, store.LinkProvider{Provider: p, Scopes: []string{"read:user"}})
	}
	return l
}

// newIdentity is the identity a callback builds for link l's first provider and the
// provider's account id.
func newIdentity(l store.Link, providerUserID string) store.Identity {
	return store.Identity{
		Bot: l.Bot, Channel: l.Channel, User: l.User, Provider: l.Providers[0].Provider,
		ProviderUserID: providerUserID,
		Name:           "Ada Lovelace", NickName: "ada", Email: "ada@example.com",
		AvatarURL:    "https://avatars.example/ada.png",
		Status:       store.StatusActive,
		Scopes:       []string{"read:user", "repo"},
		AccessToken:  []byte("sealed-access-" + providerUserID),
		RefreshToken: []byte("sealed-refresh-" + providerUserID),
		TokenType:    "bearer",
		ExpiresAt:    t0.Add(time.Hour),
	}
}

// account is the suite's chat user's account providerUserID at provider.
func account(provider, providerUserID string) store.Identity {
	return newIdentity(newLink("", provider), providerUserID)
}

func createLink(t testing.TB, s store.Store, l store.Link) store.Link {
	t.Helper()
	got, err := s.CreateLink(t.Context(), l)
	if err != nil {
		t.Fatalf("CreateLink: %v", err)
	}
	return got
}

// linkAccount creates a link for in's chat user and provider and completes it with in at now.
func linkAccount(t testing.TB, s store.Store, in store.Identity, now time.Time) (store.Identity, bool) {
	t.Helper()
	l := newLink(rand.Text(), in.Provider)
	l.Bot, l.Channel, l.User = in.Bot, in.Channel, in.User
	l = createLink(t, s, l)
	return completeLink(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: in, Now: now})
}

func completeLink(t testing.TB, s store.Store, p store.CompleteLinkParams) (store.Identity, bool) {
	t.Helper()
	got := completeLinked(t, s, p)
	return got.Identity, got.Created
}

func completeLinked(t testing.TB, s store.Store, p store.CompleteLinkParams) store.Linked {
	t.Helper()
	got, err := s.CompleteLink(t.Context(), p)
	if err != nil {
		t.Fatalf("CompleteLink: %v", err)
	}
	return got
}

func getIdentity(t testing.TB, s store.Store, id int64) store.Identity {
	t.Helper()
	got, err := s.Identity(t.Context(), bot, id)
	if err != nil {
		t.Fatalf("Identity(%d): %v", id, err)
	}
	return got
}

func listIdentities(t testing.TB, s store.Store, q store.IdentityQuery) []store.Identity {
	t.Helper()
	got, err := s.Identities(t.Context(), q)
	if err != nil {
		t.Fatalf("Identities(%+v): %v", q, err)
	}
	return got
}

func events(t testing.TB, s store.Store, id int64) []store.Event {
	t.Helper()
	got, err := s.Events(t.Context(), bot, id)
	if err != nil {
		t.Fatalf("Events(%d): %v", id, err)
	}
	return got
}

// eventKinds is the kinds of evs in order, for short comparisons.
func eventKinds(evs []store.Event) []string {
	kinds := make([]string, len(evs))
	for i, e := range evs {
		kinds[i] = e.Kind
	}
	return kinds
}

func wantErr(t testing.TB, op string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", op, err, want)
	}
}

// checkIdentity reports every field in which got differs from want.
func checkIdentity(t testing.TB, got, want store.Identity) {
	t.Helper()
	var diffs []string
	field := func(name string, equal bool, g, w any) {
		if !equal {
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	field("ID", got.ID == want.ID, got.ID, want.ID)
	field("Bot", got.Bot == want.Bot, got.Bot, want.Bot)
	field("Channel", got.Channel == want.Channel, got.Channel, want.Channel)
	field("User", got.User == want.User, got.User, want.User)
	field("Provider", got.Provider == want.Provider, got.Provider, want.Provider)
	field("ProviderUserID", got.ProviderUserID == want.ProviderUserID, got.ProviderUserID, want.ProviderUserID)
	field("Name", got.Name == want.Name, got.Name, want.Name)
	field("NickName", got.NickName == want.NickName, got.NickName, want.NickName)
	field("Email", got.Email == want.Email, got.Email, want.Email)
	field("AvatarURL", got.AvatarURL == want.AvatarURL, got.AvatarURL, want.AvatarURL)
	field("Status", got.Status == want.Status, got.Status, want.Status)
	field("Scopes", slices.Equal(got.Scopes, want.Scopes), got.Scopes, want.Scopes)
	field("AccessToken", sealedEqual(got.AccessToken, want.AccessToken), got.AccessToken, want.AccessToken)
	field("AccessTokenSecret", sealedEqual(got.AccessTokenSecret, want.AccessTokenSecret), got.AccessTokenSecret, want.AccessTokenSecret)
	field("RefreshToken", sealedEqual(got.RefreshToken, want.RefreshToken), got.RefreshToken, want.RefreshToken)
	field("TokenType", got.TokenType == want.TokenType, got.TokenType, want.TokenType)
	field("ExpiresAt", got.ExpiresAt.Equal(want.ExpiresAt), got.ExpiresAt, want.ExpiresAt)
	field("LinkedAt", got.LinkedAt.Equal(want.LinkedAt), got.LinkedAt, want.LinkedAt)
	field("UpdatedAt", got.UpdatedAt.Equal(want.UpdatedAt), got.UpdatedAt, want.UpdatedAt)
	for _, d := range diffs {
		t.Error(d)
	}
	if len(diffs) > 0 {
		t.FailNow()
	}
}

// sealedEqual compares sealed token fields byte for byte; nil ("the provider issued none")
// must stay nil.
func sealedEqual(got, want []byte) bool {
	return bytes.Equal(got, want) && (got == nil) == (want == nil)
}
