// Package admin serves the operators' pages under /admin/ (docs/OPERATIONS.md#admin): a
// login, every linked identity across bots (filtered, searched, paged by keyset), one identity
// with its history, and unlinking it.
//
// It sits beside httpapi on top of the broker: it reads through store.AdminStore, renders
// through templates, and changes nothing itself. Unlinking goes through broker.Unlink, so
// revocation at the provider, the history event and the webhook are the bot API's. It must
// not import a store implementation, and never reads or renders a token: the list's records
// come without them, and the pages' data types have no field that could hold one.
//
// routes.go lists every route; each handler has its own file.
package admin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/clientlimit"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/templates"
)

// Prefix is where the server mounts the admin pages; their links are built on it.
const Prefix = "/admin"

// Policy, rather than configuration.
const (
	// SessionTTL is how long a login lasts, however active: an absolute limit, so a session
	// cookie left in a browser stops working the same day.
	SessionTTL = 8 * time.Hour
	// PageSize is the number of identities per page of the list.
	PageSize = 50
	// LoginBurst failed logins are allowed from one client address, then one more per
	// LoginRefill: enough for typos, too few to guess a password. Only failures count: a
	// correct password from an address that has not failed is never refused.
	LoginBurst  = 5
	LoginRefill = time.Minute
	// queryTimeout bounds a page's reads, so a slow query cannot hold a connection forever.
	queryTimeout = 10 * time.Second
)

// Store is what the admin pages read: the admin part of the store and an identity's record
// and history.
type Store interface {
	store.AdminStore
	Identity(ctx context.Context, bot string, id int64) (store.Identity, error)
	Events(ctx context.Context, bot string, identityID int64) ([]store.Event, error)
	ProxyUsage(ctx context.Context, bot string, identityID int64) (store.ProxyUsage, error)
}

// Options are the admin pages' dependencies; cmd builds them.
type Options struct {
	Broker *broker.Broker
	Store  Store
	Pages  *templates.Pages
	// Keys are the broker's keys; the admin session key is derived from the cookie hash key,
	// so it is neither the flow cookie's key nor stored anywhere.
	Keys seal.Keys
	// PasswordHash is admin.password_hash from providers.yaml (bcrypt); Password is
	// OAUTHBROKER_ADMIN_PASSWORD. Either opens the pages; with neither they only explain how
	// to set one. There is no default.
	PasswordHash string
	Password     string
	Logger       *slog.Logger
	Now          func() time.Time
}

// Handler serves the admin pages. It is safe for concurrent use.
type Handler struct {
	broker  *broker.Broker
	store   Store
	pages   *templates.Pages
	log     *slog.Logger
	now     func() time.Time
	cred    *credential           // nil: no password configured
	key     []byte                // HMAC key of CSRF tokens and credential ids
	secure  bool                  // public_url is https: cookies are Secure
	limiter *clientlimit.Failures // failed logins per client address
	router  http.Handler
}

// New builds the admin pages. It fails when a password hash is not a bcrypt hash, or when both
// a hash and a password are set (which one would win would be a guess).
func New(o Options) (*Handler, error) {
	switch {
	case o.Broker == nil || o.Store == nil || o.Pages == nil:
		return nil, errors.New("admin: Broker, Store and Pages are required")
	case len(o.Keys.CookieHashKey) == 0:
		return nil, errors.New("admin: the broker's cookie hash key is missing")
	}
	h := &Handler{
		broker: o.Broker, store: o.Store, pages: o.Pages, log: o.Logger, now: o.Now,
		key:    derive(o.Keys.CookieHashKey, "oauthbroker admin session v1"),
		secure: strings.HasPrefix(o.Broker.Config().Server.PublicURL, "https://"),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	var err error
	if h.cred, err = newCredential(o.PasswordHash, o.Password, h.key); err != nil {
		return nil, err
	}
	if h.cred == nil {
		h.log.Info("admin pages locked: set admin.password_hash in providers.yaml or OAUTHBROKER_ADMIN_PASSWORD to open /admin/")
	}
	h.limiter = clientlimit.NewFailures(LoginBurst, LoginRefill, h.now)
	h.router = h.routes()
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// derive is a key of its own for one purpose, made from a broker key.
func derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
