package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Headers of every webhook delivery.
const (
	HeaderSignature = "X-OAuthBroker-Signature" // sha256=<hex HMAC-SHA256(body, webhook_secret)>
	HeaderEventID   = "X-OAuthBroker-Event-Id"  // the body's id, the same on every retry
	HeaderEvent     = "X-OAuthBroker-Event"     // the body's type
	HeaderTimestamp = "X-OAuthBroker-Timestamp" // the body's sent_at, Unix seconds
)

// Event types.
const (
	EventLinked         = "identity.linked"
	EventRelinked       = "identity.relinked"
	EventConfirmed      = "identity.confirmed" // a pending identity's code was confirmed
	EventUnlinked       = "identity.unlinked"
	EventRelinkRequired = "identity.relink_required"
	// EventLinkCompleted: every provider of a link is linked (and, with confirm: code,
	// confirmed). Event.Link says which accounts; Event.Identity is empty.
	EventLinkCompleted = "link.completed"
)

// WebhookMaxAge is how old a delivery ReadWebhook accepts (by its signed sent_at): a
// recorded delivery cannot be played back later, and a receiver that remembers the event
// ids of this window drops repeats.
const WebhookMaxAge = 5 * time.Minute

// ErrBadSignature: the body is not signed with the bot's webhook_secret.
var ErrBadSignature = errors.New("oauthbroker webhook: the signature does not match the body")

// Event is the body of a webhook delivery. It carries no token: read Credentials when the
// bot needs one.
type Event struct {
	ID        string    `json:"id"` // the same on every retry of this event
	Type      string    `json:"type"`
	Bot       string    `json:"bot"`
	CreatedAt time.Time `json:"created_at"`
	SentAt    int64     `json:"sent_at"` // Unix seconds of this attempt
	Attempt   int       `json:"attempt"` // 1 for the first attempt
	// Reason says why, for identity.relink_required: "invalid_grant" or "expired".
	Reason string `json:"reason,omitempty"`
	// Identity is what an identity.* event is about; the zero value for link.completed.
	Identity EventIdentity `json:"identity"`
	// Link is what link.completed is about; nil for every other event.
	Link *EventLink `json:"link,omitempty"`
}

// EventLink is a link whose providers are all linked: its chat user, and the identities it
// linked, in the link's order.
type EventLink struct {
	Channel    string              `json:"channel"`
	User       string              `json:"user"`
	Identities []EventLinkIdentity `json:"identities"`
}

// EventLinkIdentity is one identity of a completed link.
type EventLinkIdentity struct {
	ID             int64  `json:"id"`
	Provider       string `json:"provider"`
	ProviderUserID string `json:"provider_user_id"`
	Status         string `json:"status"`
}

// EventIdentity is the identity an event is about.
type EventIdentity struct {
	ID             int64  `json:"id"`
	Channel        string `json:"channel"`
	User           string `json:"user"`
	Provider       string `json:"provider"`
	ProviderUserID string `json:"provider_user_id"`
	Status         string `json:"status"`
}

// VerifyWebhook checks the X-OAuthBroker-Signature header of a delivery against its raw
// body and the bot's webhook_secret, in constant time. Verify before parsing the body.
func VerifyWebhook(secret, signature string, body []byte) error {
	hexSum, ok := strings.CutPrefix(signature, "sha256=")
	if !ok || secret == "" {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return ErrBadSignature
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

// ReadWebhook reads one delivery from r (a bot's webhook handler), verifies its signature,
// and refuses it when its signed sent_at is older than WebhookMaxAge. The caller answers
// 2xx once the event is handled (the broker retries anything else) and drops events whose
// ID it has already handled: delivery is at least once.
func ReadWebhook(secret string, r *http.Request) (Event, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAnswer))
	if err != nil {
		return Event{}, fmt.Errorf("oauthbroker webhook: reading the body: %w", err)
	}
	if err := VerifyWebhook(secret, r.Header.Get(HeaderSignature), body); err != nil {
		return Event{}, err
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return Event{}, fmt.Errorf("oauthbroker webhook: the body is not an event: %w", err)
	}
	if age := time.Since(time.Unix(e.SentAt, 0)); age > WebhookMaxAge || age < -WebhookMaxAge {
		return Event{}, fmt.Errorf("oauthbroker webhook: delivery %s was sent %s ago; refused as a replay", e.ID, age.Round(time.Second))
	}
	return e, nil
}
