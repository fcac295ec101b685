package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// This file is the token lifecycle's part of the store: refresh leases, the sealed
// values that key rotation re-encrypts, and the webhook outbox.

// ErrLeaseLost: the caller no longer holds the refresh lease or outbox claim it names. It
// expired and someone else took it over, or a relink replaced the identity's tokens; the
// caller's result is stale and must be dropped, not written. (StoreRefreshed is the one
// exception: see StoreRefreshedParams.PrevRefreshToken.)
var ErrLeaseLost = errors.New("lease lost")

// RefreshLease is an identity's refresh state as AcquireRefreshLease and RefreshState see it.
// A lease is what makes "one refresh at a time per identity" hold across goroutines and
// across broker processes sharing the database: it is a row in the store, not a mutex.
type RefreshLease struct {
	Acquired bool      // the caller now holds the lease, until Until
	Until    time.Time // end of the current lease (the caller's or another holder's); zero when free
	// TakenOver: Acquired from a holder whose lease ran out without its result being written
	// or the lease released. That holder died, or it is still waiting for the provider's
	// answer and may yet spend the refresh token the new holder is about to present.
	TakenOver bool
	// RetryAt is set by a failed refresh: no refresh may start before it, so a provider
	// outage is asked once per back-off, not once per read.
	RetryAt time.Time
}

// StoreRefreshedParams is a successful refresh, written in one transaction.
type StoreRefreshedParams struct {
	Bot        string
	IdentityID int64
	Holder     string // must hold the lease; it is released
	// AccessToken is the new sealed access token (required). RefreshToken is the new sealed
	// refresh token when the provider rotated it, nil to keep the stored one: a rotated
	// refresh token is stored together with its access token, or not at all.
	AccessToken  []byte
	RefreshToken []byte
	ExpiresAt    time.Time // zero: the new token has no expiry
	Event        Event     // the refreshed history event; IdentityID, Bot and Kind are filled in
	Now          time.Time // the identity's updated time

	// PrevAccessToken and PrevRefreshToken are the sealed tokens the refresh started from, as
	// read under the lease. When the lease ran out and another holder took it while the
	// provider answered, the refresh is still stored if the identity is active and still
	// holds exactly these in both token columns the refresh rewrites: the provider has already
	// spent the old refresh token, so its successor is the only one that works, and nothing
	// newer was stored. Nil PrevRefreshToken: the lease alone decides.
	PrevAccessToken, PrevRefreshToken []byte
}

// ReleaseRefreshParams gives a lease back without new tokens.
type ReleaseRefreshParams struct {
	Bot        string
	IdentityID int64
	Holder     string
	RetryAt    time.Time // zero: the next refresh may start at once
	Event      *Event    // recorded in the history when non-nil (e.g. refresh_failed)
}

// RelinkRequiredParams marks an identity whose tokens the provider refused.
type RelinkRequiredParams struct {
	Bot        string
	IdentityID int64
	// Holder is the refresh lease holder the provider refused; "" when no lease is involved
	// (a token that expired and cannot be refreshed).
	Holder string
	Event  Event // the relink_required history event; Event.Webhook enqueues the webhook too
}

// SealedValues are one identity's sealed token fields with what their AAD binds them to
// (package broker, tokens.go): what key rotation reads, re-encrypts and writes back.
type SealedValues struct {
	IdentityID                                   int64
	Bot, Channel, User, Provider, ProviderUserID string
	AccessToken, AccessTokenSecret, RefreshToken []byte
}

// Webhook event types (docs/openapi.yaml, webhooks).
const (
	WebhookLinked         = "identity.linked"
	WebhookRelinked       = "identity.relinked"
	WebhookConfirmed      = "identity.confirmed"
	WebhookUnlinked       = "identity.unlinked"
	WebhookRelinkRequired = "identity.relink_required"
	// WebhookLinkCompleted: every provider of a link is linked (and, for a bot with
	// confirm: code, confirmed). Its OutboxEvent lists the link's identities.
	WebhookLinkCompleted = "link.completed"
)

// Outbox states.
const (
	OutboxPending   = "pending"
	OutboxDelivered = "delivered"
	OutboxDead      = "dead" // retried for the whole delivery window without success
)

// OutboxEvent is one webhook event waiting for, or done with, delivery. The store fills in
// everything from the change it was enqueued with; the webhook package renders the body.
type OutboxEvent struct {
	ID      int64  // delivery order
	EventID string // random and unique: the id receivers drop replays by
	Type    string // one of the Webhook* constants
	Bot     string

	IdentityID     int64
	Channel        string
	User           string
	Provider       string
	ProviderUserID string
	Status         string // the identity's status after the change
	Reason         string // relink_required: a short machine-readable cause, e.g. invalid_grant
	// Identities, for link.completed only: every identity the link linked, in the link's
	// order. IdentityID is then the identity that completed the link (so the event is
	// delivered after that identity's own), and Provider, ProviderUserID and Status are empty.
	Identities []LinkedIdentity
	CreatedAt  time.Time

	State         string // one of the Outbox* constants
	Attempts      int
	NextAttemptAt time.Time
	LastError     string // of the latest failed attempt; never a secret
	DeliveredAt   time.Time
}

