package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/broker"
)

// discardWriter is a ResponseWriter that keeps nothing, so only the encoding is measured.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkEncodeCredentials compares the hand-built encoder with encoding/json on the
// credentials answer.
func BenchmarkEncodeCredentials(b *testing.B) {
	c := broker.Credentials{Provider: "github", TokenType: "bearer", AccessToken: "gho_16C7e42F292c6912E7710c838347Ae178B4a",
		ExpiresAt: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	w := &discardWriter{h: http.Header{}}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			writeCredentials(w, c)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			writeJSON(w, http.StatusOK, toCredentialsJSON(c))
		}
	})
}

func BenchmarkEncodeIdentities(b *testing.B) {
	t := time.UnixMilli(1_760_000_000_000).UTC()
	id := broker.IdentityInfo{ID: 123456, Provider: "github", ProviderUserID: "1234567", Name: "Ada Lovelace", NickName: "ada",
		Email: "ada@example.com", AvatarURL: "https://avatars.example/ada.png", Status: "active",
		Scopes: []string{"read:user", "repo"}, ExpiresAt: t.Add(time.Hour), LinkedAt: t, UpdatedAt: t}
	ids := []broker.IdentityInfo{id, id}
	w := &discardWriter{h: http.Header{}}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			writeIdentities(w, ids)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out := make([]identityJSON, len(ids))
			for i, id := range ids {
				out[i] = toIdentityJSON(id)
			}
			writeJSON(w, http.StatusOK, map[string][]identityJSON{"identities": out})
		}
	})
}

// BenchmarkEncodeLink compares the two on POST links' answer.
func BenchmarkEncodeLink(b *testing.B) {
	l := broker.NewLink{URL: "https://broker.example.com/bots/supportbot/connect?link=3q2-7wAAAAAb4XqkVZ0cyMZ4mWcDcVOYxR5e1_wJj9Y",
		ExpiresAt: time.Date(2026, 12, 6, 20, 15, 0, 0, time.UTC), Providers: []string{"github"}}
	w := &discardWriter{h: http.Header{}}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			writeLink(w, l)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			writeJSON(w, http.StatusCreated, linkResponse{URL: l.URL, ExpiresAt: l.ExpiresAt, Providers: l.Providers})
		}
	})
}
