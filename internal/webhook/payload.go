// Package webhook delivers the broker's events to bots (docs/openapi.yaml, webhooks): it
// takes what the store's outbox holds — written in the same transaction as the change each
// event announces — and POSTs it to the bot's webhook_url, signed with the bot's
// webhook_secret, retrying with exponential back-off and jitter for up to a day, in order per
// identity, from any number of broker processes sharing one database.
//
// It imports store (the outbox) only; it must not import the broker or anything HTTP-facing
// of ours. Deliveries are at least once: receivers drop repeats by the event id.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Headers of every delivery.
const (
	HeaderSignature = "X-OAuthBroker-Signature" // sha256=<hex HMAC-SHA256(body, webhook_secret)>
	HeaderEventID   = "X-OAuthBroker-Event-Id"  // the body's "id": the same on every retry
	HeaderEvent     = "X-OAuthBroker-Event"     // the body's "type"
	HeaderTimestamp = "X-OAuthBroker-Timestamp" // the body's "sent_at", unix seconds
)

// Body is the JSON every delivery carries. SentAt is the time of this attempt, inside the
// signed body: a receiver that refuses bodies older than a few minutes and remembers the ids
// it saw within that window cannot be fed a recorded delivery again.
type Body struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Bot       string    `json:"bot"`
	CreatedAt time.Time `json:"created_at"`
	SentAt    int64     `json:"sent_at"`
	Attempt   int       `json:"attempt"` // 1 for the first delivery attempt
	// Identity is the identity an identity.* event is about; nil for link.completed.
	Identity *Identity `json:"identity,omitempty"`
	// Link is what link.completed is about; nil for every other event.
	Link *Link `json:"link,omitempty"`
	// Reason says why, for identity.relink_required: "invalid_grant" (the provider refused
	// the refresh token) or "expired" (the token expired and cannot be refreshed).
	Reason string `json:"reason,omitempty"`
}

// Link is the link a link.completed event is about: its chat user, and every identity it
// linked, in the link's order.
type Link struct {
	Channel    string           `json:"channel"`
	User       string           `json:"user"`
	Identities []LinkedIdentity `json:"identities"`
}

// LinkedIdentity is one identity of a completed link.
type LinkedIdentity struct {
	ID             int64  `json:"id"`
	Provider       string `json:"provider"`
	ProviderUserID string `json:"provider_user_id"`
	Status         string `json:"status"`
}

// Identity is the identity an event is about. No token ever goes into a webhook: the bot
// asks the credentials route when it needs one.
type Identity struct {
	ID             int64  `json:"id"`
	Channel        string `json:"channel"`
	User           string `json:"user"`
	Provider       string `json:"provider"`
	ProviderUserID string `json:"provider_user_id"`
	Status         string `json:"status"`
}

// Render is the body of one delivery attempt of e at sentAt.
func Render(e store.OutboxEvent, sentAt time.Time) ([]byte, error) {
	b := Body{
		ID: e.EventID, Type: e.Type, Bot: e.Bot, CreatedAt: e.CreatedAt.UTC(),
		SentAt: sentAt.Unix(), Attempt: e.Attempts + 1, Reason: e.Reason,
	}
	if e.Type == store.WebhookLinkCompleted {
		b.Link = &Link{Channel: e.Channel, User: e.User, Identities: make([]LinkedIdentity, len(e.Identities))}
		for i, li := range e.Identities {
			b.Link.Identities[i] = LinkedIdentity(li)
		}
		return json.Marshal(b)
	}
	b.Identity = &Identity{ID: e.IdentityID, Channel: e.Channel, User: e.User, Provider: e.Provider,
		ProviderUserID: e.ProviderUserID, Status: e.Status}
	return json.Marshal(b)
}

// Sign is the X-OAuthBroker-Signature value of body.
func Sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header is body's signature under secret, comparing in constant
// time. It is what a receiver does (docs/API.md shows it without this package).
func Verify(body []byte, header, secret string) bool {
	want := Sign(body, secret)
	return strings.HasPrefix(header, "sha256=") && hmac.Equal([]byte(header), []byte(want))
}
