// Package store defines the records oauthbroker keeps and the interface every storage backend
// implements: Store, made of one interface per concern (the lifecycle, operations, usage,
// retention and the operators' pages), each with the rules it must keep. It knows nothing
// about HTTP, goth or encryption: token fields arrive here already sealed by the broker and
// leave sealed.
//
// Two backends implement it, sqlite/ and postgres/, each with its own SQL and migrations; the
// transactions that carry the rules are written once, in sqlstore/, which both embed. Both
// pass the conformance suite in storetest/.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Sentinel errors. Implementations wrap them with context; callers test with errors.Is.
var (
	// ErrNotFound: no record with that key (or it belongs to another bot).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a uniqueness rule would be broken.
	ErrConflict = errors.New("conflict")
	// ErrLinkUsed: the link was already used to complete a flow.
	ErrLinkUsed = errors.New("link already used")
	// ErrExpired: the link, flow or confirmation is past its expiry.
	ErrExpired = errors.New("expired")
	// ErrFlowConsumed: the flow's callback was already handled once.
	ErrFlowConsumed = errors.New("flow already consumed")
	// ErrWrongCode: a confirmation code did not match any pending confirmation.
	ErrWrongCode = errors.New("wrong confirmation code")
)

// Identity statuses.
const (
	StatusActive         = "active"
	StatusPending        = "pending"         // confirm: code bots, until the code is confirmed
	StatusRelinkRequired = "relink_required" // the provider refused our tokens; the user must link again
)

// Event kinds recorded in an identity's history.
const (
	EventLinked         = "linked"
	EventRelinked       = "relinked"
	EventConfirmed      = "confirmed"
	EventUnlinked       = "unlinked"
	EventRefreshed      = "refreshed"
	EventRefreshFailed  = "refresh_failed"
	EventRelinkRequired = "relink_required"
)

// Link is an invitation for one chat user to link one or several providers of one bot, each
// provider once. It is spent (UsedAt) when every provider is linked, or when the person who
// opened it said "this is not me" (CancelledAt). Only the SHA-256 of the link token is stored:
// a database dump does not reveal live links.
type Link struct {
	ID        int64
	TokenHash []byte
	Bot       string
	Channel   string
	User      string
	// UserLabel is how the connect page names the chat user ("" : by channel and user).
	UserLabel string
	// Providers are the link's providers in the order the bot listed them: at least one, no
	// name twice.
	Providers   []LinkProvider
	RedirectURL string // optional, already validated against the bot's redirect_origins
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      time.Time // spent; zero while a provider is still to be linked
	CancelledAt time.Time // zero unless the link was cancelled (UsedAt is then the same time)
}

// LinkProvider is one provider of a link.
type LinkProvider struct {
	Provider   string
	Scopes     []string  // requested on top of the provider's configured scopes
	IdentityID int64     // the identity linked through the link; 0 while not linked
	LinkedAt   time.Time // zero while not linked
}

// Provider returns the link's entry for a provider.
func (l Link) Provider(name string) (LinkProvider, bool) {
	for _, p := range l.Providers {
		if p.Provider == name {
			return p, true
		}
	}
	return LinkProvider{}, false
}

