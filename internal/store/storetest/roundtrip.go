package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// kolkata is a zone with a half-hour offset: a store must keep the instant, whatever the zone.
var kolkata = time.FixedZone("IST", 5*3600+1800)

// allBytes is every byte value, several times over: sealed values are binary.
func allBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

var roundTripTests = []test{
	{"times round-trip at millisecond precision in any zone", func(t *testing.T, s store.Store) {
		created := time.Date(2031, time.March, 14, 20, 39, 26, 999_000_000, kolkata)
		l := newLink("a", "github")
		l.CreatedAt, l.ExpiresAt = created, created.Add(10*time.Minute+time.Millisecond)
		stored := createLink(t, s, l)
		got, err := s.LinkByTokenHash(t.Context(), l.TokenHash)
		if err != nil {
			t.Fatalf("LinkByTokenHash: %v", err)
		}
		for _, c := range []struct {
			name      string
			got, want time.Time
		}{
			{"CreatedAt returned", stored.CreatedAt, l.CreatedAt},
			{"CreatedAt read", got.CreatedAt, l.CreatedAt},
			{"ExpiresAt read", got.ExpiresAt, l.ExpiresAt},
		} {
			if !c.got.Equal(c.want) {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}

		in := account("github", "1")
		in.ExpiresAt = time.Date(2400, time.January, 1, 0, 0, 0, 1_000_000, kolkata)
		id, _ := linkAccount(t, s, in, created)
		got2 := getIdentity(t, s, id.ID)
		if !got2.ExpiresAt.Equal(in.ExpiresAt) || !got2.LinkedAt.Equal(created) || !got2.UpdatedAt.Equal(created) {
			t.Errorf("identity times %v / %v / %v, want %v / %v / %v",
				got2.ExpiresAt, got2.LinkedAt, got2.UpdatedAt, in.ExpiresAt, created, created)
		}
	}},
	{"zero times stay zero", func(t *testing.T, s store.Store) {
		l := createLink(t, s, newLink("a", "github"))
		if !l.UsedAt.IsZero() {
			t.Errorf("new link UsedAt = %v, want zero", l.UsedAt)
		}
		in := account("github", "1")
		in.ExpiresAt = time.Time{} // the provider gave no expiry
		id, _ := linkAccount(t, s, in, t0)
		if got := getIdentity(t, s, id.ID); !got.ExpiresAt.IsZero() {
			t.Errorf("ExpiresAt = %v, want zero", got.ExpiresAt)
		}
	}},
	{"scopes round-trip in order", func(t *testing.T, s store.Store) {
		for i, scopes := range [][]string{
			nil,
			{"openid"},
			{"read:user", "repo", "https://www.googleapis.com/auth/calendar.readonly", "user-read-email"},
			{`with "quotes"`, "comma,separated", "space d", "ünïcødé", "[]", ""},
		} {
			provider := []string{"a", "b", "c", "d"}[i]
			l := newLink(provider, provider)
			l.Providers[0].Scopes = scopes
			l = createLink(t, s, l)
			gotLink, err := s.LinkByTokenHash(t.Context(), l.TokenHash)
			if err != nil {
				t.Fatalf("LinkByTokenHash: %v", err)
			}
			in := newIdentity(l, "1")
			in.Scopes = scopes
			id, _ := completeLink(t, s, store.CompleteLinkParams{LinkID: l.ID, Identity: in, Now: t0})
			gotID := getIdentity(t, s, id.ID)
			if !slices.Equal(gotLink.Providers[0].Scopes, scopes) || !slices.Equal(gotID.Scopes, scopes) {
				t.Errorf("scopes %q: link read %q, identity read %q", scopes, gotLink.Providers[0].Scopes, gotID.Scopes)
			}
		}
	}},
	{"sealed token fields round-trip byte-exact, and nil stays nil", func(t *testing.T, s store.Store) {
		in := account("twitter", "1")
		in.AccessToken, in.AccessTokenSecret, in.RefreshToken = allBytes(4096), []byte{0}, nil
		in.TokenType = "oauth1"
		id, _ := linkAccount(t, s, in, t0)
		want := in
		want.ID, want.LinkedAt, want.UpdatedAt = id.ID, t0, t0
		checkIdentity(t, id, want)
		checkIdentity(t, getIdentity(t, s, id.ID), want)
		checkIdentity(t, listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: channel, User: user})[0], want)
	}},
	{"text fields round-trip exactly", func(t *testing.T, s store.Store) {
		in := account("github", `id with 'quotes' and "more" ; DROP TABLE identities; --`)
		in.User = strings.Repeat("用", 85) + "x" // 256 bytes of UTF-8
		in.Channel = "teams:19.abc-DEF_0"
		in.Name, in.NickName = "Zoë 🚀 O'Brien", `"nick"`
		in.Email, in.AvatarURL = "zoë@exämple.org", "https://a.example/x?y=1&z=%20"
		id, _ := linkAccount(t, s, in, t0)
		want := in
		want.ID, want.LinkedAt, want.UpdatedAt = id.ID, t0, t0
		checkIdentity(t, getIdentity(t, s, id.ID), want)
		got := listIdentities(t, s, store.IdentityQuery{Bot: bot, Channel: in.Channel, User: in.User, Provider: "github"})
		if len(got) != 1 {
			t.Fatalf("identities of the unicode user: %d, want 1", len(got))
		}
		checkIdentity(t, got[0], want)
	}},
}
