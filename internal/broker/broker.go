// Package broker is oauthbroker's core: links, the auth/callback flow, identities and their
// credentials. It sits between the providers (below: package providers, which hides how each
// provider type is implemented, goth included, and answers with its own User) and the store,
// and under the HTTP edges (httpapi for bots, server for browsers). It returns *Error values
// with stable codes and never writes an HTTP response; what it hands out of an identity is an
// IdentityInfo or Credentials, never a store record with its sealed tokens.
package broker

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Tunables that are policy rather than configuration.
const (
	// FlowTTL bounds the time between opening a link and coming back from the provider.
	FlowTTL = 15 * time.Minute
	// ConfirmTTL and ConfirmMaxAttempts void a confirmation code (docs/openapi.yaml, links/confirm).
	ConfirmTTL         = 10 * time.Minute
	ConfirmMaxAttempts = 5
	// MinLinkTTL keeps ttl_seconds from producing links nobody can open in time.
	MinLinkTTL = time.Minute
	// RefreshAhead: a token that expires within this much of a read is refreshed first, so a
	// bot never receives a token that dies on its way to the provider.
	RefreshAhead = 60 * time.Second
	// DefaultRefreshWait is Options.RefreshWait's default.
	DefaultRefreshWait = 5 * time.Second
	// RefreshRetryAfter is the back-off after a failed refresh: during it no request asks the
	// provider again, so an outage costs one refresh call per identity per back-off.
	RefreshRetryAfter = 5 * time.Second
	// RevokeTimeout bounds the revocation an unlink tries first: it is best effort.
	RevokeTimeout = 5 * time.Second
)

// Options are the broker's injected dependencies besides config, providers and store.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Ring yields the token key ring; nil: keys.Ring, fixed. cmd passes a *seal.FileRing so
	// that `oauthbroker keys rotate` takes effect without a restart.
	Ring RingSource
	// EventQueued, when set, is called after a change put a webhook event into the outbox,
	// so the delivery loop can send it now instead of at its next poll.
	EventQueued func()
	// RefreshWait bounds how long a credentials read waits for a refresh (its own or another
	// request's) before it falls back to the stored token, or 503 if that has expired.
	// 0: DefaultRefreshWait.
	RefreshWait time.Duration
}

// RingSource yields the current token key ring. Reload is called when a sealed value names a
// key the ring does not have: it may have been added since (key rotation by another process).
type RingSource interface {
	Current() *seal.KeyRing
	Reload() error
}

// fixedRing is a RingSource that never changes.
type fixedRing struct{ r *seal.KeyRing }

func (f fixedRing) Current() *seal.KeyRing { return f.r }
func (f fixedRing) Reload() error          { return nil }

// Broker implements every use case. It is safe for concurrent use and holds no per-request
// state: flow state travels in the browser's cookie and the store.
type Broker struct {
	cfg       *config.Config
	providers *providers.Registry
	store     store.Store
	keys      seal.Keys
	log       *slog.Logger
	now       func() time.Time
	apiKeys   map[string][][]byte // bot → its API keys, for constant-time comparison
	decoyKeys [][]byte            // keys as long as a bot's, compared for unknown bots
	origins   map[string][]string // bot → its redirect_origins, normalised like Origin

	ring        RingSource
	eventQueued func()
	refreshWait time.Duration
	refreshes   sync.WaitGroup // refreshes running detached from their request; see Drain
}