// LinkedIdentity is one identity a link.completed event lists. Backends keep an event's list
// as its JSON (these tags), so that migrate-store copies it as it is.
type LinkedIdentity struct {
	ID             int64  `json:"id"`
	Provider       string `json:"provider"`
	ProviderUserID string `json:"provider_user_id"`
	Status         string `json:"status"`
}

// EncodeLinkedIdentities is how backends keep OutboxEvent.Identities: their JSON, "" for none.
func EncodeLinkedIdentities(ids []LinkedIdentity) (string, error) {
	if len(ids) == 0 {
		return "", nil
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return "", fmt.Errorf("encode linked identities: %w", err)
	}
	return string(b), nil
}

// DecodeLinkedIdentities reads what EncodeLinkedIdentities wrote.
func DecodeLinkedIdentities(s string) ([]LinkedIdentity, error) {
	if s == "" {
		return nil, nil
	}
	var ids []LinkedIdentity
	if err := json.Unmarshal([]byte(s), &ids); err != nil {
		return nil, fmt.Errorf("decode linked identities: %w", err)
	}
	return ids, nil
}

// OutboxQuery selects outbox events for operators, newest first. Empty fields match all.
type OutboxQuery struct {
	Bot      string
	State    string
	BeforeID int64 // keyset pagination: only events with a smaller ID; 0 for the first page
	Limit    int   // 1–500
}

// LifecycleStore is the part of Store that keeps tokens fresh and events flowing.
//
// Rules (the conformance suite in storetest pins them):
//   - A refresh lease is free when it has no holder or its Until has passed (a holder that
//     died loses it by expiry). AcquireRefreshLease takes a free lease only when RetryAt has
//     passed too; it is one conditional write, so of any number of racers exactly one wins.
//   - StoreRefreshed, ReleaseRefreshLease and a holder's MarkRelinkRequired return
//     ErrLeaseLost when Holder does not hold the lease (any more). StoreRefreshed still
//     writes when the identity is active and its sealed access and refresh tokens are still
//     PrevAccessToken and PrevRefreshToken (a compare-and-swap): a refresh that outlived its
//     lease keeps the token the provider rotated unless something newer was stored; the
//     write ends the lease of whoever took it over.
//   - CompleteLink (a relink) replaces the tokens and clears the lease and RetryAt: a refresh
//     running on the old tokens then loses its lease instead of overwriting the new ones.
//   - MarkRelinkRequired changes only an active identity; it reports whether it did, and
//     records the event (and webhook) only then, so concurrent callers produce one of each.
//   - ReplaceSealed is a compare-and-swap: ErrConflict when any sealed field changed since
//     it was read, so re-encryption never writes back a value a refresh has replaced.
//   - The outbox delivers in ID order per identity: ClaimDue returns an event only when no
//     older event of the same bot and identity is still pending, and never an event that
//     another live claim holds. Mark* return ErrLeaseLost when holder's claim was taken over.
type LifecycleStore interface {
	// AcquireRefreshLease tries to take the identity's refresh lease for holder until the
	// given time. It returns the identity as stored at that moment, which the winner must
	// check again (another holder may have refreshed just before), and the lease state.
	AcquireRefreshLease(ctx context.Context, bot string, identityID int64, holder string, until, now time.Time) (Identity, RefreshLease, error)
	// RefreshState reads the identity with its lease state (Acquired is false), for callers
	// waiting on another holder.
	RefreshState(ctx context.Context, bot string, identityID int64, now time.Time) (Identity, RefreshLease, error)
	// StoreRefreshed writes new tokens, records the event and releases the lease, in one
	// transaction, and returns the stored identity.
	StoreRefreshed(ctx context.Context, p StoreRefreshedParams) (Identity, error)
	// ReleaseRefreshLease gives the lease back, optionally setting RetryAt and recording an event.
	ReleaseRefreshLease(ctx context.Context, p ReleaseRefreshParams) error
	// MarkRelinkRequired sets an active identity relink_required, releases the lease, records
	// the event and, with Event.Webhook, enqueues identity.relink_required.
	MarkRelinkRequired(ctx context.Context, p RelinkRequiredParams) (Identity, bool, error)

	// SealedBatch returns up to limit identities' sealed values with IDs above afterID, in
	// ID order: key rotation walks the whole store with it.
	SealedBatch(ctx context.Context, afterID int64, limit int) ([]SealedValues, error)
	// ReplaceSealed writes resealed's three token fields if the stored ones still equal old's.
	ReplaceSealed(ctx context.Context, old, resealed SealedValues) error

	// ClaimDue claims up to limit pending events that are due at now for holder until the
	// given time, oldest first, at most one per identity.
	ClaimDue(ctx context.Context, holder string, now, until time.Time, limit int) ([]OutboxEvent, error)
	// MarkDelivered records a successful delivery.
	MarkDelivered(ctx context.Context, id int64, holder string, now time.Time) error
	// MarkFailed records a failed attempt and when to try again.
	MarkFailed(ctx context.Context, id int64, holder string, next time.Time, lastError string) error
	// MarkDead records the last failed attempt of an event that will not be retried.
	MarkDead(ctx context.Context, id int64, holder string, now time.Time, lastError string) error
	// OutboxEvents lists events for operators.
	OutboxEvents(ctx context.Context, q OutboxQuery) ([]OutboxEvent, error)
	// PruneOutbox deletes events delivered before the given time and returns how many.
	PruneOutbox(ctx context.Context, deliveredBefore time.Time) (int64, error)
}