// Flow is one browser's attempt to complete a link: created when the browser starts the auth,
// consumed exactly once by the callback. The browser holds the state itself (in a sealed cookie);
// the store holds only its hash, which is what makes the flow single-use across instances.
type Flow struct {
	StateHash []byte
	LinkID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Identity is one linked third-party account of one chat user of one bot.
// (Bot, Channel, User, Provider, ProviderUserID) is unique.
type Identity struct {
	ID             int64
	Bot            string
	Channel        string
	User           string
	Provider       string
	ProviderUserID string

	Name      string
	NickName  string
	Email     string
	AvatarURL string

	Status string
	Scopes []string

	// Sealed token material (see package seal); nil when the provider issued none.
	AccessToken       []byte
	AccessTokenSecret []byte // OAuth 1.0a only
	RefreshToken      []byte
	TokenType         string    // "bearer" or "oauth1"
	ExpiresAt         time.Time // zero when the provider gave no expiry

	LinkedAt  time.Time
	UpdatedAt time.Time
}

// AccountName is how history and events name the account: a display name with the provider's
// id, never a token.
func (id Identity) AccountName() string {
	for _, s := range []string{id.NickName, id.Name, id.Email} {
		if s != "" {
			return strconv.Quote(s) + " (id " + id.ProviderUserID + ")"
		}
	}
	return "id " + id.ProviderUserID
}

// Event is one line of an identity's history. It outlives the identity: unlinking records
// an event and keeps the history for operators.
type Event struct {
	ID         int64
	IdentityID int64
	Bot        string
	Kind       string // one of the Event* constants
	Outcome    string // "ok" or a short machine-readable reason
	Detail     string // human-readable; never a token
	At         time.Time

	// Webhook, on an event given to a write (DeleteIdentity, MarkRelinkRequired), also puts
	// the matching webhook event into the outbox in the same transaction. It is not part of
	// the history and reads back false.
	Webhook bool
}

// Confirmation guards an identity of a `confirm: code` bot until the chat user types the code
// the connect page showed after the link's last provider. Only a keyed hash of the code is
// stored. The identities of one link share one code: each has a confirmation with the same
// LinkID and code hash, and confirming the code activates all of them.
type Confirmation struct {
	ID         int64
	IdentityID int64
	LinkID     int64 // 0 for a confirmation made before links had several providers
	Bot        string
	Channel    string
	User       string
	CodeHash   []byte
	Attempts   int
	ExpiresAt  time.Time
}

// CompleteLinkParams is everything a successful callback writes, in one transaction.
type CompleteLinkParams struct {
	LinkID int64
	// Identity is the account linked; its Provider names the link's provider it completes.
	// ID, LinkedAt and Status of an existing identity are kept; see CompleteLink.
	Identity Identity
	// Confirmation, when non-nil and this completes the link, is created for every identity
	// of the link (IdentityID and LinkID are filled in); otherwise it is ignored.
	Confirmation *Confirmation
	Now          time.Time
	// Webhook also enqueues identity.linked (or identity.relinked) in the same transaction,
	// and link.completed when this completes the link and no Confirmation is given.
	Webhook bool
}

// Check reports what makes p unfit for CompleteLink, which every store refuses before
// writing: a zero time, an identity without a provider user id or with an unknown status, a
// confirmation without a code hash or an expiry.
func (p CompleteLinkParams) Check() error {
	switch {
	case p.Now.IsZero():
		return errors.New("now is the zero time")
	case p.Identity.ProviderUserID == "":
		return errors.New("identity has no provider user id")
	case p.Identity.Status != StatusActive && p.Identity.Status != StatusPending && p.Identity.Status != StatusRelinkRequired:
		return fmt.Errorf("identity status %q is not a known status", p.Identity.Status)
	case p.Confirmation != nil && len(p.Confirmation.CodeHash) == 0:
		return errors.New("confirmation has no code hash")
	case p.Confirmation != nil && p.Confirmation.ExpiresAt.IsZero():
		return errors.New("confirmation has no expiry")
	}
	return nil
}

// Linked is what CompleteLink stored.
type Linked struct {
	Identity Identity
	Created  bool // a new identity, not the same account linked again
	// LinkComplete: this was the link's last provider; the link is spent now.
	LinkComplete bool
}

// IdentityQuery selects identities of one chat user. Provider is optional.
type IdentityQuery struct {
	Bot      string
	Channel  string
	User     string
	Provider string
}

// ConfirmParams is one attempt to confirm a code for a chat user.
type ConfirmParams struct {
	Bot         string
	Channel     string
	User        string
	CodeHash    []byte
	MaxAttempts int // a confirmation that reached this many wrong attempts is void
	Now         time.Time
	// Webhook also enqueues identity.confirmed for each identity the code activates, and
	// link.completed for their link, in the same transaction as the activation.
	Webhook bool
}

// Store is what the broker needs from persistence. Every method is safe for concurrent use.
//
// Rules every implementation follows (the conformance suite in storetest pins them):
//   - Times are kept at millisecond precision and come back in UTC; a zero time is "none".
//   - Something expires when now >= ExpiresAt.
//   - A flow that is both consumed and expired reports ErrFlowConsumed.
//   - CreateFlow, CompleteLink and CancelLink for a link that does not exist return ErrNotFound.
//   - CreateLink refuses a link without providers or with a provider twice.
//   - CompleteLink uses p.Now as the provider's linked time (and the link's used time when it
//     was the last), the identity's updated time (and linked time when new) and the event's
//     time; the times passed in the identity are ignored. It refuses an identity whose bot,
//     channel or user differ from the link's, or whose provider is not one of the link's.
//   - Identities and Events return an empty slice, not nil; Events of another bot are empty.
//   - A successful Confirm deletes every confirmation of the identities it activates.
type Store interface {
	// CreateLink inserts a link and returns it with its ID.
	CreateLink(ctx context.Context, l Link) (Link, error)
	// LinkByTokenHash returns the link, used or not, expired or not: the caller decides
	// which of those is an error, so it can tell the user which one happened.
	LinkByTokenHash(ctx context.Context, tokenHash []byte) (Link, error)

	// CreateFlow records a started flow.
	CreateFlow(ctx context.Context, f Flow) error
	// ConsumeFlow marks the flow consumed and returns its link. It succeeds once per flow:
	// ErrNotFound for an unknown state, ErrFlowConsumed the second time, ErrExpired past expiry.
	ConsumeFlow(ctx context.Context, stateHash []byte, now time.Time) (Link, error)

	// CompleteLink, in one transaction: marks the identity's provider of the link linked
	// (ErrLinkUsed if it already was, or if the link is spent); inserts the identity or updates
	// the existing one with the same (bot, channel, user, provider, provider user id) keeping
	// its ID, LinkedAt and — unless it was relink_required — its status; records a linked or
	// relinked event; and, when no provider of the link is left, marks the link used and
	// creates the confirmations. It returns the stored identity, whether it was new and
	// whether the link is complete.
	CompleteLink(ctx context.Context, p CompleteLinkParams) (Linked, error)
	// CancelLink spends a link that is not spent yet ("this is not me"): ErrLinkUsed when it
	// is. What was linked through it stays.
	CancelLink(ctx context.Context, linkID int64, now time.Time) error

	// Identities lists one chat user's identities, oldest first.
	Identities(ctx context.Context, q IdentityQuery) ([]Identity, error)
	// Identity returns one identity of a bot; ErrNotFound if it does not exist or belongs to
	// another bot.
	Identity(ctx context.Context, bot string, id int64) (Identity, error)
	// IdentityTokens is Identity narrowed to what handing out credentials needs: ID, Bot,
	// Channel, User, Provider, ProviderUserID (the sealed tokens' AAD), Status, AccessToken,
	// AccessTokenSecret, RefreshToken, TokenType and ExpiresAt. The profile fields, Scopes,
	// LinkedAt and UpdatedAt are left zero. Errors as Identity.
	IdentityTokens(ctx context.Context, bot string, id int64) (Identity, error)
	// DeleteIdentity removes an identity (and its pending confirmations) and records an
	// unlinked event, in one transaction.
	DeleteIdentity(ctx context.Context, bot string, id int64, ev Event) error

	// Confirm activates the pending identities whose live confirmations for this chat user
	// have this code hash — every identity of one link, or one identity — records a confirmed
	// event for each and deletes their confirmations. On no match it counts a wrong attempt
	// against every live confirmation of the user and returns ErrWrongCode; with no live
	// confirmation at all it returns ErrNotFound. Identities come back in the link's order.
	Confirm(ctx context.Context, p ConfirmParams) ([]Identity, error)

	// Events returns an identity's history, oldest first.
	Events(ctx context.Context, bot string, identityID int64) ([]Event, error)

	// The token lifecycle: refresh leases, key rotation and the webhook outbox
	// (lifecycle.go has the records and rules).
	LifecycleStore

	// Abuse limits and readiness (the OperationsStore block at the end of this file).
	OperationsStore

	// Calls made through the API proxy (the UsageStore block at the end of this file).
	UsageStore

	// Deleting what has been spent or expired for long enough (retention.go).
	RetentionStore

	// The operators' pages (the AdminStore block below).
	AdminStore

	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// ---- Operators' pages ----
//
// What the admin pages need lives in an interface of its own, part of Store, so that a
// backend can be reviewed (and grown) one concern at a time; storetest runs the admin part of
// the suite against every backend.

// IdentityListQuery selects a page of identities across bots for the operators' list, newest
// (highest ID) first. Every filter is optional.
type IdentityListQuery struct {
	Bot      string
	Provider string
	Status   string
	// Search, when not empty, keeps identities whose chat user id, name, name without its first
	// word, nickname or email begins with it, ignoring ASCII case; a leading '@' is ignored.
	Search string
	// Keyset pagination; at most one is set. OlderThan lists the identities with an ID below it
	// (the next page); NewerThan those with an ID above it (the page before), still newest first.
	OlderThan int64
	NewerThan int64
	// Limit is the page size (1 to 500).
	Limit int
}

// IdentityPage is one page of the operators' list.
type IdentityPage struct {
	// Identities are newest first. Their token fields are nil: the list never reads them.
	Identities []Identity
	// More reports identities beyond this page in the direction asked: older ones, or newer
	// ones when the query had NewerThan.
	More bool
}

// IdentityTotal is the number of identities of one bot, provider and status.
type IdentityTotal struct {
	Bot      string
	Provider string
	Status   string
	Count    int
}

// AdminSession is an operator's login. Only a hash of the session cookie is stored.
type AdminSession struct {
	TokenHash []byte
	// Credential identifies the admin credential the session was opened with (a keyed hash,
	// never the password), so that changing the password ends the older sessions.
	Credential []byte
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// AdminStore is part of Store: what the operators' pages need. Every method is safe for
// concurrent use; the rules of Store about times apply.
//
//   - ListIdentities answers in time proportional to the page, not to the table: a backend
//     keeps the indexes that make every filter combination and the search a range scan.
//   - IdentityTotals leaves out combinations with no identity, and is sorted by bot, provider
//     and status.
//   - AdminSession returns a session expired or not (the caller decides); ErrNotFound when
//     there is none. DeleteAdminSession of an unknown session is not an error.
//   - CreateAdminSession also deletes every session expired at its CreatedAt.
type AdminStore interface {
	ListIdentities(ctx context.Context, q IdentityListQuery) (IdentityPage, error)
	IdentityTotals(ctx context.Context) ([]IdentityTotal, error)

	CreateAdminSession(ctx context.Context, s AdminSession) error
	AdminSession(ctx context.Context, tokenHash []byte) (AdminSession, error)
	DeleteAdminSession(ctx context.Context, tokenHash []byte) error
}

// ---- Operations: abuse limits and readiness ----
//
// What the broker needs to bound how much one chat user can make it hold, and what /readyz asks.

// OperationsStore is part of Store.
//
//   - CountOpenFlows counts the flows of one link that are neither consumed nor expired at
//     now: sign-ins started in a browser that have not come back. Other links never count,
//     so a link that leaked and is opened in a loop never blocks the user's other links.
//   - SchemaCurrent fails when the database lacks a migration this binary knows (restored from
//     an old backup, say), so a load balancer stops sending traffic to an instance that would
//     fail on every write.
type OperationsStore interface {
	CountOpenFlows(ctx context.Context, linkID int64, now time.Time) (int, error)
	SchemaCurrent(ctx context.Context) error
}

// ---- Usage of the API proxy ----
//
// How much each identity is acted as, for operators: counted per call, shown on the admin
// identity page.

// ProxyUsage is an identity's calls through the API proxy.
type ProxyUsage struct {
	Calls      int64
	LastUsedAt time.Time // zero: never used
	LastStatus int       // the HTTP status the bot received from the latest call
}

// ProxyCall is one call through the API proxy.
type ProxyCall struct {
	Bot        string
	IdentityID int64
	// Provider is the identity's provider name. Stores need not keep it: it is there for
	// decorators (metrics counts calls by bot, provider and status class).
	Provider string
	Status   int
	At       time.Time
}

// UsageStore is part of Store.
//
//   - RecordProxyCall counts one call of the bot's identity; the latest At wins LastUsedAt
//     and LastStatus (calls finishing out of order never move them back). ErrNotFound when
//     the bot has no such identity, so a call that raced an unlink counts nowhere.
//   - ProxyUsage is the zero ProxyUsage for an identity never proxied, unknown, or of
//     another bot.
//   - Usage belongs to the identity: a relink (same ID) keeps it, an unlink deletes it.
type UsageStore interface {
	RecordProxyCall(ctx context.Context, c ProxyCall) error
	ProxyUsage(ctx context.Context, bot string, identityID int64) (ProxyUsage, error)
}
