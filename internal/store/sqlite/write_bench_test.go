package sqlite_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// BenchmarkCreateLink is the store's part of POST /links: one link with one provider, on a
// store of 100,000 identities.
func BenchmarkCreateLink(b *testing.B) {
	s := seeded(b)
	now := time.Now()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.CreateLink(b.Context(), benchLink(i, now)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLinkWrites is the store's writes of one complete link flow on a store of 100,000
// identities: create the link, start a flow, consume it at the callback and complete the
// link with a new identity and its webhook events.
func BenchmarkLinkWrites(b *testing.B) {
	s := seeded(b)
	now := time.Now()
	b.ResetTimer()
	for i := range b.N {
		l, err := s.CreateLink(b.Context(), benchLink(i, now))
		if err != nil {
			b.Fatal(err)
		}
		state := fmt.Appendf(nil, "state-%032d", i)
		if err := s.CreateFlow(b.Context(), store.Flow{StateHash: state, LinkID: l.ID, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.ConsumeFlow(b.Context(), state, now); err != nil {
			b.Fatal(err)
		}
		_, err = s.CompleteLink(b.Context(), store.CompleteLinkParams{LinkID: l.ID, Now: now, Webhook: true,
			Identity: store.Identity{Bot: l.Bot, Channel: l.Channel, User: l.User, Provider: "github",
				ProviderUserID: fmt.Sprint(900_000_000 + i), Name: "Ada Lovelace", NickName: "ada", Email: "ada@example.com",
				Status: store.StatusActive, Scopes: []string{"read:user"}, AccessToken: make([]byte, 120),
				RefreshToken: make([]byte, 120), TokenType: "bearer", ExpiresAt: now.Add(time.Hour)}})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchLink(i int, now time.Time) store.Link {
	return store.Link{TokenHash: fmt.Appendf(nil, "link-%032d", i), Bot: "supportbot", Channel: "slack",
		User: fmt.Sprintf("W%08d", i), CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
		Providers: []store.LinkProvider{{Provider: "github", Scopes: []string{"read:user"}}}}
}