// New wires a broker. cfg and reg must describe the same bots.
func New(cfg *config.Config, reg *providers.Registry, st store.Store, keys seal.Keys, opts Options) *Broker {
	b := &Broker{
		cfg:       cfg,
		providers: reg,
		store:     st,
		keys:      keys,
		log:       opts.Logger,
		now:       opts.Now,
		apiKeys:   make(map[string][][]byte, len(cfg.Bots)),
		origins:   make(map[string][]string, len(cfg.Bots)),
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.now == nil {
		b.now = time.Now
	}
	b.ring, b.eventQueued, b.refreshWait = opts.Ring, opts.EventQueued, opts.RefreshWait
	if b.ring == nil {
		b.ring = fixedRing{keys.Ring}
	}
	if b.eventQueued == nil {
		b.eventQueued = func() {}
	}
	if b.refreshWait <= 0 {
		b.refreshWait = DefaultRefreshWait
	}
	for _, bot := range cfg.Bots {
		for _, k := range bot.APIKeys {
			b.apiKeys[bot.Name] = append(b.apiKeys[bot.Name], []byte(k))
			if len(b.decoyKeys) < len(bot.APIKeys) {
				// NUL bytes: no bearer token can hold them, so a decoy never matches.
				b.decoyKeys = append(b.decoyKeys, make([]byte, len(k)))
			}
		}
		for _, o := range bot.RedirectOrigins {
			if u, err := url.Parse(o); err == nil {
				o = Origin(u)
			}
			b.origins[bot.Name] = append(b.origins[bot.Name], o)
		}
	}
	return b
}

// Config returns the configuration the broker runs with.
func (b *Broker) Config() *config.Config { return b.cfg }

// AuthenticateBot checks a bearer key against one bot's keys. Every key of the bot is
// compared in constant time, so the answer's timing says nothing about which key or how much
// of it matched. A key of another bot opens nothing here.
//
// A bot that does not exist gets the very answer a wrong key gets (CodeUnauthorized, the same
// message), after a comparison of the same cost: without a key of a bot, nobody can tell
// whether it exists.
func (b *Broker) AuthenticateBot(bot, key string) error {
	if key == "" {
		return newError(CodeUnauthorized, "missing API key: send Authorization: Bearer <one of the bot's api_keys>")
	}
	keys, known := b.apiKeys[bot]
	if !known {
		keys = b.decoyKeys
	}
	match := 0
	for _, k := range keys {
		match |= subtle.ConstantTimeCompare(k, []byte(key))
	}
	if match != 1 || !known {
		return newError(CodeUnauthorized, "this API key does not open this bot")
	}
	return nil
}

// lookup returns a bot's provider or the matching not-found error.
func (b *Broker) lookup(bot, provider string) (*config.Bot, *providers.Provider, error) {
	bc := b.cfg.Bot(bot)
	if bc == nil {
		return nil, nil, newError(CodeUnknownBot, "there is no bot %q", bot)
	}
	p, ok := b.providers.Lookup(bot, provider)
	if !ok {
		return nil, nil, newError(CodeUnknownProvider, "bot %q has no provider %q", bot, provider)
	}
	return bc, p, nil
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		// crypto/rand does not fail on supported platforms; if it ever does, no secret
		// can be made safely, so stop rather than hand out a weak one.
		panic("broker: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(buf)
}

// Link tokens and flow states are ordered tokens: 8 bytes of their creation time (Unix
// nanoseconds, big-endian) and 32 random bytes, base64url without padding. The store keeps
// tokenKey of each, the same time followed by the token's SHA-256, and finds the link or
// flow by it through a unique index. With random keys every new link and every new flow
// dirtied a random leaf page of that index, as large as the table, and wrote it to the WAL
// and again at the checkpoint (and under load read it back first). Keys that start with the
// time go to the index's last pages, which the inserts of one batch and the next ones share.
// The time tells nothing the link's own created_at does not; the 32 random bytes are the
// secret, as before.
const (
	orderedTokenBytes = 8 + 32
	orderedTokenLen   = (orderedTokenBytes*8 + 5) / 6 // its base64url length
	// legacyTokenLen is the length of a link token made before tokens were ordered: 32
	// random bytes, base64url.
	legacyTokenLen = (32*8 + 5) / 6
)

// newOrderedToken makes a link token or flow state created at now.
func newOrderedToken(now time.Time) string {
	var buf [orderedTokenBytes]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(now.UnixNano()))
	if _, err := rand.Read(buf[8:]); err != nil {
		panic("broker: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(buf[:])
}

// tokenKey is how link tokens and flow states are stored, and looked up: a database dump
// must not contain anything that opens a live link or flow. An ordered token's key is its
// time followed by its SHA-256; any other token's, its SHA-256 alone, which is how links
// made before tokens were ordered are stored (and how a made-up token finds nothing).
func tokenKey(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	var raw [orderedTokenBytes]byte
	if len(token) != orderedTokenLen {
		return sum[:]
	}
	if n, err := base64.RawURLEncoding.Decode(raw[:], []byte(token)); err != nil || n != orderedTokenBytes {
		return sum[:]
	}
	return append(raw[:8:8], sum[:]...)
}

// codeHash keys a confirmation code to its chat user, so the same digits typed by another
// user match nothing, and a database dump cannot be brute-forced without the MAC key.
func (b *Broker) codeHash(bot, channel, user, code string) []byte {
	m := hmac.New(sha256.New, b.keys.MACKey)
	for _, part := range []string{"confirm-code/v1", bot, channel, user, code} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// Ready reports whether the store answers and has every migration this binary knows; the
// HTTP edge uses it for /readyz.
func (b *Broker) Ready(ctx context.Context) error {
	if err := b.store.Ping(ctx); err != nil {
		return err
	}
	return b.store.SchemaCurrent(ctx)
}
